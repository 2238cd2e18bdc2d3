"""What a guest network-boots: a boot file its network can serve, and a NIC boot ROM to fetch it with."""

import posixpath
import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.conclusions.boot import boot_path, firmware_client, network_boot_for, pxe_boot_reason
from kvmnetcheck.facts.conclusions.libvirt import nic_attachment
from kvmnetcheck.facts.model import Unreadable
from kvmnetcheck.facts.parsers.qemu_firmware import DEFAULT_MODEL, DEFAULT_ROMS

OLD_MACHINE = re.compile(r"^pc-(?:i440fx-)?[01]\.\d+$|^pc-0\.")


def _network_boots(guest, nic) -> str:
    reason = pxe_boot_reason(guest, nic)
    if reason is None:
        pytest.skip("the NIC does not network-boot")
    return reason


def _boot_rests_on(host_facts, guest, nic) -> str:
    """The guest's boot path, for the report, when its boot rests on this NIC; else a skip saying why not."""
    path = boot_path(host_facts, guest)
    why_not = path.rests_on(nic)
    if why_not is not None:
        pytest.skip(why_not)
    first = path.unknown_before(nic)
    if first is not None:
        raise Unreadable(
            f"whether the firmware ever gets to this NIC is not known here: {first.device} comes first on the "
            f"guest's boot path ({first.why}), and {first.reason}"
        )
    return path.summary


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
    path = _boot_rests_on(host_facts, guest, nic)
    verdict = network_boot_for(net, host_facts.dhcp_servers, firmware_client(guest), nic.mac)
    if verdict.problem is None:
        return
    last = verdict.last
    file, client = last.file or "", last.client.label
    bridge = net.bridge_name or ""
    told = "; then ".join(f"{o.client.label}: {o.file or 'no file'} ({o.via})" for o in verdict.steps)
    observed = {
        "guest": guest.name,
        "nic": nic.label,
        "network boot": reason,
        "network": net.name,
        "told": told,
        "boots from": path,
    }
    head = f"guest {guest.name} network-boots from NIC {nic.label} ({reason}) on network {net.name}: {client} "
    if verdict.problem == "no-file":
        msg = "gets an address but no boot file: the firmware stops there, and nothing else on its boot path can boot"
        limit, fix = (
            "a boot file for it (<bootp file=...> or a dhcp-boot that matches it), or a boot device after the NIC",
            remedy("no-file", network=net.name, guest=guest.name, bridge=bridge or "BRIDGE", client=client),
        )
    elif verdict.problem == "url-tftp-only":
        msg = f"is told {file}, a URL, and fetches its boot file by TFTP only"
        limit, fix = (
            "a file its firmware can fetch by TFTP",
            remedy("url-tftp-only", network=net.name, guest=guest.name, file=file, client=client),
        )
    elif verdict.problem == "loop":
        msg = f"is told {file} again after chainloading it: iPXE loads itself over and over"
        limit, fix = (
            "iPXE told another file than itself (a tag:!ipxe line)",
            remedy("loop", network=net.name, file=file),
        )
    elif verdict.problem == "no-tftp":
        msg = f"is told {file}, to fetch by TFTP from this host, but the network has no <tftp root> and no TFTP server listens on {bridge}: the file cannot be fetched"
        observed["UDP port 69 on the bridge"] = "nothing"
        limit, fix = (
            "a TFTP server for the boot file",
            remedy("no-tftp", network=net.name, guest=guest.name, file=file, bridge=bridge or "BRIDGE"),
        )
    elif verdict.problem == "server-no-tftp":
        msg = f"is told {file} from TFTP server {verdict.tftp_root}, an address of this host, where no TFTP server listens"
        observed["UDP port 69 on " + (verdict.tftp_root or "")] = "nothing"
        limit, fix = (
            "a TFTP server on the address the network names",
            remedy("server-no-tftp", network=net.name, guest=guest.name, file=file, server=verdict.tftp_root or ""),
        )
    else:
        root = verdict.tftp_root or ""
        msg = f"is told {file}, which is not in its TFTP root {root}: the firmware gets an address and no file"
        observed.update({"TFTP root": root, "file there": "no"})
        limit, fix = (
            "the boot file in the TFTP root",
            remedy("missing-file", network=net.name, file=file, root=root, path=posixpath.join(root, file)),
        )
    raise Finding(f"{head}{msg} (boots from: {path})", observed=observed, limit=limit, remediation=fix)


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
    path = _boot_rests_on(host_facts, guest, nic)
    raise Finding(
        f"guest {guest.name} network-boots from NIC {nic.label} ({reason}), whose boot ROM is switched off ({off}): "
        f"SeaBIOS finds no boot device on it, and nothing else on its boot path can boot (boots from: {path})",
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "network boot": reason,
            "rom": off,
            "firmware": "BIOS (SeaBIOS)" if guest.uefi is False else "not set: BIOS (SeaBIOS), libvirt's default",
            "boots from": path,
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
    if nic.rom_bar is False:
        pytest.skip(
            "<rom bar='off'/>: QEMU hands the ROM to the firmware through fw_cfg and starts the guest even "
            "when the file is missing (it only warns)"
        )
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
