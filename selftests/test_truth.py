"""The truth test: the suite's verdict on a network, its bridge and a guest's NIC must agree with
what really happens when a guest PXE boots there (QEMU under TCG, its iPXE ROM, libvirt's dnsmasq)."""

from __future__ import annotations

import os

import pytest
from support import REPO, run_suite, truth_releases

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
# the PXE and real-DHCP-client truth tests run on the machine's release; KNC_TRUTH_RELEASES=trixie,bullseye
# also runs them on lab hosts of those releases (their own libvirt, dnsmasq, QEMU, SeaBIOS, iPXE, iptables
# and busybox DHCP client; lab/releases.py): about 13 minutes more, so not by default (support.truth_releases)
RELEASES = truth_releases()
# each test builds its own host: under pytest-xdist they spread over the workers (selftests/conftest.py)
XDIST_SPREAD = True
GUEST_NIC = "<interface type='network'><mac address='52:54:00:00:09:01'/><source network='pxe'/><model type='virtio'/></interface>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("truth"))) as lab:
        yield lab


def _host_name(base: str, release) -> str:
    return f"{base}-{release}" if release else base


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
@pytest.mark.parametrize("delay, boots", [(0, True), (15, False)], ids=["delay-0", "delay-15"])
def test_verdict_matches_a_real_pxe_boot(lab, tmp_path, delay, boots, release):
    from lab import pxe_boot

    name = _host_name(f"truth{delay}", release)
    h = lab.add_host(name, libvirt=True, release=release)
    h.sh(
        LIB
        + f"""
net_define pxe "name='virbr9' stp='on' delay='{delay}'"
guest_define pxeguest "{GUEST_NIC}"
""",
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    verdicts = {
        "libvirt-network-stp-delay": run.result("libvirt-network-stp-delay", name, "pxe"),
        "bridge-forward-delay": run.result("bridge-forward-delay", name, "virbr9"),
        "guest-nic-bridge-delay": run.result("guest-nic-bridge-delay", name, "pxeguest/52:54:00:00:09:01"),
    }
    assert all(verdicts.values()), verdicts

    # the real thing: an identical guest network-boots on the same network
    outcome = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=50)
    assert outcome.leased is boots, outcome
    expected = "passed" if outcome.leased else "failed"
    for check, r in verdicts.items():
        assert r["outcome"] == expected, (check, r["outcome"], r["message"], outcome)
    if not outcome.leased:
        assert "PXE-booting guest" in verdicts["guest-nic-bridge-delay"]["message"]


BOOT_SCRIPT = "#!ipxe\necho KNC-BOOTED-FROM-THE-NETWORK\n"
BOOTED = "KNC-BOOTED-FROM-THE-NETWORK"
NOTHING = ("Nothing to boot", "No more network devices", "No bootable device")


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
@pytest.mark.parametrize("boot_file", [True, False], ids=["boot-file", "no-boot-file"])
def test_boot_file_verdict_matches_a_real_network_boot(lab, tmp_path, boot_file, release):
    """A guest on a network with no boot file gets an address and boots nothing; with one, iPXE runs it."""
    from lab import pxe_boot

    name = _host_name("truthfile" + ("1" if boot_file else "0"), release)
    h = lab.add_host(name, libvirt=True, release=release)
    bootp = "<bootp file='boot.ipxe'/>" if boot_file else ""
    h.sh(
        LIB
        + f"""
mkdir -p /var/lib/libvirt/tftp
printf '{BOOT_SCRIPT.replace(chr(10), chr(92) + "n")}' > /var/lib/libvirt/tftp/boot.ipxe
net_define pxe "name='virbr9' stp='off'" "" "<tftp root='/var/lib/libvirt/tftp'/>" "{bootp}"
guest_define pxeguest "{GUEST_NIC}"
""",
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("guest-pxe-boot-file", name, "pxeguest/52:54:00:00:09:01")
    assert r is not None

    outcome = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=120, until=(BOOTED,) + NOTHING)
    assert outcome.leased, outcome  # an address either way
    booted = BOOTED in outcome.console
    assert booted is boot_file, outcome.console[-2000:]
    assert r["outcome"] == ("passed" if booted else "failed"), (r["outcome"], r["message"])


TAGGED_BOOT = {
    # the iPXE chainload recipe: QEMU's ROM is iPXE (option 175), so it is told the script at once and never
    # asks for undionly.kpxe, which the TFTP root does not even hold
    "chainload": (
        "dhcp-match=set:ipxe,175",
        "dhcp-boot=tag:!ipxe,undionly.kpxe",
        "dhcp-boot=tag:ipxe,boot.ipxe",
    ),
    # a file for UEFI clients (architecture 7) only: a BIOS guest's iPXE (architecture 0) is told none
    "efi-only": ("dhcp-match=set:efi-x86_64,option:client-arch,7", "dhcp-boot=tag:efi-x86_64,boot.ipxe"),
}


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
@pytest.mark.parametrize("recipe", sorted(TAGGED_BOOT))
def test_tagged_boot_file_verdict_matches_a_real_network_boot(lab, tmp_path, recipe, release):
    """dhcp-boot lines with tags, as dnsmasq picks them for the client that asks: the suite's verdict on the
    guest and what its iPXE ROM really boots agree."""
    from lab import pxe_boot

    name = _host_name("truthtag" + recipe.replace("-", "")[:6], release)
    h = lab.add_host(name, libvirt=True, release=release)
    options = "".join(f"<dnsmasq:option value='{o}'/>" for o in TAGGED_BOOT[recipe])
    h.sh(
        LIB
        + f"""
mkdir -p /var/lib/libvirt/tftp
printf '{BOOT_SCRIPT.replace(chr(10), chr(92) + "n")}' > /var/lib/libvirt/tftp/boot.ipxe
cat > "$KT/pxe.xml" <<XML
<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>pxe</name>
  <bridge name='virbr9' stp='off'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    <tftp root='/var/lib/libvirt/tftp'/>
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/></dhcp>
  </ip>
  <dnsmasq:options>{options}</dnsmasq:options>
</network>
XML
$V net-define "$KT/pxe.xml" >/dev/null
$V net-start pxe >/dev/null
guest_define pxeguest "{GUEST_NIC}"
""",
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("guest-pxe-boot-file", name, "pxeguest/52:54:00:00:09:01")
    assert r is not None

    outcome = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=120, until=(BOOTED,) + NOTHING)
    assert outcome.leased, outcome
    booted = BOOTED in outcome.console
    assert booted is (recipe == "chainload"), outcome.console[-2000:]
    assert r["outcome"] == ("passed" if booted else "failed"), (r["outcome"], r["message"])


@pytest.mark.slow
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
def test_dhcp_server_verdict_matches_a_real_network_boot(lab, tmp_path, release):
    """A network whose dnsmasq is gone: the suite fails it, and a real guest gets no address."""
    from lab import pxe_boot

    name = _host_name("truthdns", release)
    h = lab.add_host(name, libvirt=True, release=release)
    h.sh(
        LIB
        + """
net_define pxe "name='virbr9' stp='off'"
kill_dnsmasq pxe
""",
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("network-dhcp-server", name, "pxe")
    assert r is not None and r["outcome"] == "failed", r
    outcome = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=40)
    assert not outcome.leased and outcome.dhcp_packets > 0, outcome  # the guest asked; nobody answered


# a DHCP server on the LAN: busybox udhcpd in a network namespace of its own behind veth lan1/lan1p
LAN_SERVER = """
ip netns add srv
ip link add lan1 type veth peer name lan1p
ip link set lan1p netns srv
ip netns exec srv ip addr add 10.57.0.1/24 dev lan1p
ip netns exec srv ip link set lan1p up
ip link set lan1 up
printf 'interface lan1p\\nstart 10.57.0.100\\nend 10.57.0.110\\nlease_file /run/udhcpd-srv.leases\\npidfile /run/udhcpd-srv.pid\\n' > /run/udhcpd-srv.conf
: > /run/udhcpd-srv.leases
ip netns exec srv busybox udhcpd /run/udhcpd-srv.conf
"""


@pytest.mark.parametrize(
    "rules, leased",
    [
        ("iptables -P FORWARD DROP", False),
        ("iptables -P FORWARD DROP; iptables -I FORWARD -i br0 -o br0 -j ACCEPT", True),
        ("iptables -P FORWARD ACCEPT", True),
    ],
    ids=["forward-drop", "forward-drop-bridge-accepted", "forward-accept"],
)
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
def test_bridge_netfilter_verdict_matches_a_real_dhcp_client(lab, tmp_path, rules, leased, release):
    """A DHCP client behind a tap-like veth on host bridge br0, its server on the LAN side: with bridge
    netfilter on, FORWARD's verdict decides whether it gets an address, and so must the suite's."""
    name = _host_name("truthnf" + str(abs(hash(rules)) % 1000), release)
    h = lab.add_host(name, libvirt=True, release=release)
    h.sh(
        LIB
        + LAN_SERVER
        + """
bridge br0 0 0
ip link set lan1 master br0
guest_define nf1 "<interface type='bridge'><mac address='52:54:00:00:0e:01'/><source bridge='br0'/><model type='virtio'/></interface>" "<boot dev='hd'/>"
"""
        + rules,
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("bridge-netfilter-dhcp", name, "br0")
    assert r is not None
    got = h.sh(LIB + "dhcp_client c1 br0 52:54:00:00:0e:09 20", check=False, timeout=60)
    assert (got.returncode == 0) is leased, (got.stdout, got.stderr)
    assert r["outcome"] == ("passed" if leased else "failed"), (r["outcome"], r["message"])


@pytest.mark.parametrize(
    "rules, leased",
    [
        ("iptables -P FORWARD DROP", True),
        ("iptables -A INPUT -i br0 -p udp --dport 67 -j DROP", False),
        ("iptables -A OUTPUT -o br0 -p udp --sport 67 -j DROP", False),
    ],
    ids=["forward-drop", "input-drop", "output-drop"],
)
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
def test_host_served_bridge_verdict_matches_a_real_dhcp_client(lab, tmp_path, rules, leased, release):
    """A host-only bridge whose DHCP server is the host's own dnsmasq: the exchange goes up to INPUT and back
    through OUTPUT, so FORWARD's DROP does not cut it and INPUT's or OUTPUT's does; the suite's verdict
    must match what a real client on a port of the bridge gets."""
    name = _host_name("truthho" + str(abs(hash(rules)) % 1000), release)
    h = lab.add_host(name, libvirt=True, release=release)
    h.sh(
        LIB
        + """
bridge br0 0 0
sysctl -q -w net.bridge.bridge-nf-call-iptables=1
dnsmasq_nm_shared br0 10.77.0.1
guest_define nf1 "<interface type='bridge'><mac address='52:54:00:00:0e:01'/><source bridge='br0'/><model type='virtio'/></interface>" "<boot dev='hd'/>"
"""
        + rules,
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("bridge-netfilter-dhcp", name, "br0")
    assert r is not None
    got = h.sh(LIB + "dhcp_client c1 br0 52:54:00:00:0e:09 20", check=False, timeout=60)
    assert (got.returncode == 0) is leased, (got.stdout, got.stderr)
    assert r["outcome"] == ("passed" if leased else "failed"), (r["outcome"], r["message"])


@pytest.mark.parametrize("server_on_host", [True, False], ids=["server-on-host", "server-on-lan"])
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
def test_macvtap_verdict_matches_a_real_dhcp_client(lab, tmp_path, server_on_host, release):
    """A DHCP client on a macvlan of lan1 (macvtap's own driver) never reaches a server on its host's lan1,
    and does reach one on the LAN behind it."""
    name = _host_name("truthmv" + ("h" if server_on_host else "l"), release)
    h = lab.add_host(name, libvirt=True, release=release)
    server = "veth lan1 10.58.0.1/24\ndhcpd_on lan1 10.58.0\n" if server_on_host else LAN_SERVER
    h.sh(
        LIB
        + server
        + """
guest_define mv1 "<interface type='direct'><mac address='52:54:00:00:0d:01'/><source dev='lan1' mode='bridge'/><model type='virtio'/></interface>" "<boot dev='hd'/>"
""",
        timeout=240,
    )
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    r = run.result("guest-macvtap-host-dhcp", name, "mv1/52:54:00:00:0d:01")
    assert r is not None
    got = h.sh(
        LIB
        + """
ip netns add cm
ip link add link lan1 name mvc type macvlan mode bridge
ip link set mvc netns cm
ip netns exec cm ip link set mvc address 52:54:00:00:0d:09 up
ip netns exec cm timeout 20 busybox udhcpc -i mvc -n -q -f -s /bin/true -t 5 -T 2 2>&1 | grep 'lease of'
""",
        check=False,
        timeout=60,
    )
    leased = got.returncode == 0
    assert leased is (not server_on_host), (got.stdout, got.stderr)
    if server_on_host:  # the server was there and serving: a client on the wire behind lan1 gets an address
        wire = h.sh(
            "ip netns add cw\nip link set lan1p netns cw\nip netns exec cw ip link set lan1p up\n"
            "ip netns exec cw timeout 20 busybox udhcpc -i lan1p -n -q -f -s /bin/true -t 5 -T 2 2>&1 | grep 'lease of'",
            check=False,
            timeout=60,
        )
        assert wire.returncode == 0, (wire.stdout, wire.stderr)
    assert r["outcome"] == ("passed" if leased else "failed"), (r["outcome"], r["message"])
