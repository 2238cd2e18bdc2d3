"""The host's firewall, decided: which backend libvirt uses, which firewalld zone handles an interface, and
whether firewalld lets a service through to the host."""

from __future__ import annotations

from typing import Optional

from ..model import Firewalld, FirewalldPolicy, FirewalldZone, HostFacts


def firewall_backend(h: HostFacts) -> tuple[Optional[str], str]:
    """libvirt's firewall backend and how we know it: (iptables|nftables|None, evidence)."""
    if h.firewall_backend_config in ("iptables", "nftables"):
        return h.firewall_backend_config, "firewall_backend in /etc/libvirt/network.conf"
    if h.nft.table_present:
        return "nftables", "nft table 'ip libvirt_network' is present"
    if any(r.chain.startswith("LIBVIRT_") for r in h.iptables.rules):
        return "iptables", "iptables has libvirt's LIBVIRT_* chains"
    v = h.libvirt.libvirt_version
    if v is not None and v < (10, 4, 0):
        return "iptables", f"libvirt {'.'.join(map(str, v))} predates the nftables backend (10.4)"
    return None, "no firewall_backend setting, no libvirt rules and no libvirt version seen"


def effective_zone(fw: Firewalld, iface: str) -> Optional[FirewalldZone]:
    """The zone that handles the interface: its own, else the default zone."""
    return fw.zone_of(iface) or (fw.zone(fw.default_zone) if fw.default_zone else None)


def zone_allows(zone: FirewalldZone, service: str, port: str) -> bool:
    return (zone.target or "").upper() == "ACCEPT" or service in zone.services or port in zone.ports


def policy_applies(policy: FirewalldPolicy, zone: str, to: str) -> bool:
    return (zone in policy.ingress or "ANY" in policy.ingress) and (to in policy.egress or "ANY" in policy.egress)


def admits_to_host(fw: Firewalld, zone: FirewalldZone, service: str, port: str) -> tuple[bool, str]:
    """Does traffic for `service` from interfaces in `zone` reach the host?

    Policies towards HOST with a negative priority act before the zone, the others after it
    (firewalld.policy(5)); a CONTINUE policy passes what it does not list on."""
    ordered = sorted(
        (p for p in fw.policies if p.active and policy_applies(p, zone.name, "HOST")), key=lambda p: p.priority
    )
    for phase in ([p for p in ordered if p.priority < 0], None, [p for p in ordered if p.priority >= 0]):
        if phase is None:
            if zone_allows(zone, service, port):
                return True, f"zone {zone.name}"
            if (zone.target or "").upper() not in ("", "DEFAULT", "CONTINUE"):
                return False, f"zone {zone.name} (target {zone.target})"
            continue
        for p in phase:
            if service in p.services or port in p.ports or p.target.upper() == "ACCEPT":
                return True, f"policy {p.name}"
            if p.target.upper() in ("REJECT", "DROP", "%%REJECT%%"):
                return False, f"policy {p.name} (target {p.target})"
    return False, f"zone {zone.name}"
