"""tc filters on a bridge: is there a csum action that fixes UDP checksums?

libvirt's nftables backend has no CHECKSUM target; newer releases attach a tc
filter to the bridge instead. `tc filter show` prints such an action as

        action order 1: csum (iph, udp) action pass
"""

from __future__ import annotations

import re

from ..model import TcFilters

_CSUM = re.compile(r"\bcsum\s*\(([^)]*)\)")


def parse_filters(bridge: str, texts: list[str]) -> TcFilters:
    lines = []
    csum_udp = False
    for text in texts:
        for line in (text or "").splitlines():
            m = _CSUM.search(line)
            if m:
                lines.append(line.strip())
                if re.search(r"\budp\b", m.group(1)):  # not udplite
                    csum_udp = True
    return TcFilters(bridge=bridge, csum_udp=csum_udp, lines=tuple(lines))
