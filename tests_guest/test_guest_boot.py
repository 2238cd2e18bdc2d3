"""What a guest network-boots: a boot file its network can serve, and a NIC boot ROM to fetch it with."""

import posixpath
import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.conclusions.boot import after_network_boot, network_boot, pxe_boot_reason
from kvmnetcheck.facts.conclusions.libvirt import nic_attachment
from kvmnetcheck.facts.conclusions.servers import sockets_serving
from kvmnetcheck.facts.model import Unreadable
from kvmnetcheck.facts.parsers.qemu_firmware import DEFAULT_MODEL, DEFAULT_ROMS

OLD_MACHINE = re.compile(r"^pc-(?:i440fx-)?[01]\.\d+$|^pc-0\.")


def _network_boots(guest, nic) -> str:
    reason = pxe_boot_reason(guest, nic)
    if reason is None:
        pytest.skip("the NIC does not network-boot")
    return reason


@check("guest-pxe-boot-file")
def test_guest_pxe_boot_file_is_served(host_facts, guest, nic):
    """A guest that network-boots from a libvirt network's DHCP is told a boot file that the network can serve, or has something else to boot."""
    reason = _network_boots(guest, nic)
    at = nic_attachment(host_facts, nic)
    net = at.network
    if nic.type != "network" or net is None:
        pytest.skip(
            f"a type='{nic.type}' NIC gets DHCP from outside this host's libvirt networks: its boot file "
            "is not known here"
        )
    live = net.live
    if not live.creates_bridge or not live.serves_dhcp4:
        pytest.skip(f"network {net.name} runs no DHCPv4 server of libvirt's (forward mode {live.forward_mode})")
    if not net.active:
        pytest.skip(
            f"network {net.name} is not running: it gives the guest no address and no boot file at all "
            "(see libvirt-network-inactive)"
        )
    after = after_network_boot(guest, nic)
    if after is not None:
        pytest.skip(f"when network boot from this NIC finds nothing, the guest boots {after}")
    boot = network_boot(live)
    servers = host_facts.dhcp_servers
    base = {"guest": guest.name, "nic": nic.label, "network boot": reason, "network": net.name}
    if boot is None:
        raise Finding(
            f"guest {guest.name} network-boots from NIC {nic.label} ({reason}) on network {net.name}, which gives it "
            "an address but no boot file: the firmware stops there, and nothing else is in its boot order",
            observed={**base, "<bootp file>": "none", "<tftp root>": _tftp_roots(live) or "none"},
            limit="a boot file (<bootp file=...>) on the network, or a boot device after the NIC",
            remediation=remedy("no-file", network=net.name, guest=guest.name, bridge=net.bridge_name or "BRIDGE"),
        )
    if not boot.needs_tftp_here:
        return  # a URL iPXE fetches itself, another TFTP server, or a PXE menu: not judged here
    roots = _tftp_roots(live)
    bridge = net.bridge_name or ""
    if not roots:
        if servers.sockets is None:
            raise Unreadable(
                f"network {net.name} has no <tftp>, and whether another TFTP server listens on the host "
                f"is unknown: {servers.error}"
            )
        others = sockets_serving(servers, bridge, port=69)
        if others:
            return  # another TFTP server answers on the bridge (which files it has is its own business)
        raise Finding(
            f"guest {guest.name} network-boots from NIC {nic.label} ({reason}) on network {net.name}, which names boot "
            f"file {boot.file} but has no <tftp root>, and no TFTP server listens on {bridge}: the file cannot be "
            "fetched",
            observed={
                **base,
                "boot file": f"{boot.file} ({boot.via})",
                "<tftp root>": "none",
                "UDP port 69 on the bridge": "nothing",
            },
            limit="a TFTP server for the boot file",
            remediation=remedy(
                "no-tftp", network=net.name, guest=guest.name, file=boot.file, bridge=bridge or "BRIDGE"
            ),
        )
    if boot.file.startswith("/"):
        return  # an absolute name: dnsmasq looks it up outside the root, not judged
    if not servers.gathered:
        raise Unreadable(f"whether {boot.file} is in the TFTP root is unknown: {servers.error}")
    conf = f"/var/lib/libvirt/dnsmasq/{net.name}.conf"
    if conf in servers.unreadable:
        raise Unreadable(
            f"{conf} could not be read, so whether {boot.file} is in the TFTP root is unknown: run as root (--sudo)"
        )
    seen = servers.boot_file(net.name)
    if seen is None or seen.exists is None:
        raise Unreadable(
            f"whether {boot.file} is in the TFTP root {roots[0]} is unknown: {conf} names no such "
            "boot file (the network's dnsmasq config lags its definition until it starts again)"
        )
    if seen.exists:
        return
    root = seen.tftp_root or roots[0]
    raise Finding(
        f"guest {guest.name} network-boots from NIC {nic.label} ({reason}) on network {net.name}, whose boot file "
        f"{seen.file} is not in its TFTP root {root}: the firmware gets an address and no file",
        observed={**base, "boot file": f"{seen.file} ({boot.via})", "TFTP root": root, "file there": "no"},
        limit="the boot file in the TFTP root",
        remediation=remedy(
            "missing-file",
            network=net.name,
            file=seen.file or boot.file,
            root=root,
            path=posixpath.join(root, seen.file or boot.file),
        ),
    )


def _tftp_roots(defn) -> list[str]:
    return [ip.tftp_root for ip in defn.ips if ip.tftp_root]


@check("guest-pxe-boot-rom")
def test_guest_pxe_nic_keeps_its_boot_rom(host_facts, guest, nic):
    """A NIC a BIOS guest network-boots from keeps its boot ROM."""
    reason = _network_boots(guest, nic)
    if nic.type == "hostdev":
        pytest.skip("a host device boots from its own card's ROM")
    if guest.uefi:
        pytest.skip("a UEFI guest: OVMF has network drivers of its own")
    off = "<rom enabled='no'/>" if nic.rom_enabled is False else "<rom bar='off'/>" if nic.rom_bar is False else None
    if off is None:
        return
    raise Finding(
        f"guest {guest.name} network-boots from NIC {nic.label} ({reason}), whose boot ROM is switched off ({off}): "
        "SeaBIOS finds no boot device on it",
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "network boot": reason,
            "rom": off,
            "firmware": "BIOS (SeaBIOS)" if guest.uefi is False else "not set: BIOS (SeaBIOS), libvirt's default",
        },
        limit="the NIC's boot ROM on",
        remediation=remedy("rom-on", guest=guest.name, mac=nic.mac or "", element=off),
    )


@check("guest-nic-rom-file")
def test_guest_nic_rom_is_installed(host_facts, guest, nic):
    """The boot ROM QEMU loads for a guest NIC's model is installed on the host."""
    if nic.type == "hostdev":
        pytest.skip("a host device has its own card's ROM")
    if guest.machine and OLD_MACHINE.match(guest.machine):
        pytest.skip(f"machine type {guest.machine} predates QEMU 2.0, whose NICs load other ROM files (pxe-*.rom)")
    if nic.rom_enabled is False:
        pytest.skip("<rom enabled='no'/>: QEMU loads no ROM for it")
    if nic.rom_file:
        pytest.skip(f"a ROM file of its own ({nic.rom_file})")
    model = nic.model or DEFAULT_MODEL
    rom = DEFAULT_ROMS.get(model)
    if rom is None:
        pytest.skip(f"model {model}: no boot ROM of QEMU's is known for it")
    if host_facts.qemu_firmware is None:
        raise Unreadable("QEMU's firmware directories were not gathered (facts of an older version): gather again")
    emulator = guest.emulator or "/usr/bin/qemu-system-x86_64"
    fw = next((f for f in host_facts.qemu_firmware if f.emulator == emulator), None)
    if fw is None:
        raise Unreadable(
            f"the firmware directories of {emulator} were not gathered (the collector asks "
            + (", ".join(f.emulator for f in host_facts.qemu_firmware) or "no QEMU: none was found")
            + ")"
        )
    if not fw.dirs:
        raise Unreadable(f"`{emulator} -L help` printed no firmware directory")
    if rom in fw.roms:
        return
    raise Finding(
        f"guest {guest.name}: NIC {nic.label} (model {model}) needs boot ROM {rom}, which is in none of "
        f"{emulator}'s firmware directories: QEMU will refuse to start the guest ('failed to find romfile')",
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "model": model,
            "rom": rom,
            "emulator": emulator,
            "firmware directories": ", ".join(fw.dirs),
        },
        limit=f"{rom} installed",
        remediation=remedy(
            "install", emulator=emulator, rom=rom, dirs=" ".join(fw.dirs), guest=guest.name, mac=nic.mac or ""
        ),
    )
