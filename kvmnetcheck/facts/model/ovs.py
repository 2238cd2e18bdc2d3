"""Open vSwitch as its database describes it: bridges, ports, interfaces, and the STP/RSTP timers
ovs-vswitchd applies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Open vSwitch STP, as ovs-vswitchd 3.1 reads other_config (vswitchd/bridge.c bridge_configure_stp) and
# clamps the timers (lib/stp.c stp_update_bridge_timers)
OVS_STP_DEFAULT_FORWARD_DELAY_S = 15.0
OVS_STP_DEFAULT_MAX_AGE_S = 20.0
OVS_STP_DEFAULT_HELLO_TIME_MS = 2000  # stp-hello-time is read as ms, though vswitch.xml says seconds
# RSTP: a port turns edge, and forwards, after the migrate time without a BPDU when rstp-port-auto-edge
# is on (its default) and the link is point-to-point (rstp-admin-p2p-mac's default): lib/rstp.h
# RSTP_MIGRATE_TIME, lib/rstp-state-machines.c edge_delay. Seen here: a guest tap forwards 3.1-3.2 s
# after it gets carrier; with rstp-port-auto-edge=false it took 22 s (max age, then hello time).
OVS_RSTP_AUTO_EDGE_S = 3.0

OVS_GUEST_TAP = re.compile(r"^(vnet|tap)\d+$")  # libvirt's and QEMU's default tap names


@dataclass(frozen=True)
class OvsInterface:
    name: str
    type: str  # "" (a system device or a tap), internal, patch, dpdkvhostuserclient, ...
    vm_id: Optional[str]  # external_ids:vm-id: libvirt sets it to the guest's UUID
    attached_mac: Optional[str]  # external_ids:attached-mac: the guest NIC's MAC, set by libvirt
    link_state: Optional[str] = None  # up | down; None before ovs-vswitchd reported it

    @property
    def is_internal(self) -> bool:
        return self.type == "internal"

    @property
    def is_guest(self) -> bool:
        """A guest's NIC: libvirt marked it, or it has a guest tap's name (an internal port never is one)."""
        if self.vm_id or self.attached_mac:
            return True
        return not self.is_internal and bool(OVS_GUEST_TAP.match(self.name))


@dataclass(frozen=True)
class OvsPort:
    name: str
    interfaces: tuple[OvsInterface, ...]  # one, or several for a bond
    stp_state: Optional[str]  # Port.status:stp_state (disabled|listening|learning|forwarding|blocking)
    rstp_state: Optional[str]  # Port.rstp_status:rstp_port_state, lower case (discarding|learning|forwarding|...)
    is_guest: bool  # one of its interfaces is a guest's NIC
    is_internal: bool  # the host's own interface on the bridge: never in the spanning tree


@dataclass(frozen=True)
class OvsBridge:
    """An Open vSwitch bridge as its database describes it (not a Linux bridge: no sysfs, no kernel STP).

    The timers are what this bridge requests; when another bridge is the STP root, the root's apply."""

    name: str
    stp: bool  # stp_enable
    rstp: bool  # rstp_enable (wins when both are on)
    stp_forward_delay_s: float = OVS_STP_DEFAULT_FORWARD_DELAY_S  # other_config:stp-forward-delay, requested
    stp_max_age_s: float = OVS_STP_DEFAULT_MAX_AGE_S  # other_config:stp-max-age, requested
    ports: tuple[OvsPort, ...] = ()
    stp_hello_time_ms: int = OVS_STP_DEFAULT_HELLO_TIME_MS  # other_config:stp-hello-time as ovs-vswitchd reads it
    error: Optional[str] = None  # what could not be read about this bridge (its ports, a garbled setting)
    stp_root: Optional[str] = None  # "self" when it is the STP root, else the root's bridge ID; None: unknown

    @property
    def spanning_tree(self) -> Optional[str]:
        """ "rstp", "stp" or None: the protocol that really runs."""
        return "rstp" if self.rstp else "stp" if self.stp else None

    @property
    def stp_effective_forward_delay_s(self) -> float:
        """The forward delay ovs-vswitchd applies: at least max_age/2 + 1 s, so 11 s with the default
        max age even when 4 s (the smallest value vswitch.xml allows) is asked for."""
        # the requested values pass through uint16_t ms fields (ofproto.h ofproto_stp_settings)
        ht = _clamp(self.stp_hello_time_ms % 65536, 1000, 10000)
        ma = _clamp(int(self.stp_max_age_s * 1000) % 65536, max(2 * (ht + 1000), 6000), 40000)
        return _clamp(int(self.stp_forward_delay_s * 1000) % 65536, ma // 2 + 1000, 30000) / 1000

    @property
    def new_port_block_s(self) -> float:
        """How long a new guest port passes no traffic: with STP, listening + learning (2 x the forward
        delay); with RSTP, until the port turns edge by itself (libvirt sets no rstp-port-* keys, so a
        guest tap is auto-edge, OVS's default); with neither, none."""
        if self.rstp:
            return OVS_RSTP_AUTO_EDGE_S
        if self.stp:
            return 2 * self.stp_effective_forward_delay_s
        return 0.0

    @property
    def guest_ports(self) -> tuple[OvsPort, ...]:
        return tuple(p for p in self.ports if p.is_guest)


def _clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True)
class Ovs:
    """Open vSwitch on a host, from `ovs-vsctl --format=json ... list Bridge|Port|Interface`."""

    installed: bool
    running: Optional[bool]  # ovsdb-server answered; None: could not tell (e.g. its socket refused this user)
    bridges: tuple[OvsBridge, ...] = ()
    error: Optional[str] = None  # why the bridges (or some of their ports) could not be read; never a pass

    def bridge(self, name: Optional[str]) -> Optional[OvsBridge]:
        for b in self.bridges:
            if b.name == name:
                return b
        return None
