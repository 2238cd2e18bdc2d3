"""DHCP servers and their pools, decided: which sockets answer requests arriving on an interface, how big a
range is, and how far it can grow."""

from __future__ import annotations

import ipaddress
from typing import Optional

from ..model import DhcpServers, UdpSocket


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
