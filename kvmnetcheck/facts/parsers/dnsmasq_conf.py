"""dnsmasq configuration lines on booting and the lease pool, read as dnsmasq reads them (src/option.c).

    dhcp-match=set:ipxe,175
    dhcp-boot=tag:!ipxe,undionly.kpxe
    dhcp-boot=tag:ipxe,http://10.0.0.1/boot.ipxe
    dhcp-boot=pxelinux.0,boothost,192.168.0.3

Fields are split at commas outside double quotes (option.c split, with quoted text kept whole); a line's
leading `tag:X` or `net:X` fields (dhcp_tags) are the tags it needs, `!X` meaning X must not be set. In
dhcp-option and dhcp-match any leading field that is not the option is a tag, with or without `tag:`,
`net:` or `set:` (parse_dhcp_opt). The tag a dhcp-match, dhcp-userclass, dhcp-vendorclass or dhcp-mac sets
may be written with or without `set:` (set_prefix).
"""

from __future__ import annotations

from typing import Iterable, Optional

from ..model import BootOption, DhcpBoot, DnsmasqConf, PxeService, TagIf, TagSetter

# option.c's CSA names for --pxe-service, in their number order
PXE_CSA = (
    "x86PC",
    "PC98",
    "IA64_EFI",
    "Alpha",
    "Arc_x86",
    "Intel_Lean_Client",
    "IA32_EFI",
    "x86-64_EFI",
    "Xscale_EFI",
    "BC_EFI",
    "ARM32_EFI",
    "ARM64_EFI",
)
_SETTERS = {
    "dhcp-userclass",
    "dhcp-vendorclass",
    "dhcp-mac",
    "dhcp-circuitid",
    "dhcp-remoteid",
    "dhcp-subscrid",
    "dhcp-name-match",
}


def split_fields(value: str) -> list[str]:
    """Comma-separated fields, commas inside double quotes kept, the quotes dropped."""
    out, cur, quoted = [], [], False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


def _is_tag(field: str) -> bool:
    return field.startswith(("tag:", "net:"))


def _leading_tags(fields: list[str]) -> tuple[tuple[str, ...], list[str]]:
    tags = []
    while fields and _is_tag(fields[0]):
        tags.append(fields.pop(0)[4:])
    return tuple(tags), fields


def _set_prefix(field: str) -> str:
    return field[4:] if field.startswith("set:") else field


def conf_lines(text: str) -> list[tuple[str, str]]:
    """(option, value) per line of a dnsmasq config file; comments and blank lines dropped."""
    out = []
    for raw in (text or "").splitlines():
        line = _uncomment(raw).strip()
        if not line:
            continue
        key, _, value = line.partition("=")
        out.append((key.strip(), value.strip()))
    return out


def _uncomment(line: str) -> str:
    """option.c read_file: a `#` at the start or after white space, outside quotes, starts a comment."""
    quoted, white = False, True
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and white and not quoted:
            return line[:i]
        white = ch.isspace()
    return line


def parse_dnsmasq_conf(lines: Iterable[tuple[str, str]]) -> DnsmasqConf:
    """The boot and pool settings of (option, value) pairs, in the order dnsmasq reads them."""
    setters, tag_ifs, boots, options, services, roots, unparsed, hosts = [], [], [], [], [], [], [], []
    enable_tftp, lease_max = False, None
    for key, value in lines:
        line = f"{key}={value}" if value else key
        fields = split_fields(value) if value else []
        if key == "dhcp-boot":
            boot = _dhcp_boot(fields, line)
            (boots if boot else unparsed).append(boot or line)
        elif key in ("dhcp-option", "dhcp-option-force"):
            opt = _boot_option(fields, line, key == "dhcp-option-force")
            if opt is not None:
                options.append(opt)
        elif key == "pxe-service":
            svc = _pxe_service(fields, line)
            (services if svc else unparsed).append(svc or line)
        elif key == "dhcp-match":
            setter = _dhcp_match(fields, line)
            (setters if setter else unparsed).append(setter or line)
        elif key in _SETTERS and len(fields) >= 2:
            setters.append(TagSetter(key, _set_prefix(fields[0]), value=",".join(fields[1:]), line=line))
        elif key == "dhcp-host" or key == "dhcp-range":
            if key == "dhcp-host":
                hosts.append(value)
            for f in fields:
                if f.startswith("set:") or (key == "dhcp-host" and f.startswith("net:")):
                    setters.append(TagSetter(key, f[4:], value=value, line=line))
        elif key == "tag-if":
            sets = tuple(f[4:] for f in fields if f.startswith("set:"))
            tags = tuple(f[4:] for f in fields if f.startswith("tag:"))
            if sets:
                tag_ifs.append(TagIf(sets, tags, line))
        elif key == "tftp-root" and value:
            roots.append(value)
        elif key == "enable-tftp":
            enable_tftp = True
        elif key == "dhcp-lease-max":
            lease_max = int(value) if value.isdigit() else lease_max
    return DnsmasqConf(
        setters=tuple(setters),
        tag_ifs=tuple(tag_ifs),
        boots=tuple(boots),
        boot_options=tuple(options),
        pxe_services=tuple(services),
        tftp_roots=tuple(roots),
        enable_tftp=enable_tftp,
        lease_max=lease_max,
        unparsed=tuple(unparsed),
        hosts=tuple(hosts),
    )


def _dhcp_boot(fields: list[str], line: str) -> Optional[DhcpBoot]:
    tags, rest = _leading_tags(list(fields))
    if not rest or not rest[0]:
        return None
    return DhcpBoot(
        tags=tags,
        file=rest[0],
        sname=rest[1] or None if len(rest) > 1 else None,
        server=rest[2] or None if len(rest) > 2 else None,
        line=line,
    )


def _option_and_value(fields: list[str], match: bool) -> Optional[tuple[tuple[str, ...], str, list[str]]]:
    """parse_dhcp_opt: (tags, option as written, the fields after it), or None for a vendor-class,
    encapsulated or IPv6 option, or no option at all."""
    tags = []
    for i, f in enumerate(fields):
        if f.isdigit() or f.startswith("option:"):
            return tuple(tags), f, fields[i + 1 :]
        if f.startswith(("option6:", "vendor:", "encap:")) or (f.startswith("vi-encap:") and not match):
            return None
        if f.startswith("vi-encap:"):
            return tuple(tags), f, fields[i + 1 :]
        tags.append(f[4:] if _is_tag(f) else _set_prefix(f))
    return None


def _boot_option(fields: list[str], line: str, force: bool) -> Optional[BootOption]:
    got = _option_and_value(fields, match=False)
    if got is None:
        return None
    tags, opt, rest = got
    if opt not in ("67", "option:bootfile-name"):
        return None
    return BootOption(tags=tags, file=",".join(rest), force=force, line=line)


def _dhcp_match(fields: list[str], line: str) -> Optional[TagSetter]:
    got = _option_and_value(fields, match=True)
    if got is None or len(got[0]) != 1:
        return None
    tags, opt, rest = got
    return TagSetter("dhcp-match", tags[0], option=opt, value=",".join(rest) or None, line=line)


def _pxe_service(fields: list[str], line: str) -> Optional[PxeService]:
    tags, rest = _leading_tags(list(fields))
    if len(rest) < 2:
        return None
    csa_names = [c.lower() for c in PXE_CSA]
    if rest[0].lower() in csa_names:
        csa = csa_names.index(rest[0].lower())
    elif rest[0].isdigit():
        csa = int(rest[0])
    else:
        return None
    basename = rest[2] if len(rest) > 2 and rest[2] and not rest[2].isdigit() else None
    server = rest[3] or None if len(rest) > 3 else None
    return PxeService(tags=tags, csa=csa, menu=rest[1], basename=basename, server=server, line=line)
