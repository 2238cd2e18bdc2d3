"""Which network programs a host has and runs (the collector's `netstack` section, with the running daemons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Boot:
    """Whether a program will apply config at boot, and why (for the report)."""

    applies: Optional[bool]  # None: cannot be told (judged as applying)
    why: str


@dataclass(frozen=True)
class NetStack:
    known: bool = False  # the collector reported it (facts saved by an older collector do not)
    systemd: bool = False
    installed: frozenset[str] = frozenset()  # paths
    enabled: frozenset[str] = frozenset()  # unit names
    masked: frozenset[str] = frozenset()
    sysv: tuple[str, ...] = ()  # SysV start links (S10network...)
    running: Optional[frozenset[str]] = frozenset()  # daemon comms; None: the processes could not be read
    nm_plugins: Optional[tuple[str, ...]] = None  # None: plugins= not configured (the build's default)
    nm_ifcfg_rh: bool = False  # the ifcfg-rh settings plugin is installed
    file_modes: dict = field(default_factory=dict)  # path -> (mode, uid) of NM keyfiles
    ifupdown2: bool = False
    # how libvirt is started (libvirtd, virtqemud, virtnetworkd by name); None: not gathered (older facts)
    libvirt_units: Optional[frozenset[str]] = None  # systemd unit files installed
    libvirt_enabled: frozenset[str] = frozenset()  # enabled units (service, socket or -ro socket)
    libvirt_initscripts: frozenset[str] = frozenset()  # SysV init scripts
