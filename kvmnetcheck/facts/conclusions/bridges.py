"""Conclusions about a bridge: who defines it, whether STP on it guards a loop, which guests it bridges."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..model import PORT_BLOCKING, STP_OFF, BridgeConfig, HostFacts, LibvirtNetwork, Unreadable
from .libvirt import nic_attachment


@dataclass(frozen=True)
class BridgeOwner:
    kind: str  # libvirt | config | unmanaged
    network: Optional[LibvirtNetwork] = None
    config: Optional[BridgeConfig] = None


def bridge_owner(h: HostFacts, bridge: str) -> BridgeOwner:
    net = h.libvirt.network_of_bridge(bridge)
    if net is not None:
        return BridgeOwner("libvirt", network=net)
    configs = h.bridge_configs_for(bridge)
    if configs:
        return BridgeOwner("config", config=configs[0])
    return BridgeOwner("unmanaged")


_GUEST_TAP = re.compile(r"(vnet|macvtap|tap)\d+|.+-nic")  # libvirt's taps, and its old dummy <bridge>-nic port


def stp_guards_a_loop(h: HostFacts, bridge: str) -> Optional[str]:
    """Why turning STP off on this bridge could open a loop, or None.

    A port in blocking state means STP is cutting a loop now; two or more ports that are not
    guest taps lead off the host, so a loop through them is possible."""
    b = h.bridge(bridge)
    if b is None or b.stp_state == STP_OFF:
        return None
    if b.ports is None:
        return f"the ports of {bridge} could not be read ({b.ports_error}): a loop through them cannot be ruled out"
    blocking = [p.name for p in b.ports if p.state == PORT_BLOCKING]
    if blocking:
        return f"port {', '.join(blocking)} is blocking: STP is cutting a loop through {bridge} now"
    taps = {n.target_dev for g in h.libvirt.guests for n in g.nics if n.target_dev}
    uplinks = [p.name for p in b.ports if p.name not in taps and not _GUEST_TAP.fullmatch(p.name)]
    if len(uplinks) >= 2:
        return (
            f"{bridge} has {len(uplinks)} ports that are not guest taps ({', '.join(uplinks[:5])}): a loop "
            "through them is possible, and STP is what breaks it"
        )
    return None


def guests_bridged_by(h: HostFacts, bridge: str) -> list[str]:
    """The guests whose NICs plug into `bridge`, where it is not a bridge a libvirt network makes for itself
    (whose guests get DHCP from the host, not across the bridge)."""
    out, unknown = [], []
    for g in h.libvirt.guests:
        for nic in g.nics:
            try:
                at = nic_attachment(h, nic)
            except Unreadable as e:
                unknown.append(f"guest {g.name}, NIC {nic.label}: {e}")
                continue
            if at.bridge != bridge or at.ovs:
                continue
            if at.network is not None and at.network.live.creates_bridge:
                continue
            out.append(g.name)
            break
    if not out and unknown and h.libvirt.network_of_bridge(bridge) is None:
        raise Unreadable(f"whether a guest uses {bridge} is unknown: " + "; ".join(unknown[:3]))
    return out
