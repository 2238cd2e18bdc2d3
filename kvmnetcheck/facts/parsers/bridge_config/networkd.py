"""systemd-networkd .netdev files, as systemd-networkd reads them."""

from __future__ import annotations

import os

from ...model import Boot, BridgeConfig
from ..netstack import is_installed, program_boot
from .common import KERNEL_DEFAULT_FD_S, NO_CONTEXT, Context, boot_fields, lines_with, read_ini, timespan, to_bool

_SYSTEMD_TRUE = {"1", "yes", "y", "true", "t", "on"}
_SYSTEMD_FALSE = {"0", "no", "n", "false", "f", "off"}


def parse_netdev(path: str, text: str, ctx: Context = NO_CONTEXT) -> list[BridgeConfig]:
    cp = read_ini(text)
    if cp is None:
        return []
    if cp.get("NetDev", "Kind", fallback="") != "bridge":
        return []
    name = cp.get("NetDev", "Name", fallback="")
    if not name:
        return []
    ns = ctx.netstack
    if path.startswith("/run/"):
        if os.path.basename(path).startswith("10-netplan-"):
            boot = Boot(False, "written by netplan at every boot from its YAML, which is checked itself")
        else:
            boot = Boot(False, "a runtime file under /run: gone at the next boot")
    elif not ns.known:
        boot = Boot(None, "")
    else:
        boot = program_boot(ns, "networkd")
        if boot.applies is False and ctx.netplan_networkd and is_installed(ns, "networkd"):
            boot = Boot(True, "netplan starts systemd-networkd at boot")
    raw = cp.get("Bridge", "ForwardDelaySec", fallback=None)
    return [
        BridgeConfig(
            bridge=name,
            path=path,
            format="networkd",
            stp=to_bool(cp.get("Bridge", "STP", fallback=None), False, _SYSTEMD_TRUE, _SYSTEMD_FALSE),
            forward_delay_s=timespan(raw),
            default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=lines_with(text, ["Name", "Kind", "STP", "ForwardDelaySec"]),
            program="systemd-networkd",
            waits_without_stp=ctx.waits_without_stp,
            **boot_fields(boot),
        )
    ]
