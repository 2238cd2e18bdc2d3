"""Conclusions drawn from several facts, shared by more than one check.

Pure functions of HostFacts: no commands, no text parsing.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Optional

from ..facts.model import BridgeConfig, Guest, GuestNic, HostFacts, LibvirtNetwork


class Unreadable(Exception):
    """A fact the check needs could not be read on this host (reported as an error, not a pass)."""


# ---------------------------------------------------------------- who defines a bridge

CONFIG_HINTS = {
    "ifcfg": "set STP=off (or STP=on with DELAY=0) there, then: ifdown BR && ifup BR",
    "nmconnection": "nmcli connection modify CONN bridge.stp no && nmcli connection up CONN",
    "ifupdown": "set bridge_stp off (and bridge_fd 0) in its iface stanza, then: ifdown BR && ifup BR",
    "networkd": "set STP=no (and ForwardDelaySec=0) in its [Bridge] section, then: networkctl reload",
    "netplan": "set parameters: stp: false (and forward-delay: 0) for it, then: netplan apply",
}


@dataclass(frozen=True)
class BridgeOwner:
    kind: str  # libvirt | config | unmanaged
    network: Optional[LibvirtNetwork] = None
    config: Optional[BridgeConfig] = None

    def where(self) -> str:
        """A short phrase, after 'make it last where the bridge is defined', naming the place."""
        if self.kind == "libvirt":
            return (f": libvirt network {self.network.name!r}, `virsh net-edit {self.network.name}` "
                    "with stp='off' (or delay='0'), then restart the network")
        if self.kind == "config":
            return f": {self.config.path} ({self.config.format}); " + CONFIG_HINTS[self.config.format]
        return " (no libvirt network and no persistent config for it were found on this host)"


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


def pxe_words(guest: Guest, nic: GuestNic) -> str:
    if nic.boot_order is not None:
        return f"PXE-booting guest (boot order {nic.boot_order} on this NIC)"
    if guest.boots_from_network:
        return "PXE-booting guest (<boot dev='network'/>)"
    return "guest"


# ---------------------------------------------------------------- how the suite reached a host

def ssh_words(spec: str, ssh_config: Optional[str] = None, identity: Optional[str] = None) -> Optional[list[str]]:
    """The ssh command line that reaches the host of a testinfra spec as the suite does (None if not ssh)."""
    scheme, sep, rest = spec.partition("://")
    if not sep or scheme not in ("ssh", "safe-ssh", "paramiko"):
        return None
    rest = rest.split("?", 1)[0]
    port = None
    if rest.count(":") == 1 and not rest.endswith("]"):
        rest, port = rest.rsplit(":", 1)
    words = ["ssh"]
    if ssh_config:
        words += ["-F", ssh_config]
    if identity:
        words += ["-i", identity]
    if port:
        words += ["-p", port]
    return words + [rest]


def reach_hint(spec: str, ssh_config: Optional[str] = None, identity: Optional[str] = None) -> str:
    words = ssh_words(spec, ssh_config, identity)
    if words is None:
        return f"# reach it the way testinfra does for {spec} and run: true"
    return " ".join(shlex.quote(w) for w in words) + " true"
