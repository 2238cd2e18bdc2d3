"""Which network programs a host has, and which of them will apply persistent config at boot.

From the collector's `netstack` section (files only: systemd's enable links, SysV start links,
installed binaries, NetworkManager's plugins= lines) and the daemons seen in `processes`:

    systemd_running=1
    installed=/usr/sbin/NetworkManager
    enabled=NetworkManager
    masked=systemd-networkd
    sysv=S10network
    nm_plugins_line=plugins=ifcfg-rh,keyfile
    nm_ifcfg_rh=/usr/lib64/NetworkManager/1.46.0/libnm-settings-plugin-ifcfg-rh.so
    file_mode=600 0 /etc/NetworkManager/system-connections/br0.nmconnection

A program applies config at boot when it is installed and enabled (a `*.wants/UNIT` link, or a
SysV start link) or running now. Without systemd running and without SysV links, whether a
program starts at boot cannot be told from files: such config is judged as if it applied.
"""

from __future__ import annotations

from typing import Optional

from ..model import Boot, NetStack
from .keyvalue import parse_key_values

# program -> (binaries or directories that mean it is installed, its unit, its daemon's comm, SysV names)
PROGRAMS = {
    "NetworkManager": (("/usr/sbin/NetworkManager",), "NetworkManager", "NetworkManager", ("network-manager",)),
    "networkd": (
        ("/usr/lib/systemd/systemd-networkd", "/lib/systemd/systemd-networkd"),
        "systemd-networkd",
        "systemd-network",
        (),
    ),
    "ifupdown": (("/sbin/ifup", "/usr/sbin/ifup"), "networking", None, ("networking",)),
    "initscripts": (("/etc/rc.d/init.d/network",), "network", None, ("network",)),
    "wicked": (("/usr/sbin/wicked",), "wicked", "wickedd", ()),
    "netplan": (
        ("/usr/sbin/netplan", "/usr/lib/systemd/system-generators/netplan", "/lib/systemd/system-generators/netplan"),
        None,
        None,
        (),
    ),
}


def is_installed(ns: NetStack, program: str) -> bool:
    return any(p in ns.installed for p in PROGRAMS[program][0])


def program_boot(ns: NetStack, program: str) -> Boot:
    """Will `program` run at boot (and so apply its config)?"""
    if not ns.known:
        return Boot(None, "which network programs run at boot was not gathered (facts of an older version)")
    paths, unit, daemon, sysv_names = PROGRAMS[program]
    name = {"networkd": "systemd-networkd", "ifupdown": "ifupdown2" if ns.ifupdown2 else "ifupdown"}.get(
        program, program
    )
    if not is_installed(ns, program):
        return Boot(False, f"{name} is not installed")
    if program == "netplan":
        return Boot(True, "netplan's generator runs at every boot")
    if unit in ns.masked:
        return Boot(False, f"{unit}.service is masked")
    if unit in ns.enabled:
        return Boot(True, f"{unit}.service is enabled")
    if daemon and ns.running is not None and daemon in ns.running:
        return Boot(True, f"{name} is running")
    if any(s.lstrip("S0123456789") in sysv_names for s in ns.sysv):
        return Boot(True, f"{name} is started by its SysV script")
    if daemon and ns.running is None:
        return Boot(None, f"{name} is installed and not enabled, and whether it runs now was not read")
    if ns.systemd or ns.sysv:
        return Boot(False, f"{name} is installed but not enabled and not running")
    return Boot(None, f"this host runs no systemd: whether {name} starts at boot cannot be read from files")


def nm_reads_ifcfg(ns: NetStack) -> bool:
    """NetworkManager loads RHEL ifcfg files (its ifcfg-rh plugin is installed and not left out)."""
    if not ns.nm_ifcfg_rh:
        return False
    return ns.nm_plugins is None or "ifcfg-rh" in ns.nm_plugins


def parse_netstack(text: Optional[str], daemons: Optional[frozenset[str]]) -> NetStack:
    if text is None:
        return NetStack(running=daemons)
    kv = parse_key_values(text)
    plugins = None
    for line in kv.get("nm_plugins_line", []):
        _, _, value = line.partition("=")
        plugins = tuple(p.strip() for p in value.split(",") if p.strip())  # the last file read wins
    modes = {}
    for line in kv.get("file_mode", []):
        words = line.split(" ", 2)
        if len(words) == 3 and words[0].isdigit() and words[1].isdigit():
            modes[words[2]] = (int(words[0], 8), int(words[1]))
    installed = frozenset(kv.get("installed", []))
    return NetStack(
        known=True,
        systemd="1" in kv.get("systemd_running", []),
        installed=installed,
        enabled=frozenset(kv.get("enabled", [])),
        masked=frozenset(kv.get("masked", [])),
        sysv=tuple(kv.get("sysv", [])),
        running=daemons,
        nm_plugins=plugins,
        nm_ifcfg_rh=bool(kv.get("nm_ifcfg_rh")),
        file_modes=modes,
        ifupdown2="/usr/share/ifupdown2" in installed,
        libvirt_units=frozenset(kv.get("libvirt_unit", [])) if kv.get("libvirt_start_read") else None,
        libvirt_enabled=frozenset(kv.get("libvirt_enabled", [])),
        libvirt_initscripts=frozenset(kv.get("libvirt_initscript", [])),
    )
