"""A guest's boot path: which NICs its firmware network-boots from and what comes after them, and the boot file
a libvirt network hands out."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from typing import Optional

from ..model import (
    DhcpServers,
    DnsmasqConf,
    Guest,
    GuestDisk,
    GuestNic,
    HostFacts,
    LibvirtNetwork,
    NetworkDefinition,
    Unreadable,
)
from ..parsers.dnsmasq_conf import conf_lines, parse_dnsmasq_conf
from .dnsmasq_boot import CLIENTS, BootOffer, boot_offer
from .libvirt import nic_attachment
from .servers import range_size, sockets_serving


@dataclass(frozen=True)
class BootEntry:
    """One device on a guest's boot path, in the order the firmware tries it."""

    device: str  # "NIC 52:54:00:..", "disk vda", "cdrom sda", "hostdev (boot order 3)"
    why: str  # why the firmware tries it here: "boot order 1", "<boot dev='network'/>: the first NIC"
    nic: Optional[GuestNic] = None
    disk: Optional[GuestDisk] = None
    boots: Optional[bool] = None  # it can boot; False: it cannot; None: not known here
    reason: str = ""  # why it can, cannot, or may boot


@dataclass(frozen=True)
class BootPath:
    """What a guest's firmware tries, in order, and the first device that boots."""

    entries: tuple[BootEntry, ...]

    @property
    def device(self) -> Optional[BootEntry]:
        """THE device it boots from: the first that can (an earlier one not known here may come first)."""
        return next((e for e in self.entries if e.boots), None)

    def entry_of(self, nic: GuestNic) -> Optional[BootEntry]:
        return next((e for e in self.entries if e.nic == nic), None)

    def rests_on(self, nic: GuestNic) -> Optional[str]:
        """None when the guest's boot rests on this NIC (the firmware reaches it and nothing after it can
        boot); else why not."""
        mine = self.entry_of(nic)
        if mine is None:
            return "the NIC does not network-boot"
        i = self.entries.index(mine)
        before = next((e for e in self.entries[:i] if e.boots), None)
        if before is not None:
            return f"the guest boots from {before.device} ({before.reason}) before it tries this NIC"
        after = next((e for e in self.entries[i + 1 :] if e.boots is not False), None)
        if after is not None:
            can = "can" if after.boots else "may"
            return (
                f"when network boot from this NIC finds nothing, the guest goes on to {after.device}, which {can} "
                f"boot ({after.reason})"
            )
        return None

    def unknown_before(self, nic: GuestNic) -> Optional[BootEntry]:
        """The first device ahead of this NIC whose boot is not known here (the firmware may never get to it)."""
        mine = self.entry_of(nic)
        ahead = self.entries[: self.entries.index(mine)] if mine is not None else ()
        return next((e for e in ahead if e.boots is None), None)

    @property
    def summary(self) -> str:
        """What the guest boots from, for a person: the device and why, and what comes before it."""
        dev = self.device
        ahead = self.entries[: self.entries.index(dev)] if dev is not None else self.entries
        unknown = [e for e in ahead if e.boots is None]
        passed = "; ".join(f"{e.device} passed over: {e.reason}" for e in ahead if e.boots is False)
        if dev is None:
            listed = "; ".join(f"{e.device}: {e.reason}" for e in self.entries) or "no boot device"
            return ("not known here: " if unknown else "nothing: ") + listed
        text = f"{dev.device} ({dev.why}; {dev.reason})"
        if unknown:
            text += " unless " + ", ".join(f"{e.device} boots first ({e.reason})" for e in unknown)
        return text + (f" [{passed}]" if passed else "")


def boot_entries(guest: Guest) -> tuple[BootEntry, ...]:
    """The devices a guest's firmware tries, in order, as libvirt hands them to QEMU: per-device
    <boot order='N'/> become bootindex=N; <os><boot dev=...> give bootindex to the FIRST device of each
    kind, in the order given (seen with libvirt 9.0: <boot dev='network'/> sets bootindex on the first
    <interface> only; domain_conf.h effectiveBootIndex). libvirt adds -boot strict=on, so QEMU ends its
    bootorder fw_cfg file with HALT (softmmu/bootdevice.c get_boot_devices_list) and SeaBIOS tries only
    the devices listed (src/boot.c: none after HALT); OVMF orders its boot options by the same file
    (OvmfPkg QemuBootOrderLib)."""
    if guest.per_device_boot:
        listed: list[tuple[int, BootEntry]] = []
        for n in guest.nics:
            if n.boot_order is not None:
                listed.append((n.boot_order, BootEntry(f"NIC {n.label}", f"boot order {n.boot_order}", nic=n)))
        for d in guest.disk_devices:
            if d.boot_order is not None:
                listed.append((d.boot_order, BootEntry(d.label, f"boot order {d.boot_order}", disk=d)))
        for order, tag in guest.other_boot_devices:
            listed.append((order, BootEntry(f"{tag} (boot order {order})", f"boot order {order}", reason="not judged")))
        return tuple(e for _, e in sorted(listed, key=lambda oe: oe[0]))
    out = []
    for dev in guest.boot_devs or ("hd",):
        if dev == "network":
            if guest.nics:
                n = guest.nics[0]
                out.append(BootEntry(f"NIC {n.label}", "<boot dev='network'/>: the first NIC", nic=n))
            continue
        kind = {"hd": "disk", "cdrom": "cdrom", "fd": "floppy"}.get(dev)
        d = next((d for d in guest.disk_devices if d.device == kind), None)
        if d is not None:
            out.append(BootEntry(d.label, f"<boot dev='{dev}'/>: the first {kind}", disk=d))
    return tuple(out)


def pxe_nics(guest: Guest) -> tuple[GuestNic, ...]:
    """The NICs the firmware tries to network-boot from, in the order it tries them."""
    return tuple(e.nic for e in boot_entries(guest) if e.nic is not None)


def pxe_boot_reason(guest: Guest, nic: GuestNic) -> Optional[str]:
    """Why this NIC network-boots ("boot order 1", "<boot dev='network'/>: the first NIC"), or None."""
    return next((e.why for e in boot_entries(guest) if e.nic == nic), None)


def boot_path(h: HostFacts, guest: Guest) -> BootPath:
    """Each device on the guest's boot path with whether it can boot: a disk with a medium is assumed
    bootable (what is on it is not read); a NIC boots when the firmware has a driver for it (SeaBIOS: the
    NIC's option ROM, iPXE; OVMF: its own) and its network hands out a boot file; iPXE that finds no file
    returns to the BIOS, which tries the next device (SeaBIOS src/boot.c boot_rom / BEV entries)."""
    return BootPath(tuple(_judged(h, guest, e) for e in boot_entries(guest)))


def _judged(h: HostFacts, guest: Guest, e: BootEntry) -> BootEntry:
    if e.disk is not None:
        if e.disk.source is None:
            return replace(e, boots=False, reason="no medium in it")
        running = "; the guest is running" if guest.active else ""
        return replace(e, boots=True, reason=f"assumed bootable: it has a source, {e.disk.source}{running}")
    n = e.nic
    if n is None:
        return e
    if n.link_down:
        return replace(e, boots=False, reason="its link is down (<link state='down'/>)")
    if not guest.uefi and n.type != "hostdev" and (n.rom_enabled is False or n.rom_bar is False):
        off = "<rom enabled='no'/>" if n.rom_enabled is False else "<rom bar='off'/>"
        return replace(e, boots=False, reason=f"its boot ROM is off ({off}): SeaBIOS has no driver for it")
    if n.type != "network":
        return replace(
            e, boots=None, reason=f"a type='{n.type}' NIC: whether its DHCP hands out a boot file is not known here"
        )
    try:
        net = nic_attachment(h, n).network
    except Unreadable as ex:
        return replace(e, boots=None, reason=f"its network was not read: {ex}")
    if net is None:
        return replace(e, boots=False, reason=f"its network {n.source_network} is not defined on this host")
    if not net.active:
        return replace(e, boots=False, reason=f"its network {net.name} is not running: no address, no boot file")
    live = net.live
    if not live.creates_bridge or not live.serves_dhcp4:
        return replace(
            e, boots=None, reason=f"network {net.name} runs no DHCPv4 server of libvirt's: the LAN's decides"
        )
    try:
        verdict = network_boot_for(net, h.dhcp_servers, firmware_client(guest), n.mac)
    except Unreadable as ex:
        return replace(e, boots=None, reason=f"whether network {net.name} serves it a boot file is unknown: {ex}")
    file = verdict.last.file
    if verdict.problem is None:
        return replace(e, boots=True, reason=f"network {net.name} hands out boot file {file}")
    why = {
        "no-file": "gives an address but no boot file",
        "url-tftp-only": f"names {file}, a URL its firmware cannot fetch",
        "loop": f"hands iPXE {file} again: it chainloads itself over and over",
        "no-tftp": f"names {file}, but nothing serves TFTP for it",
        "server-no-tftp": f"names {file} on {verdict.tftp_root}, where no TFTP server listens",
        "missing-file": f"names {file}, which is not in its TFTP root {verdict.tftp_root}",
    }.get(verdict.problem, verdict.problem)
    return replace(e, boots=False, reason=f"network {net.name} {why}")


def libvirt_dnsmasq_lines(defn: NetworkDefinition) -> list[tuple[str, str]]:
    """The boot and pool lines libvirt writes into a network's dnsmasq config (src/network/bridge_driver.c
    networkDnsmasqConfContents, networkDnsmasqConfDHCP): for the first IPv4 <ip> with DHCP its <tftp root>
    (enable-tftp, tftp-root) and <bootp> (dhcp-boot=FILE or FILE,,SERVER), each <host> in the hosts file;
    dhcp-lease-max the sum of the sizes of the ranges of the first IPv4 and the first IPv6 <ip> with DHCP;
    then every <dnsmasq:option> as it is, after them all."""
    out: list[tuple[str, str]] = []
    lease_max = 0
    v4 = next((ip for ip in defn.ips if ip.family != "ipv6" and ip.dhcp is not None), None)
    v6 = next((ip for ip in defn.ips if ip.family == "ipv6" and ip.dhcp is not None), None)
    for ip in (v4, v6):
        if ip is None or ip.dhcp is None:
            continue
        lease_max += sum(range_size(a, b) or 0 for a, b in ip.dhcp.ranges)
        out += [("dhcp-host", mac) for mac in ip.dhcp.host_macs]
        if ip is v4:
            if ip.tftp_root:
                out += [("enable-tftp", ""), ("tftp-root", ip.tftp_root)]
            if ip.dhcp.bootp_file:
                server = ip.dhcp.bootp_server
                out.append(("dhcp-boot", ip.dhcp.bootp_file + (f",,{server}" if server else "")))
    if lease_max:
        out.append(("dhcp-lease-max", str(lease_max)))
    for value in defn.dnsmasq_options:
        out += conf_lines(value)
    return out


def network_dnsmasq_conf(defn: NetworkDefinition) -> DnsmasqConf:
    return parse_dnsmasq_conf(libvirt_dnsmasq_lines(defn))


# dnsmasq src/config.h MAXLEASES: its limit without dhcp-lease-max
DNSMASQ_LEASE_MAX = 1000


def dnsmasq_lease_max(net: LibvirtNetwork, servers: DhcpServers) -> tuple[int, str]:
    """The most leases the network's dnsmasq holds, and where that was read: its config file as gathered
    (what the running dnsmasq read), else what libvirt writes from the running definition."""
    seen = servers.boot_file(net.name)
    if seen is not None and seen.conf is not None:
        got = parse_dnsmasq_conf(seen.conf).lease_max
        return got or DNSMASQ_LEASE_MAX, f"/var/lib/libvirt/dnsmasq/{net.name}.conf"
    got = network_dnsmasq_conf(net.live).lease_max
    return got or DNSMASQ_LEASE_MAX, "libvirt's config for the running definition"


def firmware_client(guest: Guest) -> str:
    """The client that asks first when the guest network-boots: a UEFI guest's own PXE (OVMF), else the
    NIC's iPXE ROM under SeaBIOS (libvirt's default firmware)."""
    return "uefi-pxe" if guest.uefi else "bios-ipxe"


# names iPXE's own builds go by (undionly.kpxe, ipxe.pxe, ipxe.efi, snponly.efi, ...): a client that boots
# one of them is iPXE next, and asks for a file again
_IPXE_BUILD = re.compile(r"(^|/)(undionly|ipxe|snponly|snp)[^/]*\.(kpxe|kkpxe|kkkpxe|pxe|efi|lkrn)$", re.I)


@dataclass(frozen=True)
class BootVerdict:
    """What a network does for one client: the files it is told in turn and, if it cannot boot, why."""

    steps: tuple[BootOffer, ...]
    problem: Optional[str] = None  # no-file | url-tftp-only | loop | no-tftp | missing-file | server-no-tftp
    tftp_root: Optional[str] = None
    note: str = ""  # what was not judged (a URL iPXE fetches, another TFTP server's files)

    @property
    def last(self) -> BootOffer:
        return self.steps[-1]


def network_boot_for(net: LibvirtNetwork, servers: DhcpServers, client_kind: str, mac: Optional[str]) -> BootVerdict:
    """Can a client of `client_kind` (dnsmasq_boot.CLIENTS) with this MAC boot from the network: the file
    its dnsmasq hands it, followed through an iPXE chainload, and whether that file can be fetched."""
    defn = net.live
    conf = network_dnsmasq_conf(defn)
    bridge = defn.bridge_name or ""
    known = mac is not None and any(mac.lower() in h.lower() for h in conf.hosts)
    client = CLIENTS[client_kind]
    steps: list[BootOffer] = []
    while True:
        offer = boot_offer(conf, client, bridge, mac, known)
        if any(o.client == offer.client and o.file == offer.file for o in steps):
            return BootVerdict((*steps, offer), problem="loop")
        steps.append(offer)
        verdict = _fetchable(net, conf, servers, tuple(steps))
        if verdict.problem or not offer.file or not _IPXE_BUILD.search(offer.file):
            return verdict
        client = CLIENTS["efi-ipxe" if client.arch >= 6 else "bios-ipxe"]


def _fetchable(net: LibvirtNetwork, conf: DnsmasqConf, servers: DhcpServers, steps: tuple) -> BootVerdict:
    offer = steps[-1]
    if not offer.file:
        return BootVerdict(steps, problem="no-file")
    if "://" in offer.file:
        if not offer.client.ipxe:
            return BootVerdict(steps, problem="url-tftp-only")
        return BootVerdict(steps, note=f"{offer.file} is a URL iPXE fetches itself: not fetched here")
    own = {ip.address for ip in net.live.ips if ip.address}
    server = offer.server
    if server is not None and server not in own:
        return _elsewhere(steps, servers, server)
    if offer.file.startswith("/"):
        return BootVerdict(steps, note=f"{offer.file} is an absolute name, looked up outside the TFTP root: not judged")
    if not conf.enable_tftp:
        return _other_tftp(net, servers, steps)
    return _in_root(net, conf, servers, steps)


def _elsewhere(steps: tuple, servers: DhcpServers, server: str) -> BootVerdict:
    """A TFTP server the network names: on this host, judged by its sockets; elsewhere, unknown."""
    file = steps[-1].file
    try:
        addr = str(ipaddress.ip_address(server))
    except ValueError:
        raise Unreadable(
            f"the network names TFTP server {server} (a name dnsmasq looks up in /etc/hosts) for {file}: "
            "whether it serves the file cannot be seen from this host"
        ) from None
    if servers.ipv4_addresses is None:
        raise Unreadable(
            f"the network names TFTP server {addr} for {file}, and this host's own addresses were not gathered "
            "(facts of an older version, or `ip` is missing): whether it is this host is unknown"
        )
    ifaces = {i for i, a in servers.ipv4_addresses if a == addr}
    if not ifaces:
        raise Unreadable(
            f"the network names TFTP server {addr} for {file}, another machine: the suite cannot see whether it "
            f"serves the file; check it there (e.g. tftp {addr} -c get {file})"
        )
    if servers.sockets is None:
        raise Unreadable(f"whether a TFTP server listens on {addr} is unknown: {servers.error}")
    listening = [
        s for s in servers.on_port(69) if (s.address == addr or s.wildcard) and (s.device is None or s.device in ifaces)
    ]
    if listening:
        return BootVerdict(steps, note=f"TFTP server {addr} is this host's; which files it has is its own business")
    return BootVerdict(steps, problem="server-no-tftp", tftp_root=addr)


def _other_tftp(net: LibvirtNetwork, servers: DhcpServers, steps: tuple) -> BootVerdict:
    bridge = net.bridge_name or ""
    if servers.sockets is None:
        raise Unreadable(
            f"network {net.name} serves no TFTP itself, and whether another TFTP server listens on the host "
            f"is unknown: {servers.error}"
        )
    if sockets_serving(servers, bridge, port=69):
        return BootVerdict(steps, note=f"another TFTP server answers on {bridge}; which files it has is its own")
    return BootVerdict(steps, problem="no-tftp")


def _in_root(net: LibvirtNetwork, conf: DnsmasqConf, servers: DhcpServers, steps: tuple) -> BootVerdict:
    """dnsmasq's own TFTP (enable-tftp): the file must be in the root it serves on the bridge (tftp-root=DIR
    for all, tftp-root=DIR,IFACE for one interface: src/tftp.c)."""
    bridge = net.bridge_name or ""
    file = steps[-1].file or ""
    roots = [r.split(",", 1) for r in conf.tftp_roots]
    root = next((r[0] for r in roots if len(r) > 1 and r[1] == bridge), None)
    root = root or next((r[0] for r in reversed(roots) if len(r) == 1), None)
    if root is None:
        raise Unreadable(
            f"network {net.name}'s dnsmasq serves TFTP (enable-tftp) with no tftp-root for {bridge}: where it "
            f"looks for {file} is not judged here"
        )
    if not servers.gathered:
        raise Unreadable(f"whether {file} is in the TFTP root {root} is unknown: {servers.error}")
    conf_path = f"/var/lib/libvirt/dnsmasq/{net.name}.conf"
    if conf_path in servers.unreadable:
        raise Unreadable(
            f"{conf_path} could not be read, so whether {file} is in {root} is unknown: run as root (--sudo)"
        )
    seen = servers.boot_file(net.name)
    there = seen.in_root(root, file) if seen is not None else None
    if there is None and seen is not None and seen.conf is None and seen.file == file and seen.exists is not None:
        there = seen.exists  # facts of an older collector, which looked for the first dhcp-boot's file only
    if there is None:
        raise Unreadable(
            f"whether {file} is in the TFTP root {root} is unknown: {conf_path} "
            + (
                "was not gathered"
                if seen is None
                else "does not name it (it lags the definition until the network starts again)"
            )
        )
    if there:
        return BootVerdict(steps, tftp_root=root)
    return BootVerdict(steps, problem="missing-file", tftp_root=root)
