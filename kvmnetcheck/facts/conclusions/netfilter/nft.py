"""`nft -j list ruleset` compiled for one packet: every base chain at hook forward of family ip, inet and
bridge as a program for the evaluator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from .logic import ACCEPT, DROP, UNKNOWN, Action, Program, Rule, Tri, tri_and, tri_any, tri_not
from .packets import BROADCAST, Packet, Path, dst_match, forward_path, ifname_match, network, port_number
from .render import clip, render_rule

# tables that iptables-nft makes and that iptables-save already shows
_IPTABLES_NFT_TABLES = frozenset({"filter", "nat", "mangle", "raw", "security"})
_CONTINUE_STATEMENTS = frozenset({"counter", "log", "mangle", "notrack", "dup", "set", "flow"})
_L4 = ("udp", 17)


@dataclass
class NftRuleset:
    chains: dict  # (family, table, name) -> chain object
    rules: dict  # (family, table, chain) -> list of expr lists (None: unreadable)
    sets: dict  # (family, table, name) -> list of elements
    maps: dict


def nft_read(text: str) -> tuple[Optional[NftRuleset], str]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        return None, f"not JSON ({type(e).__name__})"
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return None, 'no "nftables" list'
    rs = NftRuleset({}, {}, {}, {})
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
    path: Path
    pkt: Packet
    rs: NftRuleset


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
        path = ctx.path
        if key in ("iifname", "oifname", "iif", "oif"):
            # in family bridge these are the ports; in ip and inet the bridge (br_netfilter) or none
            incoming = key.startswith("i")
            if not bridged:
                return "name", ((path.iif if incoming else path.oif),)
            ports = path.frame_in if incoming else path.frame_out
            return "name", ports if ports is not None else ("",)
        if key in ("ibrname", "obrname", "ibridgename", "obridgename"):
            if not bridged:
                return "none", None
            through = path.hook in ("forward", "input") if key.startswith("i") else path.hook in ("forward", "output")
            return "name", ((path.bridge if through else ""),)
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
        if proto in (
            "tcp",
            "sctp",
            "dccp",
            "udplite",
            "icmp",
            "icmpv6",
            "ip6",
            "arp",
            "igmp",
            "ah",
            "esp",
            "comp",
            "gre",
        ):
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
        return ifname_match(want, have, "*") if isinstance(want, str) else None
    if kind == "num":
        if isinstance(want, dict) and isinstance(want.get("range"), list) and len(want["range"]) == 2:
            lo, hi = (port_number(x) for x in want["range"])
            return None if lo is None or hi is None else lo <= have <= hi
        n = port_number(want)
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
            net = network(want)
        elif isinstance(want, dict) and isinstance(want.get("prefix"), dict):
            p = want["prefix"]
            if isinstance(p.get("addr"), str) and isinstance(p.get("len"), int) and not isinstance(p["len"], bool):
                net = network(f"{p['addr']}/{p['len']}")
        elif isinstance(want, dict) and isinstance(want.get("range"), list) and len(want["range"]) == 2:
            lo, hi = (network(x) if isinstance(x, str) else None for x in want["range"])
            if lo is None or hi is None or lo.prefixlen != 32 or hi.prefixlen != 32:
                return None
            if have is _UNICAST:
                return None
            return lo.network_address <= have <= hi.network_address
        if net is None:
            return None
        if have is _UNICAST:
            return dst_match(net, Packet("", 0, 0, False))
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
    per_candidate = {tri_any(_scalar_eq(kind, c, e) for e in elems) for c in cands}
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
        return tri_not(_member(kind, cands, right, ctx))
    if op in ("<", ">", "<=", ">=") and kind == "num":
        n = port_number(right)
        if n is None:
            return None
        have = cands[0]
        return {"<": have < n, ">": have > n, "<=": have <= n, ">=": have >= n}[op]
    return None


def _nft_verdict(key: str, body: Any) -> Optional[Action]:
    if key == "accept":
        return Action(ACCEPT)
    if key in ("drop", "reject"):
        return Action(DROP)
    if key in ("return", "continue"):
        return Action(key)
    if key in ("jump", "goto"):
        target = body.get("target") if isinstance(body, dict) else None
        if isinstance(target, str):
            return Action(key, target)
        return Action(UNKNOWN, f"a {key} without a target")
    if key in ("queue", "synproxy", "fwd", "tproxy", "nat", "snat", "dnat", "masquerade", "redirect"):
        return Action(UNKNOWN, f"statement {key} is not modelled")
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


def _nft_rule(expr: Optional[list], label: str, ctx: _NftCtx) -> Rule:
    if expr is None:
        return Rule(label, ((True, Action(UNKNOWN, "the rule could not be read")),))
    conds: list[Tri] = []
    for st in expr:
        if not isinstance(st, dict) or len(st) != 1:
            return Rule(label, ((tri_and(conds), Action(UNKNOWN, "a statement that could not be read")),))
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
                return Rule(label, ((tri_and(conds), Action(UNKNOWN, "an xt target is not modelled")),))
            conds.append(None)
            continue
        if key == "vmap":
            entries = _vmap_entries(body, ctx)
            if entries is None:
                return Rule(label, ((tri_and(conds), Action(UNKNOWN, "a verdict map that could not be read")),))
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
                alts.append((tri_and(conds + [hit]), action))
            return Rule(label, tuple(alts))
        action = _nft_verdict(key, body)
        if action is None:
            action = Action(UNKNOWN, f"statement {key} is not modelled")
        return Rule(label, ((tri_and(conds), action),))
    return Rule(label, ())  # no verdict: the rule only counts or logs


def nft_programs(
    rs: NftRuleset,
    pkt: Packet,
    bridge: str,
    ports: tuple[str, ...],
    skip_iptables_tables: bool,
    br_netfilter: bool,
    path: Optional[Path] = None,
) -> list[Program]:
    """Every base chain at the path's hook: ip and inet (bridged frames only with br_netfilter) and bridge
    (its own hooks: forward, input for frames passed up, output for frames the host sends)."""
    path = path or forward_path(bridge, ports)
    families = ("ip", "inet", "bridge") if br_netfilter or path.hook != "forward" else ("bridge",)
    bases = []
    for (family, table, name), chain in rs.chains.items():
        if chain.get("hook") != path.hook or family not in families:
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
            ctx = _NftCtx(family, table, path, pkt, rs)
            chains = {}
            for f, t, c in rs.chains:
                if (f, t) == (family, table):
                    chains[c] = ()
            for (f, t, c), exprs in rs.rules.items():
                if (f, t) == (family, table):
                    chains[c] = tuple(
                        _nft_rule(e, clip(f"nft {f} {t} chain {c}: {render_rule(e)}"), ctx) for e in exprs
                    )
            compiled[(family, table)] = chains
        policy = rs.chains[(family, table, name)].get("policy", ACCEPT)  # nft's default policy is accept
        mapped = policy if policy in (ACCEPT, DROP) else None
        label = clip(
            f"nft {family} {table} chain {name} policy {policy}" + ("" if mapped else " (not a policy nft knows)")
        )
        programs.append(Program(f"nft {family} {table} chain {name}", name, compiled[(family, table)], mapped, label))
    return programs
