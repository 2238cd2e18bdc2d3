"""Persistent bridge definitions made outside libvirt, read as the program that applies them does.

The same file means different things to different programs, so each file is first given its
program (parsers/netstack.py says which run at boot) and then read with that program's rules:

| format | program | STP unset | STP values | delay key (unit) | delay unset | source |
|---|---|---|---|---|---|---|
| ifcfg | NetworkManager (ifcfg-rh) | off | on/yes, off/no; else off | DELAY (whole s, 2-30, only with STP on) | 15 | NM nms-ifcfg-rh-reader.c make_bridge_setting |
| ifcfg | initscripts >= 9.83 (ip link) | kernel (off) | is_true/is_false | DELAY raw to `ip link` = centiseconds | kernel 15 | initscripts network-scripts/ifup-eth |
| ifcfg | initscripts RHEL 7 (brctl) | kernel (off) | brctl: on/yes/1 | DELAY seconds | kernel 15 | initscripts rhel7-branch ifup-eth |
| ifcfg | both initscripts | | BRIDGING_OPTS stp_state | BRIDGING_OPTS forward_delay (sysfs, centiseconds; NM ignores both) | | ifup-eth |
| ifcfg (SUSE) | wicked | off | BRIDGE_STP | BRIDGE_FORWARDDELAY (s) | 15 | |
| keyfile | NetworkManager | **on** | GLib booleans | forward-delay (whole s; 0/1 with STP on: profile refused) | 15 | NM nm-setting-bridge.c, nm-keyfile.c |
| interfaces | ifupdown + bridge-utils | kernel (off) | on/yes/1 (else unchanged) | bridge_fd/bridge-fd (s, fractions) | kernel 15 | bridge-utils ifupdown.sh, brctl |
| interfaces | ifupdown2 | policy, else off | on/yes/1 | bridge-fd (whole s) | 15 | ifupdown2 addons/bridge.py |
| .netdev | systemd-networkd | kernel (off) | systemd booleans | ForwardDelaySec (time span) | kernel 15 | systemd src/network/netdev/bridge.c |
| netplan | networkd renderer | no parameters: kernel (off); parameters: on | YAML bool | forward-delay (time span) | 15 | netplan src/networkd.c |
| netplan | NetworkManager renderer | **on** (NM's default) | YAML bool | forward-delay (whole s, else NM's 15) | 15 | netplan src/nm.c |

A renderer at the top of a netplan file, under `bridges:` (for the bridges after it) or per bridge
decides which program builds the bridge (device > type > global > networkd, netplan src/parse.c).
"""

from __future__ import annotations

import os

from ...model import BridgeConfig
from ..gathered import Gathered
from .common import KERNEL_DEFAULT_FD_S, NM_DEFAULT_FD_S, Context, as_context
from .ifcfg import ifup_style, parse_ifcfg, parse_shell_vars
from .ifupdown import ifupdown2_stp_default, parse_ifupdown
from .netplan import (
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    NOT_READ,
    YamlRefused,
    compose_netplan,
    netplan_bridges,
    netplan_global_renderer,
    parse_netplan,
)
from .networkd import parse_netdev
from .nmconnection import parse_nmconnection

__all__ = [
    "KERNEL_DEFAULT_FD_S",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "NM_DEFAULT_FD_S",
    "NOT_READ",
    "Context",
    "YamlRefused",
    "compose_netplan",
    "ifup_style",
    "ifupdown2_stp_default",
    "netplan_bridges",
    "netplan_global_renderer",
    "parse_config_file",
    "parse_ifcfg",
    "parse_ifupdown",
    "parse_netdev",
    "parse_netplan",
    "parse_nmconnection",
    "parse_shell_vars",
    "read_bridge_configs",
]


def parse_config_file(path: str, text: str, ctx) -> list[BridgeConfig]:
    """The bridges a config file defines; `ctx` a Context (or, as before, ifup-eth's style alone)."""
    ctx = as_context(ctx)
    base = os.path.basename(path)
    if base.startswith("ifcfg-"):
        return parse_ifcfg(path, text, ctx)
    if "/NetworkManager/system-connections/" in path:
        return parse_nmconnection(path, text, ctx)
    if path.startswith("/etc/network/interfaces"):
        return parse_ifupdown(path, text, ctx)
    if path.endswith(".netdev"):
        return parse_netdev(path, text, ctx)
    if "/netplan/" in path:
        return parse_netplan(path, text, ctx)
    return []


def read_bridge_configs(g: Gathered) -> tuple[BridgeConfig, ...]:
    """Every bridge the `netconfig` files define, read with what `ifup_eth`, `ifupdown2_policy`, the network
    programs and the other netplan files say; a file no reader understands is named, and the others kept."""
    ifup_secs = g.all("ifup_eth")
    ifup = None
    if ifup_secs:
        readable = all(s.rc in (0, None) for s in ifup_secs)
        ifup = ifup_style("\n".join(s.text for s in ifup_secs), readable)
    files = [s for s in g.all("netconfig") if g.readable(s)]
    netplan = [(s.arg, s.text) for s in files if "/netplan/" in s.arg]
    global_renderer = netplan_global_renderer(netplan)
    policy = [s.text for s in g.all("ifupdown2_policy") if g.readable(s)]
    ctx = Context(
        netstack=g.netstack(),
        ifup_style=ifup,
        waits_without_stp=g.waits_without_stp,
        netplan_renderer=global_renderer,
        netplan_networkd=any(
            b.renderer != "NetworkManager" for _, text in netplan for b in netplan_bridges(text, global_renderer)
        ),
        ifupdown2_stp_default=ifupdown2_stp_default(policy),
    )
    configs = []
    for s in files:
        try:
            configs.extend(parse_config_file(s.arg, s.text, ctx))
        except Exception as e:  # one bad file must not hide the others
            g.problems.append(f"{s.arg}: not understood ({type(e).__name__}: {e})")
    return tuple(configs)
