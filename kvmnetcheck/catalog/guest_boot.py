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
    "libvirt docs/formatdomain.rst: <os><boot dev='network|hd|cdrom|fd'/> and per-device <boot order='N'/>, "
    "which excludes <os><boot>; libvirt hands both to QEMU as bootindex (domain_conf.h effectiveBootIndex; seen "
    "here with libvirt 9.0: <boot dev='network'/> gives bootindex=1 to the first <interface> only, "
    "<boot dev='hd'/> the next index to the first disk) with -boot strict=on"
)
SEABIOS_BOOT = (
    "QEMU softmmu/bootdevice.c get_boot_devices_list (the bootorder fw_cfg file, ended by HALT with strict=on) "
    "and SeaBIOS src/boot.c (bcv_prepboot, do_boot, handle_18): SeaBIOS tries the listed devices in order, "
    "a NIC through its option ROM's BEV entry; when iPXE finds nothing it returns, INT 18h tries the next, "
    "and at HALT it prints 'No bootable device.'; a disk boots if its first sector is a boot sector"
)
QEMU_ROMFILE = (
    "QEMU hw/pci/pci.c pci_add_option_rom: a NIC's romfile (virtio-net-pci efi-virtio.rom, e1000 "
    "efi-e1000.rom, ...) is looked up in the firmware path (`qemu-system-x86_64 -L help`); missing, the "
    "device fails: 'failed to find romfile', and the guest does not start; with rombar=0 (<rom bar='off'/>) "
    "it calls rom_add_option instead, which passes the ROM through fw_cfg and only warns when the file is "
    "missing ('Could not open option rom', hw/core/loader.c rom_add_file): the guest starts (the same from "
    "QEMU 0.12 to 9.x, where rombar became on/off/auto)"
)
SEEN_ROMBAR_OFF = (
    "seen here: libvirt 9.0 with QEMU 7.2 starts a guest whose e1000 NIC has <rom bar='off'/> while "
    "efi-e1000.rom is missing, and refuses the same guest without bar='off' ('failed to find romfile')"
)
LIBVIRT_ROM = (
    "libvirt docs/formatdomain.rst <rom bar='on|off' file=... enabled='yes|no'/> (enabled since 4.3): "
    "QEMU's rombar=0 and romfile=''"
)
SEEN_SEABIOS = (
    "seen here: SeaBIOS 1.16.2 with QEMU 7.2 (Debian 12) prints 'No bootable device.' for a virtio NIC "
    "with <rom bar='off'/> or <rom enabled='no'/>, and runs iPXE from the same NIC without them"
)
DNSMASQ_BOOT = (
    "dnsmasq 2.90 src/option.c (dhcp-boot=[tag:T,]FILE[,SNAME[,SERVER]], each new line put first; dhcp-match, "
    "dhcp-userclass, dhcp-vendorclass, pxe-service, dhcp-option=67 with their tags) and src/rfc2131.c (tags "
    "from dhcp-match and user classes, find_boot: matching tagged lines over untagged, the last written first; "
    "pxe_uefi_workaround; option 67 when no dhcp-boot applies); dnsmasq(8) on tags"
)
BOOT_CLIENTS = (
    "iPXE src/net/udp/dhcp.c dhcp_request_options_data: QEMU's iPXE ROM sends user class 'iPXE', option 175 "
    "and client architecture 0 (so tag:ipxe lines apply to it); edk2 NetworkPkg/UefiPxeBcDxe (OVMF) sends "
    "architecture 7 and no 175, and fetches its file by TFTP only; a client that boots one of iPXE's own builds "
    "(undionly.kpxe, ipxe.efi, snponly.efi) is iPXE next and asks again; told the same file, it loads itself "
    "without end (ipxe.org cfg/user-class and appnote/userclass: 'avoid an infinite loop when chainloading')"
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
        fails_when=(
            "its network gives it an address but no boot file it can fetch, and nothing else on the guest's boot "
            "path can boot"
        ),
        severity="high",
        per="guest NIC that network-boots from a libvirt network's DHCP",
        requirement=(
            "A guest that network-boots from a libvirt network's DHCP is told a boot file that the "
            "network can serve, or has something else to boot."
        ),
        rationale=(
            "libvirt's dnsmasq answers a PXE client's DHCP with an address; without a boot file for that client "
            "(its dhcp-boot lines may be tagged for other clients), or with one no TFTP server has, the firmware "
            "gives up after getting its address, and the guest, with nothing after the NIC in its boot order, "
            "boots nothing."
        ),
        sources=(
            LIBVIRT_BOOTP,
            LIBVIRT_BOOT_ORDER,
            SEABIOS_BOOT,
            "dnsmasq(8) --dhcp-boot, --enable-tftp, --tftp-root: without dhcp-boot the reply carries no "
            "file name; without enable-tftp nothing on the host serves TFTP",
            DNSMASQ_BOOT,
            BOOT_CLIENTS,
            "a TFTP server the network names (<bootp server=...>, dhcp-boot's third field): on this host it is "
            "judged by its UDP port 69 sockets (`ss`) and the host's addresses (`ip -o addr show`); on another "
            "machine it cannot be seen, and the result says so",
        ),
        skipped_when=(
            "the NIC does not network-boot",
            "its DHCP does not come from a libvirt network of this host (host bridges, macvtap)",
            "the network is not running (libvirt-network-inactive says why)",
            "the guest boots from a device before it on its boot path, or has one after it that can boot (a NIC "
            "whose network hands out a boot file, a disk or cdrom with a medium, assumed bootable)",
        ),
        verify=(
            'virsh --readonly dumpxml GUEST | grep -E "<boot|<interface|<source network"',
            "virsh --readonly net-dumpxml NETWORK | grep -E '<tftp|<bootp'",
            "grep -E '^(tftp-root|dhcp-boot|dhcp-match|dhcp-userclass|pxe-service|dhcp-option)' "
            "/var/lib/libvirt/dnsmasq/NETWORK.conf",
        ),
        fixes={
            "no-file": Fix(
                "# network {network} gives {guest} ({client}) an address but no boot file for it\n"
                "# (a dhcp-boot=tag:... line that matches other clients only does not count)\n" + _BOOTP_TEXT
            ),
            "url-tftp-only": Fix("""\
# network {network} tells {guest} ({client}) to boot {file}, a URL; its firmware fetches by TFTP only.
# Hand it iPXE first and the URL only to iPXE (the chainload recipe of dnsmasq(8)), e.g. in virsh net-edit {network}:
#   <dnsmasq:options>
#     <dnsmasq:option value='dhcp-match=set:ipxe,175'/>
#     <dnsmasq:option value='dhcp-boot=tag:!ipxe,ipxe.efi'/>   (ipxe.efi in the network's <tftp root>)
#     <dnsmasq:option value='dhcp-boot=tag:ipxe,{file:raw}'/>
#   </dnsmasq:options>
# then, at a quiet time: virsh net-destroy {network} && virsh net-start {network}"""),
            "loop": Fix("""\
# network {network} tells iPXE to boot {file}, iPXE itself, again after it has loaded it: it never ends.
# Tell iPXE (which sends DHCP option 175) something else, in virsh net-edit {network}:
#   <dnsmasq:option value='dhcp-match=set:ipxe,175'/>
#   <dnsmasq:option value='dhcp-boot=tag:!ipxe,{file:raw}'/>
#   <dnsmasq:option value='dhcp-boot=tag:ipxe,SCRIPT-OR-URL'/>
# then, at a quiet time: virsh net-destroy {network} && virsh net-start {network}"""),
            "server-no-tftp": Fix("""\
# network {network} sends {guest} to TFTP server {server}, an address of this host, where no TFTP server
# listens: start one there that has {file} (e.g. tftpd-hpa with TFTP_ADDRESS={server:raw}:69), or point
# <bootp server=...> at the machine that serves it
ss -u -a -n -p 'sport = :69'"""),
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
        fails_when=(
            "its boot ROM is switched off (<rom enabled='no'/> or <rom bar='off'/>) on a BIOS guest, and nothing "
            "else on the guest's boot path can boot"
        ),
        severity="high",
        per="guest NIC that network-boots",
        requirement="A NIC a BIOS guest network-boots from keeps its boot ROM.",
        rationale=(
            "SeaBIOS has no network driver of its own: it network-boots only through the NIC's option ROM "
            "(iPXE). With the ROM off, the guest finds no boot device on that NIC."
        ),
        sources=(LIBVIRT_ROM, QEMU_ROMFILE, LIBVIRT_BOOT_ORDER, SEABIOS_BOOT, SEEN_SEABIOS, OVMF_NET),
        skipped_when=(
            "the NIC does not network-boot, or is a host device (its own card's ROM)",
            "the guest boots UEFI",
            "the guest boots from a device before it on its boot path, or has one after it that can boot",
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
            SEEN_ROMBAR_OFF,
            "Debian ipxe-qemu (/usr/lib/ipxe/qemu/efi-*.rom), RHEL ipxe-roms-qemu (/usr/share/ipxe/*.rom)",
        ),
        skipped_when=(
            "the NIC has <rom enabled='no'/> or a ROM file of its own, or is not an emulated PCI NIC",
            "the NIC has <rom bar='off'/>: QEMU starts the guest without the file",
        ),
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
