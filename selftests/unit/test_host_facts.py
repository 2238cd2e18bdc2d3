"""build_host_facts: the collector's whole output (plus the libvirt view) into HostFacts."""

import dataclasses
import os

import pytest

from kvmnetcheck.facts.conclusions.firewall import firewall_backend, zone_allows
from kvmnetcheck.facts.conclusions.libvirt import qemu_of
from kvmnetcheck.facts.host import build_host_facts
from kvmnetcheck.facts.model import Unreadable
from kvmnetcheck.facts.parsers import bridge_config
from kvmnetcheck.raw import RawLibvirt, RawNetwork

SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")


def read_sample(name: str) -> str:
    with open(os.path.join(SAMPLE_DIR, name), encoding="utf-8") as f:
        return f.read()


# samples/collector_debian12.txt: a Debian 12 host with libvirt 9.0 (iptables backend),
# firewalld 1.3, the default NAT network on virbr0 set up for PXE, an inactive isolated
# network, br0 from /etc/network/interfaces (STP on, 15 s, not the STP root), two running
# guests and a shut-off one, and the virsh fallback sections.
NONCE = "9c1e5b7a03d24f68"
OUTPUT = read_sample("collector_debian12.txt")

DEFAULT_UUID = "0f3a6d2e-8c1b-4b7a-9f4e-2d1c5b6a7e80"
ISOLATED_UUID = "4d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d"

BLANK = ""

GARBLED = "bash: line 1: syntax error near unexpected token `('\n"


def collector(*sections, nonce=NONCE):
    """Collector output from (kind, arg, body[, rc]) tuples, framed like collector.sh frames it."""
    out = []
    for s in sections:
        kind, arg, body = s[:3]
        rc = s[3] if len(s) > 3 else 0
        out.append(f"\n@@{nonce}@@ {kind}\t{arg}\n{body}\n\n@@{nonce}@@ rc\t{rc}\n")
    return "".join(out)


META = (
    "meta",
    "",
    "collector=1\nhostname=h1\nuid=1000\nclk_tck=100\nkernel=5.14.0-362.el9.x86_64\n"
    "have=iptables\nhave=iptables-save\nhave=tc\nhave=virsh",
)
DONE = ("done", "", "")

NET_XML = """<network>
  <name>lab</name>
  <uuid>12345678-1234-4234-8234-123456789abc</uuid>
  <forward mode='nat'/>
  <bridge name='virbr5' stp='off' delay='0'/>
  <ip address='10.5.0.1' prefix='24'><dhcp><range start='10.5.0.10' end='10.5.0.99'/></dhcp></ip>
</network>"""

DOM_XML = """<domain type='kvm' id='7'>
  <name>lab-vm</name>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:55:55:01'/>
      <source network='lab' bridge='virbr5'/>
      <target dev='vnet7'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>"""


@pytest.fixture(scope="module")
def facts():
    return build_host_facts("kvm01", "ssh://root@kvm01", OUTPUT, NONCE, None)


# ------------------------------------------------------------------ the full sample


def test_meta(facts):
    assert facts.reachable and facts.error is None
    assert (facts.host, facts.spec) == ("kvm01", "ssh://root@kvm01")
    assert facts.hostname == "kvm01"
    assert facts.uid == 0
    assert facts.clk_tck == 100
    assert facts.kernel == "6.1.0-18-amd64"
    assert facts.commands == frozenset(
        {"virsh", "libvirtd", "iptables", "iptables-save", "nft", "tc", "firewall-cmd", "journalctl", "ip"}
    )
    assert facts.vhost_net and facts.vhost_net_module
    assert facts.libvirt_installed
    assert facts.parse_errors == ()


def test_bridges(facts):
    assert [b.name for b in facts.bridges] == ["br0", "virbr0"]
    br0 = facts.bridge("br0")
    assert (br0.stp_state, br0.forward_delay_s, br0.is_stp_root, br0.new_port_block_s) == (1, 15.0, False, 30.0)
    assert [(p.name, p.state_name) for p in br0.ports] == [("eno1", "forwarding"), ("vnet1", "forwarding")]
    virbr0 = facts.bridge("virbr0")
    assert (virbr0.forward_delay_s, virbr0.is_stp_root, virbr0.new_port_block_s) == (2.0, True, 4.0)
    assert facts.bridge("virbr1") is None  # the isolated network is not running
    assert [t.bridge for t in facts.tc] == ["br0", "virbr0"]
    assert facts.tc_for("virbr0").csum_udp is False
    assert facts.tc_for("virbr0").lines == ()


def test_iptables(facts):
    ipt = facts.iptables
    assert ipt.installed
    assert (ipt.version, ipt.variant, ipt.checksum_extension) == ((1, 8, 9), "nf_tables", True)
    assert ipt.rules_error is None
    assert len(ipt.rules) == 26
    (csum,) = ipt.checksum_rules_for("virbr0")
    assert csum.chain == "LIBVIRT_PRT"
    assert facts.nft.installed and not facts.nft.table_present
    assert facts.nft.text == ""  # failed `nft list table ip libvirt_network` is not kept


def test_firewalld(facts):
    fw = facts.firewalld
    assert fw.installed and fw.running and fw.version == "1.3.0"
    assert [z.name for z in fw.zones] == ["block", "libvirt", "public", "trusted"]
    assert fw.zone_of("virbr0").name == "libvirt"
    assert zone_allows(fw.zone_of("virbr0"), "dhcp", "67/udp")
    assert fw.zone_of("br0").name == "public"


def test_firewall_backend_from_libvirt_chains(facts):
    assert facts.firewall_backend_config is None  # network.conf has only comments
    assert firewall_backend(facts) == ("iptables", "iptables has libvirt's LIBVIRT_* chains")


def test_libvirt_log(facts):
    assert facts.libvirt_log_sources == ("/var/log/libvirt/libvirtd.log", "/var/log/syslog", "journal")
    assert len(facts.libvirt_log_lines) == 2
    assert facts.libvirt_log_lines[0].endswith(
        "warning : networkAddGeneralIptablesRules:1173 : Could not add rule to fixup DHCP response "
        "checksums on network 'default'."
    )
    assert "to support CHECKSUM rule" in facts.libvirt_log_lines[1]


def test_bridge_configs(facts):
    (cfg,) = facts.bridge_configs  # the unreadable interfaces.d file (rc 1) is skipped
    assert (cfg.bridge, cfg.path, cfg.format, cfg.stp, cfg.forward_delay_s) == (
        "br0",
        "/etc/network/interfaces",
        "ifupdown",
        True,
        15.0,
    )
    assert facts.bridge_configs_for("br0") == (cfg,)
    assert facts.bridge_configs_for("virbr0") == ()


def test_qemu(facts):
    assert [(q.pid, q.guest, q.vhost_fds) for q in facts.qemu] == [(4242, "pxe-client", 1), (4317, "web01", 2)]
    # the first collector did not say who runs them: which one is the guest's QEMU is unknown, not the first
    web01 = next(g for g in facts.libvirt.guests if g.name == "web01")
    with pytest.raises(Unreadable, match="who runs them was not gathered"):
        qemu_of(facts, web01)
    assert qemu_of(facts, dataclasses.replace(web01, name="old-guest")) is None


def test_libvirt_from_virsh(facts):
    lv = facts.libvirt
    assert lv.source == "virsh"
    # gathered without a connection (ansible_gather): virsh was the only source, and the view says so
    assert lv.error is None and lv.fallback.startswith(
        "libvirt-python: not tried: these facts were gathered without a libvirt connection"
    )
    assert lv.notes == (lv.fallback,)
    assert lv.uri == "qemu:///system"
    assert lv.libvirt_version == (9, 0, 0)
    assert lv.hypervisor_version == "QEMU 7.2.0"
    assert [n.name for n in lv.networks] == ["default", "isolated"]
    default = lv.network("default")
    assert (default.uuid, default.active, default.persistent, default.autostart) == (DEFAULT_UUID, True, True, True)
    assert default.bridge_name == "virbr0"
    assert default.live.delay_s == 0
    assert default.persistent_def.delay_s == 4  # edited, not yet restarted
    assert default.live.serves_dhcp and default.live.serves_pxe
    iso = lv.network("isolated")
    assert (iso.uuid, iso.active, iso.persistent, iso.autostart) == (ISOLATED_UUID, False, True, False)
    assert iso.persistent_def is iso.live
    assert lv.network_of_bridge("virbr0") is default
    assert lv.network_of_bridge("br0") is None
    assert lv.network(None) is None


def test_guests_from_virsh(facts):
    guests = {g.name: g for g in facts.libvirt.guests}
    assert set(guests) == {"pxe-client", "web01", "old-guest"}
    pxe = guests["pxe-client"]
    assert pxe.active and pxe.boots_from_network and pxe.os_hint == "http://debian.org/debian/12"
    (nic,) = pxe.nics
    assert (nic.source_network, nic.source_bridge, nic.target_dev, nic.model, nic.driver_name) == (
        "default",
        "virbr0",
        "vnet0",
        "virtio",
        "vhost",
    )
    web = guests["web01"]
    assert web.active and not web.boots_from_network
    assert web.nics[0].source_bridge == "br0"
    old = guests["old-guest"]
    assert not old.active and old.boots_from_network
    assert old.nics[0].boot_order == 1


# ------------------------------------------------------------------ broken output


@pytest.mark.parametrize("output", [BLANK, GARBLED, OUTPUT.replace("collector=1", "collector=0")])
def test_no_meta(output):
    f = build_host_facts("kvm01", "ssh://kvm01", output, NONCE, None)
    assert not f.reachable
    assert f.error == "the collector printed nothing recognisable"
    assert f.bridges == () and f.libvirt.source == "none"


def test_other_nonce_is_not_trusted():
    f = build_host_facts("kvm01", "ssh://kvm01", OUTPUT, "0000000000000000", None)
    assert f.error == "the collector printed nothing recognisable"


def test_truncated_before_virsh():
    cut = OUTPUT[: OUTPUT.index(f"@@{NONCE}@@ virsh_version")]
    f = build_host_facts("kvm01", "ssh://kvm01", cut, NONCE, None)
    assert f.reachable
    assert f.parse_errors == ("collector output was cut short; facts after the cut are missing",)
    assert [b.name for b in f.bridges] == ["br0", "virbr0"]
    assert len(f.qemu) == 2
    assert f.libvirt.source == "none"
    assert f.libvirt.networks == () and f.libvirt.guests == ()


def test_truncated_inside_guest_xml():
    cut = OUTPUT[: OUTPUT.index("<name>web01</name>")]
    f = build_host_facts("kvm01", "ssh://kvm01", cut, NONCE, None)
    assert "collector output was cut short; facts after the cut are missing" in f.parse_errors
    # the half-written XML has no rc line, so it is not parsed (and not an XML error)
    assert [g.name for g in f.libvirt.guests] == ["pxe-client"]
    assert len(f.parse_errors) == 1
    assert f.libvirt.source == "virsh"


def test_bad_network_xml_is_a_parse_error():
    out = collector(
        META,
        ("virsh_version", "", "Using library: libvirt 8.0.0"),
        ("virsh_nets", "active", DEFAULT_UUID),
        ("virsh_net_xml", DEFAULT_UUID, "<network><name>x</name><bridge delay='fast'/></network>"),
        ("virsh_doms", "active", ""),
        ("virsh_dom_xml", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "<domain/>"),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.libvirt.source == "virsh"
    assert f.libvirt.libvirt_version == (8, 0, 0)
    assert f.libvirt.networks == () and f.libvirt.guests == ()
    assert f.parse_errors == (
        f"network {DEFAULT_UUID}: network 'x': <bridge delay='fast'> is not a whole number",
        "guest: domain has no <name>",
    )


def test_virsh_cannot_connect():
    out = collector(
        META,
        (
            "virsh_version",
            "",
            "error: failed to connect to the hypervisor\n"
            "error: Failed to connect socket to '/var/run/libvirt/"
            "libvirt-sock-ro': No such file or directory",
            1,
        ),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.libvirt.source == "none" and f.libvirt.fallback is None
    assert f.libvirt.error.startswith("libvirt-python: not tried: ")
    assert "; virsh --readonly could not connect: error: failed to connect" in f.libvirt.error
    assert f.libvirt.networks == ()


# collector format 4: one listing of networks and of guests; their state from net-info and the XML
NET_INFO = (
    "Name:           {name}\nUUID:           {uuid}\nActive:         {active}\n"
    "Persistent:     yes\nAutostart:      no\nBridge:         virbr0\n"
)
OTHER_UUID = "0b0c1d2e-3f40-4152-8364-758697a8b9ca"
RUNNING = "<domain type='kvm' id='7'><name>up</name><devices/></domain>"
STOPPED = "<domain type='kvm'><name>down</name><devices/></domain>"


def test_virsh_listings_of_collector_4_give_each_state_from_net_info_and_the_domain_id():
    out = collector(
        META,
        ("virsh_client", "", "9.0.0"),
        ("virsh_net_uuids", "", f"{DEFAULT_UUID}\n{OTHER_UUID}"),
        ("virsh_net_xml", DEFAULT_UUID, "<network><name>default</name><bridge name='virbr0'/></network>"),
        ("virsh_net_autostart", DEFAULT_UUID, NET_INFO.format(name="default", uuid=DEFAULT_UUID, active="yes")),
        ("virsh_net_xml", OTHER_UUID, "<network><name>spare</name><bridge name='virbr9'/></network>"),
        ("virsh_net_autostart", OTHER_UUID, NET_INFO.format(name="spare", uuid=OTHER_UUID, active="no")),
        ("virsh_dom_uuids", "", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\nbbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
        ("virsh_dom_xml", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", RUNNING),
        ("virsh_dom_xml", "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee", STOPPED),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.libvirt.source == "virsh" and f.libvirt.libvirt_version == (9, 0, 0)
    assert {n.name: n.active for n in f.libvirt.networks} == {"default": True, "spare": False}
    assert {g.name: g.active for g in f.libvirt.guests} == {"up": True, "down": False}
    assert f.parse_errors == ()


def test_virsh_of_collector_4_that_cannot_connect():
    out = collector(
        META,
        ("virsh_client", "", "9.0.0"),
        (
            "virsh_net_uuids",
            "",
            "error: failed to connect to the hypervisor\n"
            "error: Failed to connect socket to '/var/run/libvirt/"
            "libvirt-sock-ro': No such file or directory",
            1,
        ),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.libvirt.source == "none"
    assert "; virsh --readonly could not connect: error: failed to connect" in f.libvirt.error


def test_a_network_net_info_said_nothing_of_is_left_out_and_said_so():
    out = collector(
        META,
        ("virsh_client", "", "9.0.0"),
        ("virsh_net_uuids", "", DEFAULT_UUID),
        ("virsh_net_xml", DEFAULT_UUID, "<network><name>default</name><bridge name='virbr0'/></network>"),
        ("virsh_net_autostart", DEFAULT_UUID, "error: Network not found", 1),
        ("virsh_dom_uuids", "", ""),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.libvirt.networks == ()
    assert any("said nothing of the network's state" in p for p in f.parse_errors), f.parse_errors


def test_failing_config_file_does_not_hide_others(monkeypatch):
    real = bridge_config.parse_config_file

    def flaky(path, text, ifup):
        if path.endswith("bad.yaml"):
            raise KeyError("boom")
        return real(path, text, ifup)

    monkeypatch.setattr(bridge_config, "parse_config_file", flaky)
    out = collector(
        META,
        ("file", "/etc/netplan/bad.yaml", "network: {}"),
        ("file", "/etc/systemd/network/br0.netdev", "[NetDev]\nName=br0\nKind=bridge\n"),
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.parse_errors == ("/etc/netplan/bad.yaml: not understood (KeyError: 'boom')",)
    assert [c.bridge for c in f.bridge_configs] == ["br0"]


# ------------------------------------------------------------------ smaller pieces of wiring


def test_tc_filter_sections_matched_to_their_bridge():
    csum = "filter protocol ip pref 1 u32 chain 0\n\taction order 1: csum (iph, udp) action pass"
    out = collector(
        META,
        ("bridge", "virbr0", "stp_state=1\nforward_delay=200"),
        ("tc_filter", "virbr0 egress", csum),
        ("tc_filter", "virbr01 1:", csum),  # another bridge whose name starts alike
        ("bridge", "virbr1", "stp_state=0\nforward_delay=0"),
        ("tc_filter", "virbr1 1:", csum, 2),  # failed command: ignored
        DONE,
    )
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.tc_for("virbr0").csum_udp is True
    assert f.tc_for("virbr0").lines == ("action order 1: csum (iph, udp) action pass",)
    assert f.tc_for("virbr1").csum_udp is False
    assert f.tc_for("virbr01") is None


def test_ifup_style_reaches_ifcfg():
    # format-1 facts (no netstack section): NetworkManager and initscripts read STP=on the same way
    ifcfg = "DEVICE=br0\nTYPE=Bridge\nSTP=on\nDELAY=4\nNM_CONTROLLED=no"
    base = [META, ("file", "/etc/sysconfig/network-scripts/ifcfg-br0", ifcfg)]
    f = build_host_facts("h1", "local://", collector(*base, DONE), NONCE, None)
    assert f.bridge_configs[0].applies is False  # NM_CONTROLLED=no and no ifup-eth: nothing applies it
    ifup = (
        "ifup_eth",
        "/etc/sysconfig/network-scripts/ifup-eth",
        '71:        [ -n "${DELAY}" ] && /sbin/ip link set dev ${DEVICE} type bridge forward_delay ${DELAY}',
    )
    f = build_host_facts("h1", "local://", collector(*base, ifup, DONE), NONCE, None)
    assert f.bridge_configs[0].forward_delay_s == 0.04  # initscripts hand DELAY to ip link: centiseconds
    assert f.bridge_configs[0].program == "initscripts (ip link)"


@pytest.mark.parametrize(
    "conf, nft, version, expected",
    [
        (
            'firewall_backend = "nftables"\n',
            None,
            "10.8.0",
            ("nftables", "firewall_backend in /etc/libvirt/network.conf"),
        ),
        (
            'firewall_backend="iptables"\n',
            "table ip libvirt_network {\n}",
            None,
            ("iptables", "firewall_backend in /etc/libvirt/network.conf"),
        ),
        (
            '#firewall_backend = "nftables"\n',
            "table ip libvirt_network {\n\tchain guest_output {\n\t}\n}",
            None,
            ("nftables", "nft table 'ip libvirt_network' is present"),
        ),
        (None, None, "9.0.0", ("iptables", "libvirt 9.0.0 predates the nftables backend (10.4)")),
        (None, None, "10.6.0", (None, "no firewall_backend setting, no libvirt rules and no libvirt version seen")),
        (None, None, None, (None, "no firewall_backend setting, no libvirt rules and no libvirt version seen")),
    ],
)
def test_firewall_backend_derivation(conf, nft, version, expected):
    secs = [META]
    if conf is not None:
        secs.append(("file", "/etc/libvirt/network.conf", conf))
    if nft is not None:
        secs.append(("nft_libvirt", "ip", nft))
    if isinstance(version, str):
        secs += [
            ("virsh_version", "", f"Compiled against library: libvirt {version}\nUsing library: libvirt {version}"),
            ("virsh_nets", "active", ""),
            ("virsh_doms", "active", ""),
        ]
    secs.append(DONE)
    f = build_host_facts("h1", "local://", collector(*secs), NONCE, None)
    assert firewall_backend(f) == expected


def test_libvirt_installed_from_socket_only():
    meta = ("meta", "", "collector=1\nlibvirt_socket=/run/libvirt/virtnetworkd-sock-ro")
    f = build_host_facts("h1", "local://", collector(meta, DONE), NONCE, None)
    assert f.libvirt_installed
    assert f.clk_tck is None and f.uid is None


# ------------------------------------------------------------------ libvirt-python view


def _raw_python(**kw):
    raw = RawLibvirt(
        "libvirt-python",
        "qemu+ssh://root@kvm01/system?no_tty=1",
        lib_version=(10, 0, 0),
        hypervisor_version="QEMU 8.2.2",
        **kw,
    )
    raw.networks.append(RawNetwork("12345678-1234-4234-8234-123456789abc", True, False, None, NET_XML, None))
    raw.domains.append((True, DOM_XML))
    return raw


def test_libvirt_python_preferred_over_virsh():
    f = build_host_facts("kvm01", "ssh://root@kvm01", OUTPUT, NONCE, _raw_python())
    lv = f.libvirt
    assert lv.source == "libvirt-python"
    assert lv.uri == "qemu+ssh://root@kvm01/system?no_tty=1"
    assert lv.libvirt_version == (10, 0, 0)
    assert lv.hypervisor_version == "QEMU 8.2.2"
    assert [n.name for n in lv.networks] == ["lab"]  # not the virsh sections' networks
    lab = lv.network("lab")
    assert (lab.active, lab.persistent, lab.autostart, lab.persistent_def) == (True, False, None, None)
    assert lab.live.stp is False
    assert [g.name for g in lv.guests] == ["lab-vm"]
    assert lv.notes == ()
    # with libvirt's own chains in iptables, the version is not needed
    assert firewall_backend(f)[0] == "iptables"


def test_libvirt_python_error_falls_back_to_virsh():
    raw = RawLibvirt(
        "none",
        "qemu+ssh://root@kvm01/system",
        error="cannot open qemu+ssh://root@kvm01/system read-only: authentication failed",
    )
    f = build_host_facts("kvm01", "ssh://root@kvm01", OUTPUT, NONCE, raw)
    assert f.libvirt.source == "virsh"
    assert f.libvirt.fallback == f"libvirt-python: {raw.error}"
    assert f.libvirt.notes == (f.libvirt.fallback,)
    assert [n.name for n in f.libvirt.networks] == ["default", "isolated"]


def test_libvirt_python_error_and_no_virsh():
    raw = RawLibvirt("none", "qemu:///system", error="libvirt-python is not installed on the control node")
    f = build_host_facts("h1", "local://", collector(META, DONE), NONCE, raw)
    assert f.libvirt.source == "none" and f.libvirt.fallback is None
    assert f.libvirt.error == (
        "libvirt-python is not installed on the control node; virsh is not available on the host"
    )
    assert f.libvirt.notes == (f.libvirt.error,)


def test_libvirt_python_bad_xml_reported():
    raw = _raw_python()
    raw.networks.append(
        RawNetwork(
            "deadbeef-0000-4000-8000-000000000000", True, True, True, "<network><name>n</name></network>", "<network>"
        )
    )
    f = build_host_facts("h1", "local://", collector(META, DONE), NONCE, raw)
    assert [n.name for n in f.libvirt.networks] == ["lab"]
    assert len(f.parse_errors) == 1
    assert f.parse_errors[0].startswith("network deadbeef-0000-4000-8000-000000000000: malformed XML")


# ------------------------------------------------------------------ known bugs


@pytest.mark.parametrize(
    "name_arg, guest",
    [
        ("guest=web01,process=qemu:web01,debug-threads=on", "web01"),
        ("guest=lab,,pxe,debug-threads=on", "lab,pxe"),
    ],
)
def test_qemu_name_option_parsing(name_arg, guest):
    out = collector(META, ("qemu_procs", "", f"pid=4317 vhost_fds=2 name={name_arg}"), DONE)
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert [q.guest for q in f.qemu] == [guest]


def test_network_conf_single_quotes():
    out = collector(META, ("file", "/etc/libvirt/network.conf", "firewall_backend = 'iptables'\n"), DONE)
    f = build_host_facts("h1", "local://", out, NONCE, None)
    assert f.firewall_backend_config == "iptables"


# ------------------------------------------------------------------ what issue-by-issue truth rests on

META2 = ("meta", "", "collector=2\nhostname=h1\nuid=0\nclk_tck=100\nkernel=2.6.32-754.el6.x86_64\nhave=ip")


def test_old_kernel_holds_new_ports_of_a_bridge_without_stp():
    """Kernels before 2.6.39 kept a port of a bridge with STP off one forward delay in learning
    (net/bridge/br_stp.c br_make_forwarding); newer ones forward at once."""
    br = (
        "bridge",
        "br0",
        "stp_state=0\nforward_delay=1500\nbridge_id=8000.525400000001\nroot_id=8000.525400000001\nroot_port=0",
    )
    f = build_host_facts("h1", "local://", collector(META2, br, DONE), NONCE, None)
    assert f.kernel_version == (2, 6, 32)
    assert f.bridges[0].waits_without_stp and f.bridges[0].new_port_block_s == 15.0
    new = ("meta", "", META2[2].replace("2.6.32-754.el6", "3.10.0-1160.el7"))
    f = build_host_facts("h1", "local://", collector(new, br, DONE), NONCE, None)
    assert f.bridges[0].new_port_block_s == 0.0


def test_qemu_files_that_cannot_be_listed_are_unknown():
    procs = (
        "processes",
        "",
        "pid=41 comm=qemu vhost_fds=? name=guest=g1,debug-threads=on\n"
        "pid=42 comm=qemu vhost_fds=2 name=guest=g2\npid=7 comm=virtnetworkd\n",
    )
    f = build_host_facts("h1", "local://", collector(META2, procs, DONE), NONCE, None)
    assert {q.guest: q.vhost_fds for q in f.qemu} == {"g1": None, "g2": 2}
    assert [(p.pid, p.comm) for p in f.daemons] == [(7, "virtnetworkd")]
    # the first collector printed qemu_procs lines without comm=: still read as QEMU; and it counted the fds
    # it could not list as 0, so from a run that was not root's (META: uid=1000) a 0 is unknown, not "none"
    old = ("qemu_procs", "", "pid=43 vhost_fds=0 name=guest=g3\npid=44 vhost_fds=1 name=guest=g4")
    f = build_host_facts("h1", "local://", collector(META, old, DONE), NONCE, None)
    assert [(q.guest, q.vhost_fds) for q in f.qemu] == [("g3", None), ("g4", 1)]
    as_root = ("meta", "", META[2].replace("uid=1000", "uid=0"))
    f = build_host_facts("h1", "local://", collector(as_root, old, DONE), NONCE, None)
    assert [(q.guest, q.vhost_fds) for q in f.qemu] == [("g3", 0), ("g4", 1)]


def test_both_of_libvirts_nft_tables_are_read():
    tables = ("nft_tables", "", "table ip libvirt_network\ntable ip6 libvirt_network\ntable inet filter")
    ip = (
        "nft_libvirt",
        "ip",
        'table ip libvirt_network {\n chain guest_cross {\n  iif "virbr0" oif "virbr0" accept\n }\n}',
    )
    ip6 = (
        "nft_libvirt",
        "ip6",
        'table ip6 libvirt_network {\n chain guest_cross {\n  iif "virbr6" oif "virbr6" accept\n }\n}',
    )
    meta = ("meta", "", META2[2] + "\nhave=nft")
    f = build_host_facts("h1", "local://", collector(meta, tables, ip, ip6, DONE), NONCE, None)
    assert f.nft.table_present and f.nft.readable and f.nft.mentions("virbr6") and f.nft.mentions("virbr0")
    refused = ("nft_tables", "", "Error: Operation not permitted", 1)
    f = build_host_facts("h1", "local://", collector(meta, refused, DONE), NONCE, None)
    assert not f.nft.readable and "Operation not permitted" in f.nft.error


def test_unreadable_libvirt_log_and_state_files_are_named():
    log = ("libvirt_log", "", "unreadable=/var/log/libvirt/libvirtd.log\nsearched=journal")
    status = ("libvirt_net_status", "/run/libvirt/network/lan.xml", "cat: Permission denied", 1)
    f = build_host_facts("h1", "local://", collector(META2, log, status, DONE), NONCE, None)
    assert f.libvirt_log_unreadable == ("/var/log/libvirt/libvirtd.log",)
    assert "/run/libvirt/network/lan.xml" in f.unreadable


# collector.sh today: format 4, which prints its limit per command
META4 = (
    "meta",
    "",
    "collector=4\nhostname=kvm01\nuid=0\nclk_tck=100\nkernel=6.1.0-18-amd64\nhave=virsh\ncommand_timeout=30",
)
NET_STATUS = "<networkstatus><network><name>lan</name><bridge name='virbr7'/></network></networkstatus>"


def test_state_files_name_why_neither_daemon_source_was_used():
    """No daemon answered libvirt-python nor virsh: the view from the state files says why each failed."""
    raw = RawLibvirt(
        "none",
        "qemu+ssh://root@kvm01/system",
        error="cannot open qemu+ssh://root@kvm01/system read-only: Cannot recv data: "
        "nc: unix connect failed: No such file or directory",
    )
    refused = ("virsh_net_uuids", "", "error: failed to connect to the hypervisor", 1)
    status = ("libvirt_net_status", "/run/libvirt/network/lan.xml", NET_STATUS)
    f = build_host_facts(
        "kvm01", "ssh://root@kvm01", collector(META4, ("virsh_client", "", "9.0.0"), refused, status, DONE), NONCE, raw
    )
    lv = f.libvirt
    assert lv.source == "files" and lv.error is None and [n.name for n in lv.networks] == ["lan"]
    assert lv.fallback == (
        f"libvirt-python: {raw.error}; virsh --readonly could not connect: error: failed to connect to the hypervisor"
    )
    assert lv.notes == (lv.fallback,)


@pytest.mark.parametrize(
    "meta, within",
    [
        (META4, "within 30 s (the collector's limit per command; a longer host timeout raises it)"),
        # saved by a collector that did not print its limit yet
        (("meta", "", META4[2].replace("\ncommand_timeout=30", "")), "in time (the collector's limit per command)"),
    ],
)
def test_virsh_ended_by_the_collectors_limit_says_so(meta, within):
    """virsh killed by the collector's `timeout` (status 124) is named as too slow, not as refused."""
    raw = RawLibvirt(
        "none",
        "qemu+ssh://root@kvm01/system",
        error="cannot open qemu+ssh://root@kvm01/system read-only: authentication failed",
    )
    slow = ("virsh_net_uuids", "", "", 124)
    f = build_host_facts(
        "kvm01", "ssh://root@kvm01", collector(meta, ("virsh_client", "", "9.0.0"), slow, DONE), NONCE, raw
    )
    assert f.libvirt.source == "none"
    assert f.libvirt.error == f"libvirt-python: {raw.error}; virsh --readonly did not answer {within}"
