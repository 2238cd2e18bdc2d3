"""One host's facts from what was gathered from it: the collector's sections, parsed by the table in
sources.py, and the libvirt view."""

from __future__ import annotations

import dataclasses
from typing import Optional

from ..raw import RawHost, RawLibvirt
from .model import HostFacts
from .parsers.gathered import Gathered
from .parsers.meta import parse_meta
from .parsers.sections import Section, split_sections
from .sources import LEGACY_KINDS, LISTED_BEFORE, SOURCES

# the collector formats these parsers read: 1 to 5 (saved by earlier versions; 5: who runs each QEMU,
# qemu.conf's user=, libvirt's QEMU pid files, a bridge port list that could not be listed) and 6
# (collector.sh now: each dnsmasq's command line and config files, the host's IPv4 addresses, the boot and
# pool lines of libvirt's dnsmasq configs, nft input and output chains, how libvirt's daemons are started);
# what an older format did not gather is unknown (None), never a default
COLLECTOR_FORMATS = ("1", "2", "3", "4", "5", "6")


def build_host_facts(host: str, spec: str, output: str, nonce: str, raw_libvirt: Optional[RawLibvirt]) -> HostFacts:
    by_kind: dict[str, list[Section]] = {}
    for s in split_sections(output, nonce):
        if s.kind in LEGACY_KINDS:
            kind = LEGACY_KINDS[s.kind](s)
            if kind is None:
                continue
            s = dataclasses.replace(s, kind=kind)
        by_kind.setdefault(s.kind, []).append(s)
    meta = by_kind.get("meta")
    if not meta or not any(line in (f"collector={v}" for v in COLLECTOR_FORMATS) for line in meta[0].text.splitlines()):
        return HostFacts(host=host, spec=spec, error="the collector printed nothing recognisable")
    g = Gathered(by_kind, raw_libvirt, meta=parse_meta(meta[0].text), listed_before=LISTED_BEFORE)
    values = {}
    for source in SOURCES:
        values.update(source.parse(g))
    return HostFacts(host=host, spec=spec, **values, parse_errors=tuple(g.problems), unreadable=tuple(g.unreadable))


def facts_from_raw(raw: RawHost) -> HostFacts:
    """A host's facts; a host that could not be read, or whose facts a parser choked on, as an error."""
    if raw.error:
        return HostFacts(host=raw.host, spec=raw.spec, error=raw.error)
    try:
        return build_host_facts(raw.host, raw.spec, raw.output, raw.nonce, raw.libvirt)
    except Exception as e:  # a parser bug must cost one host, not the run
        return HostFacts(
            host=raw.host,
            spec=raw.spec,
            error=f"facts from {raw.spec} could not be parsed: {' '.join(str(e).split())[:500]}",
        )
