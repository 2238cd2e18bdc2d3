"""Which boot file a dnsmasq hands a client, as dnsmasq decides it (src/rfc2131.c dhcp_reply, do_options).

The request's tags: the interface it came in on; dhcp-match, dhcp-userclass, dhcp-vendorclass and dhcp-mac
lines that match what the client sends; `known` when a dhcp-host names its MAC; then tag-if lines in order
(dhcp-common.c run_tag_if). A line's tags match when every `X` is set and no `!X` is (match_netid).

The file: the dhcp-boot lines (find_boot), tagged ones first and the last written first (option.c puts
each new line at the head of the list), then untagged; else, for a UEFI client, the one pxe-service entry
for its architecture with a file (pxe_uefi_workaround); else DHCP option 67 (option_filter: tagged over
untagged, the last written winning). A tag that cannot be told here makes the answer unknown.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Optional

from ..model import DnsmasqConf, TagSetter, Unreadable

# dhcp-common.c opttab: the option names a dhcp-match may use for what PXE clients send
OPTION_NUMBERS = {"vendor-class": 60, "user-class": 77, "client-arch": 93, "client-interface-id": 94}


@dataclass(frozen=True)
class BootClient:
    """A network-boot client and what it sends in its DHCP requests."""

    kind: str
    label: str
    arch: int  # option 93, client system architecture (RFC 4578)
    vendor_class: str  # option 60
    user_class: Optional[str]  # option 77
    options: frozenset[int]  # the options it sends
    ipxe: bool  # it is iPXE (fetches URLs itself, asks again after chainloading)
    source: str


_PXE_OPTIONS = frozenset({53, 55, 57, 60, 93, 94, 97})
CLIENTS = {
    c.kind: c
    for c in (
        BootClient(
            "bios-ipxe",
            "iPXE (QEMU's NIC boot ROM under SeaBIOS)",
            0,
            "PXEClient:Arch:00000:UNDI:002001",
            "iPXE",
            _PXE_OPTIONS | {77, 175},
            True,
            "iPXE src/net/udp/dhcp.c dhcp_request_options_data, src/arch/x86/include/ipxe/pcbios/dhcparch.h",
        ),
        BootClient(
            "efi-ipxe",
            "iPXE for x86-64 UEFI",
            7,
            "PXEClient:Arch:00007:UNDI:003010",
            "iPXE",
            _PXE_OPTIONS | {77, 175},
            True,
            "iPXE src/net/udp/dhcp.c, src/arch/x86_64/include/ipxe/efi/dhcparch.h",
        ),
        BootClient(
            "uefi-pxe",
            "UEFI PXE (OVMF)",
            7,
            "PXEClient:Arch:00007:UNDI:003000",
            None,
            _PXE_OPTIONS,
            False,
            "edk2 NetworkPkg/UefiPxeBcDxe (EFI_PXE_CLIENT_SYSTEM_ARCHITECTURE 7 on X64; the file by TFTP only)",
        ),
    )
}


@dataclass(frozen=True)
class BootOffer:
    """What dnsmasq tells one client to boot."""

    client: BootClient
    file: Optional[str]
    server: Optional[str]  # the TFTP server it names (address or /etc/hosts name); None: dnsmasq's own address
    via: str  # the config line it comes from, for the report


def request_tags(conf: DnsmasqConf, client: BootClient, iface: str, mac: Optional[str], known: bool) -> dict:
    """The tags dnsmasq sets on this client's request: name -> True, or None when it cannot be told."""
    tags: dict[str, Optional[bool]] = {iface: True}
    for s in conf.setters:
        hit = _setter_matches(s, client, mac)
        if hit is not False and tags.get(s.tag) is not True:
            tags[s.tag] = hit
    if known:
        tags["known"] = True
    for t in conf.tag_ifs:
        hit = tags_match(t.tags, tags)
        for name in t.sets:
            if hit is not False and tags.get(name) is not True:
                tags[name] = hit
    return tags


def tags_match(needed: tuple[str, ...], tags: dict) -> Optional[bool]:
    """match_netid: every tag set, none of the `!` ones (`#` is an old spelling of `!`); None: unknown."""
    result: Optional[bool] = True
    for t in needed:
        neg = t[:1] in ("!", "#")
        name = t[1:] if neg else t
        have = tags.get(name, False)
        hit = None if have is None else (not have if neg else have)
        if hit is False:
            return False
        if hit is None:
            result = None
    return result


def boot_offer(conf: DnsmasqConf, client: BootClient, iface: str, mac: Optional[str], known: bool) -> BootOffer:
    """The file dnsmasq hands `client` on `iface` (file None: none); Unreadable when a tag decides it and
    cannot be told."""
    tags = request_tags(conf, client, iface, mac, known)
    boot = _pick(conf.boots, tags)
    if boot is not None:
        return BootOffer(client, boot.file, boot.server, boot.line)
    if client.arch >= 6:
        services = [s for s in conf.pxe_services if s.csa == client.arch and s.basename]
        hits = [(s, tags_match(s.tags, tags)) for s in services]
        if any(h is None for _, h in hits):
            raise Unreadable(_undecided(client, [s.line for s, h in hits if h is None], tags))
        chosen = [s for s, h in hits if h]
        if len(chosen) == 1:
            return BootOffer(client, chosen[0].file, chosen[0].server, chosen[0].line)
    menu = [s for s in conf.pxe_services if s.csa == client.arch and tags_match(s.tags, tags) is not False]
    if menu:
        raise Unreadable(
            f"the network offers {client.label} a PXE menu ({menu[0].line}): which entry it boots, and from "
            "which server, is not judged here"
        )
    opt = _pick(conf.boot_options, tags)
    if opt is not None:
        return BootOffer(client, opt.file or None, None, opt.line)
    return BootOffer(client, None, None, "no dhcp-boot, pxe-service or option 67 applies")


def _pick(lines, tags):
    """find_boot / option_filter: a tagged line whose tags all match, the last written first; else the last
    untagged line."""
    for line in reversed(lines):
        if not line.tags:
            continue
        hit = tags_match(line.tags, tags)
        if hit is None:
            raise Unreadable(_undecided(None, [line.line], tags))
        if hit:
            return line
    return next((line for line in reversed(lines) if not line.tags), None)


def _undecided(client: Optional[BootClient], lines: list[str], tags: dict) -> str:
    unknown = sorted(k for k, v in tags.items() if v is None)
    return (
        f"which boot file the network hands {client.label if client else 'the client'} depends on {lines[0]}, "
        f"whose tag(s) {', '.join(unknown) or '?'} cannot be told here (set by a line that matches on what only "
        "the client's own request shows)"
    )


def _setter_matches(s: TagSetter, client: BootClient, mac: Optional[str]) -> Optional[bool]:
    value = s.value
    if s.kind == "dhcp-match":
        opt = s.option or ""
        num = int(opt) if opt.isdigit() else OPTION_NUMBERS.get(opt[7:]) if opt.startswith("option:") else None
        if num is None:
            return None
        if num not in client.options:
            return False
        if value is None:
            return True
        if num == 93:
            return all(v.strip().isdigit() for v in value.split(",")) and client.arch in (
                int(v) for v in value.split(",")
            )
        if num == 60:
            return value in client.vendor_class
        if num == 77:
            return value in (client.user_class or "")
        return None
    if s.kind == "dhcp-userclass":
        return bool(client.user_class) and value in client.user_class
    if s.kind == "dhcp-vendorclass":
        return value in client.vendor_class
    if s.kind == "dhcp-mac":
        return None if mac is None else fnmatch.fnmatch(mac.lower(), (value or "").lower())
    if s.kind == "dhcp-host":
        return mac is not None and mac.lower() in (value or "").lower()
    if s.kind == "dhcp-range":
        return None  # which range a client's address comes from is the server's choice
    return False  # relay agent ids (no relay on a libvirt bridge), client-supplied names (PXE sends none)
