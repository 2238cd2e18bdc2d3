"""iptables-save's rules (nft-backed and iptables-legacy) compiled for one packet: the FORWARD chains of
filter, mangle and security as programs for the evaluator."""

from __future__ import annotations

from typing import Optional

from ...model import Iptables, IptablesRule
from ...parsers.iptables import rule_words
from .logic import ACCEPT, CONTINUE, DROP, UNKNOWN, Action, Program, Rule, Tri, tri_and, tri_any, tri_not
from .packets import Packet, Path, dst_match, forward_path, ifname_match, network, port_spec, ports_match
from .render import clip

_IPT_TERMINAL = {"ACCEPT": ACCEPT, "DROP": DROP, "REJECT": DROP, "RETURN": "return"}
_IPT_CONTINUE = frozenset(
    {
        "LOG",
        "NFLOG",
        "ULOG",
        "MARK",
        "CONNMARK",
        "TRACE",
        "CT",
        "CLASSIFY",
        "DSCP",
        "TOS",
        "TCPMSS",
        "CHECKSUM",
        "SET",
        "AUDIT",
        "NOTRACK",
        "TEE",
        "IDLETIMER",
        "LED",
        "SECMARK",
        "CONNSECMARK",
        "TTL",
        "RATEEST",
        "HMARK",
        "ECN",
    }
)
# targets whose verdict is somebody else's (a queue reader) or that the filter table cannot hold
_IPT_OPAQUE = frozenset(
    {
        "NFQUEUE",
        "QUEUE",
        "SYNPROXY",
        "TARPIT",
        "DNAT",
        "SNAT",
        "MASQUERADE",
        "REDIRECT",
        "TPROXY",
        "NETMAP",
        "DELUDE",
        "CHAOS",
    }
)
_IPT_FLAGS = frozenset(
    {
        "-f",
        "--fragment",
        "--physdev-is-bridged",
        "--physdev-is-in",
        "--physdev-is-out",
        "--syn",
        "--limit-iface-in",
        "--limit-iface-out",
        "--rcheck",
        "--update",
        "--set",
        "--remove",
        "--rsource",
        "--rdest",
    }
)
_IPT_MODULES = frozenset({"udp", "tcp", "multiport", "physdev", "conntrack", "state", "comment", "addrtype", "limit"})
_IPT_SHORT = {
    "--in-interface": "-i",
    "--out-interface": "-o",
    "--source": "-s",
    "--src": "-s",
    "--destination": "-d",
    "--dst": "-d",
    "--protocol": "-p",
    "--jump": "-j",
    "--goto": "-g",
    "--match": "-m",
    "--source-port": "--sport",
    "--destination-port": "--dport",
    "--source-ports": "--sports",
    "--destination-ports": "--dports",
}


def _ipt_words(text: str) -> tuple[str, ...]:
    return rule_words(text)


def _ipt_option(
    opt: str,
    value: Optional[str],
    module: Optional[str],
    proto: Optional[str],
    pkt: Packet,
    path: Path,
) -> Tri:
    if value is None and opt not in _IPT_FLAGS:
        return None  # an option cut off from its value
    if opt in ("-i", "-o"):
        return ifname_match(value, path.iif if opt == "-i" else path.oif, "+")
    if opt == "-p":
        p = value.lower()
        return p in ("udp", "17", "all", "0")
    if opt in ("-s", "-d"):
        net = network(value)
        if opt == "-d":
            return dst_match(net, pkt)
        return True if net is not None and net.prefixlen == 0 else None
    if opt in ("-f", "--fragment"):
        return False  # DHCP messages fit one datagram: no later fragments
    mod = module or proto
    if mod == "tcp":
        return False  # the tcp match never matches a UDP datagram
    if mod == "udp" and opt in ("--sport", "--dport"):
        return port_spec(value, pkt.sport if opt == "--sport" else pkt.dport)
    if mod == "multiport" and opt in ("--sports", "--dports", "--ports"):
        if opt == "--ports":
            return tri_any((port_spec(value, pkt.sport), port_spec(value, pkt.dport)))
        return port_spec(value, pkt.sport if opt == "--sports" else pkt.dport)
    if mod == "physdev":
        if opt == "--physdev-is-in":
            return path.port_in is not None
        if opt in ("--physdev-is-bridged", "--physdev-is-out"):
            return path.port_out is not None
        if opt in ("--physdev-in", "--physdev-out"):
            ports = path.port_in if opt == "--physdev-in" else path.port_out
            return False if ports is None else ports_match(value, ports, "+")
    if (mod == "conntrack" and opt == "--ctstate") or (mod == "state" and opt == "--state"):
        return "NEW" in value.upper().split(",")
    if mod == "comment" and opt == "--comment":
        return True
    if mod == "addrtype" and opt == "--dst-type":
        return ("BROADCAST" in value.upper().split(",")) if pkt.broadcast else None
    if mod == "limit" and opt in ("--limit", "--limit-burst"):
        return True  # a DHCP exchange is a handful of packets: under any limit
    return None


def _ipt_rule(rule: IptablesRule, label: str, pkt: Packet, path: Path, chains: dict) -> Rule:
    words = _ipt_words(rule.text)[2:]  # past "-A CHAIN"
    conds: list[Tri] = []
    action = CONTINUE  # a rule without a target only counts packets
    module: Optional[str] = None
    proto: Optional[str] = None
    negate = False
    i = 0
    while i < len(words):
        w = _IPT_SHORT.get(words[i], words[i])
        if w == "!":
            negate = not negate
            i += 1
            continue
        if w in ("-j", "-g"):
            target = words[i + 1] if i + 1 < len(words) else None
            action = _ipt_target(target, w == "-g", bool(words[i + 2 :]), chains)
            if negate:
                conds.append(None)
            break
        if w == "-m":
            module = words[i + 1] if i + 1 < len(words) else None
            i += 2
            if module == "tcp":
                conds.append(False)  # needs -p tcp: never a DHCP datagram
            elif module not in _IPT_MODULES:
                conds.append(None)
            continue
        if not w.startswith("-"):
            conds.append(None)  # a word we misread: the rule is not understood
            i += 1
            negate = False
            continue
        value: Optional[str] = None
        if w in _IPT_FLAGS:
            i += 1
        else:
            value = words[i + 1] if i + 1 < len(words) else None
            i += 2
            if value == "!":  # iptables before 1.4.3 wrote "-i ! br0"
                negate = not negate
                value = words[i] if i < len(words) else None
                i += 1
        if w == "-p" and value is not None:
            proto = value.lower()
        c = _ipt_option(w, value, module, proto, pkt, path)
        conds.append(tri_not(c) if negate else c)
        negate = False
    return Rule(label, ((tri_and(conds), action),))


def _ipt_target(target: Optional[str], goto: bool, has_options: bool, chains: dict) -> Action:
    if not target:
        return Action(UNKNOWN, "a target the rule does not name")
    if not goto and target in _IPT_TERMINAL:
        return Action(_IPT_TERMINAL[target])
    if target in chains:
        return Action("goto" if goto else "jump", target)
    if not goto and target in _IPT_CONTINUE:
        return CONTINUE
    if target in _IPT_OPAQUE or has_options:
        return Action(UNKNOWN, f"target {target} is not modelled")
    # iptables-save declares every user chain, but the facts keep only rules: a name that is no
    # known target and takes no options is a user chain without rules
    chains.setdefault(target, ())
    return Action("goto" if goto else "jump", target)


_IPT_FORWARD_TABLES = ("filter", "mangle", "security")


def iptables_programs(
    ipt: Iptables, pkt: Packet, bridge: str, ports: tuple[str, ...], path: Optional[Path] = None
) -> list[Program]:
    """The tables whose chain at the path's hook (FORWARD, INPUT or OUTPUT) the packet meets."""
    path = path or forward_path(bridge, ports)
    hook = path.hook.upper()
    programs = []
    for legacy in (False, True):
        tool = "iptables-legacy" if legacy else "iptables"
        for table in _IPT_FORWARD_TABLES:
            key = f"legacy:{table}" if legacy else table
            rules = [r for r in ipt.rules if r.legacy == legacy and r.table == table]
            policies = [p for t, c, p in ipt.policies if t == key and c == hook]
            present = bool(rules) or any(t == key for t, _, _ in ipt.policies)
            if not present:
                continue  # no such table: nothing registered on the hook
            if table != "filter":
                # mangle and security rarely drop; they count only when they could
                if not any(r.chain == hook for r in rules) and policies[-1:] in ([], ["ACCEPT"]):
                    continue
            grouped: dict[str, list[IptablesRule]] = {}
            for r in rules:
                grouped.setdefault(r.chain, []).append(r)
            chains: dict = {name: () for name in grouped}
            chains.setdefault(hook, ())
            prefix = f"{tool} rule " if table == "filter" else f"{tool} -t {table} rule "
            for name, rs in grouped.items():
                chains[name] = tuple(_ipt_rule(r, clip(prefix + r.text), pkt, path, chains) for r in rs)
            policy = policies[-1] if policies else None
            mapped = {"ACCEPT": ACCEPT, "DROP": DROP}.get(policy or "")
            label = (
                f"{tool} {table} {hook} policy {policy}"
                if policy
                else f"{tool} {table} {hook}: no policy in iptables-save's output"
            )
            programs.append(Program(f"{tool} {table}", hook, chains, mapped, label))
    return programs
