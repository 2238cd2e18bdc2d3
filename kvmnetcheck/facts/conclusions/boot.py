"""A guest's boot path: which NICs its firmware network-boots from and what comes after them, and the boot file
a libvirt network hands out."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

from ..model import Guest, GuestDisk, GuestNic, HostFacts, NetworkDefinition, Unreadable
from .libvirt import nic_attachment


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
    live = net.live
    if not live.creates_bridge or not live.serves_dhcp4:
        return replace(
            e, boots=None, reason=f"network {net.name} runs no DHCPv4 server of libvirt's: the LAN's decides"
        )
    boot = network_boot(live)
    if boot is None:
        return replace(e, boots=False, reason=f"network {net.name} gives an address but no boot file")
    return replace(e, boots=True, reason=f"network {net.name} hands out boot file {boot.file}")


@dataclass(frozen=True)
class NetworkBoot:
    """How a libvirt network tells a PXE client what to boot (docs/formatnetwork.rst <bootp>)."""

    file: str
    server: Optional[str]  # another TFTP server than the host (<bootp server=...>)
    via: str  # where it is set, for the report
    menu: bool = False  # a pxe-service menu: which server each entry uses is not judged

    @property
    def needs_tftp_here(self) -> bool:
        """Fetched by TFTP from this host: no other server named, and not a URL (iPXE fetches those itself)."""
        return self.server is None and not self.menu and "://" not in self.file


_BOOT_OPTION = re.compile(r"^\s*(dhcp-option(?:-force)?)\s*=\s*(.*)$")


def network_boot(defn: NetworkDefinition) -> Optional[NetworkBoot]:
    """The boot file a network's dnsmasq hands out: libvirt writes dhcp-boot from <bootp file> of its
    IPv4 <dhcp> (src/network/bridge_driver.c networkDnsmasqConfContents); <dnsmasq:option> may add
    dhcp-boot, pxe-service or DHCP option 67 itself."""
    for ip in defn.ips:
        if ip.family != "ipv6" and ip.dhcp is not None and ip.dhcp.bootp_file:
            return NetworkBoot(ip.dhcp.bootp_file, ip.dhcp.bootp_server, "<bootp file=...>")
    for value in defn.dnsmasq_options:
        key, _, rest = value.partition("=")
        fields = [f.strip() for f in rest.split(",") if not re.match(r"^\s*(tag|net|set):", f)]
        key = key.strip()
        if key == "dhcp-boot" and fields and fields[0]:
            server = next((f for f in fields[1:] if f), None)
            return NetworkBoot(fields[0], server, f"<dnsmasq:option value='{value}'/>")
        if key == "pxe-service":
            return NetworkBoot(fields[-1] if fields else "", None, f"<dnsmasq:option value='{value}'/>", menu=True)
        if (
            key in ("dhcp-option", "dhcp-option-force")
            and len(fields) >= 2
            and fields[0].lower() in ("67", "option:bootfile-name")
        ):
            return NetworkBoot(fields[1], None, f"<dnsmasq:option value='{value}'/>")
    return None
