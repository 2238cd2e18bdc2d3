"""Linux bridges: as the kernel runs them now (sysfs), their tc filters and VLANs, and as persistent config
defines them. Times in seconds; the kernel's limits applied in one property each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# sysfs stp_state values
STP_OFF = 0
STP_KERNEL = 1
STP_USER = 2

# the first kernel whose bridge forwards at once on a new port while STP is off: the shortcut in
# br_make_forwarding is absent from 2.6.36 and present in 2.6.39.3 (the exact commit was not
# found; judged from 2.6.39 on, so 2.6.37/38 hosts are held to the older, stricter behaviour)
STP_OFF_SHORTCUT_KERNEL = (2, 6, 39)

# kernel limits on forward_delay while STP is on (net/bridge/br_private_stp.h)
MIN_FORWARD_DELAY_S = 2.0
MAX_FORWARD_DELAY_S = 30.0

PORT_STATES = {0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking"}
PORT_BLOCKING = 4


@dataclass(frozen=True)
class BridgePort:
    name: str
    state: Optional[int]

    @property
    def state_name(self) -> str:
        return PORT_STATES.get(self.state, "unknown") if self.state is not None else "unknown"


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge as the kernel runs it now (/sys/class/net/BR/bridge)."""

    name: str
    stp_state: Optional[int]
    forward_delay_s: Optional[float]
    hello_time_s: Optional[float] = None
    max_age_s: Optional[float] = None
    bridge_id: Optional[str] = None
    root_id: Optional[str] = None
    root_port: Optional[int] = None
    priority: Optional[int] = None
    operstate: Optional[str] = None
    ports: Optional[tuple[BridgePort, ...]] = ()  # None: its port list could not be read (ports_error says why)
    error: Optional[str] = None
    waits_without_stp: bool = False  # a kernel older than the STP-off shortcut (< 2.6.39)
    nf_call_iptables: Optional[bool] = None  # this bridge's own br_netfilter switch (either it or the sysctl)
    vlan_filtering: Optional[bool] = None
    ports_error: Optional[str] = None

    @property
    def kernel_stp(self) -> bool:
        return self.stp_state == STP_KERNEL

    @property
    def new_port_block_s(self) -> Optional[float]:
        """How long a newly added port passes no traffic: listening + learning with kernel STP; with
        STP off, none (net/bridge/br_stp.c br_make_forwarding), except on kernels before 2.6.39,
        where a port of a bridge without STP still waited one forward delay in learning."""
        if self.stp_state == STP_OFF:
            if self.waits_without_stp and self.forward_delay_s is not None:
                return self.forward_delay_s
            return 0.0
        if self.stp_state == STP_KERNEL and self.forward_delay_s is not None:
            return 2 * self.forward_delay_s
        return None

    @property
    def is_stp_root(self) -> Optional[bool]:
        if self.root_port is None or self.bridge_id is None or self.root_id is None:
            return None
        return self.root_port == 0 and _same_bridge_id(self.bridge_id, self.root_id)


def _same_bridge_id(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


@dataclass(frozen=True)
class TcFilters:
    """tc filters of one bridge, reduced to what matters: a csum action for UDP."""

    bridge: str
    csum_udp: bool
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class BridgeConfig:
    """A bridge as a distribution's persistent network config defines it, read as the program that
    will apply it at boot reads it (units converted, that program's defaults filled in)."""

    bridge: str
    path: str
    format: str  # ifcfg | nmconnection | ifupdown | networkd | netplan
    stp: bool
    forward_delay_s: Optional[float]  # None: the key is unset (the program's default applies)
    default_delay_s: float  # what the program applies when the delay is unset
    lines: tuple[str, ...]  # the lines that set STP and the delay, for the report
    problem: Optional[str] = None  # a value the program cannot apply (DELAY=0.0 and the like)
    program: str = ""  # who reads and applies the file ("NetworkManager (ifcfg-rh)", "initscripts (ip link)")
    applies: Optional[bool] = None  # at boot; None: cannot be told from files (judged as applying)
    boot_note: str = ""  # why it applies, or why not
    connection: Optional[str] = None  # how NetworkManager names the profile (its uuid, else its id)
    waits_without_stp: bool = False  # a kernel older than the STP-off shortcut (< 2.6.39)
    unknown: Optional[str] = None  # what could not be read to judge the file (never a pass)

    @property
    def effective_forward_delay_s(self) -> float:
        d = self.default_delay_s if self.forward_delay_s is None else self.forward_delay_s
        if not self.stp:
            return max(d, 0.0)
        return min(max(d, MIN_FORWARD_DELAY_S), MAX_FORWARD_DELAY_S)

    @property
    def new_port_block_s(self) -> float:
        if self.stp:
            return 2 * self.effective_forward_delay_s
        return self.effective_forward_delay_s if self.waits_without_stp else 0.0


@dataclass(frozen=True)
class PortVlans:
    port: str
    vids: tuple[int, ...]
    pvid: Optional[int]
    untagged: tuple[int, ...]
