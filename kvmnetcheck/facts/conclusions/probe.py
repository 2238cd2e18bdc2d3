"""What the probe (`--probe`) asks and for whom its answer matters: the bridges to probe, and the guests
whose DHCP client would drop an OFFER whose checksum was left unfilled."""

from __future__ import annotations

from ..model import Guest, GuestNic, HostFacts, Unreadable
from .libvirt import nic_attachment, qemu_of


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
