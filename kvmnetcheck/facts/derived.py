"""Conclusions drawn from several facts, shared by more than one check.

Pure functions of HostFacts: no commands, no text parsing, no report text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .model import BridgeConfig, Guest, GuestNic, HostFacts, LibvirtNetwork, Unreadable


# ---------------------------------------------------------------- who defines a bridge

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


# ---------------------------------------------------------------- DHCP checksum fix-up

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


def checksum_fixup(h: HostFacts, bridge: str) -> Fixup:
    """Is there something on this bridge that fills in the checksum of DHCP replies?"""
    tc = h.tc_for(bridge)
    if tc is not None and tc.csum_udp:
        return Fixup(True, f"tc csum filter on {bridge}: {tc.lines[0]}")
    rules = [r for r in h.iptables.checksum_rules_for(bridge) if _reaches_postrouting(h, r.chain)]
    if rules:
        return Fixup(True, f"iptables mangle rule: {rules[0].text}")
    backend, _ = h.firewall_backend
    if backend != "nftables" and h.iptables.installed and h.iptables.rules_error:
        raise Unreadable(f"iptables rules could not be read ({h.iptables.rules_error}); "
                         "run as root or with --sudo")
    orphan = h.iptables.checksum_rules_for(bridge)
    if orphan:
        return Fixup(False, f"a CHECKSUM rule exists in chain {orphan[0].chain}, but nothing jumps to it "
                            "from POSTROUTING")
    where = "no tc csum filter" if backend == "nftables" else "no CHECKSUM rule in the mangle table and no tc csum filter"
    return Fixup(False, f"{where} for {bridge}")


# ---------------------------------------------------------------- where a guest NIC plugs in

@dataclass(frozen=True)
class NicAttachment:
    bridge: Optional[str]
    network: Optional[LibvirtNetwork]
    skip_reason: Optional[str] = None


def nic_attachment(h: HostFacts, nic: GuestNic) -> NicAttachment:
    if nic.type == "network":
        net = h.libvirt.network(nic.source_network)
        if net is None:
            return NicAttachment(None, None, f"its network {nic.source_network!r} is not defined on this host")
        bridge = nic.source_bridge or net.bridge_name
        if not bridge:
            return NicAttachment(None, net, f"network {net.name!r} (forward mode {net.live.forward_mode}) "
                                            "plugs guests into no host bridge")
        return NicAttachment(bridge, net)
    if nic.type == "bridge":
        if not nic.source_bridge:
            return NicAttachment(None, None, "bridge interface without a source bridge")
        return NicAttachment(nic.source_bridge, h.libvirt.network_of_bridge(nic.source_bridge))
    return NicAttachment(None, None, f"a type='{nic.type}' interface is not plugged into a host bridge")


def pxe_boot_reason(guest: Guest, nic: GuestNic) -> Optional[str]:
    """Why this NIC network-boots ("boot order 1 on this NIC", "<boot dev='network'/>"), or None."""
    if nic.boot_order is not None:
        return f"boot order {nic.boot_order} on this NIC"
    if guest.boots_from_network:
        return "<boot dev='network'/>"
    return None
