"""Netfilter's verdict on a DHCP exchange bridged by BR: every packet of it through every table on its path
(the package docstring says what is modelled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...model import Iptables
from .iptables import iptables_programs
from .logic import ACCEPT, DROP, UNKNOWN, Outcome, Walk, merge
from .nft import NftRuleset, nft_programs, nft_read
from .packets import PACKETS, Packet, Path, forward_path, input_path, output_path


@dataclass(frozen=True)
class ForwardVerdict:
    verdict: str  # "accept" | "drop" | "unknown"
    by: str  # what decided it, for a report ("iptables filter FORWARD policy DROP")
    undecided: tuple[str, ...] = ()  # rules whose match the facts cannot decide (the cause, or a caveat)


def bridged_dhcp_verdict(
    iptables: Iptables,
    nft_ruleset_json: Optional[str],
    bridge: str,
    ports: tuple[str, ...] = (),
    *,
    br_netfilter: bool = True,
) -> ForwardVerdict:
    """What netfilter does to DHCP bridged by `bridge` between two of `ports`.

    br_netfilter=False (the sysctl and the bridge's nf_call_iptables both 0): bridged frames skip
    iptables and the ip and inet families; only the bridge family's chains see them."""
    bridge, ports = _clean(bridge, ports)
    legs = tuple((pkt, forward_path(bridge, ports)) for pkt in PACKETS)
    return _verdict(
        iptables, nft_ruleset_json, bridge, ports, legs, iptables_seen=br_netfilter, br_netfilter=br_netfilter
    )


def host_dhcp_verdict(
    iptables: Iptables,
    nft_ruleset_json: Optional[str],
    bridge: str,
    ports: tuple[str, ...] = (),
    *,
    br_netfilter: bool = True,
) -> ForwardVerdict:
    """What netfilter does to DHCP between a guest on `bridge` and a server on the host itself: the request
    goes up to INPUT (in = BR; br_input.c br_handle_frame_finish passes broadcast and local frames up, and the
    bridge family's input hook sees it first), the replies leave through OUTPUT (out = BR; then the bridge
    family's output hook). Neither meets FORWARD, whatever br_netfilter does."""
    bridge, ports = _clean(bridge, ports)
    request, *replies = PACKETS
    legs = ((request, input_path(bridge, ports, br_netfilter)),) + tuple(
        (p, output_path(bridge, ports)) for p in replies
    )
    return _verdict(iptables, nft_ruleset_json, bridge, ports, legs, iptables_seen=True, br_netfilter=br_netfilter)


def _clean(bridge, ports) -> tuple[str, tuple[str, ...]]:
    bridge = bridge if isinstance(bridge, str) else ""
    return bridge, tuple(p for p in (ports or ()) if isinstance(p, str))


def _verdict(
    iptables: Iptables,
    nft_ruleset_json: Optional[str],
    bridge: str,
    ports: tuple[str, ...],
    legs: tuple[tuple[Packet, Path], ...],
    *,
    iptables_seen: bool,
    br_netfilter: bool,
) -> ForwardVerdict:
    rs: Optional[NftRuleset] = None
    nft_problem = ""
    if nft_ruleset_json is not None:
        rs, why = nft_read(nft_ruleset_json)
        if rs is None:
            nft_problem = f"the nft ruleset could not be read: {why}"
    skip = iptables.variant == "nf_tables"

    per_packet: list[tuple[Packet, list[Outcome]]] = []
    for pkt, path in legs:
        outcomes: list[Outcome] = []
        if iptables.installed and iptables_seen:
            if iptables.rules_error:
                outcomes.append(Outcome(UNKNOWN, (f"iptables rules could not be read: {iptables.rules_error}",)))
            else:
                outcomes += [Walk(p).outcome() for p in iptables_programs(iptables, pkt, bridge, ports, path)]
        if nft_problem:
            outcomes.append(Outcome(UNKNOWN, (nft_problem,)))
        elif rs is not None:
            outcomes += [Walk(p).outcome() for p in nft_programs(rs, pkt, bridge, ports, skip, br_netfilter, path)]
        per_packet.append((pkt, outcomes))
    return _combine(per_packet)


def _combine(per_packet: list[tuple[Packet, list[Outcome]]]) -> ForwardVerdict:
    """Every packet through every table: one drop drops the exchange; all must accept."""
    everything = [o for _, os in per_packet for o in os]
    caveats = merge(*(o.undecided for o in everything if o.verdict == UNKNOWN))
    drops = [(pkt, o) for pkt, os in per_packet for o in os if o.verdict == DROP]
    if drops:
        by = " or ".join(drops[0][1].by)
        dropped = merge(tuple(pkt.label for pkt, _ in drops))
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
    return ForwardVerdict(ACCEPT, "; ".join(merge(tuple(" or ".join(o.by) for o in everything), limit=6)))
