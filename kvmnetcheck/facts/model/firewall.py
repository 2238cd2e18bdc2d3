"""The host's firewalls as read: iptables (rules and policies), firewalld (zones and policies) and libvirt's
nftables table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class IptablesRule:
    table: str
    chain: str
    text: str  # the rule as iptables-save prints it (-A CHAIN ...)
    in_iface: Optional[str]
    out_iface: Optional[str]
    target: Optional[str]
    legacy: bool = False  # from iptables-legacy's tables (a hook of its own beside iptables-nft's)


@dataclass(frozen=True)
class Iptables:
    installed: bool
    version: Optional[tuple[int, ...]] = None
    version_text: Optional[str] = None
    variant: Optional[str] = None  # nf_tables | legacy | None (old releases)
    checksum_extension: Optional[bool] = None
    rules: tuple[IptablesRule, ...] = ()
    rules_error: Optional[str] = None  # why iptables-save gave nothing usable
    policies: tuple[tuple[str, str, str], ...] = ()  # (table, built-in chain, policy); legacy tables as "legacy:filter"

    def checksum_rules_for(self, bridge: str) -> tuple[IptablesRule, ...]:
        return tuple(r for r in self.rules if r.table == "mangle" and r.target == "CHECKSUM" and r.out_iface == bridge)

    def rules_mentioning(self, bridge: str) -> tuple[IptablesRule, ...]:
        return tuple(r for r in self.rules if bridge in (r.in_iface, r.out_iface))


@dataclass(frozen=True)
class FirewalldZone:
    name: str
    target: Optional[str]
    interfaces: tuple[str, ...]
    services: tuple[str, ...]
    ports: tuple[str, ...]


@dataclass(frozen=True)
class FirewalldPolicy:
    """A firewalld policy (firewalld >= 0.9): traffic from its ingress zones to its egress zones."""

    name: str
    priority: int
    target: str  # CONTINUE | ACCEPT | DROP | REJECT
    ingress: tuple[str, ...]
    egress: tuple[str, ...]
    services: tuple[str, ...]
    ports: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True)
class Firewalld:
    installed: bool
    running: bool
    version: Optional[str] = None
    zones: tuple[FirewalldZone, ...] = ()
    error: Optional[str] = None
    policies: tuple[FirewalldPolicy, ...] = ()
    policies_read: bool = False  # --list-all-policies answered (firewalld < 0.9 has no policies)
    default_zone: Optional[str] = None  # where an interface bound to no zone goes

    def zone_of(self, iface: str) -> Optional[FirewalldZone]:
        for z in self.zones:
            if iface in z.interfaces:
                return z
        return None

    def zone(self, name: str) -> Optional[FirewalldZone]:
        for z in self.zones:
            if z.name == name:
                return z
        return None


@dataclass(frozen=True)
class NftLibvirt:
    installed: bool
    table_present: bool  # table ip libvirt_network
    text: str = ""  # the ip and ip6 libvirt_network tables as nft lists them
    readable: bool = True  # `nft list tables` answered (not as an unprivileged user)
    error: Optional[str] = None

    def mentions(self, bridge: str) -> bool:
        return f'"{bridge}"' in self.text
