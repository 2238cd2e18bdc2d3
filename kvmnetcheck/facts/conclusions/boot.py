"""A guest's boot path: which NICs its firmware network-boots from and what comes after them, and the boot file
a libvirt network hands out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..model import Guest, GuestNic, NetworkDefinition


def pxe_nics(guest: Guest) -> tuple[GuestNic, ...]:
    """The NICs the firmware tries to network-boot from, in the order it tries them: those with a
    <boot order> by that order; with <os><boot dev='network'/>, every NIC in device order
    (libvirt passes -boot order=n, and SeaBIOS tries each NIC's boot ROM in turn)."""
    if guest.per_device_boot:
        return tuple(sorted((n for n in guest.nics if n.boot_order is not None), key=lambda n: n.boot_order))
    if "network" in guest.boot_devs:
        return guest.nics
    return ()


def after_network_boot(guest: Guest, nic: GuestNic) -> Optional[str]:
    """What the guest boots next when network boot from `nic` finds nothing, or None."""
    pxe = pxe_nics(guest)
    if nic not in pxe:
        return None
    later = pxe[pxe.index(nic) + 1 :]
    if later:
        return f"NIC {later[0].label}"
    if guest.per_device_boot:
        if any(o > (nic.boot_order or 0) for o in guest.other_boot_orders):
            return f"the device with boot order {min(o for o in guest.other_boot_orders if o > (nic.boot_order or 0))}"
        return None
    rest = [d for d in guest.boot_devs[guest.boot_devs.index("network") + 1 :] if d in ("hd", "cdrom", "fd")]
    return f"<boot dev='{rest[0]}'/>" if rest and guest.disks else None


def pxe_boot_reason(guest: Guest, nic: GuestNic) -> Optional[str]:
    """Why this NIC network-boots ("boot order 1 on this NIC", "<boot dev='network'/>"), or None."""
    if nic not in pxe_nics(guest):
        return None
    if nic.boot_order is not None:
        return f"boot order {nic.boot_order} on this NIC"
    return "<boot dev='network'/>"


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
