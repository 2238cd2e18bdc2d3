"""What the probe (`--probe`, collect/probe.py) measured on a host: per bridge, when its new port
forwarded, when DHCP OFFERs came and from whom, the kernel's checksum status of each, and the boot
file's first TFTP block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# iPXE (src/config/dhcp.h DHCP_DISC_START_TIMEOUT_SEC 1, DHCP_DISC_END_TIMEOUT_SEC 10; src/net/retry.c
# timer_expired): DISCOVERs at 0, 1, 3 and 7 s, given up at 15 s, the PXE client of QEMU's NICs
IPXE_GIVES_UP_S = 15.0
IPXE_DISCOVERS = 4
IPXE_LAST_DISCOVER_S = 7.0


@dataclass(frozen=True)
class ProbeOffer:
    at_s: float  # seconds from the port's link-up
    discover: int  # which DISCOVER it answers (0: the first)
    src_mac: str
    src_ip: Optional[str]
    server_id: Optional[str]  # option 54
    yiaddr: Optional[str]
    siaddr: Optional[str]
    sname: str
    file: str
    tftp_server_option: str  # option 66
    bootfile_option: str  # option 67
    tp_status: int  # tpacket_auxdata.tp_status as the probe's AF_PACKET socket got it
    csum_notready: bool  # TP_STATUS_CSUMNOTREADY: the checksum was left to hardware that never filled it
    udp_checksum: int  # the UDP checksum field as received
    checksum_verifies: Optional[bool]  # None: UDP checksum 0 (none given)

    @property
    def server(self) -> str:
        return f"{self.server_id or self.src_ip or '?'} ({self.src_mac})"

    @property
    def boot_file(self) -> str:
        return self.bootfile_option or self.file

    @property
    def checksum_filled(self) -> bool:
        """What a guest's DHCP client sees: a checksum that verifies, or none at all (0 is allowed for UDP over
        IPv4); a packet the kernel left CSUMNOTREADY reaches a vhost-net guest with its partial sum."""
        return not self.csum_notready and self.checksum_verifies is not False

    @property
    def in_ipxe_time(self) -> bool:
        return self.discover < IPXE_DISCOVERS and self.at_s <= IPXE_GIVES_UP_S


@dataclass(frozen=True)
class ProbeTftp:
    outcome: str  # data | error | timeout | garbled | not-fetched
    file: str
    server: Optional[str]
    detail: str
    block_bytes: Optional[int]


@dataclass(frozen=True)
class BridgeProbe:
    bridge: str
    error: Optional[str]  # why the probe could not run on this bridge
    stp_state: Optional[int] = None
    forward_delay_s: Optional[float] = None
    window_s: Optional[float] = None  # how long it waited for an OFFER
    forwarding_after_s: Optional[float] = None  # None: the port never forwarded within the window
    discovers_at_s: tuple[float, ...] = ()
    offers: tuple[ProbeOffer, ...] = ()
    tftp: Optional[ProbeTftp] = None
    cleanup_error: Optional[str] = None

    @property
    def first_offer(self) -> Optional[ProbeOffer]:
        return self.offers[0] if self.offers else None

    @property
    def servers(self) -> tuple[str, ...]:
        seen: list[str] = []
        for o in self.offers:
            if o.server not in seen:
                seen.append(o.server)
        return tuple(seen)


@dataclass(frozen=True)
class ProbeRun:
    error: Optional[str]  # why the probe could not run on the host at all
    uid: Optional[int] = None
    python: Optional[str] = None
    targets: tuple[str, ...] = ()  # the bridges it was asked to probe
    bridges: tuple[BridgeProbe, ...] = ()
    stopped: Optional[str] = None  # interrupted (signal), so the bridges after the last are unprobed
    left_behind: Optional[tuple[str, ...]] = None  # namespaces or links of the probe still there; None: unknown

    def of(self, bridge: str) -> Optional[BridgeProbe]:
        for b in self.bridges:
            if b.bridge == bridge:
                return b
        return None
