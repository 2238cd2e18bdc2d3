"""Fuzz every parser with arbitrary text and with mutations of the real samples.

Each parser must return its documented type (with sane values) or, for the XML
parsers, raise XmlError; nothing else may escape. A host's output is untrusted
input: one odd file or a cut-off session must never crash a whole run.

The runs are derandomized (same examples every time) and short. For a longer,
random exploration:

    KVMNETCHECK_FUZZ_RANDOM=1 KVMNETCHECK_FUZZ_EXAMPLES=5000 .venv/bin/pytest ... selftests/unit/test_fuzz.py
"""

import json
import math
import os
import re
import time

import test_bridge_config as S_CFG
import test_firewalld as S_FW
import test_host_facts as S_HOST
import test_iptables as S_IPT
import test_libvirt_xml as S_XML
import test_netfilter as S_NF
import test_sections as S_SEC
import test_sysfs_bridge as S_BR
import test_tc as S_TC
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kvmnetcheck.facts.conclusions.firewall import firewall_backend, zone_allows
from kvmnetcheck.facts.conclusions.netfilter import ForwardVerdict, bridged_dhcp_verdict
from kvmnetcheck.facts.host import build_host_facts
from kvmnetcheck.facts.model import (
    MAX_FORWARD_DELAY_S,
    MIN_FORWARD_DELAY_S,
    Bridge,
    BridgeConfig,
    BridgePort,
    FirewalldZone,
    Guest,
    GuestNic,
    HostFacts,
    Iptables,
    IptablesRule,
    NetworkDefinition,
    TcFilters,
)
from kvmnetcheck.facts.parsers.bridge_config import (
    MAX_YAML_NODES,
    parse_ifcfg,
    parse_ifupdown,
    parse_netdev,
    parse_netplan,
    parse_nmconnection,
)
from kvmnetcheck.facts.parsers.firewalld import parse_zones
from kvmnetcheck.facts.parsers.iptables import build_iptables, parse_checksum_help, parse_save, parse_version
from kvmnetcheck.facts.parsers.libvirt_xml import XmlError, parse_domain, parse_network
from kvmnetcheck.facts.parsers.sections import Section, split_sections
from kvmnetcheck.facts.parsers.tc import parse_filters
from kvmnetcheck.raw import RawLibvirt, RawNetwork

EXAMPLES = int(os.environ.get("KVMNETCHECK_FUZZ_EXAMPLES", "200"))
RANDOM = os.environ.get("KVMNETCHECK_FUZZ_RANDOM") == "1"

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # write nothing (.hypothesis/) into the checkout
    derandomize=not RANDOM,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

# bits that matter to one parser or another
TOKENS = [
    "\n",
    "\t",
    " ",
    "=",
    "'",
    '"',
    "\\",
    "<",
    ">",
    "/>",
    "</",
    "&",
    "&amp;",
    "&x;",
    ";",
    "!",
    "! ",
    "-",
    "*",
    "#",
    ":",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    "@@",
    "\x00",
    "\r",
    "\ufeff",
    "\udcff",
    "é",
    "0",
    "-1",
    "1.5",
    "99999999999999999999",
    "nan",
    "inf",
    "-A ",
    "-o ",
    "-i ",
    "-j ",
    "*filter\n",
    "COMMIT\n",
    "stp_state=",
    "forward_delay=",
    "port=x state=",
    "  target: ACCEPT\n",
    '\trule priority="1" reject\n',
    "csum (udp)",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<!DOCTYPE x>",
    "<?xml version='1.0'?>",
    "xmlns='urn:x'",
    "<bridge ",
    "delay='",
    "stp='off'",
    "<boot order='",
    "[bridge]\n",
    "[Bridge]\n",
    "iface br0 inet manual\n",
    "bridge_stp on\n",
    "TYPE=Bridge\n",
    "parameters:\n",
    "  ",
    "- ",
    "? ",
    "|\n",
    "!!binary ",
    "*a",
    "&a ",
    "%",
]
PIECES = st.one_of(st.sampled_from(TOKENS), st.text(max_size=8))
_VALUE = re.compile(r"""'([^'<>\n]*)'|"([^"<>\n]*)"|>([^<>]*)<|[=:] ?([^\n]*)""")


@st.composite
def mutated(draw, samples):
    """A real sample with a few random edits: insert, delete, replace, duplicate, truncate."""
    text = draw(st.sampled_from(samples))
    for _ in range(draw(st.sampled_from((0, 1, 1, 2, 2, 3, 6)))):
        op = draw(st.sampled_from(("insert", "delete", "replace", "duplicate", "truncate", "value", "value")))
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 60)))
        if op == "value":
            # change one value (a quoted attribute, an element's text, what follows = or :)
            # and keep the structure around it
            spots = [m.span(m.lastindex) for m in _VALUE.finditer(text)]
            if spots:
                a, b = draw(st.sampled_from(spots))
                text = text[:a] + draw(PIECES) + text[b:]
        elif op == "insert":
            text = text[:i] + draw(PIECES) + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "replace":
            text = text[:i] + draw(PIECES) + text[j:]
        elif op == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i]
    return text


@st.composite
def _inputs(draw, samples):
    # mostly real samples with a few edits (they get deep into the parsers), some pure noise
    kind = draw(st.sampled_from(("mutated", "mutated", "mutated", "mutated", "text", "pieces")))
    if kind == "text":
        return draw(st.text(max_size=400))
    if kind == "pieces":
        return "".join(draw(st.lists(PIECES, max_size=40)))
    return draw(mutated(samples))


def inputs(*samples):
    return _inputs(list(samples))


def _delay_ok(v):
    return v is None or (isinstance(v, float) and not math.isnan(v) and v >= 0)


# ------------------------------------------------------------------ sections


@FUZZ
@given(
    inputs(S_SEC.OUTPUT, S_SEC.TRUNCATED, S_SEC.MISSING_RC, S_SEC.FORGED, S_HOST.OUTPUT[:3000]),
    st.sampled_from([S_SEC.NONCE, S_HOST.NONCE]),
)
def test_split_sections(text, nonce):
    sections = split_sections(text, nonce)
    assert isinstance(sections, list)
    marker = f"@@{nonce}@@ "
    for s in sections:
        assert isinstance(s, Section)
        assert isinstance(s.kind, str) and isinstance(s.arg, str) and isinstance(s.text, str)
        assert s.rc is None or isinstance(s.rc, int)
        assert not any(line.startswith(marker) for line in s.text.split("\n"))
    assert len(sections) <= text.count(marker)


# ------------------------------------------------------------------ sysfs bridge


@FUZZ
@given(
    inputs(S_BR.VIRBR0, S_BR.BR0_NOT_ROOT, S_BR.STP_OFF_BR, S_BR.USER_STP, S_BR.GARBLED),
    st.one_of(st.none(), st.integers(-10, 2000)),
)
def test_parse_bridge(text, clk):
    b = parse_bridge_checked(text, clk)
    assert b.stp_state in (0, 1, 2, None)
    for v in (b.forward_delay_s, b.hello_time_s, b.max_age_s):
        assert _delay_ok(v)
    assert b.new_port_block_s is None or b.new_port_block_s >= 0
    assert b.is_stp_root in (True, False, None)
    assert all(isinstance(p, BridgePort) and isinstance(p.state_name, str) for p in b.ports)
    for bid in (b.bridge_id, b.root_id):
        assert bid is None or (len(bid) == 17 and bid == bid.lower())


def parse_bridge_checked(text, clk):
    from kvmnetcheck.facts.parsers.sysfs_bridge import parse_bridge

    b = parse_bridge("virbr0", text, clk)
    assert isinstance(b, Bridge) and b.name == "virbr0"
    return b


# ------------------------------------------------------------------ iptables


@FUZZ
@given(inputs(S_IPT.VERSION_147, S_IPT.VERSION_189_NFT, S_IPT.VERSION_187_LEGACY, S_IPT.HELP_MISSING_147))
def test_parse_version(text):
    version, vtext, variant = parse_version(text)
    assert version is None or (isinstance(version, tuple) and all(isinstance(p, int) for p in version))
    assert (version is None) == (vtext is None)
    assert variant is None or isinstance(variant, str)


@FUZZ
@given(inputs(S_IPT.HELP_PRESENT, S_IPT.HELP_MISSING_147, S_IPT.HELP_EMPTY))
def test_parse_checksum_help(text):
    assert parse_checksum_help(text) in (True, False, None)


@FUZZ
@given(inputs(S_IPT.SAVE_LIBVIRT9, S_IPT.SAVE_OLD_LIBVIRT, S_IPT.SAVE_NEGATED_AND_COMMENTS, S_IPT.GARBLED))
def test_parse_save(text):
    rules = parse_save(text)
    assert isinstance(rules, tuple)
    for r in rules:
        assert isinstance(r, IptablesRule)
        assert r.table and r.chain
        assert r.text.startswith("-A ")
        assert r.out_iface != "!" and r.in_iface != "!"


# ------------------------------------------------------------------ tc


@FUZZ
@given(st.lists(inputs(S_TC.CSUM_UDP, S_TC.CSUM_IPH_ONLY, S_TC.NO_CSUM, S_TC.GARBLED), max_size=3))
def test_parse_filters(texts):
    f = parse_filters("virbr0", texts)
    assert isinstance(f, TcFilters)
    assert f.csum_udp in (True, False)
    assert all(isinstance(line, str) and "csum" in line for line in f.lines)
    assert not f.csum_udp or f.lines


# ------------------------------------------------------------------ firewalld


@FUZZ
@given(inputs(S_FW.ZONES, S_FW.ZONES_TWO_BRIDGES, S_FW.GARBLED))
def test_parse_zones(text):
    zones = parse_zones(text)
    assert isinstance(zones, tuple)
    for z in zones:
        assert isinstance(z, FirewalldZone)
        assert z.name and not z.name[0].isspace()
        assert all(isinstance(x, str) for x in z.interfaces + z.services + z.ports)
        assert zone_allows(z, "dhcp", "67/udp") in (True, False)


# ------------------------------------------------------------------ netfilter verdicts

IPT_SAVES = [
    S_NF.DOCKER_SAVE,
    S_NF.LIBVIRT_SAVE,
    S_NF.CHAINS_SAVE,
    S_NF.MATCHES_SAVE,
    S_NF.SOURCE_SAVE,
    S_NF.LEGACY_SAVE,
]
NFT_RULESETS = [
    S_NF.FIREWALLD_JSON,
    S_NF.NFT_BRIDGE_JSON,
    S_NF.NFT_VMAP_JSON,
    S_NF.NFT_INET_JSON,
    S_NF.NFT_LIBVIRT_JSON,
    S_NF.PHYSDEV_JSON,
    S_NF.NFT_CT_VMAP_JSON,
]
BRIDGES = st.one_of(st.sampled_from(["br0", "br1", "virbr0", "docker0", ""]), st.text(max_size=6))
PORT_LISTS = st.lists(st.one_of(st.sampled_from(["eth0", "eth1", "vnet0"]), st.text(max_size=5)), max_size=3)
# rule words that reach deep into the evaluator: no ACCEPT among them, so that nothing here can accept
RULE_PIECES = st.one_of(
    PIECES,
    st.sampled_from(
        [
            "-A FORWARD ",
            "-A X ",
            "-j ",
            "-g ",
            "DROP",
            "RETURN",
            "X",
            "LOG",
            "NFQUEUE",
            "-i br0 ",
            "-o br+ ",
            "! ",
            "-m physdev ",
            "--physdev-in eth0 ",
            "--physdev-is-bridged ",
            "-p udp ",
            "-m udp ",
            "--dport ",
            "67:68",
            "-m multiport --dports 67,68 ",
            "-m conntrack --ctstate NEW ",
            "-s 10.0.0.0/8 ",
            "-d 255.255.255.255/32 ",
            "-m addrtype --dst-type BROADCAST ",
            "-m comment --comment ",
            "\n",
            "--limit 1/s ",
        ]
    ),
)


def _check_verdict(v):
    assert isinstance(v, ForwardVerdict)
    assert v.verdict in ("accept", "drop", "unknown")
    assert isinstance(v.by, str) and v.by
    assert isinstance(v.undecided, tuple) and all(isinstance(u, str) and u for u in v.undecided)


def _is_ruleset(text):
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("nftables"), list)


@FUZZ
@given(inputs(*IPT_SAVES), BRIDGES, PORT_LISTS, st.sampled_from(["iptables v1.8.9 (nf_tables)", "iptables v1.4.7"]))
def test_bridged_dhcp_verdict_iptables(text, bridge, ports, version):
    ipt = build_iptables(True, version, None, text, 0, text if "legacy" in version else None)
    v = bridged_dhcp_verdict(ipt, None, bridge, tuple(ports))
    _check_verdict(v)
    event(v.verdict)
    if v.verdict == "accept":  # only an ACCEPT (rule or policy) accepts, or no table at all
        tables = {r.table for r in ipt.rules} | {t for t, _, _ in ipt.policies}
        assert "ACCEPT" in text or not tables & {"filter", "mangle", "security"}


@FUZZ
@given(st.lists(RULE_PIECES, max_size=60), BRIDGES, PORT_LISTS)
def test_bridged_dhcp_verdict_garbage_rules_never_accept(pieces, bridge, ports):
    garbage = "".join(pieces)
    ipt = build_iptables(
        True, "iptables v1.8.9 (nf_tables)", None, f"*filter\n:FORWARD DROP [0:0]\n{garbage}\nCOMMIT\n", 0
    )
    v = bridged_dhcp_verdict(ipt, None, bridge, tuple(ports))
    _check_verdict(v)
    event(v.verdict)
    if "ACCEPT" not in garbage:
        assert v.verdict != "accept"


@FUZZ
@given(
    st.one_of(inputs(*NFT_RULESETS), st.text(max_size=200)),
    BRIDGES,
    PORT_LISTS,
    st.sampled_from([Iptables(installed=False), S_NF.ipt(S_NF.ACCEPT_POLICY_SAVE), S_NF.ipt(S_NF.DROP_SAVE)]),
)
def test_bridged_dhcp_verdict_nft_text(text, bridge, ports, ipt):
    v = bridged_dhcp_verdict(ipt, text, bridge, tuple(ports))
    _check_verdict(v)
    event(v.verdict)
    if not _is_ruleset(text):
        assert v.verdict != "accept"


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 70000),
    st.text(max_size=6),
    st.sampled_from(
        [
            "accept",
            "drop",
            "br0",
            "forward",
            "@dhcp_ports",
            "in",
            "!=",
            "udp",
            "iifname",
            "new",
            "ip",
            "inet",
            "bridge",
            "255.255.255.255",
        ]
    ),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=2)),
    max_leaves=6,
)


@st.composite
def json_mutated(draw, samples):
    """A real ruleset, still valid JSON, with a few of its values swapped for others."""
    doc = json.loads(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 4))):
        node = doc
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            k = draw(st.sampled_from(keys))
            child = node[k]
            if isinstance(child, (dict, list)) and child and draw(st.integers(0, 3)):
                node = child
                continue
            node[k] = draw(JSON_VALUES)
            break
    return json.dumps(doc)


@FUZZ
@given(json_mutated(NFT_RULESETS), BRIDGES, PORT_LISTS)
def test_bridged_dhcp_verdict_nft_structure(text, bridge, ports):
    v = bridged_dhcp_verdict(Iptables(installed=False), text, bridge, tuple(ports))
    _check_verdict(v)
    event(v.verdict)


# ------------------------------------------------------------------ libvirt XML

NETWORKS = [
    S_XML.NET_DEFAULT,
    S_XML.NET_ISOLATED,
    S_XML.NET_ROUTED,
    S_XML.NET_HOST_BRIDGE,
    S_XML.NET_PXE,
    S_XML.NET_NO_BRIDGE,
]
DOMAINS = [S_XML.DOM_RUNNING, S_XML.DOM_BOOT_ORDER, S_XML.DOM_MINIMAL]


@FUZZ
@given(inputs(*NETWORKS, S_XML.BILLION_LAUGHS))
def test_parse_network(text):
    try:
        n = parse_network(text)
    except XmlError:
        event("XmlError")
        return
    event("parsed")
    assert isinstance(n, NetworkDefinition)
    assert n.name
    assert isinstance(n.delay_s, int) and n.delay_s >= 0
    assert n.stp in (True, False)
    assert MIN_FORWARD_DELAY_S <= n.kernel_forward_delay_s <= MAX_FORWARD_DELAY_S
    assert n.serves_dhcp in (True, False) and n.serves_pxe in (True, False)


@FUZZ
@given(inputs(*DOMAINS), st.booleans())
def test_parse_domain(text, active):
    try:
        g = parse_domain(text, active)
    except XmlError:
        event("XmlError")
        return
    event("parsed")
    assert isinstance(g, Guest)
    assert g.name and g.active is active
    for i, nic in enumerate(g.nics):
        assert isinstance(nic, GuestNic) and nic.index == i and nic.guest == g.name
        assert nic.boot_order is None or isinstance(nic.boot_order, int)
        assert nic.label


# ------------------------------------------------------------------ bridge configs


def _check_configs(configs, fmt):
    assert isinstance(configs, list)
    for c in configs:
        assert isinstance(c, BridgeConfig) and c.format == fmt
        assert isinstance(c.bridge, str) and c.bridge
        assert c.stp in (True, False)
        assert _delay_ok(c.forward_delay_s)
        if c.stp:  # the kernel keeps 2..30 s while STP is on, and a new port waits twice that
            assert MIN_FORWARD_DELAY_S <= c.effective_forward_delay_s <= MAX_FORWARD_DELAY_S
            assert 2 * MIN_FORWARD_DELAY_S <= c.new_port_block_s <= 2 * MAX_FORWARD_DELAY_S
        else:  # STP off: no clamp, and a new port forwards at once (on kernels since 2.6.39)
            assert c.effective_forward_delay_s >= 0.0 and c.new_port_block_s == 0.0


IFCFGS = [
    S_CFG.IFCFG_STP_DELAY0,
    S_CFG.IFCFG_STP_DELAY_FLOAT,
    S_CFG.IFCFG_STP_NO_DELAY,
    S_CFG.IFCFG_STP_OFF,
    S_CFG.IFCFG_BRIDGING_OPTS,
    S_CFG.IFCFG_QUOTED,
    S_CFG.IFCFG_ETH,
]


@FUZZ
@given(inputs(*IFCFGS), st.sampled_from(["ip", "brctl", None]))
def test_parse_ifcfg(text, style):
    _check_configs(parse_ifcfg(S_CFG.IFCFG_PATH, text, style), "ifcfg")


@FUZZ
@given(inputs(S_CFG.NM_DEFAULT, S_CFG.NM_STP_FALSE, S_CFG.NM_DELAY_2, S_CFG.NM_ETHERNET))
def test_parse_nmconnection(text):
    _check_configs(parse_nmconnection(S_CFG.NM_PATH, text), "nmconnection")


@FUZZ
@given(inputs(S_CFG.IFUPDOWN))
def test_parse_ifupdown(text):
    _check_configs(parse_ifupdown(S_CFG.IFUPDOWN_PATH, text), "ifupdown")


@FUZZ
@given(inputs(S_CFG.NETDEV_STP, S_CFG.NETDEV_PLAIN))
def test_parse_netdev(text):
    _check_configs(parse_netdev(S_CFG.NETDEV_PATH, text), "networkd")


@FUZZ
@given(inputs(S_CFG.NETPLAN, S_CFG.NETPLAN_NO_BRIDGES))
def test_parse_netplan(text):
    configs = parse_netplan(S_CFG.NETPLAN_PATH, text)
    event(f"{len(configs)} bridges")
    _check_configs(configs, "netplan")


@st.composite
def alias_bombs(draw):
    """(netplan text, nodes its aliases stand for): anchors nested `levels` deep, `width` at each level,
    in sequences or mappings, used at one of the places a netplan reader looks."""
    levels, width = draw(st.integers(1, 12)), draw(st.integers(2, 12))
    kind = draw(st.sampled_from(["seq", "map", "flow-map"]))

    def container(item):
        if kind == "seq":
            return "[" + ", ".join([item] * width) + "]"
        return "{" + ", ".join(f"k{j}: {item}" for j in range(width)) + "}"

    lines = [f"x0: &a0 {container('lol')}"]
    lines += [f"x{i}: &a{i} {container(f'*a{i - 1}')}" for i in range(1, levels + 1)]
    top = f"*a{levels}"
    where = draw(st.sampled_from(["stp", "forward-delay", "parameters", "bridge", "bridges", "renderer", "ethernets"]))
    body = {
        "stp": f"  bridges:\n    br0:\n      parameters:\n        stp: {top}\n",
        "forward-delay": f"  bridges:\n    br0:\n      parameters:\n        forward-delay: {top}\n",
        "parameters": f"  bridges:\n    br0:\n      parameters: {top}\n",
        "bridge": f"  bridges:\n    br0: {top}\n",
        "bridges": f"  bridges: {top}\n",
        "renderer": f"  renderer: {top}\n  bridges:\n    br0:\n      dhcp4: true\n",
        "ethernets": f"  ethernets: {top}\n  bridges:\n    br0:\n      dhcp4: true\n",
    }[where]
    event(f"{kind} at {where}")
    # the nodes a reader visits with every alias followed: each anchor's definition, and its use once more
    nodes = [1 + width * (1 if kind == "seq" else 2)]
    for _ in range(levels):
        nodes.append(1 + width * (nodes[-1] + (0 if kind == "seq" else 1)))
    return "\n".join(lines) + "\nnetwork:\n  version: 2\n" + body, sum(nodes) + nodes[-1]


@settings(FUZZ, max_examples=max(EXAMPLES // 4, 20))  # each takes up to a bound's walk: fewer of them
@given(alias_bombs())
def test_parse_netplan_alias_bombs_return_at_once(bomb):
    text, nodes = bomb
    started = time.process_time()
    configs = parse_netplan(S_CFG.NETPLAN_PATH, text)
    assert time.process_time() - started < 1.0, (len(text), nodes)
    _check_configs(configs, "netplan")
    if nodes > MAX_YAML_NODES:  # refused: every bridge of the file is unknown, the file never a pass
        assert configs and all(c.unknown and "not read" in c.unknown for c in configs), configs
        event("refused")
    elif nodes + 100 < MAX_YAML_NODES:  # (the file's own few nodes besides)
        assert all(c.unknown is None for c in configs), configs
        event("read")


# ------------------------------------------------------------------ the whole host


def _raw_libvirt():
    xml = st.one_of(mutated(NETWORKS), st.text(max_size=100))
    net = st.builds(
        RawNetwork,
        st.just("0f3a6d2e-8c1b-4b7a-9f4e-2d1c5b6a7e80"),
        st.booleans(),
        st.booleans(),
        st.one_of(st.none(), st.booleans()),
        xml,
        st.one_of(st.none(), xml),
    )
    dom = st.tuples(st.booleans(), st.one_of(mutated(DOMAINS), st.text(max_size=100)))
    ok = st.builds(
        lambda nets, doms: RawLibvirt("libvirt-python", "qemu:///system", (10, 0, 0), "QEMU 8.2.2", nets, doms),
        st.lists(net, max_size=2),
        st.lists(dom, max_size=2),
    )
    failed = st.just(RawLibvirt("none", "qemu:///system", error="cannot open qemu:///system read-only"))
    return st.one_of(st.none(), ok, failed)


@FUZZ
@given(inputs(S_HOST.OUTPUT), _raw_libvirt())
def test_build_host_facts(text, raw):
    f = build_host_facts("kvm01", "ssh://kvm01", text, S_HOST.NONCE, raw)
    assert isinstance(f, HostFacts)
    event("reachable" if f.reachable else "not recognised")
    event(f"libvirt source {f.libvirt.source}")
    assert f.error is None or f.error == "the collector printed nothing recognisable"
    assert f.libvirt.source in ("libvirt-python", "virsh", "none")
    assert all(isinstance(p, str) for p in f.parse_errors)
    backend, evidence = firewall_backend(f)
    assert backend in ("iptables", "nftables", None) and evidence


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(), min_size=7, max_size=7),
    st.sampled_from(["passed", "skipped", "failed", "error"]),
    st.sampled_from([{}, {"remediation": "ip link set dev br0 type bridge stp_state 0"}, {"observed": {"a": (1, 2)}}]),
)
def test_result_line_is_what_the_encoder_writes(strings, outcome, extra):
    """The spool's line of a result (report/stream.py result_line: put together from its strings when
    it carries no fix, figures or waiver) is the encoder's own, byte for byte, and reads back."""
    from kvmnetcheck.report.results import Result
    from kvmnetcheck.report.stream import _LINE, result_from_line, result_line

    check, host, obj, severity, message, test, _ = strings
    r = Result(check, host, obj, outcome, severity, message=message, test=test, **extra)
    assert result_line(r) == _LINE.encode(r.as_json())
    back = result_from_line(result_line(r))
    assert (back.check, back.host, back.object, back.message, back.test) == (check, host, obj, message, test)
