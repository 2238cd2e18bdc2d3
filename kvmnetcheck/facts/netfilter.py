"""Netfilter's verdict on a DHCP exchange bridged by BR: accepted, dropped, or cannot be decided.

With br_netfilter on (net.bridge.bridge-nf-call-iptables = 1, or the bridge's own
/sys/class/net/BR/bridge/nf_call_iptables = 1), IPv4 frames bridged between two ports of BR pass
the FORWARD hook with in = out = BR. Docker sets the FORWARD policy to DROP, and a guest on a host
bridge then gets no DHCP reply from the LAN. This module decides, from iptables-save and
`nft -j list ruleset` gathered read-only, what netfilter does to that exchange. The caller reads
whether br_netfilter is on (taken to be unless it says not); the bridge family's chains see
bridged frames either way.

The packets: IPv4/UDP, conntrack state NEW, in = out = BR, bridged through two of `ports` (which
two is unknown), source address unknown:
    the client's request   68 -> 67 to 255.255.255.255
    the server's reply     67 -> 68 to 255.255.255.255, or to a unicast address we do not know
The exchange passes only if every one of them is accepted by every table on its path.

Modelled:
  iptables (nft-backed and iptables-legacy, each its own hook, each must accept): FORWARD of
    table filter (and of mangle and security when they hold FORWARD rules or drop by policy);
    jumps, gotos, RETURN, policies, end of user chains; targets ACCEPT, DROP, REJECT and the
    non-terminal ones (LOG, NFLOG, MARK, CT, ...); matches -i/-o (with + and !), -p, -s/-d,
    -f, udp/tcp ports, multiport, physdev, conntrack --ctstate, state, comment, addrtype
    --dst-type, limit.
  nftables: every base chain at hook forward of family ip, inet and bridge, in priority order;
    iptables-nft's own tables (ip filter, nat, mangle, raw, security) are left to iptables-save.
    Matches on meta iifname/oifname/iif/oif/ibrname/obrname/l4proto/nfproto/protocol, payload
    udp/th ports, ip protocol/daddr, ether type, ct state/status/direction, with ==, !=, in,
    <, >, <=, >=, sets, ranges, prefixes and named sets; counter, log, limit, mangle, notrack,
    dup and set statements; verdicts accept, drop, reject, jump, goto, return, continue, vmap
    (inline or named).
  Anything else (an unknown match, an xt expression of iptables-nft's compat layer, a target
  such as NFQUEUE) is "maybe": when its outcome matters, the verdict is unknown and the rule is
  named in `undecided`.

Not modelled:
  IPv6 (ip6tables, family ip6, IPv6 rules of inet tables) and ARP: not evaluated.
  Hooks other than forward: ip and bridge prerouting/postrouting, netdev ingress/egress,
  iptables nat and raw; ebtables-legacy.
  Assumed of the packets: untagged frames, not DNAT'ed (ct status empty), under any rate limit.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Optional

from .iptables import rule_words
from .model import Iptables, IptablesRule

ACCEPT = "accept"
DROP = "drop"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class ForwardVerdict:
    verdict: str  # "accept" | "drop" | "unknown"
    by: str  # what decided it, for a report ("iptables filter FORWARD policy DROP")
    undecided: tuple[str, ...] = ()  # rules whose match the facts cannot decide (the cause, or a caveat)


# Bounds: a host's rules are untrusted input, and a loop of gotos or a ruleset full of undecidable
# rules must cost an "unknown", not the run.
MAX_DEPTH = 64  # nested jumps (the kernel allows 16 in nftables)
MAX_STEPS = 200_000  # rules looked at in one table for one packet
MAX_FORKS = 4_096  # undecidable rules whose two outcomes are both followed
MAX_NEST = 100  # undecidable rules followed inside one another (keeps Python's stack small)
MAX_LABEL = 300

BROADCAST = ipaddress.IPv4Address("255.255.255.255")


@dataclass(frozen=True)
class _Packet:
    label: str
    sport: int
    dport: int
    broadcast: bool  # destination 255.255.255.255; else a unicast address we do not know


PACKETS = (
    _Packet("the client's request, udp 68 -> 67 to 255.255.255.255", 68, 67, True),
    _Packet("the server's broadcast reply, udp 67 -> 68", 67, 68, True),
    _Packet("the server's unicast reply, udp 67 -> 68", 67, 68, False),
)


# ------------------------------------------------------------------ the evaluator (both kinds of rules)

Tri = Optional[bool]  # True, False, or None: the facts cannot tell


def _and(values) -> Tri:
    result: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _not(v: Tri) -> Tri:
    return None if v is None else not v


def _any_of(values) -> Tri:
    return _not(_and(_not(v) for v in values))


@dataclass(frozen=True)
class _Action:
    kind: str  # accept | drop | jump | goto | return | continue | unknown
    target: str = ""  # the chain, or for unknown why


_CONTINUE = _Action("continue")


@dataclass(frozen=True)
class _Rule:
    label: str
    # tried in order: the first whose condition holds acts (a vmap has several, a plain rule one)
    alternatives: tuple[tuple[Tri, _Action], ...]


@dataclass(frozen=True)
class _Outcome:
    verdict: str
    by: tuple[str, ...]
    undecided: tuple[str, ...] = ()


@dataclass
class _Program:
    """One base chain and the chains it can reach, compiled for one packet."""

    desc: str  # "iptables filter", "nft inet firewalld"
    base: str
    chains: dict  # name -> tuple[_Rule, ...]
    policy: Optional[str]  # accept | drop | None (not seen or not understood)
    policy_label: str


def _merge(*groups: tuple[str, ...], limit: int = 20) -> tuple[str, ...]:
    out: list[str] = []
    for g in groups:
        for x in g:
            if x not in out and len(out) < limit:
                out.append(x)
    return tuple(out)


def _either(label: str, matched: _Outcome, rest: _Outcome) -> _Outcome:
    """An undecidable rule: the outcome if it matched, and if it did not."""
    if matched.verdict == rest.verdict != UNKNOWN:
        return _Outcome(rest.verdict, _merge(rest.by, matched.by, limit=3))
    by = _merge(*(o.by for o in (matched, rest) if o.verdict == UNKNOWN), limit=3)
    return _Outcome(UNKNOWN, by, _merge((label,), matched.undecided, rest.undecided))


class _Walk:
    """Follows one packet through a program; an undecidable rule is followed both ways."""

    def __init__(self, program: _Program):
        self.p = program
        self.memo: dict = {}
        self.steps = 0
        self.forks = 0

    def outcome(self) -> _Outcome:
        o = self._run(((self.p.base, 0),), 0)
        if o.verdict == UNKNOWN and not o.by:
            o = _Outcome(UNKNOWN, (f"{self.p.desc}: the verdict depends on rules the facts cannot decide",),
                         o.undecided)
        return o

    def _policy(self) -> _Outcome:
        if self.p.policy in (ACCEPT, DROP):
            return _Outcome(self.p.policy, (self.p.policy_label,))
        return _Outcome(UNKNOWN, (self.p.policy_label,))

    def _pop(self, stack):
        # the end of a chain, or RETURN: back to the caller, or the base chain's policy
        return self._policy() if len(stack) <= 1 else stack[:-1]

    def _apply(self, adv, action: _Action, label: str):
        """A new stack, or an _Outcome when the action ends the walk. `adv` points past the rule."""
        k = action.kind
        if k in (ACCEPT, DROP):
            return _Outcome(k, (label,))
        if k == "continue":
            return adv
        if k == "return":
            return self._pop(adv)
        if k in ("jump", "goto"):
            if action.target not in self.p.chains:
                return _Outcome(UNKNOWN, (f"{label}: chain {action.target} is not in the ruleset",), (label,))
            if len(adv) >= MAX_DEPTH:
                return _Outcome(UNKNOWN, (f"{self.p.desc}: chains nested deeper than {MAX_DEPTH} (a loop?)",),
                                (label,))
            frame = ((action.target, 0),)
            return adv + frame if k == "jump" else adv[:-1] + frame
        return _Outcome(UNKNOWN, (f"{label}: {action.target or 'its effect is not modelled'}",), (label,))

    def _run(self, start, nest: int) -> _Outcome:
        if start in self.memo:
            return self.memo[start]
        pending: list[tuple[str, _Outcome]] = []
        stack = start
        result: Optional[_Outcome] = None
        while result is None:
            self.steps += 1
            if self.steps > MAX_STEPS:
                result = _Outcome(UNKNOWN, (f"{self.p.desc}: more than {MAX_STEPS} rule evaluations (a loop?)",))
                break
            chain, idx = stack[-1]
            rules = self.p.chains.get(chain, ())
            if idx >= len(rules):
                nxt = self._pop(stack)
                if isinstance(nxt, _Outcome):
                    result = nxt
                else:
                    stack = nxt
                continue
            rule = rules[idx]
            adv = stack[:-1] + ((chain, idx + 1),)
            taken: Optional[_Action] = None
            for cond, action in rule.alternatives:
                if cond is False:
                    continue
                if cond is True:
                    taken = action
                    break
                self.forks += 1
                if self.forks > MAX_FORKS or nest >= MAX_NEST:
                    result = _Outcome(UNKNOWN, (f"{self.p.desc}: too many rules the facts cannot decide",),
                                      (rule.label,))
                    break
                matched = self._apply(adv, action, rule.label)
                if not isinstance(matched, _Outcome):
                    matched = self._run(matched, nest + 1)
                pending.append((rule.label, matched))
            if result is not None:
                break
            if taken is None:
                stack = adv
                continue
            nxt = self._apply(adv, taken, rule.label)
            if isinstance(nxt, _Outcome):
                result = nxt
            else:
                stack = nxt
        for label, matched in reversed(pending):
            result = _either(label, matched, result)
        self.memo[start] = result
        return result


# ------------------------------------------------------------------ matching helpers

def _ifname_match(pattern: str, name: str, wildcard: str) -> bool:
    # iptables writes "br+", nft "br*" (and "br\*" for a real asterisk) for every name starting with br
    if pattern.endswith(wildcard) and not pattern.endswith("\\" + wildcard):
        return name.startswith(pattern[:-1])
    return pattern.replace("\\" + wildcard, wildcard) == name


def _port_number(text: Any) -> Optional[int]:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 <= text <= 65535 else None
    if not isinstance(text, str):
        return None
    t = text.strip().lower()
    if t in _SERVICES:
        return _SERVICES[t]
    if t.isdigit() and len(t) <= 5 and int(t) <= 65535:
        return int(t)
    return None


_SERVICES = {"bootps": 67, "bootpc": 68}


def _port_spec(spec: str, port: int) -> Tri:
    """iptables' "67", "67:68", ":68", "1024:" (and multiport's comma lists of them)."""
    results = []
    for part in spec.split(","):
        if ":" in part:
            lo_s, _, hi_s = part.partition(":")
            lo = _port_number(lo_s) if lo_s else 0
            hi = _port_number(hi_s) if hi_s else 65535
            if lo is None or hi is None:
                results.append(None)
            else:
                results.append(lo <= port <= hi)
        else:
            n = _port_number(part)
            results.append(None if n is None else n == port)
    return _any_of(results) if results else None


def _ports_match(pattern: str, ports: tuple[str, ...], wildcard: str) -> Tri:
    """A match on the bridge port a frame came in or goes out by: which port is unknown."""
    if not ports:
        return None
    hits = [_ifname_match(pattern, p, wildcard) for p in ports]
    if not any(hits):
        return False
    return True if all(hits) else None


def _network(text: str):
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except (ValueError, TypeError):
        return None


def _dst_match(net, pkt: _Packet) -> Tri:
    if net is None:
        return None
    if net.prefixlen == 0:
        return True
    if pkt.broadcast:
        return BROADCAST in net
    # a unicast destination is never the broadcast address; anything else we cannot tell
    return False if net.prefixlen == 32 and net.network_address == BROADCAST else None


# ------------------------------------------------------------------ iptables

_IPT_TERMINAL = {"ACCEPT": ACCEPT, "DROP": DROP, "REJECT": DROP, "RETURN": "return"}
_IPT_CONTINUE = frozenset({
    "LOG", "NFLOG", "ULOG", "MARK", "CONNMARK", "TRACE", "CT", "CLASSIFY", "DSCP", "TOS", "TCPMSS",
    "CHECKSUM", "SET", "AUDIT", "NOTRACK", "TEE", "IDLETIMER", "LED", "SECMARK", "CONNSECMARK", "TTL",
    "RATEEST", "HMARK", "ECN",
})
# targets whose verdict is somebody else's (a queue reader) or that the filter table cannot hold
_IPT_OPAQUE = frozenset({"NFQUEUE", "QUEUE", "SYNPROXY", "TARPIT", "DNAT", "SNAT", "MASQUERADE", "REDIRECT",
                         "TPROXY", "NETMAP", "DELUDE", "CHAOS"})
_IPT_FLAGS = frozenset({"-f", "--fragment", "--physdev-is-bridged", "--physdev-is-in", "--physdev-is-out",
                        "--syn", "--limit-iface-in", "--limit-iface-out", "--rcheck", "--update", "--set",
                        "--remove", "--rsource", "--rdest"})
_IPT_MODULES = frozenset({"udp", "tcp", "multiport", "physdev", "conntrack", "state", "comment", "addrtype",
                          "limit"})
_IPT_SHORT = {"--in-interface": "-i", "--out-interface": "-o", "--source": "-s", "--src": "-s",
              "--destination": "-d", "--dst": "-d", "--protocol": "-p", "--jump": "-j", "--goto": "-g",
              "--match": "-m", "--source-port": "--sport", "--destination-port": "--dport",
              "--source-ports": "--sports", "--destination-ports": "--dports"}


def _ipt_words(text: str) -> tuple[str, ...]:
    return rule_words(text)


def _ipt_option(opt: str, value: Optional[str], module: Optional[str], proto: Optional[str],
                pkt: _Packet, bridge: str, ports: tuple[str, ...]) -> Tri:
    if value is None and opt not in _IPT_FLAGS:
        return None  # an option cut off from its value
    if opt in ("-i", "-o"):
        return _ifname_match(value, bridge, "+")
    if opt == "-p":
        p = value.lower()
        return p in ("udp", "17", "all", "0")
    if opt in ("-s", "-d"):
        net = _network(value)
        if opt == "-d":
            return _dst_match(net, pkt)
        return True if net is not None and net.prefixlen == 0 else None
    if opt in ("-f", "--fragment"):
        return False  # DHCP messages fit one datagram: no later fragments
    mod = module or proto
    if mod == "tcp":
        return False  # the tcp match never matches a UDP datagram
    if mod == "udp" and opt in ("--sport", "--dport"):
        return _port_spec(value, pkt.sport if opt == "--sport" else pkt.dport)
    if mod == "multiport" and opt in ("--sports", "--dports", "--ports"):
        if opt == "--ports":
            return _any_of((_port_spec(value, pkt.sport), _port_spec(value, pkt.dport)))
        return _port_spec(value, pkt.sport if opt == "--sports" else pkt.dport)
    if mod == "physdev":
        if opt in ("--physdev-is-bridged", "--physdev-is-in", "--physdev-is-out"):
            return True
        if opt in ("--physdev-in", "--physdev-out"):
            return _ports_match(value, ports, "+")
    if (mod == "conntrack" and opt == "--ctstate") or (mod == "state" and opt == "--state"):
        return "NEW" in value.upper().split(",")
    if mod == "comment" and opt == "--comment":
        return True
    if mod == "addrtype" and opt == "--dst-type":
        return ("BROADCAST" in value.upper().split(",")) if pkt.broadcast else None
    if mod == "limit" and opt in ("--limit", "--limit-burst"):
        return True  # a DHCP exchange is a handful of packets: under any limit
    return None


def _ipt_rule(rule: IptablesRule, label: str, pkt: _Packet, bridge: str, ports: tuple[str, ...],
              chains: dict) -> _Rule:
    words = _ipt_words(rule.text)[2:]  # past "-A CHAIN"
    conds: list[Tri] = []
    action = _CONTINUE  # a rule without a target only counts packets
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
            action = _ipt_target(target, w == "-g", bool(words[i + 2:]), chains)
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
        c = _ipt_option(w, value, module, proto, pkt, bridge, ports)
        conds.append(_not(c) if negate else c)
        negate = False
    return _Rule(label, ((_and(conds), action),))


def _ipt_target(target: Optional[str], goto: bool, has_options: bool, chains: dict) -> _Action:
    if not target:
        return _Action(UNKNOWN, "a target the rule does not name")
    if not goto and target in _IPT_TERMINAL:
        return _Action(_IPT_TERMINAL[target])
    if target in chains:
        return _Action("goto" if goto else "jump", target)
    if not goto and target in _IPT_CONTINUE:
        return _CONTINUE
    if target in _IPT_OPAQUE or has_options:
        return _Action(UNKNOWN, f"target {target} is not modelled")
    # iptables-save declares every user chain, but the facts keep only rules: a name that is no
    # known target and takes no options is a user chain without rules
    chains.setdefault(target, ())
    return _Action("goto" if goto else "jump", target)


_IPT_FORWARD_TABLES = ("filter", "mangle", "security")


def _iptables_programs(ipt: Iptables, pkt: _Packet, bridge: str, ports: tuple[str, ...]) -> list[_Program]:
    programs = []
    for legacy in (False, True):
        tool = "iptables-legacy" if legacy else "iptables"
        for table in _IPT_FORWARD_TABLES:
            key = f"legacy:{table}" if legacy else table
            rules = [r for r in ipt.rules if r.legacy == legacy and r.table == table]
            policies = [p for t, c, p in ipt.policies if t == key and c == "FORWARD"]
            present = bool(rules) or any(t == key for t, _, _ in ipt.policies)
            if not present:
                continue  # no such table: nothing registered on the hook
            if table != "filter":
                # mangle and security rarely drop; they count only when they could
                if not any(r.chain == "FORWARD" for r in rules) and policies[-1:] in ([], ["ACCEPT"]):
                    continue
            grouped: dict[str, list[IptablesRule]] = {}
            for r in rules:
                grouped.setdefault(r.chain, []).append(r)
            chains: dict = {name: () for name in grouped}
            chains.setdefault("FORWARD", ())
            prefix = f"{tool} rule " if table == "filter" else f"{tool} -t {table} rule "
            for name, rs in grouped.items():
                chains[name] = tuple(_ipt_rule(r, _clip(prefix + r.text), pkt, bridge, ports, chains) for r in rs)
            policy = policies[-1] if policies else None
            mapped = {"ACCEPT": ACCEPT, "DROP": DROP}.get(policy or "")
            label = (f"{tool} {table} FORWARD policy {policy}" if policy
                     else f"{tool} {table} FORWARD: no policy in iptables-save's output")
            programs.append(_Program(f"{tool} {table}", "FORWARD", chains, mapped, label))
    return programs


# ------------------------------------------------------------------ nftables

# tables that iptables-nft makes and that iptables-save already shows
_IPTABLES_NFT_TABLES = frozenset({"filter", "nat", "mangle", "raw", "security"})
_CONTINUE_STATEMENTS = frozenset({"counter", "log", "mangle", "notrack", "dup", "set", "flow"})
_L4 = ("udp", 17)


@dataclass
class _NftRuleset:
    chains: dict  # (family, table, name) -> chain object
    rules: dict  # (family, table, chain) -> list of expr lists (None: unreadable)
    sets: dict  # (family, table, name) -> list of elements
    maps: dict


def _nft_read(text: str) -> tuple[Optional[_NftRuleset], str]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        return None, f"not JSON ({type(e).__name__})"
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return None, "no \"nftables\" list"
    rs = _NftRuleset({}, {}, {}, {})
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            return None, "an entry that is not one object"
        kind, obj = next(iter(item.items()))
        if kind not in ("chain", "rule", "set", "map"):
            continue  # metainfo, tables, counters, ct helpers, flowtables: nothing a packet meets here
        if not isinstance(obj, dict):
            return None, f"a {kind} that is not an object"
        family, table = obj.get("family"), obj.get("table")
        name = obj.get("chain") if kind == "rule" else obj.get("name")
        if not all(isinstance(x, str) for x in (family, table, name)):
            return None, f"a {kind} without family, table or name"
        key = (family, table, name)
        if kind == "chain":
            rs.chains[key] = obj
        elif kind == "rule":
            expr = obj.get("expr")
            rs.rules.setdefault(key, []).append(expr if isinstance(expr, list) else None)
        else:
            elem = obj.get("elem", [])  # nft leaves "elem" out of an empty set
            (rs.sets if kind == "set" else rs.maps)[key] = elem if isinstance(elem, list) else None
    return rs, ""


@dataclass(frozen=True)
class _NftCtx:
    family: str
    table: str
    bridge: str
    ports: tuple[str, ...]
    pkt: _Packet
    rs: _NftRuleset


# packet-side values: a tuple of candidates (the packet has one of them), or None (unknown)
_UNICAST = object()  # a unicast destination address we do not know


def _nft_field(left: Any, ctx: _NftCtx) -> tuple[str, Any]:
    """(kind, candidates): what the packet holds for an expression; kind "none" when unknown,
    "absent" when the packet has no such header (the match then fails whatever the operator)."""
    if not isinstance(left, dict) or len(left) != 1:
        return "none", None
    kind, body = next(iter(left.items()))
    if not isinstance(body, dict):
        return "none", None
    bridged = ctx.family == "bridge"
    if kind == "meta":
        key = body.get("key")
        if key in ("iifname", "oifname", "iif", "oif"):
            # in family bridge these are the ports; in ip and inet the bridge (br_netfilter)
            return ("name", ctx.ports) if bridged else ("name", (ctx.bridge,))
        if key in ("ibrname", "obrname", "ibridgename", "obridgename"):
            return ("name", (ctx.bridge,)) if bridged else ("none", None)
        if key == "l4proto":
            return "const", (_L4,)
        if key == "nfproto":
            return ("none", None) if bridged else ("const", (("ipv4", 2),))
        if key == "protocol":
            return "const", (("ip", 0x0800),)  # untagged IPv4 frames
        return "none", None
    if kind == "payload":
        proto, field = body.get("protocol"), body.get("field")
        if proto in ("udp", "th"):
            if field == "sport":
                return "num", (ctx.pkt.sport,)
            if field == "dport":
                return "num", (ctx.pkt.dport,)
            return "none", None
        if proto == "ip":
            if field == "protocol":
                return "const", (_L4,)
            if field == "daddr":
                return "addr", (BROADCAST if ctx.pkt.broadcast else _UNICAST,)
            if field == "version":
                return "const", (("4", 4),)
            return "none", None
        if proto == "ether" and field == "type":
            return "const", (("ip", 0x0800),)
        if proto in ("tcp", "sctp", "dccp", "udplite", "icmp", "icmpv6", "ip6", "arp", "igmp", "ah", "esp",
                     "comp", "gre"):
            return "absent", None
        return "none", None
    if kind == "ct":
        key = body.get("key")
        if key == "state":
            return "flags", frozenset({"new"})
        if key == "status":
            return "flags", frozenset()  # not DNAT'ed nor SNAT'ed; NEW, so not assured nor seen-reply
        if key == "direction":
            return "const", (("original", 0),)
        return "none", None
    return "none", None


def _scalar_eq(kind: str, have: Any, want: Any) -> Tri:
    """Does one candidate value equal one element of the rule (a scalar, range or prefix)?"""
    if isinstance(want, dict) and len(want) == 1 and "elem" in want and isinstance(want["elem"], dict):
        want = want["elem"].get("val")  # a set element with a timeout or comment
    if kind == "name":
        return _ifname_match(want, have, "*") if isinstance(want, str) else None
    if kind == "num":
        if isinstance(want, dict) and isinstance(want.get("range"), list) and len(want["range"]) == 2:
            lo, hi = (_port_number(x) for x in want["range"])
            return None if lo is None or hi is None else lo <= have <= hi
        n = _port_number(want)
        return None if n is None else n == have
    if kind == "const":
        if isinstance(want, bool):
            return None
        if isinstance(want, str):
            return want.lower() in have
        if isinstance(want, int):
            return want in have
        return None
    if kind == "addr":
        net = None
        if isinstance(want, str):
            net = _network(want)
        elif isinstance(want, dict) and isinstance(want.get("prefix"), dict):
            p = want["prefix"]
            if isinstance(p.get("addr"), str) and isinstance(p.get("len"), int) and not isinstance(p["len"], bool):
                net = _network(f"{p['addr']}/{p['len']}")
        elif isinstance(want, dict) and isinstance(want.get("range"), list) and len(want["range"]) == 2:
            lo, hi = (_network(x) if isinstance(x, str) else None for x in want["range"])
            if lo is None or hi is None or lo.prefixlen != 32 or hi.prefixlen != 32:
                return None
            if have is _UNICAST:
                return None
            return lo.network_address <= have <= hi.network_address
        if net is None:
            return None
        if have is _UNICAST:
            return _dst_match(net, _Packet("", 0, 0, False))
        return have in net
    return None


def _elements(right: Any, ctx: _NftCtx) -> Optional[list]:
    """The elements a right-hand side stands for (one for a scalar); None when it cannot be read."""
    if isinstance(right, str) and right.startswith("@"):
        elems = ctx.rs.sets.get((ctx.family, ctx.table, right[1:]))
        return list(elems) if isinstance(elems, list) else None
    if isinstance(right, dict) and "set" in right:
        elems = right["set"]
        if isinstance(elems, list):
            return elems
        return [elems] if isinstance(elems, (str, int)) else None
    return [right]


def _member(kind: str, cands: Any, right: Any, ctx: _NftCtx) -> Tri:
    elems = _elements(right, ctx)
    if elems is None:
        return None
    per_candidate = {_any_of(_scalar_eq(kind, c, e) for e in elems) for c in cands}
    # one answer for every candidate (every port the frame may use), else the facts cannot tell
    return per_candidate.pop() if len(per_candidate) == 1 else None


def _flags_match(have: frozenset, op: str, right: Any, ctx: _NftCtx) -> Tri:
    if isinstance(right, str) and right.startswith("@"):
        return None
    if isinstance(right, dict) and "set" in right:
        elems = right["set"] if isinstance(right["set"], list) else [right["set"]]
        if not all(isinstance(e, str) for e in elems):
            return None
        hit = any(have == {e} for e in elems)  # the state is one value of the set
        return hit if op in ("==", "in") else (not hit if op == "!=" else None)
    values = right if isinstance(right, list) else [right]
    if not values or not all(isinstance(v, str) for v in values):
        return None
    wanted = frozenset(values)
    if op == "in":  # a bit test: any of these flags
        return bool(have & wanted)
    if op == "==":
        return have == wanted
    if op == "!=":
        return have != wanted
    return None


def _nft_match(body: Any, ctx: _NftCtx) -> Tri:
    if not isinstance(body, dict) or "left" not in body or "right" not in body:
        return None
    op = body.get("op", "==")
    kind, cands = _nft_field(body["left"], ctx)
    if kind == "absent":
        return False
    if kind == "none" or not isinstance(op, str):
        return None
    right = body["right"]
    if kind == "flags":
        return _flags_match(cands, op, right, ctx)
    if op in ("==", "in"):
        return _member(kind, cands, right, ctx)
    if op == "!=":
        return _not(_member(kind, cands, right, ctx))
    if op in ("<", ">", "<=", ">=") and kind == "num":
        n = _port_number(right)
        if n is None:
            return None
        have = cands[0]
        return {"<": have < n, ">": have > n, "<=": have <= n, ">=": have >= n}[op]
    return None


def _nft_verdict(key: str, body: Any) -> Optional[_Action]:
    if key == "accept":
        return _Action(ACCEPT)
    if key in ("drop", "reject"):
        return _Action(DROP)
    if key in ("return", "continue"):
        return _Action(key)
    if key in ("jump", "goto"):
        target = body.get("target") if isinstance(body, dict) else None
        if isinstance(target, str):
            return _Action(key, target)
        return _Action(UNKNOWN, f"a {key} without a target")
    if key in ("queue", "synproxy", "fwd", "tproxy", "nat", "snat", "dnat", "masquerade", "redirect"):
        return _Action(UNKNOWN, f"statement {key} is not modelled")
    return None


def _vmap_entries(body: Any, ctx: _NftCtx) -> Optional[list]:
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, str) and data.startswith("@"):
        entries = ctx.rs.maps.get((ctx.family, ctx.table, data[1:]))
    elif isinstance(data, dict):
        entries = data.get("set")
    else:
        entries = None
    if not isinstance(entries, list):
        return None
    out = []
    for e in entries:
        if not (isinstance(e, list) and len(e) == 2 and isinstance(e[1], dict) and len(e[1]) == 1):
            return None
        vkey, vbody = next(iter(e[1].items()))
        action = _nft_verdict(vkey, vbody)
        if action is None:
            return None
        out.append((e[0], action))
    return out


def _nft_rule(expr: Optional[list], label: str, ctx: _NftCtx) -> _Rule:
    if expr is None:
        return _Rule(label, ((True, _Action(UNKNOWN, "the rule could not be read")),))
    conds: list[Tri] = []
    for st in expr:
        if not isinstance(st, dict) or len(st) != 1:
            return _Rule(label, ((_and(conds), _Action(UNKNOWN, "a statement that could not be read")),))
        key, body = next(iter(st.items()))
        if key == "match":
            conds.append(_nft_match(body, ctx))
            continue
        if key in _CONTINUE_STATEMENTS:
            continue
        if key == "limit":
            # a DHCP exchange stays under any rate: "limit rate" matches, "limit rate over" does not
            conds.append(not (isinstance(body, dict) and body.get("inv") is True))
            continue
        if key in ("quota", "ct count"):
            conds.append(None)
            continue
        if key == "xt":  # iptables-nft's compat layer: the kernel holds the match, the JSON only its name
            if isinstance(body, dict) and body.get("type") == "target":
                return _Rule(label, ((_and(conds), _Action(UNKNOWN, "an xt target is not modelled")),))
            conds.append(None)
            continue
        if key == "vmap":
            entries = _vmap_entries(body, ctx)
            if entries is None:
                return _Rule(label, ((_and(conds), _Action(UNKNOWN, "a verdict map that could not be read")),))
            kind, cands = _nft_field(body.get("key"), ctx)
            alts = []
            for value, action in entries:
                if kind == "absent":
                    hit: Tri = False
                elif kind == "none":
                    hit = None
                elif kind == "flags":  # a map is looked up by the whole value: "ct state vmap { new : ... }"
                    hit = _flags_match(cands, "==", value, ctx)
                else:
                    hit = _member(kind, cands, value, ctx)
                alts.append((_and(conds + [hit]), action))
            return _Rule(label, tuple(alts))
        action = _nft_verdict(key, body)
        if action is None:
            action = _Action(UNKNOWN, f"statement {key} is not modelled")
        return _Rule(label, ((_and(conds), action),))
    return _Rule(label, ())  # no verdict: the rule only counts or logs


def _nft_programs(rs: _NftRuleset, pkt: _Packet, bridge: str, ports: tuple[str, ...],
                  skip_iptables_tables: bool, br_netfilter: bool) -> list[_Program]:
    families = ("ip", "inet", "bridge") if br_netfilter else ("bridge",)
    bases = []
    for (family, table, name), chain in rs.chains.items():
        if chain.get("hook") != "forward" or family not in families:
            continue
        if skip_iptables_tables and family == "ip" and table in _IPTABLES_NFT_TABLES:
            continue
        prio = chain.get("prio")
        bases.append((prio if isinstance(prio, int) and not isinstance(prio, bool) else 0, family, table, name))
    bases.sort(key=lambda b: (b[0], b[1], b[2], b[3]))
    programs = []
    compiled: dict = {}
    for _, family, table, name in bases:
        if (family, table) not in compiled:
            ctx = _NftCtx(family, table, bridge, ports, pkt, rs)
            chains = {}
            for (f, t, c) in rs.chains:
                if (f, t) == (family, table):
                    chains[c] = ()
            for (f, t, c), exprs in rs.rules.items():
                if (f, t) == (family, table):
                    chains[c] = tuple(_nft_rule(e, _clip(f"nft {f} {t} chain {c}: {_render_rule(e)}"), ctx)
                                      for e in exprs)
            compiled[(family, table)] = chains
        policy = rs.chains[(family, table, name)].get("policy", ACCEPT)  # nft's default policy is accept
        mapped = policy if policy in (ACCEPT, DROP) else None
        label = _clip(f"nft {family} {table} chain {name} policy {policy}"
                      + ("" if mapped else " (not a policy nft knows)"))
        programs.append(_Program(f"nft {family} {table} chain {name}", name, compiled[(family, table)],
                                 mapped, label))
    return programs


# ------------------------------------------------------------------ labels: nft rules as nft prints them

def _clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 3] + "..."


def _render_value(v: Any, quote: bool, depth: int = 0) -> str:
    if depth > 4:
        return "..."
    if isinstance(v, str):
        return f'"{v}"' if quote and not v.startswith("@") else v
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return ",".join(_render_value(x, quote, depth + 1) for x in v[:8])
    if isinstance(v, dict) and len(v) == 1:
        k, b = next(iter(v.items()))
        if k == "set" and isinstance(b, list):
            return "{ " + ", ".join(_render_value(x, quote, depth + 1) for x in b[:8]) + (
                ", ..." if len(b) > 8 else "") + " }"
        if k == "range" and isinstance(b, list) and len(b) == 2:
            return f"{_render_value(b[0], quote, depth + 1)}-{_render_value(b[1], quote, depth + 1)}"
        if k == "prefix" and isinstance(b, dict):
            return f"{b.get('addr')}/{b.get('len')}"
        if k in ("meta", "payload", "ct"):
            return _render_left(v)
    return _clip(json.dumps(v, default=str))[:80]


def _render_left(left: Any) -> str:
    if isinstance(left, dict) and len(left) == 1:
        k, b = next(iter(left.items()))
        if isinstance(b, dict):
            if k == "meta":
                key = b.get("key")
                return str(key) if key in ("iifname", "oifname", "iif", "oif") else f"meta {key}"
            if k == "payload" and "protocol" in b:
                return f"{b.get('protocol')} {b.get('field')}"
            if k == "ct":
                return f"ct {b.get('key')}"
    return _clip(json.dumps(left, default=str))[:80]


def _render_statement(st: Any) -> str:
    if not isinstance(st, dict) or len(st) != 1:
        return _clip(json.dumps(st, default=str))[:80]
    k, b = next(iter(st.items()))
    if k == "match" and isinstance(b, dict):
        left = _render_left(b.get("left"))
        quote = left in ("iifname", "oifname", "iif", "oif") or left.endswith("brname")
        op = b.get("op", "==")
        op_text = "" if op in ("==", "in") else f"{op} "
        return f"{left} {op_text}{_render_value(b.get('right'), quote)}"
    if k in ("jump", "goto") and isinstance(b, dict):
        return f"{k} {b.get('target')}"
    if k == "reject" and isinstance(b, dict) and b.get("type"):
        return f"reject with {b.get('type')} {b.get('expr', '')}".rstrip()
    if k == "xt" and isinstance(b, dict):
        return f'xt {b.get("type")} "{b.get("name")}"'
    if k == "vmap" and isinstance(b, dict):
        data = b.get("data")
        entries = data.get("set") if isinstance(data, dict) else data
        if isinstance(entries, list):
            shown = ", ".join(
                f"{_render_value(e[0], True)} : {_render_statement(e[1])}" if isinstance(e, list) and len(e) == 2
                else "?" for e in entries[:6])
            entries = "{ " + shown + (", ..." if len(entries) > 6 else "") + " }"
        return f"{_render_left(b.get('key'))} vmap {entries}"
    return k


def _render_rule(expr: Optional[list]) -> str:
    if not isinstance(expr, list):
        return "(unreadable)"
    return " ".join(_render_statement(st) for st in expr[:12]) + (" ..." if len(expr) > 12 else "")


# ------------------------------------------------------------------ the verdict

def bridged_dhcp_verdict(iptables: Iptables, nft_ruleset_json: Optional[str], bridge: str,
                         ports: tuple[str, ...] = (), *, br_netfilter: bool = True) -> ForwardVerdict:
    """What netfilter does to DHCP bridged by `bridge` between two of `ports`.

    br_netfilter=False (the sysctl and the bridge's nf_call_iptables both 0): bridged frames skip
    iptables and the ip and inet families; only the bridge family's chains see them."""
    bridge = bridge if isinstance(bridge, str) else ""
    ports = tuple(p for p in (ports or ()) if isinstance(p, str))
    rs: Optional[_NftRuleset] = None
    nft_problem = ""
    if nft_ruleset_json is not None:
        rs, why = _nft_read(nft_ruleset_json)
        if rs is None:
            nft_problem = f"the nft ruleset could not be read: {why}"
    skip = iptables.variant == "nf_tables"

    per_packet: list[tuple[_Packet, list[_Outcome]]] = []
    for pkt in PACKETS:
        outcomes: list[_Outcome] = []
        if iptables.installed and br_netfilter:
            if iptables.rules_error:
                outcomes.append(_Outcome(UNKNOWN, (f"iptables rules could not be read: {iptables.rules_error}",)))
            else:
                outcomes += [_Walk(p).outcome() for p in _iptables_programs(iptables, pkt, bridge, ports)]
        if nft_problem:
            outcomes.append(_Outcome(UNKNOWN, (nft_problem,)))
        elif rs is not None:
            outcomes += [_Walk(p).outcome() for p in _nft_programs(rs, pkt, bridge, ports, skip, br_netfilter)]
        per_packet.append((pkt, outcomes))
    return _combine(per_packet)


def _combine(per_packet: list[tuple[_Packet, list[_Outcome]]]) -> ForwardVerdict:
    """Every packet through every table: one drop drops the exchange; all must accept."""
    everything = [o for _, os in per_packet for o in os]
    caveats = _merge(*(o.undecided for o in everything if o.verdict == UNKNOWN))
    drops = [(pkt, o) for pkt, os in per_packet for o in os if o.verdict == DROP]
    if drops:
        by = " or ".join(drops[0][1].by)
        dropped = _merge(tuple(pkt.label for pkt, _ in drops))
        if len(dropped) < len(per_packet):
            # the exchange fails all the same; say which half, the fix may differ
            by += " (" + "; ".join(dropped) + ")"
        return ForwardVerdict(DROP, by, caveats)
    unknown = [o for o in everything if o.verdict == UNKNOWN]
    if unknown:
        return ForwardVerdict(UNKNOWN, " or ".join(unknown[0].by), caveats)
    if not everything:
        return ForwardVerdict(ACCEPT, "no iptables table and no nftables chain at the forward hook")
    # one entry per table ("A or B" when an undecidable rule left two ways to the same accept)
    return ForwardVerdict(ACCEPT, "; ".join(_merge(tuple(" or ".join(o.by) for o in everything), limit=6)))
