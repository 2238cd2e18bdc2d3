"""DHCP servers and their pools, decided: which sockets answer requests arriving on an interface, how big a
range is, and how far it can grow."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

from ..model import DhcpServers, ServerScope, UdpSocket


def socket_serves(s: UdpSocket, iface: str) -> bool:
    """Would DHCP requests arriving on `iface` reach this socket?"""
    return s.device == iface or (s.device is None and s.wildcard)


def sockets_serving(servers: DhcpServers, iface: str, port: int = 67) -> tuple[UdpSocket, ...]:
    """Sockets whose server answers requests arriving on `iface`: bound to it, or to all
    addresses by a process that reads no packet socket of its own (dhcpd's LPF names its
    interfaces; its UDP socket on 0.0.0.0 only sends)."""
    out = []
    for s in servers.on_port(port):
        pids = {p for _, p in s.processes}
        lpf = {i for p, i in servers.packet_ifaces if p in pids}
        if s.device == iface or (s.device is None and s.wildcard and (not lpf or iface in lpf)):
            out.append(s)
    return tuple(out)


def wildcard_match(pattern: str, name: str) -> bool:
    """dnsmasq's util.c wildcard_match: a `*` matches whatever follows it (at least one character)."""
    i = 0
    while i < len(pattern) and i < len(name):
        if pattern[i] == "*":
            return True
        if pattern[i] != name[i]:
            return False
        i += 1
    return pattern[i:] == name[i:] == ""


def scope_serves(scope: ServerScope, iface: str, addresses: Optional[tuple[str, ...]]) -> Optional[bool]:
    """Would this dnsmasq answer DHCP arriving on `iface` (holding IPv4 `addresses`; None: not known)?
    dhcp.c dhcp_packet: an interface without an address is dropped, then no-dhcp-interface, then
    network.c iface_check: interface= by name, or listen-address= on the interface; with neither, every
    interface; except-interface= drops a name unless an address matched. None: it cannot be told."""
    if scope.unknown:
        return None
    if any(p and wildcard_match(p, iface) for p in scope.no_dhcp):
        return False
    if addresses is None:
        return None
    if not addresses:
        return False
    by_address = any(a in addresses for a in scope.addresses)
    if scope.interfaces is not None or scope.addresses:
        served = by_address or any(p and wildcard_match(p, iface) for p in scope.interfaces or ())
    else:
        served = not scope.localhost_only
    if not by_address and any(p and wildcard_match(p, iface) for p in scope.excluded):
        return False
    return served


@dataclass(frozen=True)
class Answering:
    """The sockets on port 67 whose server answers DHCP arriving on an interface, and those that may."""

    sockets: tuple[UdpSocket, ...]
    maybe: tuple[tuple[UdpSocket, str], ...]  # (socket, why it cannot be told)


def dhcp_answering(servers: DhcpServers, iface: str) -> Answering:
    """Who answers DHCP requests arriving on `iface`: a socket bound to it; an unbound one whose process
    reads packet sockets on it (ISC dhcpd's LPF); an unbound one of a dnsmasq whose interface set holds it
    (`scope_serves`); an unbound one whose process is not shown (the checks ask for root). Any other
    unbound socket cannot be told."""
    sure, maybe = [], []
    for s in servers.on_port(67):
        if s.device is not None or not s.wildcard:
            if s.device == iface:
                sure.append(s)
            continue
        if not s.processes:
            sure.append(s)
            continue
        pids = {p for _, p in s.processes}
        lpf = {i for p, i in servers.packet_ifaces if p in pids}
        if lpf:
            if iface in lpf:
                sure.append(s)
            continue
        verdict, why = _by_scope(servers, s, iface)
        if verdict:
            sure.append(s)
        elif verdict is None:
            maybe.append((s, why))
    return Answering(tuple(sure), tuple(maybe))


def _by_scope(servers: DhcpServers, s: UdpSocket, iface: str) -> tuple[Optional[bool], str]:
    if not all(name == "dnsmasq" for name, _ in s.processes):
        return None, (
            f"{s.names()} listens on all interfaces, and which of them it answers is not read from its "
            "configuration (only dnsmasq's is)"
        )
    if servers.scopes is None:
        return None, f"{s.names()}'s command line and config files were not gathered: {servers.addresses_error}"
    scopes = [servers.scope_of(p) for _, p in s.processes]
    scope = next((sc for sc in scopes if sc is not None), None)
    if scope is None:
        return None, f"{s.names()}'s command line was not gathered (it started after the socket list was read?)"
    addresses = servers.addresses_of(iface)
    verdict = scope_serves(scope, iface, addresses)
    if verdict is None:
        if scope.unknown:
            return None, f"which interfaces {s.names()} serves cannot be told: {scope.unknown}"
        return None, f"the IPv4 addresses of {iface} could not be read: {servers.addresses_error}"
    return verdict, ""


def range_size(start: str, end: str) -> Optional[int]:
    """Addresses in a DHCP range, inclusive (libvirt virSocketAddrGetRange); None if not a range."""
    try:
        a, b = ipaddress.ip_address(start), ipaddress.ip_address(end)
    except ValueError:
        return None
    if a.version != b.version or int(b) < int(a):
        return None
    return int(b) - int(a) + 1


def in_range(ip: str, start: str, end: str) -> bool:
    try:
        x, a, b = ipaddress.ip_address(ip), ipaddress.ip_address(start), ipaddress.ip_address(end)
    except ValueError:
        return False
    return x.version == a.version == b.version and int(a) <= int(x) <= int(b)


def suggest_end(
    start: str, end: str, address: Optional[str], prefix: Optional[str], others: list[tuple[str, str]]
) -> Optional[str]:
    """How far the range start-end can grow inside its subnet: the last address before the subnet's
    broadcast address, the network's own address or another range; None when it cannot grow."""
    try:
        iface = ipaddress.ip_interface(f"{address}/{prefix}")
        a, b = ipaddress.ip_address(start), ipaddress.ip_address(end)
    except ValueError:
        return None
    net = iface.network
    if a not in net or b not in net:
        return None
    limit = int(net.broadcast_address) - 1 if net.version == 4 else int(net.broadcast_address)
    stops = [int(iface.ip)] + [int(ipaddress.ip_address(s)) for s, _ in others if _is_addr(s)]
    for stop in stops:
        if int(b) < stop <= limit:
            limit = stop - 1
    return str(ipaddress.ip_address(limit)) if limit > int(b) else None


def _is_addr(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
