"""Is there a checksum fix-up for DHCP replies on a bridge, and where libvirt keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import HostFacts, Unreadable
from .firewall import firewall_backend

# the first libvirt release known to put a tc csum filter on its bridges under the nftables
# backend (src/network/network_nftables.c nftablesAddUdpChecksumFixWithTC); 10.4.0 had none, and
# the release in between that added it is not known, so those are judged to have none
NFTABLES_TC_CSUM_LIBVIRT = (11, 3, 0)


@dataclass(frozen=True)
class Fixup:
    present: bool
    evidence: str


def _reaches_postrouting(h: HostFacts, chain: str, seen: frozenset = frozenset()) -> bool:
    if chain == "POSTROUTING":
        return True
    if chain in seen:
        return False
    return any(
        r.table == "mangle" and r.target == chain and _reaches_postrouting(h, r.chain, seen | {chain})
        for r in h.iptables.rules
    )


def checksum_chain(h: HostFacts) -> str:
    """Where libvirt's iptables backend keeps its CHECKSUM rules: LIBVIRT_PRT (5.1.0) when that
    chain is there and POSTROUTING reaches it, else POSTROUTING itself."""
    if _reaches_postrouting(h, "LIBVIRT_PRT"):
        return "LIBVIRT_PRT"
    return "POSTROUTING"


def nftables_adds_tc_csum(h: HostFacts) -> Optional[bool]:
    """Does this host's libvirt add a tc csum filter under its nftables backend? None: version unknown."""
    v = h.libvirt.libvirt_version
    if v is None:
        return None
    return v >= NFTABLES_TC_CSUM_LIBVIRT


def checksum_fixup(h: HostFacts, bridge: str) -> Fixup:
    """Is there something on this bridge that fills in the checksum of DHCP replies?"""
    tc = h.tc_for(bridge)
    if tc is not None and tc.csum_udp:
        return Fixup(True, f"tc csum filter on {bridge}: {tc.lines[0]}")
    rules = [r for r in h.iptables.checksum_rules_for(bridge) if _reaches_postrouting(h, r.chain)]
    if rules:
        return Fixup(True, f"iptables mangle rule: {rules[0].text}")
    backend, _ = firewall_backend(h)
    if backend != "nftables" and h.iptables.installed and h.iptables.rules_error:
        raise Unreadable(f"iptables rules could not be read ({h.iptables.rules_error}); run as root or with --sudo")
    orphan = h.iptables.checksum_rules_for(bridge)
    if orphan:
        return Fixup(
            False, f"a CHECKSUM rule exists in chain {orphan[0].chain}, but nothing jumps to it from POSTROUTING"
        )
    where = (
        "no tc csum filter" if backend == "nftables" else "no CHECKSUM rule in the mangle table and no tc csum filter"
    )
    return Fixup(False, f"{where} for {bridge}")
