"""One host's facts: every typed fact the checks read, and the error a check raises for a fact it lacks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .bridge import Bridge, BridgeConfig, PortVlans, TcFilters
from .firewall import Firewalld, Iptables, NftLibvirt
from .libvirt import LibvirtView, QemuFirmware
from .netstack import NetStack
from .ovs import Ovs
from .probe import ProbeRun
from .processes import LibvirtQemu, Process, QemuProcess
from .servers import DhcpServers


class Unreadable(Exception):
    """A fact a check needs could not be read on this host (reported as an error, never as a pass)."""


@dataclass(frozen=True)
class HostFacts:
    host: str  # the name the user gave (testinfra host spec without scheme)
    spec: str
    error: Optional[str] = None  # set when the host could not be reached or read
    hostname: Optional[str] = None
    uid: Optional[int] = None
    clk_tck: Optional[int] = None
    kernel: Optional[str] = None
    commands: frozenset[str] = frozenset()
    vhost_net: bool = False
    vhost_net_module: bool = False
    libvirt_installed: bool = False
    bridges: tuple[Bridge, ...] = ()
    tc: tuple[TcFilters, ...] = ()
    iptables: Iptables = field(default_factory=lambda: Iptables(installed=False))
    nft: NftLibvirt = field(default_factory=lambda: NftLibvirt(installed=False, table_present=False))
    firewalld: Firewalld = field(default_factory=lambda: Firewalld(installed=False, running=False))
    firewall_backend_config: Optional[str] = None  # from /etc/libvirt/network.conf
    libvirt_log_lines: tuple[str, ...] = ()
    libvirt_log_sources: tuple[str, ...] = ()
    libvirt_log_unreadable: tuple[str, ...] = ()  # log files there that the checking user may not read
    libvirt_log_errors: tuple[str, ...] = ()  # the last errors libvirt's daemon logged (file and journal)
    bridge_configs: tuple[BridgeConfig, ...] = ()
    netstack: NetStack = field(default_factory=NetStack)
    qemu: Optional[tuple[QemuProcess, ...]] = ()  # None: the processes could not be read (processes_error)
    daemons: Optional[tuple["Process", ...]] = ()  # the network daemons and DHCP/TFTP servers running; None: unread
    processes_error: Optional[str] = None
    libvirt_qemu: LibvirtQemu = field(default_factory=LibvirtQemu)
    bridges_error: Optional[str] = None  # why the list of bridges may lack some (output cut short)
    now: Optional[int] = None  # the host's clock when gathered (seconds since the epoch)
    br_netfilter: Optional[bool] = None  # /proc/sys/net/bridge exists (None: not gathered)
    bridge_nf_call_iptables: Optional[bool] = None
    port_vlans: Optional[tuple["PortVlans", ...]] = None  # None: no VLAN-filtering bridge, or not read
    port_vlans_error: Optional[str] = None
    nft_forward: tuple[str, ...] = ()  # `nft -j list table` of each table on the forward path
    nft_forward_error: Optional[str] = None
    dhcp_servers: "DhcpServers" = field(default_factory=lambda: DhcpServers())
    qemu_firmware: Optional[tuple["QemuFirmware", ...]] = ()  # None: facts of an older version
    ovs: "Ovs" = field(default_factory=lambda: Ovs(installed=False, running=False))
    libvirt: LibvirtView = field(
        default_factory=lambda: LibvirtView("none", None, None, None, (), (), error="not gathered")
    )
    probe: Optional[ProbeRun] = None  # None: the probe did not run (no --probe)
    parse_errors: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()  # files the checking user was not allowed to read

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def kernel_version(self) -> Optional[tuple[int, ...]]:
        return kernel_version(self.kernel)

    def bridge(self, name: Optional[str]) -> Optional[Bridge]:
        for b in self.bridges:
            if b.name == name:
                return b
        return None

    def tc_for(self, bridge: str) -> Optional[TcFilters]:
        for t in self.tc:
            if t.bridge == bridge:
                return t
        return None

    def bridge_configs_for(self, bridge: str) -> tuple[BridgeConfig, ...]:
        return tuple(c for c in self.bridge_configs if c.bridge == bridge)


def kernel_version(release: Optional[str]) -> Optional[tuple[int, ...]]:
    """(2, 6, 32) from `uname -r` such as 2.6.32-754.el6.x86_64."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release or "")
    if not m:
        return None
    return tuple(int(x) for x in m.groups(default="0"))
