"""The collector's `libvirt_log` section: the log files (and the journal) searched for libvirtd's warning
about the DHCP checksum rule, those the checking user may not read, the warning's lines, and the last
errors libvirt's daemon logged (`error=`, collector 6 on; libvirt's log format: src/util/virlog.c
virLogFormatString, "TIME: THREAD: error : FUNCTION:LINE : MESSAGE").

    searched=/var/log/libvirt/libvirtd.log
    2013-05-02 10:11:12.123+0000: 1234: warning : Could not add rule to fixup DHCP response checksums on ...
    error=2026-12-07 19:05:22.702+0000: 25: error : virFirewallCmdNftablesApply:747 : internal error: ...
    unreadable=/var/log/messages
    searched=journal
    error=2026-12-07T19:05:22+0000 kvm01 libvirtd[812]: internal error: Failed to apply firewall command ...
"""

from __future__ import annotations

from .gathered import Gathered

_LOG_MARKERS = ("fixup DHCP response checksums", "to support CHECKSUM rule")


def parse_libvirt_log(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(the warning's lines, the logs searched, the logs refused to the checking user)."""
    lines, sources, unreadable = [], [], []
    for line in text.splitlines():
        if line.startswith("error="):
            continue
        if line.startswith("searched="):
            sources.append(line[len("searched=") :])
        elif line.startswith("unreadable="):
            unreadable.append(line[len("unreadable=") :])
        elif any(m in line for m in _LOG_MARKERS):
            lines.append(line.strip()[:500])
    return tuple(lines), tuple(sources), tuple(unreadable)


def read_libvirt_log(g: Gathered) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    log = g.one("libvirt_log")
    return parse_libvirt_log(log.text) if log is not None else ((), (), ())


def parse_libvirt_errors(text: str) -> tuple[str, ...]:
    """The error lines libvirt's daemon logged, oldest first, as the collector found them."""
    return tuple(line[len("error=") :].strip()[:600] for line in text.splitlines() if line.startswith("error="))


def read_libvirt_errors(g: Gathered) -> tuple[str, ...]:
    log = g.one("libvirt_log")
    return parse_libvirt_errors(log.text) if log is not None else ()
