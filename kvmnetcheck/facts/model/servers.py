"""DHCP and TFTP servers as read: UDP sockets, packet sockets, libvirt's dnsmasq files and leases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class UdpSocket:
    """A UDP socket as `ss` shows it: address, the device it is bound to, port, processes."""

    address: str  # "0.0.0.0", "*", "10.0.0.1", "::"
    device: Optional[str]  # SO_BINDTODEVICE (ss prints 0.0.0.0%virbr0:67)
    port: int
    processes: tuple[tuple[str, int], ...] = ()  # (name, pid); empty without root
    users_known: bool = True

    @property
    def wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "*", "::", "[::]")

    def names(self) -> str:
        return ", ".join(f"{n} (pid {p})" for n, p in self.processes) or "a process not shown without root"


@dataclass(frozen=True)
class BootFile:
    """A libvirt network's dnsmasq config (/var/lib/libvirt/dnsmasq/NETWORK.conf) on booting."""

    network: str
    tftp_root: Optional[str]
    boot: Optional[str]  # dhcp-boot=FILE[,,SERVER]
    exists: Optional[bool]  # FILE is in the TFTP root; None: not a file there to look for
    conf: Optional[tuple[tuple[str, str], ...]] = None  # (option, value) of its boot and pool lines; None: not read
    files: tuple[tuple[str, str, bool], ...] = ()  # (TFTP root, name, there) for each name its boot lines give

    @property
    def file(self) -> Optional[str]:
        return self.boot.split(",", 1)[0] if self.boot else None

    def in_root(self, root: str, name: str) -> Optional[bool]:
        """Is `name` in the TFTP root? None: not looked for."""
        return next((there for r, n, there in self.files if r == root and n == name), None)


@dataclass(frozen=True)
class Lease:
    ip: str
    mac: str
    hostname: Optional[str]
    expiry: Optional[int]  # seconds since the epoch; 0: never expires


@dataclass(frozen=True)
class ServerScope:
    """The interfaces a DHCP server process answers on, as its command line and config files say (dnsmasq:
    interface=, listen-address=, except-interface=, no-dhcp-interface=)."""

    pid: int
    program: str
    interfaces: Optional[tuple[str, ...]] = None  # interface= names (a trailing * is a wildcard); None: none given
    addresses: tuple[str, ...] = ()  # IPv4 listen-address=
    excluded: tuple[str, ...] = ()  # except-interface=
    no_dhcp: tuple[str, ...] = ()  # no-dhcp-interface=, no-dhcpv4-interface=
    localhost_only: bool = False  # local-service=host and no interface option: loopback only
    unknown: Optional[str] = None  # why the set cannot be told
    files: tuple[str, ...] = ()  # the config files it reads

    def describe(self) -> str:
        if self.unknown:
            return f"cannot be told: {self.unknown}"
        parts = []
        if self.interfaces is not None:
            parts.append("interface=" + ",".join(self.interfaces))
        if self.addresses:
            parts.append("listen-address=" + ",".join(self.addresses))
        if self.excluded:
            parts.append("except-interface=" + ",".join(self.excluded))
        if self.no_dhcp:
            parts.append("no-dhcp-interface=" + ",".join(self.no_dhcp))
        if self.localhost_only:
            parts.append("local-service=host")
        return "; ".join(parts) or "every interface (no interface option)"


@dataclass(frozen=True)
class DhcpServers:
    """What the host's DHCP servers look like, as far as could be read."""

    gathered: bool = True  # False: facts of an older version, which did not look
    sockets: Optional[tuple[UdpSocket, ...]] = None  # None: ss is missing or failed
    error: Optional[str] = None
    packet_ifaces: tuple[tuple[int, str], ...] = ()  # (pid, interface) of packet sockets (dhcpd's LPF)
    dnsmasq_pids: tuple[tuple[str, Optional[int]], ...] = ()  # (network, pid from its pid file)
    unreadable: tuple[str, ...] = ()  # pid, lease and dnsmasq config files the checking user could not read
    boot_files: tuple["BootFile", ...] = ()  # what each network's dnsmasq config says of booting
    leases: tuple[tuple[str, Optional[tuple[Lease, ...]]], ...] = ()  # (bridge, leases or None if garbled)
    files_error: Optional[str] = None  # why libvirt's pid, lease and dnsmasq config files were not all listed
    scopes: Optional[tuple["ServerScope", ...]] = None  # each dnsmasq's interface set; None: not gathered
    ipv4_addresses: Optional[tuple[tuple[str, str], ...]] = None  # (interface, address); None: not read
    addresses_error: Optional[str] = None

    def scope_of(self, pid: int) -> Optional["ServerScope"]:
        return next((s for s in self.scopes or () if s.pid == pid), None)

    def addresses_of(self, iface: str) -> Optional[tuple[str, ...]]:
        if self.ipv4_addresses is None:
            return None
        return tuple(a for i, a in self.ipv4_addresses if i == iface)

    def on_port(self, port: int) -> tuple[UdpSocket, ...]:
        return tuple(s for s in (self.sockets or ()) if s.port == port)

    def boot_file(self, network: str) -> Optional["BootFile"]:
        return next((b for b in self.boot_files if b.network == network), None)

    def dnsmasq_pid(self, network: str) -> Optional[int]:
        return next((p for n, p in self.dnsmasq_pids if n == network), None)

    def has_pid_file(self, network: str) -> Optional[bool]:
        """None: none seen, but the listing of pid files was not read to its end."""
        if any(n == network for n, _ in self.dnsmasq_pids):
            return True
        return None if self.files_error else False

    def leases_of(self, bridge: str):
        """The bridge's leases; () when it has no lease file, None when they could not be read (garbled,
        refused, or the listing of lease files not read to its end)."""
        found = next((ls for b, ls in self.leases if b == bridge), False)
        if found is not False:
            return found
        return None if self.files_error else ()
