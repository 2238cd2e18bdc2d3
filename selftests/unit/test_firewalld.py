"""firewalld: `firewall-cmd --state` and `firewall-cmd --list-all-zones`."""

import pytest

from kvmnetcheck.facts.conclusions.firewall import admits_to_host, zone_allows
from kvmnetcheck.facts.parsers.firewalld import build_firewalld, parse_zones

# firewalld 1.3 (Debian 12) with libvirt 9: virbr0 in libvirt's zone, eth0 in public.
# firewall-cmd prints a blank after every "key:" even when the list is empty, and
# indents rich rules with a tab.
ZONES = (
    "block\n"
    "  target: %%REJECT%%\n"
    "  icmp-block-inversion: no\n"
    "  interfaces: \n"
    "  sources: \n"
    "  services: \n"
    "  ports: \n"
    "  protocols: \n"
    "  forward: yes\n"
    "  masquerade: no\n"
    "  forward-ports: \n"
    "  source-ports: \n"
    "  icmp-blocks: \n"
    "  rich rules: \n"
    "\n"
    "libvirt (active)\n"
    "  target: ACCEPT\n"
    "  icmp-block-inversion: no\n"
    "  interfaces: virbr0\n"
    "  sources: \n"
    "  services: dhcp dhcpv6 dns ssh tftp\n"
    "  ports: \n"
    "  protocols: icmp ipv6-icmp\n"
    "  forward: no\n"
    "  masquerade: no\n"
    "  forward-ports: \n"
    "  source-ports: \n"
    "  icmp-blocks: \n"
    "  rich rules: \n"
    '\trule priority="32767" reject\n'
    "\n"
    "public (default, active)\n"
    "  target: default\n"
    "  icmp-block-inversion: no\n"
    "  interfaces: eth0\n"
    "  sources: \n"
    "  services: dhcpv6-client ssh\n"
    "  ports: 8080/tcp\n"
    "  protocols: \n"
    "  forward: yes\n"
    "  masquerade: no\n"
    "  forward-ports: \n"
    "  source-ports: \n"
    "  icmp-blocks: \n"
    "  rich rules: \n"
    '\trule family="ipv6" source address="fe80::/64" service name="dhcpv6-client" accept\n'
    "\n"
    "trusted\n"
    "  target: ACCEPT\n"
    "  icmp-block-inversion: no\n"
    "  interfaces: \n"
    "  sources: \n"
    "  services: \n"
    "  ports: \n"
    "  protocols: \n"
    "  forward: yes\n"
    "  masquerade: no\n"
    "  forward-ports: \n"
    "  source-ports: \n"
    "  icmp-blocks: \n"
    "  rich rules: \n"
    "\n"
)

# RHEL 8 libvirt zone (firewalld 0.9) holding two bridges, zone= set on a network
ZONES_TWO_BRIDGES = (
    "libvirt (active)\n"
    "  target: ACCEPT\n"
    "  icmp-block-inversion: no\n"
    "  interfaces: virbr0 virbr1\n"
    "  sources: \n"
    "  services: dhcp dhcpv6 dns ssh tftp\n"
    "  ports: \n"
    "  protocols: icmp ipv6-icmp\n"
    "  masquerade: no\n"
    "  forward-ports: \n"
    "  source-ports: \n"
    "  icmp-blocks: \n"
    "  rich rules: \n"
    '\trule priority="32767" drop\n'
)

STATE_RUNNING = "running\n"
STATE_NOT_RUNNING = "not running\n"

BLANK = ""

GARBLED = (
    "  interfaces: virbr0\n"  # before any zone header: ignored
    "FirewallD is not running\n"  # not a zone header (several words)
    "work (active\n"  # broken parenthesis: not a header
    "odd\n"
    "  target:\n"
    "  services dhcp\n"  # no colon
    "  interfaces: virbr9\n"
    '\trule priority="32767" reject\n'  # outside rich rules: ignored
)


def test_parse_zones():
    zones = parse_zones(ZONES)
    assert [z.name for z in zones] == ["block", "libvirt", "public", "trusted"]
    block, libvirt, public, trusted = zones
    assert block.target == "%%REJECT%%"
    assert block.interfaces == () and block.services == () and block.ports == ()
    # ACCEPT with libvirt's catch-all reject rule
    assert libvirt.target == "ACCEPT+reject"
    assert libvirt.interfaces == ("virbr0",)
    assert libvirt.services == ("dhcp", "dhcpv6", "dns", "ssh", "tftp")
    assert public.target == "default"
    assert public.interfaces == ("eth0",)
    assert public.services == ("dhcpv6-client", "ssh")
    assert public.ports == ("8080/tcp",)
    assert trusted.target == "ACCEPT"


def test_libvirt_zone_allows_only_listed():
    libvirt = parse_zones(ZONES)[1]
    assert zone_allows(libvirt, "dhcp", "67/udp") is True
    assert zone_allows(libvirt, "tftp", "69/udp") is True
    assert zone_allows(libvirt, "http", "80/tcp") is False  # the reject rule catches it


def test_trusted_zone_allows_anything():
    trusted = parse_zones(ZONES)[3]
    assert zone_allows(trusted, "dhcp", "67/udp") is True
    assert zone_allows(trusted, "anything", "12345/tcp") is True


def test_public_zone_by_service_or_port():
    public = parse_zones(ZONES)[2]
    assert zone_allows(public, "dhcp", "67/udp") is False
    assert zone_allows(public, "ssh", "22/tcp") is True
    assert zone_allows(public, "http-alt", "8080/tcp") is True


def test_block_zone_allows_nothing():
    block = parse_zones(ZONES)[0]
    assert zone_allows(block, "dhcp", "67/udp") is False


def test_drop_catch_all_and_two_interfaces():
    (z,) = parse_zones(ZONES_TWO_BRIDGES)
    assert z.target == "ACCEPT+reject"
    assert z.interfaces == ("virbr0", "virbr1")
    assert zone_allows(z, "dhcp", "67/udp") and not zone_allows(z, "nfs", "2049/tcp")


def test_rich_rule_that_is_not_catch_all_keeps_accept():
    text = ZONES_TWO_BRIDGES.replace(
        '\trule priority="32767" drop', '\trule family="ipv4" source address="10.0.0.0/8" reject'
    )
    (z,) = parse_zones(text)
    assert z.target == "ACCEPT"
    assert zone_allows(z, "nfs", "2049/tcp")


def test_build_firewalld_running():
    fw = build_firewalld(True, STATE_RUNNING, "1.3.0\n", ZONES, 0)
    assert fw.installed and fw.running
    assert fw.version == "1.3.0"
    assert fw.error is None
    assert fw.zone_of("virbr0").name == "libvirt"
    assert fw.zone_of("eth0").name == "public"
    assert fw.zone_of("virbr9") is None
    assert fw.zone("trusted").target == "ACCEPT"
    assert fw.zone("nope") is None


def test_build_firewalld_not_running():
    fw = build_firewalld(True, STATE_NOT_RUNNING, None, None, None)
    assert fw.installed and not fw.running
    assert fw.zones == () and fw.error is None


def test_build_firewalld_state_with_warning_first():
    fw = build_firewalld(True, "Warning: something odd\nrunning\n", "0.9.3", ZONES_TWO_BRIDGES, 0)
    assert fw.running
    assert fw.zone_of("virbr1").name == "libvirt"


def test_build_firewalld_not_installed():
    fw = build_firewalld(False, STATE_RUNNING, "1.3.0", ZONES, 0)
    assert (fw.installed, fw.running, fw.zones) == (False, False, ())


def test_build_firewalld_zones_failed():
    fw = build_firewalld(True, STATE_RUNNING, "1.3.0", "Authorization failed.\n", 11)
    assert fw.running
    assert fw.zones == ()
    assert fw.error == "firewall-cmd --list-all-zones failed: Authorization failed."


def test_build_firewalld_zones_missing():
    fw = build_firewalld(True, STATE_RUNNING, "", None, None)
    assert fw.version is None
    assert fw.error == "firewall-cmd --list-all-zones failed: "


@pytest.mark.parametrize("text", [BLANK, None, "\n\n", "   target: ACCEPT\n"])
def test_parse_zones_empty(text):
    assert parse_zones(text) == ()


def test_parse_zones_garbled():
    zones = parse_zones(GARBLED)
    assert [(z.name, z.target, z.interfaces, z.services) for z in zones] == [
        ("odd", None, ("virbr9",), ()),
    ]


def test_catch_all_reject_with_type():
    text = ZONES_TWO_BRIDGES.replace(
        '\trule priority="32767" drop', '\trule priority="32767" reject type="icmp-port-unreachable"'
    )
    (z,) = parse_zones(text)
    assert zone_allows(z, "nfs", "2049/tcp") is False


# firewall-cmd --list-all-policies, firewalld 1.3.3 (Debian 12) with libvirt 9.0's policy files
POLICIES = """\
allow-host-ipv6 (active)
  priority: -15000
  target: CONTINUE
  ingress-zones: ANY
  egress-zones: HOST
  services: 
  ports: 
  protocols: 
  masquerade: no
  forward-ports: 
  source-ports: 
  icmp-blocks: 
  rich rules: 
	rule family="ipv6" icmp-type name="neighbour-advertisement" accept

libvirt-routed-in (active)
  priority: 0
  target: ACCEPT
  ingress-zones: ANY
  egress-zones: libvirt-routed
  services: 

libvirt-to-host (active)
  priority: -1
  target: REJECT
  ingress-zones: libvirt-routed
  egress-zones: HOST
  services: dhcp dhcpv6 dns ssh tftp
  ports: 
  protocols: icmp ipv6-icmp
"""

ROUTED = """\
libvirt-routed (active)
  target: default
  icmp-block-inversion: no
  interfaces: virbr1
  services: 
  ports: 
"""


def test_policies_admit_dhcp_from_the_routed_zone():
    """libvirt's libvirt-to-host policy (ingress libvirt-routed, egress HOST) admits dhcp/tftp;
    the zone itself lists nothing (libvirt src/network/libvirt-to-host.policy, libvirt-routed.zone)."""
    from kvmnetcheck.facts.parsers.firewalld import parse_policies

    policies = parse_policies(POLICIES)
    assert [p.name for p in policies] == ["allow-host-ipv6", "libvirt-routed-in", "libvirt-to-host"]
    to_host = policies[2]
    assert (to_host.priority, to_host.target, to_host.ingress, to_host.egress) == (
        -1,
        "REJECT",
        ("libvirt-routed",),
        ("HOST",),
    )
    fw = build_firewalld(True, "running", "1.3.3", ROUTED, 0, POLICIES, 0)
    zone = fw.zone("libvirt-routed")
    assert admits_to_host(fw, zone, "dhcp", "67/udp") == (True, "policy libvirt-to-host")
    assert admits_to_host(fw, zone, "http", "80/tcp") == (False, "policy libvirt-to-host (target REJECT)")
    # without the policy (firewalld < 0.9, or the policy gone), the zone alone refuses it
    bare = build_firewalld(True, "running", "0.8", ROUTED, 0, None, None)
    assert admits_to_host(bare, bare.zone("libvirt-routed"), "dhcp", "67/udp")[0] is False
