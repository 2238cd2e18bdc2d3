"""Catalog: what a guest boots from the network (tests_guest/test_guest_boot.py)."""

from .base import Check, Fix
from .shared import COLD_START

LIBVIRT_BOOTP = (
    "libvirt docs/formatnetwork.rst <tftp root>, <bootp file server> and src/network/bridge_driver.c "
    "networkDnsmasqConfContents (enable-tftp, tftp-root, dhcp-boot=FILE[,,SERVER] from the first IPv4 "
    "<ip> only); <dnsmasq:options> (libvirt >= 5.6) passes dhcp-boot, pxe-service or dhcp-option=67 "
    "as they are"
)
LIBVIRT_BOOT_ORDER = (
    "libvirt docs/formatdomain.rst: <os><boot dev='network'/> (QEMU -boot order=n: SeaBIOS tries "
    "every NIC's boot ROM in turn) and per-device <boot order='N'/>, which excludes <os><boot>"
)
QEMU_ROMFILE = (
    "QEMU hw/pci/pci.c pci_add_option_rom: a NIC's romfile (virtio-net-pci efi-virtio.rom, e1000 "
    "efi-e1000.rom, ...) is looked up in the firmware path (`qemu-system-x86_64 -L help`); missing, the "
    "device fails: 'failed to find romfile', and the guest does not start; rombar=0 passes the ROM "
    "through fw_cfg instead of the NIC's ROM BAR"
)
LIBVIRT_ROM = (
    "libvirt docs/formatdomain.rst <rom bar='on|off' file=... enabled='yes|no'/> (enabled since 4.3): "
    "QEMU's rombar=0 and romfile=''"
)
SEEN_SEABIOS = (
    "seen here: SeaBIOS 1.16.2 with QEMU 7.2 (Debian 12) prints 'No bootable device.' for a virtio NIC "
    "with <rom bar='off'/> or <rom enabled='no'/>, and runs iPXE from the same NIC without them"
)
OVMF_NET = (
    "edk2 OvmfPkg/VirtioNetDxe: UEFI (OVMF) guests have a virtio-net driver of their own, so their network "
    "boot does not rest on the NIC's option ROM alone"
)

_BOOTP_TEXT = """\
virsh net-edit {network}
#   inside the <ip> element: <tftp root='/var/lib/tftpboot'/>
#   inside its <dhcp>:       <bootp file='pxelinux.0'/>   (or file='http://...' for iPXE, or server='TFTP-SERVER')
# dnsmasq reads it when the network starts again, at a quiet time:
#   virsh net-destroy {network} && virsh net-start {network}
# that takes running guests' NICs off the new bridge until libvirtd (or virtqemud) restarts, or until
# each is put back by hand:  ip link set dev vnetN master {bridge}"""

CHECKS = [
    Check(
        id="guest-pxe-boot-file",
        fails_when="its network gives it an address but no boot file it can fetch, and nothing boots after it",
        severity="high",
        per="guest NIC that network-boots from a libvirt network's DHCP",
        requirement=(
            "A guest that network-boots from a libvirt network's DHCP is told a boot file that the "
            "network can serve, or has something else to boot."
        ),
        rationale=(
            "libvirt's dnsmasq answers a PXE client's DHCP with an address; without a boot file (or with one "
            "no TFTP server has) the firmware gives up after getting its address, and the guest, with "
            "nothing after the NIC in its boot order, boots nothing."
        ),
        sources=(
            LIBVIRT_BOOTP,
            LIBVIRT_BOOT_ORDER,
            "dnsmasq(8) --dhcp-boot, --enable-tftp, --tftp-root: without dhcp-boot the reply carries no "
            "file name; without enable-tftp nothing on the host serves TFTP",
        ),
        skipped_when=(
            "the NIC does not network-boot",
            "its DHCP does not come from a libvirt network of this host (host bridges, macvtap)",
            "the network is not running (libvirt-network-inactive says why)",
            "the guest boots something else after it (a later NIC, or a disk)",
        ),
        verify=(
            'virsh --readonly dumpxml GUEST | grep -E "<boot|<interface|<source network"',
            "virsh --readonly net-dumpxml NETWORK | grep -E '<tftp|<bootp'",
            "grep -E '^(tftp-root|dhcp-boot)=' /var/lib/libvirt/dnsmasq/NETWORK.conf",
        ),
        fixes={
            "no-file": Fix("# network {network} gives {guest} an address but names no boot file\n" + _BOOTP_TEXT),
            "no-tftp": Fix(
                """\
# network {network} names boot file {file} for {guest}, to be fetched by TFTP from this host, where nothing
# serves TFTP; give the network a TFTP root that holds the file:
"""
                + _BOOTP_TEXT
            ),
            "missing-file": Fix("""\
# {file} is not in the TFTP root {root} of network {network}; put it there, e.g.
#   Debian: cp /usr/lib/PXELINUX/pxelinux.0 /usr/lib/syslinux/modules/bios/ldlinux.c32 {root:raw}/
#   RHEL:   cp /usr/share/syslinux/pxelinux.0 /usr/share/syslinux/ldlinux.c32 {root:raw}/
ls -l {path}"""),
        },
    ),
    Check(
        id="guest-pxe-boot-rom",
        fails_when="its boot ROM is switched off (<rom enabled='no'/> or <rom bar='off'/>) on a BIOS guest",
        severity="high",
        per="guest NIC that network-boots",
        requirement="A NIC a BIOS guest network-boots from keeps its boot ROM.",
        rationale=(
            "SeaBIOS has no network driver of its own: it network-boots only through the NIC's option ROM "
            "(iPXE). With the ROM off, the guest finds no boot device on that NIC."
        ),
        sources=(LIBVIRT_ROM, QEMU_ROMFILE, LIBVIRT_BOOT_ORDER, SEEN_SEABIOS, OVMF_NET),
        skipped_when=(
            "the NIC does not network-boot, or is a host device (its own card's ROM)",
            "the guest boots UEFI",
        ),
        verify=("virsh --readonly dumpxml GUEST | grep -A8 '<interface' | grep -E '<mac|<rom|<boot'",),
        fixes={
            "rom-on": Fix(
                """\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, delete {element:raw}
"""
                + COLD_START
            ),
        },
    ),
    Check(
        id="guest-nic-rom-file",
        fails_when="the boot ROM QEMU loads for its model is in none of QEMU's firmware directories",
        severity="critical",
        per="guest NIC",
        requirement="The boot ROM QEMU loads for a guest NIC's model is installed on the host.",
        rationale=(
            "QEMU loads every emulated NIC's boot ROM when the guest starts, whether it network-boots or not: "
            "when the file is missing the guest does not start at all ('failed to find romfile')."
        ),
        sources=(
            QEMU_ROMFILE,
            LIBVIRT_ROM,
            "Debian ipxe-qemu (/usr/lib/ipxe/qemu/efi-*.rom), RHEL ipxe-roms-qemu (/usr/share/ipxe/*.rom)",
        ),
        skipped_when=("the NIC has <rom enabled='no'/> or a ROM file of its own, or is not an emulated PCI NIC",),
        verify=(
            "virsh --readonly dumpxml GUEST | grep -E '<emulator|<model'",
            "EMULATOR -L help",
            "ls $(EMULATOR -L help)",
        ),
        fixes={
            "install": Fix("""\
# {emulator} finds no {rom} in {dirs}: install the boot ROMs of its build
#   Debian, Ubuntu: apt-get install ipxe-qemu
#   RHEL, Fedora:   dnf install ipxe-roms-qemu
# or, for a guest that never network-boots: virsh edit {guest}, and in the <interface> with
# <mac address={mac:xml}/> add <rom enabled='no'/> (cold start)"""),
        },
    ),
]
