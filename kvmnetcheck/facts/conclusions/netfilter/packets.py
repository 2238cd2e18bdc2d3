"""The packets of a DHCP exchange bridged by BR, and how a match on them is decided (shared by the iptables
and the nft interpreter)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Optional

from .logic import Tri, tri_any

BROADCAST = ipaddress.IPv4Address("255.255.255.255")


@dataclass(frozen=True)
class Packet:
    label: str
    sport: int
    dport: int
    broadcast: bool  # destination 255.255.255.255; else a unicast address we do not know


@dataclass(frozen=True)
class Path:
    """Where netfilter meets a packet: the hook, the IP-level devices, and the bridge ports br_netfilter
    recorded (None: no bridge information on the packet, so physdev matches fail, xt_physdev.c physdev_mt)."""

    hook: str  # "forward" | "input" | "output"
    bridge: str
    iif: str  # "" for none (a packet the host sends)
    oif: str  # "" for none (a packet delivered to the host)
    port_in: Optional[tuple[str, ...]]  # physdev: the ports br_netfilter recorded
    port_out: Optional[tuple[str, ...]]
    frame_in: Optional[tuple[str, ...]] = None  # the ports the bridge family's own hooks see (None: none)
    frame_out: Optional[tuple[str, ...]] = None


def forward_path(bridge: str, ports: tuple[str, ...]) -> Path:
    """Bridged between two ports of BR, handed to the FORWARD hook with in = out = BR (br_nf_forward_ip)."""
    return Path("forward", bridge, bridge, bridge, ports, ports, ports, ports)


def input_path(bridge: str, ports: tuple[str, ...], br_netfilter: bool) -> Path:
    """Delivered up to the host from a port of BR (br_input.c br_pass_frame_up, then the IP stack's INPUT
    with in = BR); the port is recorded only when br_netfilter saw the frame (br_nf_pre_routing)."""
    return Path("input", bridge, bridge, "", ports if br_netfilter else None, None, ports, None)


def output_path(bridge: str, ports: tuple[str, ...]) -> Path:
    """Sent by the host out of BR (OUTPUT with out = BR): the port is chosen later, so physdev knows none,
    and br_netfilter adds no hook for what the host itself sends (br_nf_post_routing: no nf_bridge info);
    the bridge family's output hook sees the port it leaves by (br_forward.c, NF_BR_LOCAL_OUT)."""
    return Path("output", bridge, "", bridge, None, None, None, ports)


PACKETS = (
    Packet("the client's request, udp 68 -> 67 to 255.255.255.255", 68, 67, True),
    Packet("the server's broadcast reply, udp 67 -> 68", 67, 68, True),
    Packet("the server's unicast reply, udp 67 -> 68", 67, 68, False),
)


def ifname_match(pattern: str, name: str, wildcard: str) -> bool:
    # iptables writes "br+", nft "br*" (and "br\*" for a real asterisk) for every name starting with br
    if pattern.endswith(wildcard) and not pattern.endswith("\\" + wildcard):
        return name.startswith(pattern[:-1])
    return pattern.replace("\\" + wildcard, wildcard) == name


def port_number(text: Any) -> Optional[int]:
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


def port_spec(spec: str, port: int) -> Tri:
    """iptables' "67", "67:68", ":68", "1024:" (and multiport's comma lists of them)."""
    results = []
    for part in spec.split(","):
        if ":" in part:
            lo_s, _, hi_s = part.partition(":")
            lo = port_number(lo_s) if lo_s else 0
            hi = port_number(hi_s) if hi_s else 65535
            if lo is None or hi is None:
                results.append(None)
            else:
                results.append(lo <= port <= hi)
        else:
            n = port_number(part)
            results.append(None if n is None else n == port)
    return tri_any(results) if results else None


def ports_match(pattern: str, ports: tuple[str, ...], wildcard: str) -> Tri:
    """A match on the bridge port a frame came in or goes out by: which port is unknown."""
    if not ports:
        return None
    hits = [ifname_match(pattern, p, wildcard) for p in ports]
    if not any(hits):
        return False
    return True if all(hits) else None


def network(text: str):
    try:
        return ipaddress.IPv4Network(text.strip(), strict=False)
    except (ValueError, TypeError):
        return None


def dst_match(net, pkt: Packet) -> Tri:
    if net is None:
        return None
    if net.prefixlen == 0:
        return True
    if pkt.broadcast:
        return BROADCAST in net
    # a unicast destination is never the broadcast address; anything else we cannot tell
    return False if net.prefixlen == 32 and net.network_address == BROADCAST else None
