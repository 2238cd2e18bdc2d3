"""Where each QEMU binary looks for NIC option ROMs, and which are there.

The collector asks `qemu-system-x86_64 -L help` for the firmware search path (Debian 12:
/usr/share/qemu, /usr/share/seabios, /usr/lib/ipxe/qemu) and lists the *.rom files in it:

    dir=/usr/bin/../lib/ipxe/qemu
    rom=efi-virtio.rom

A NIC model's default ROM is the device's romfile property in QEMU's source (hw/net/*.c,
hw/virtio/virtio-net-pci.c): virtio-net-pci efi-virtio.rom, e1000 efi-e1000.rom, ... (QEMU >= 2.x;
machine types pc-*-1.4 and older use pxe-*.rom names instead, which are not modelled). QEMU that
cannot find a device's ROM refuses to start the guest ("failed to find romfile").
"""

from __future__ import annotations

from typing import Optional

from ..model import QemuFirmware
from .gathered import Gathered
from .keyvalue import parse_key_values

# libvirt's <model type=...> -> the ROM QEMU 7.2 gives that device by default
DEFAULT_ROMS = {
    "virtio": "efi-virtio.rom",
    "virtio-transitional": "efi-virtio.rom",
    "virtio-non-transitional": "efi-virtio.rom",
    "e1000": "efi-e1000.rom",
    "e1000e": "efi-e1000e.rom",
    "rtl8139": "efi-rtl8139.rom",
    "ne2k_pci": "efi-ne2k_pci.rom",
    "pcnet": "efi-pcnet.rom",
    "vmxnet3": "efi-vmxnet3.rom",
    "i82559er": "pxe-eepro100.rom",
    "i82557b": "pxe-eepro100.rom",
    "i82551": "pxe-eepro100.rom",
}
# libvirt's default NIC model for a KVM/QEMU x86 guest without <model> is rtl8139
DEFAULT_MODEL = "rtl8139"


def parse_firmware(emulator: str, text: str) -> QemuFirmware:
    kv = parse_key_values(text or "")
    return QemuFirmware(emulator=emulator, dirs=tuple(kv.get("dir", [])), roms=frozenset(kv.get("rom", [])))


def read_qemu_firmware(g: Gathered) -> Optional[tuple[QemuFirmware, ...]]:
    """Each emulator's `qemu_firmware` section; None for facts of a collector before format 3."""
    if not g.gathered_since(3):
        return None
    return tuple(parse_firmware(s.arg, s.text) for s in g.all("qemu_firmware"))
