"""DHCP and TFTP servers on the host: sockets from `ss`, libvirt's dnsmasq pid files, its leases.

    $ ss -H -u -a -n -p 'sport = :67 or sport = :69 or sport = :547'
    UNCONN 0      0      0.0.0.0%virbr0:67 0.0.0.0:* users:(("dnsmasq",pid=389,fd=4))
    UNCONN 0      0             0.0.0.0:67 0.0.0.0:* users:(("dhcpd",pid=812,fd=7))

`ss` prints the device a socket is bound to (SO_BINDTODEVICE) after `%`, which /proc/net/udp does
not show (iproute2 misc/ss.c, from 3.14); the process list needs root. libvirt's dnsmasq writes
/run/libvirt/network/NETWORK.pid and libvirt_leaseshelper /var/lib/libvirt/dnsmasq/BRIDGE.status,
a JSON list of leases with expiry-time (libvirt src/network/leaseshelper.c, src/util/virlease.c).
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Optional

from .model import Lease, UdpSocket

_ADDR = re.compile(r"^(?P<addr>\[[^\]]*\]|[^\s%]*?)(?:%(?P<dev>[^:\s\]]+))?:(?P<port>\d+)$")
_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')


def parse_ss(text: str) -> tuple[UdpSocket, ...]:
    """UDP sockets from `ss -H -u -a -n -p`; without root the processes are unknown (None)."""
    out = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 5 or words[0] not in ("UNCONN", "ESTAB"):
            continue
        m = _ADDR.match(words[3])
        if not m:
            continue
        addr = m.group("addr").strip("[]") or "*"
        users = _USER.findall(" ".join(words[5:]))
        procs = tuple((name, int(pid)) for name, pid in users)
        out.append(UdpSocket(address=addr, device=m.group("dev"), port=int(m.group("port")), processes=procs,
                             users_known="users:(" in line))
    return tuple(out)


def parse_packet_sockets(text: str) -> tuple[tuple[int, str], ...]:
    """(pid, interface) of each packet socket bound to one interface, from `ss -H -0 -a -n -p`:

        p_raw UNCONN 0      0      *:br9 * users:(("dhcpd",pid=29650,fd=5))
    """
    out = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 6 or words[0] not in ("p_raw", "p_dgram"):
            continue
        iface = words[4].rsplit(":", 1)[-1]
        if iface in ("*", ""):
            continue
        for _, pid in _USER.findall(" ".join(words[6:])):
            out.append((int(pid), iface))
    return tuple(out)


def parse_pid_file(text: str) -> Optional[int]:
    t = (text or "").strip()
    return int(t) if t.isdigit() else None


def parse_leases(text: str) -> Optional[tuple[Lease, ...]]:
    """The leases in a libvirt .status file (an empty file: none); None when it is not such a list."""
    if not (text or "").strip():
        return ()
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    out = []
    for e in doc:
        if not isinstance(e, dict) or not isinstance(e.get("ip-address"), str):
            continue
        expiry = e.get("expiry-time")
        out.append(Lease(ip=e["ip-address"], mac=str(e.get("mac-address") or ""),
                         hostname=str(e.get("hostname") or "") or None,
                         expiry=int(expiry) if isinstance(expiry, (int, float)) else None))
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


def suggest_end(start: str, end: str, address: Optional[str], prefix: Optional[str],
                others: list[tuple[str, str]]) -> Optional[str]:
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
