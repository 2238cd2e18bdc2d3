"""The bridge config readers, held to the values upstream's own tests assert.

Each case names the upstream test it comes from (repository, file, test, commit) and gives only
the input lines that matter; the assertion is upstream's, translated into what applies at boot
(STP on or off, delay in seconds). Cases marked "derived" have no upstream test: they follow
upstream's code, cited the same way. Upstream files themselves are not copied here.

Commits: NetworkManager 355bc902994f8f616bc80dcb451455f7aeb6b809, netplan
e9dd90a96727bc6b7264c36526b39d1dacccc00f (1.2.2; the same tests exist in 0.106, Debian 12),
ifupdown2 164248fa353fe5396679e767a7e709b56496c51b, systemd test/test-network/conf/25-bridge.netdev
feb55c1bf348b4ec849d4d81a3da3345bb97f897.

selftests/test_netconfig_truth.py runs the real programs (NetworkManager, netplan, networkd,
ifupdown, ifupdown2) on the formats Debian packages, in lab hosts, against these readers.
"""

import pytest

from kvmnetcheck.facts.model import NetStack
from kvmnetcheck.facts.parsers.bridge_config import (
    Context,
    ifupdown2_stp_default,
    parse_ifcfg,
    parse_ifupdown,
    parse_netdev,
    parse_netplan,
    parse_nmconnection,
)
from kvmnetcheck.facts.parsers.netstack import nm_reads_ifcfg, parse_netstack, program_boot

NM = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/usr/sbin/NetworkManager"}),
    enabled=frozenset({"NetworkManager"}),
    nm_ifcfg_rh=True,
)
NETPLAN_NETWORKD = NetStack(
    known=True, systemd=True, installed=frozenset({"/usr/sbin/netplan", "/lib/systemd/systemd-networkd"})
)
NETPLAN_NM = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/usr/sbin/netplan", "/lib/systemd/systemd-networkd", "/usr/sbin/NetworkManager"}),
    enabled=frozenset({"NetworkManager"}),
)


def nm_ifcfg(text):
    (c,) = parse_ifcfg("/etc/sysconfig/network-scripts/ifcfg-test", text, Context(netstack=NM))
    return c


def keyfile(text, stack=NM, path="/etc/NetworkManager/system-connections/br0.nmconnection"):
    out = parse_nmconnection(path, text, Context(netstack=stack))
    return out[0] if out else None


def netplan(text, stack=NETPLAN_NETWORKD):
    return {c.bridge: c for c in parse_netplan("/etc/netplan/01.yaml", text, Context(netstack=stack))}


# ------------------------------------------------------------------ NetworkManager ifcfg-rh reader
# src/core/settings/plugins/ifcfg-rh/tests/test-ifcfg-rh.c


def test_nm_ifcfg_1_read_bridge_main():
    """NM-IFCFG-1 test_read_bridge_main: STP=on DELAY=2 -> stp TRUE, forward_delay 2."""
    c = nm_ifcfg(
        "DEVICE=br0\nONBOOT=no\nTYPE=Bridge\nSTP=on\nDELAY=2\n"
        'BRIDGING_OPTS="priority=32744 hello_time=7 max_age=39 ageing_time=235352 multicast_snooping=0"\n'
    )
    assert (c.bridge, c.stp, c.forward_delay_s) == ("br0", True, 2.0)
    assert c.applies is False and "ONBOOT=no" in c.boot_note  # autoconnect FALSE


def test_nm_ifcfg_2_read_bridge_missing_stp():
    """NM-IFCFG-2 test_read_bridge_missing_stp: no STP line -> stp FALSE."""
    c = nm_ifcfg("DEVICE=br0\nONBOOT=no\nTYPE=Bridge\nBOOTPROTO=dhcp\n")
    assert c.stp is False and c.new_port_block_s == 0.0


def test_nm_ifcfg_3_component_is_no_bridge():
    """NM-IFCFG-3 test_read_bridge_component: a port's BRIDGING_OPTS are port options."""
    assert (
        parse_ifcfg(
            "/etc/sysconfig/network-scripts/ifcfg-eth0",
            'DEVICE=eth0\nBRIDGE=br0\nBRIDGING_OPTS="priority=28 hairpin_mode=1 path_cost=100"\n',
            Context(netstack=NM),
        )
        == []
    )


@pytest.mark.parametrize(
    "text, stp, delay, problem",
    [
        ("STP=yes\n", True, None, None),  # 15 s
        ("STP=true\n", False, None, None),  # not on/yes: off
        ("STP=yes\nDELAY=2.5\n", True, None, "not a whole number"),
        ("STP=no\nDELAY=30\n", False, None, None),  # DELAY only with STP on
        ("STP=yes\nDELAY=0\n", True, None, "refuses the whole profile"),
        ('STP=yes\nBRIDGING_OPTS="forward_delay=3000"\n', True, None, None),  # ignored, 15 s
    ],
)
def test_nm_ifcfg_derived(text, stp, delay, problem):
    """Derived from nms-ifcfg-rh-reader.c make_bridge_setting/handle_bridge_option."""
    c = nm_ifcfg("DEVICE=br0\nTYPE=Bridge\n" + text)
    assert (c.stp, c.forward_delay_s) == (stp, delay)
    assert (c.problem is None) if problem is None else (problem in c.problem)


# ------------------------------------------------------------------ NetworkManager keyfile
# src/core/settings/plugins/keyfile/tests/test-keyfile-settings.c


def test_nm_kf_1_old_bridge_interface_name():
    """NM-KF-1 test_read_bridge_main: [bridge] interface-name=br0 names the device; stp TRUE, delay 2."""
    c = keyfile("[connection]\ntype=bridge\n[bridge]\ninterface-name=br0\nstp=true\nforward-delay=2\npriority=32744\n")
    assert (c.bridge, c.stp, c.forward_delay_s, c.new_port_block_s) == ("br0", True, 2.0, 4.0)


def test_nm_kf_2_default_bridge():
    """NM-KF-2 test_write_bridge_main: an empty [bridge] is NM's default bridge: STP on, 15 s."""
    c = keyfile(
        "[connection]\nid=br0\nuuid=4c2f0c6e-8a1d-4d2e-9b8b-3f1e2d3c4b5a\ntype=bridge\ninterface-name=br0\n[bridge]\n"
    )
    assert (c.stp, c.forward_delay_s, c.new_port_block_s) == (True, None, 30.0)
    assert c.connection == "4c2f0c6e-8a1d-4d2e-9b8b-3f1e2d3c4b5a" and c.applies is True


@pytest.mark.parametrize(
    "bridge, stp, problem",
    [
        ("stp=true\nforward-delay=0\n", True, "refuses the whole profile"),
        ("stp=false\nforward-delay=0\n", False, None),
        ("forward-delay=15s\n", True, "not a whole number"),
        ("forward-delay=0x4\n", True, None),  # NM parses with base 0
    ],
)
def test_nm_keyfile_derived(bridge, stp, problem):
    c = keyfile("[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n[bridge]\n" + bridge)
    assert c.stp is stp
    assert (c.problem is None) if problem is None else (problem in c.problem)


def test_nm_keyfile_others_may_read_is_refused():
    """X-14 (nms-keyfile-utils.c): NM ignores a keyfile that is not root's alone."""
    path = "/etc/NetworkManager/system-connections/br0.nmconnection"
    stack = NetStack(
        known=True, systemd=True, installed=NM.installed, enabled=NM.enabled, file_modes={path: (0o644, 0)}
    )
    c = keyfile("[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n", stack)
    assert c.applies is False and "mode 644" in c.boot_note


@pytest.mark.parametrize(
    "path, applies, why",
    [
        ("/run/NetworkManager/system-connections/netplan-br0.nmconnection", False, "netplan"),
        ("/run/NetworkManager/system-connections/br0.nmconnection", False, "gone at the next boot"),
        ("/usr/lib/NetworkManager/system-connections/br0", False, "only *.nmconnection"),
        ("/usr/lib/NetworkManager/system-connections/br0.nmconnection", True, "enabled"),
    ],
)
def test_nm_keyfile_locations(path, applies, why):
    """nm-keyfile-internal.h and nms-keyfile-plugin.c: /run is runtime, /usr/lib only *.nmconnection."""
    c = keyfile("[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n", NM, path)
    assert c.applies is applies and why in c.boot_note


def test_nm_keyfile_autoconnect_false():
    c = keyfile("[connection]\nid=br0\ntype=bridge\ninterface-name=br0\nautoconnect=false\n")
    assert c.applies is False and "autoconnect=false" in c.boot_note


# ------------------------------------------------------------------ netplan
# tests/generator/test_bridges.py


def test_np_gen_1_bridge_empty_networkd():
    """NP-GEN-1 TestNetworkd.test_bridge_empty: no [Bridge] section -> kernel default, STP off."""
    c = netplan("network: {version: 2, bridges: {br0: {dhcp4: true}}}\n")["br0"]
    assert (c.stp, c.new_port_block_s) == (False, 0.0) and "networkd" in c.program


def test_np_gen_2_type_renderer_beats_global():
    """NP-GEN-2 test_bridge_type_renderer: bridges.renderer networkd over a global NetworkManager;
    `renderer` under bridges is not a bridge."""
    bridges = netplan(
        "network:\n  renderer: NetworkManager\n  bridges:\n    renderer: networkd\n    br0: {dhcp4: true}\n", NETPLAN_NM
    )
    assert list(bridges) == ["br0"]
    assert (bridges["br0"].stp, "networkd" in bridges["br0"].program) == (False, True)


def test_np_gen_3_device_renderer_beats_type():
    """NP-GEN-3 test_bridge_def_renderer: device > type > global."""
    c = netplan(
        "network:\n  renderer: NetworkManager\n  bridges:\n    renderer: NetworkManager\n"
        "    br0:\n      renderer: networkd\n      dhcp4: true\n",
        NETPLAN_NM,
    )["br0"]
    assert "networkd" in c.program and c.stp is False


def test_np_gen_4_params_networkd():
    """NP-GEN-4 TestNetworkd.test_bridge_params: ForwardDelaySec=12, STP=true."""
    c = netplan(
        "network:\n  bridges:\n    br0:\n      parameters:\n        forward-delay: 12\n"
        "        stp: true\n        priority: 1000\n"
    )["br0"]
    assert (c.stp, c.forward_delay_s, c.new_port_block_s) == (True, 12.0, 24.0)


@pytest.mark.parametrize(
    "yaml_text",
    [
        "network:\n  renderer: NetworkManager\n  bridges:\n    br0: {dhcp4: true}\n",  # NP-GEN-5
        "network:\n  renderer: networkd\n  bridges:\n    renderer: NetworkManager\n    br0: {dhcp4: true}\n",  # NP-GEN-6
        "network:\n  bridges:\n    renderer: NetworkManager\n    br0: {macaddress: '00:01:02:03:04:05'}\n",  # NP-GEN-7
        "network:\n  renderer: networkd\n  bridges:\n    renderer: networkd\n    br0:\n      renderer: NetworkManager\n",
    ],
)
def test_np_gen_5_to_8_networkmanager_without_parameters(yaml_text):
    """NP-GEN-5..8: no [bridge] group in NM's keyfile -> NM's defaults: STP on, 15 s."""
    c = netplan(yaml_text, NETPLAN_NM)["br0"]
    assert "NetworkManager" in c.program and (c.stp, c.new_port_block_s) == (True, 30.0)
    assert c.connection == "netplan-br0" and c.applies is True


def test_np_gen_9_params_networkmanager():
    """NP-GEN-9 TestNetworkManager.test_bridge_params: forward-delay=12, stp=true."""
    c = netplan(
        "network:\n  renderer: NetworkManager\n  bridges:\n    br0:\n      parameters:\n"
        "        forward-delay: 12\n        stp: true\n",
        NETPLAN_NM,
    )["br0"]
    assert (c.stp, c.forward_delay_s) == (True, 12.0)


def test_np_int_1_forward_delay_is_seconds():
    """NP-INT-1 tests/integration/bridges.py test_bridge_forward_delay: 10 -> sysfs 1000 (10 s)."""
    c = netplan("network:\n  bridges:\n    mybr:\n      parameters: {forward-delay: 10, stp: false}\n")["mybr"]
    assert (c.stp, c.forward_delay_s) == (False, 10.0)


def test_netplan_derived_suffix_and_order():
    # 1500ms is a time span to networkd, no whole number to NetworkManager
    text = "network:\n  renderer: {r}\n  bridges:\n    br0:\n      parameters: {{forward-delay: 1500ms}}\n"
    assert netplan(text.format(r="networkd"))["br0"].forward_delay_s == 1.5
    c = netplan(text.format(r="NetworkManager"), NETPLAN_NM)["br0"]
    assert c.forward_delay_s is None and "whole number" in c.problem and c.new_port_block_s == 30.0
    # a type-level renderer applies only to the bridges after it in the file
    b = netplan(
        "network:\n  bridges:\n    br0: {dhcp4: true}\n    renderer: NetworkManager\n    br1: {dhcp4: true}\n",
        NETPLAN_NM,
    )
    assert ("networkd" in b["br0"].program, "NetworkManager" in b["br1"].program) == (True, True)


# tests/integration/scenarios.py _CommonTests.test_mix_vlan_on_bridge_on_bond, its YAML as the test writes it
# (%(ec)s and %(e2c)s are the test's two client NICs)
NP_MIX_VLAN_ON_BRIDGE_ON_BOND = """\
network:
  renderer: %(r)s
  version: 2
  vlans:
    vlan1:
      link: 'br0'
      id: 1
      addresses: [ '10.10.10.1/24' ]
  bridges:
    br0:
      interfaces: ['bond0', 'vlan2']
      parameters:
        stp: false
        path-cost:
          bond0: 1000
          vlan2: 2000
  bonds:
    bond0:
      interfaces: ['br1']
      parameters:
        mode: balance-rr
  bridges:
    br1:
      interfaces: ['ethb2']
  vlans:
    vlan2:
      link: ethbn
      id: 2
  ethernets:
    ethbn:
      match: {name: %(ec)s}
    ethb2:
      match: {name: %(e2c)s}
"""


@pytest.mark.parametrize("renderer, stack", [("networkd", NETPLAN_NETWORKD), ("NetworkManager", NETPLAN_NM)])
def test_np_int_2_mix_vlan_on_bridge_on_bond_both_bridges_blocks(renderer, stack):
    """NP-INT-2 test_mix_vlan_on_bridge_on_bond: the file gives `bridges:` twice and the test asserts
    bond0 and vlan2 in br0 (the first block) and ethb2 in br1 (the second): process_mapping
    (src/parse.c) calls handle_network_type for each. br0 keeps `stp: false`; br1 has no parameters."""
    text = NP_MIX_VLAN_ON_BRIDGE_ON_BOND % {"r": renderer, "ec": "eth42", "e2c": "eth43"}
    bridges = netplan(text, stack)
    assert list(bridges) == ["br0", "br1"]
    br0, br1 = bridges["br0"], bridges["br1"]
    assert (br0.stp, br0.new_port_block_s, renderer in br0.program) == (False, 0.0, True)
    assert br0.lines == ("10: br0:", "13: stp: false")
    assert (br1.stp, br1.new_port_block_s) == ((False, 0.0) if renderer == "networkd" else (True, 30.0))


def test_netplan_derived_repeated_keys_merge_as_netplan_reads_them():
    """Derived, src/parse.c: every `network:` and `bridges:` is read; a bridge given again amends the
    same definition (handle_network_type: parsed_defs); each `parameters:` turns STP on before its keys
    (handle_bridge); a type-level renderer holds to the end of its `bridges:` block and a bridge keeps the
    one in force where it was first defined."""
    b = netplan(
        "network:\n  bridges:\n    renderer: NetworkManager\n    br0:\n      parameters: {stp: false, forward-delay: 4}\n"
        "network:\n  bridges:\n    br1: {}\n    br0:\n      parameters: {forward-delay: 6}\n",
        NETPLAN_NM,
    )
    assert list(b) == ["br0", "br1"]
    assert ("NetworkManager" in b["br0"].program, b["br0"].stp, b["br0"].forward_delay_s) == (True, True, 6.0)
    assert b["br0"].lines == ("4: br0:", "9: br0:", "10: parameters: {forward-delay: 6}")
    assert ("networkd" in b["br1"].program, b["br1"].stp) == (True, False)
    # a later parameters: without forward-delay keeps the earlier one; its stp decides
    c = netplan(
        "network:\n  bridges:\n    br0:\n      parameters: {forward-delay: 4}\n"
        "  bridges:\n    br0:\n      parameters: {stp: false}\n"
    )["br0"]
    assert (c.stp, c.forward_delay_s) == (False, 4.0)


def test_netplan_renderer_needs_its_program():
    stack = NetStack(
        known=True, systemd=True, installed=frozenset({"/usr/sbin/netplan", "/lib/systemd/systemd-networkd"})
    )
    c = netplan("network:\n  renderer: NetworkManager\n  bridges:\n    br0: {dhcp4: true}\n", stack)["br0"]
    assert c.applies is False and "NetworkManager is not installed" in c.boot_note
    none = NetStack(known=True, systemd=True)
    assert netplan("network: {bridges: {br0: {}}}\n", none)["br0"].applies is False


# ------------------------------------------------------------------ systemd-networkd


def test_sd_1_bridge_netdev():
    """SD-1 test/test-network/conf/25-bridge.netdev: ForwardDelaySec=9 STP=true -> 9 s, stp_state 1."""
    (c,) = parse_netdev(
        "/etc/systemd/network/25-bridge.netdev",
        "[NetDev]\nName=bridge99\nKind=bridge\n[Bridge]\nHelloTimeSec=9\nMaxAgeSec=9\n"
        "ForwardDelaySec=9\nPriority=9\nSTP=true\n",
    )
    assert (c.bridge, c.stp, c.forward_delay_s) == ("bridge99", True, 9.0)


def test_networkd_derived():
    # STP=yes without ForwardDelaySec: the kernel's 15 s
    (c,) = parse_netdev("/etc/systemd/network/br0.netdev", "[NetDev]\nName=br0\nKind=bridge\n[Bridge]\nSTP=yes\n")
    assert (c.stp, c.new_port_block_s) == (True, 30.0)
    # files netplan writes under /run are checked through their YAML
    (c,) = parse_netdev(
        "/run/systemd/network/10-netplan-br0.netdev",
        "[NetDev]\nName=br0\nKind=bridge\n",
        Context(netstack=NETPLAN_NETWORKD),
    )
    assert c.applies is False and "netplan" in c.boot_note


# ------------------------------------------------------------------ ifupdown and ifupdown2

IFUPDOWN2 = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/sbin/ifup", "/usr/share/ifupdown2"}),
    enabled=frozenset({"networking"}),
    ifupdown2=True,
)
IFUPDOWN = NetStack(known=True, systemd=True, installed=frozenset({"/sbin/ifup"}), enabled=frozenset({"networking"}))


def test_ifud2_1_bridge_attr_back_to_default():
    """IFUD2-1 tests/test_l2.py test_bridge_attr_back_to_default: bridge-stp off, bridge-fd 29 ->
    "no", 29; with the attribute removed, the policy's default applies (on in that image)."""
    text = "auto br0\niface br0\n  bridge-ports vx42\n  bridge-stp off\n  bridge-fd 29\n"
    (c,) = parse_ifupdown("/etc/network/interfaces", text, Context(netstack=IFUPDOWN2))
    assert (c.stp, c.forward_delay_s, c.program) == (False, 29.0, "ifupdown2")
    removed = "auto br0\niface br0\n  bridge-ports vx42\n"
    (c,) = parse_ifupdown(
        "/etc/network/interfaces",
        removed,
        Context(
            netstack=IFUPDOWN2,
            ifupdown2_stp_default=ifupdown2_stp_default(['{"bridge": {"defaults": {"bridge-stp": "yes"}}}']),
        ),
    )
    assert c.stp is True and c.new_port_block_s == 30.0
    (c,) = parse_ifupdown("/etc/network/interfaces", removed, Context(netstack=IFUPDOWN2))
    assert c.stp is False  # no policy file: off (addons/bridge.py default_stp_on)


def test_ifupdown_derived():
    # DOC-BRU-1: bridge_fd 5 is seconds; X-20 fractions under bridge-utils, X-19 not under ifupdown2
    text = "auto br0\niface br0 inet manual\n  bridge_ports eth0\n  bridge_stp on\n  bridge_fd 2.5\n"
    (c,) = parse_ifupdown("/etc/network/interfaces", text, Context(netstack=IFUPDOWN))
    assert (c.stp, c.forward_delay_s, c.program) == (True, 2.5, "ifupdown (bridge-utils)")
    (c,) = parse_ifupdown("/etc/network/interfaces", text, Context(netstack=IFUPDOWN2))
    assert c.forward_delay_s is None and "not a whole number" in c.problem
    # brctl stp takes on/yes/1 only; "true" leaves the kernel's default (off)
    (c,) = parse_ifupdown(
        "/etc/network/interfaces", text.replace("bridge_stp on", "bridge_stp true"), Context(netstack=IFUPDOWN)
    )
    assert c.stp is False
    # without `auto br0`, ifup -a does not bring it up at boot
    (c,) = parse_ifupdown("/etc/network/interfaces", text.replace("auto br0\n", ""), Context(netstack=IFUPDOWN))
    assert c.applies is False and "auto br0" in c.boot_note


# ------------------------------------------------------------------ which program runs at boot


def test_netstack_from_the_collector():
    ns = parse_netstack(
        "systemd_running=1\ninstalled=/usr/sbin/NetworkManager\ninstalled=/lib/systemd/systemd-networkd\n"
        "enabled=NetworkManager\nmasked=systemd-networkd\nnm_plugins_line=plugins=ifcfg-rh,keyfile\n"
        "nm_ifcfg_rh=/usr/lib64/NetworkManager/1.46.0/libnm-settings-plugin-ifcfg-rh.so\n"
        "file_mode=600 0 /etc/NetworkManager/system-connections/a b.nmconnection\n",
        frozenset(),
    )
    assert program_boot(ns, "NetworkManager").applies is True and nm_reads_ifcfg(ns)
    assert (
        program_boot(ns, "networkd") == program_boot(ns, "networkd") and program_boot(ns, "networkd").applies is False
    )
    assert "masked" in program_boot(ns, "networkd").why
    assert ns.file_modes == {"/etc/NetworkManager/system-connections/a b.nmconnection": (0o600, 0)}
    running = parse_netstack("systemd_running=1\ninstalled=/usr/sbin/NetworkManager\n", frozenset({"NetworkManager"}))
    assert program_boot(running, "NetworkManager").why == "NetworkManager is running"
    idle = parse_netstack("systemd_running=1\ninstalled=/usr/sbin/NetworkManager\n", frozenset())
    assert program_boot(idle, "NetworkManager").applies is False
    no_systemd = parse_netstack("installed=/usr/sbin/NetworkManager\n", frozenset())
    assert program_boot(no_systemd, "NetworkManager").applies is None  # cannot be told: judged as applying
    assert program_boot(parse_netstack(None, frozenset()), "NetworkManager").applies is None  # older facts
    keyfile_only = parse_netstack("nm_plugins_line=plugins=keyfile\nnm_ifcfg_rh=/x.so\n", frozenset())
    assert not nm_reads_ifcfg(keyfile_only)
