"""What the probe (`--probe`) asks and for whom its answer matters: the bridges to probe, the guests whose
DHCP client would drop an OFFER whose checksum was left unfilled, and what the suite's own inference says
the probe should get."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..model import IPXE_LAST_DISCOVER_S, Bridge, Guest, GuestNic, HostFacts, Unreadable
from .dhcp_path import dhcp_path
from .libvirt import nic_attachment, qemu_of
from .servers import dhcp_answering

# how near iPXE's last DISCOVER a port may start forwarding before the inference will not call it
_TOO_CLOSE_S = 0.5


def probe_targets(h: HostFacts) -> list[str]:
    """The bridges of active libvirt networks that serve IPv4 DHCP and the host bridges guests use,
    each once, in name order."""
    out = set()
    for n in h.libvirt.networks:
        if n.active and n.live.serves_dhcp4 and n.live.creates_bridge and n.bridge_name:
            out.add(n.bridge_name)
    for g in h.libvirt.guests:
        for nic in g.nics:
            try:
                at = nic_attachment(h, nic)
            except Unreadable:
                continue
            if at.bridge and not at.skip_reason:
                out.add(at.bridge)
    return sorted(out)


def _vhost_virtio(h: HostFacts, guest: Guest, nic: GuestNic) -> bool:
    """The NIC gets its packets from vhost-net as a guest's DHCP client would (test_guest_nics.py's
    guest-nic-dhcp-checksum: virtio, no <driver name='qemu'/>, a KVM domain, vhost-net on the host, and a
    running QEMU that holds it open)."""
    if not nic.is_virtio or (nic.driver_name or "").lower() == "qemu":
        return False
    if (guest.domain_type or "").lower() != "kvm" or not h.vhost_net:
        return False
    proc = qemu_of(h, guest) if guest.active else None
    if proc is not None and proc.vhost_fds is None:
        raise Unreadable(
            f"whether QEMU (pid {proc.pid}) of running guest {guest.name} uses vhost-net could not be read: its "
            "open files are listed only for root; run as root or with --sudo"
        )
    return proc is None or proc.vhost_fds != 0


def checksum_at_risk(h: HostFacts, bridge: str) -> list[str]:
    """The guests (name, NIC) on `bridge` that take their packets from vhost-net."""
    out = []
    for g in h.libvirt.guests:
        for nic in g.nics:
            at = nic_attachment(h, nic)
            if at.bridge == bridge and not at.ovs and _vhost_virtio(h, g, nic):
                out.append(f"{g.name} ({nic.label})")
    return out


@dataclass(frozen=True)
class InferredDhcp:
    """What the suite's other conclusions say a new guest port on a bridge gets: an OFFER within iPXE's
    time (True), none (False), or cannot be told (None: `unknown` says what is missing)."""

    offer: Optional[bool]
    reasons: tuple[str, ...]  # the inference's story, for a report
    unknown: str = ""


def inferred_dhcp(h: HostFacts, bridge: Bridge) -> InferredDhcp:
    """The suite's inference for a guest on `bridge`, from the conclusions its checks use: the port's blocking
    time (sysfs; iPXE's last DISCOVER is at 7 s), who answers DHCP there (servers.py dhcp_answering; a
    libvirt network's bridge is served only by the host), and netfilter's verdict on the path (dhcp_path).
    Any one that says no makes the answer no; a yes needs all three."""
    reasons: list[str] = []
    unknown: list[str] = []
    no: list[str] = []
    block = bridge.new_port_block_s
    if block is None:
        unknown.append("how long a new port is blocked (user-space STP or unread sysfs settings)")
    elif block > IPXE_LAST_DISCOVER_S + _TOO_CLOSE_S:
        no.append(f"a new port is blocked {block:g} s (sysfs), past iPXE's last DISCOVER at {IPXE_LAST_DISCOVER_S:g} s")
    elif block >= IPXE_LAST_DISCOVER_S - _TOO_CLOSE_S:
        unknown.append(f"whether iPXE's DISCOVER at {IPXE_LAST_DISCOVER_S:g} s passes a port blocked {block:g} s")
    else:
        reasons.append(f"a new port is blocked {block:g} s (sysfs), before iPXE's last DISCOVER")
    server = _server(h, bridge.name)
    if server.offer is False:
        no += server.reasons
    elif server.offer is None:
        unknown.append(server.unknown)
    else:
        reasons += server.reasons
    if server.offer is not False:
        try:
            path = dhcp_path(h, bridge)
        except Unreadable as e:
            unknown.append(f"the firewall's verdict on its DHCP: {e}")
        else:
            where = f"to and from {path.local} on this host" if path.local else f"bridged by {bridge.name}"
            if path.verdict.verdict == "drop":
                no.append(f"the host firewall drops DHCP {where} ({path.verdict.by})")
            elif path.verdict.verdict == "accept":
                reasons.append(f"the host firewall accepts DHCP {where}")
            else:
                unknown.append(f"the firewall's verdict on DHCP {where}: {path.verdict.by}")
    if no:
        return InferredDhcp(False, tuple(no + reasons))
    if unknown:
        return InferredDhcp(None, tuple(reasons), "; ".join(unknown))
    return InferredDhcp(True, tuple(reasons))


def _server(h: HostFacts, bridge: str) -> InferredDhcp:
    """Whether a DHCP server answers on `bridge`, as the suite sees it: on this host, or (for a bridge that
    is not a libvirt network's) perhaps beyond a port, which the suite does not see."""
    servers = h.dhcp_servers
    if not servers.gathered or servers.sockets is None:
        return InferredDhcp(None, (), f"which DHCP servers listen on the host: {servers.error}")
    answering = dhcp_answering(servers, bridge)
    if answering.sockets:
        names = "; ".join(s.names() for s in answering.sockets)
        return InferredDhcp(True, (f"{names} answers DHCP on {bridge}",))
    if answering.maybe:
        return InferredDhcp(None, (), f"whether a server on the host answers on {bridge}: {answering.maybe[0][1]}")
    net = h.libvirt.network_of_bridge(bridge)
    if net is not None and net.active and net.live.serves_dhcp4 and net.live.creates_bridge:
        return InferredDhcp(
            False, (f"network {net.name} serves DHCP on {bridge}, but no process on the host answers DHCP there",)
        )
    return InferredDhcp(None, (), f"whether a DHCP server answers beyond the ports of {bridge} (the suite sees none)")
