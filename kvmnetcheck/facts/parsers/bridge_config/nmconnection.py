"""NetworkManager keyfiles (*.nmconnection), as NetworkManager reads them."""

from __future__ import annotations

import os

from ...model import Boot, BridgeConfig
from ..netstack import program_boot
from .common import NM_DEFAULT_FD_S, NO_CONTEXT, Context, boot_fields, lines_with, read_ini, to_bool

_GLIB_TRUE = {"true", "1"}
_GLIB_FALSE = {"false", "0"}


def _keyfile_boot(path: str, ctx: Context) -> Boot:
    ns = ctx.netstack
    if path.startswith("/run/"):
        if os.path.basename(path).startswith("netplan-"):
            return Boot(False, "written by netplan at every boot from its YAML, which is checked itself")
        return Boot(False, "a runtime profile under /run: gone at the next boot")
    if path.startswith("/usr/lib/") and not path.endswith(".nmconnection"):
        return Boot(False, "NetworkManager loads only *.nmconnection files from /usr/lib")
    mode = ns.file_modes.get(path)
    if mode is not None and (mode[0] & 0o077 or mode[1] != 0):
        return Boot(
            False,
            f"NetworkManager refuses this keyfile (mode {mode[0]:o}, owner uid {mode[1]}): only root "
            "may own it and no one else may read it",
        )
    return program_boot(ns, "NetworkManager") if ns.known else Boot(None, "")


def parse_nmconnection(path: str, text: str, ctx: Context = NO_CONTEXT) -> list[BridgeConfig]:
    cp = read_ini(text)
    if cp is None:
        return []
    if not cp.has_section("connection") or cp.get("connection", "type", fallback="") != "bridge":
        return []
    # the older form [bridge] interface-name= names the device when [connection] has none
    # (NetworkManager nm-keyfile.c nm_keyfile_read, "deprecated group")
    name = (
        cp.get("connection", "interface-name", fallback="")
        or cp.get("bridge", "interface-name", fallback="")
        or cp.get("connection", "id", fallback="")
    )
    if not name:
        return []
    boot = _keyfile_boot(path, ctx)
    autoconnect = cp.get("connection", "autoconnect", fallback=None)
    if autoconnect is not None and autoconnect.strip().lower() in _GLIB_FALSE and boot.applies is not False:
        boot = Boot(False, "autoconnect=false: NetworkManager does not bring it up at boot")
    raw_stp = cp.get("bridge", "stp", fallback=None)
    stp = to_bool(raw_stp, True, _GLIB_TRUE, _GLIB_FALSE)
    raw = cp.get("bridge", "forward-delay", fallback=None)
    delay = None
    problem = None
    if raw is not None:
        try:
            d = int(raw.strip(), 0)  # NM parses it with base 0
        except ValueError:
            d = None
        if d is None or d > 30 or d < 0:
            problem = f"forward-delay={raw} is not a whole number of seconds up to 30: NetworkManager uses 15 s"
        elif stp and d < 2:
            problem = (
                f"forward-delay={raw} with STP on is outside NetworkManager's 2-30 s: it refuses the whole "
                "profile, so the bridge is not brought up from this file"
            )
        else:
            delay = float(d)
    return [
        BridgeConfig(
            bridge=name,
            path=path,
            format="nmconnection",
            stp=stp,
            forward_delay_s=delay,
            default_delay_s=NM_DEFAULT_FD_S,
            lines=lines_with(text, ["stp", "forward-delay", "interface-name", "type", "autoconnect"]),
            problem=problem if stp else None,
            program="NetworkManager",
            connection=cp.get("connection", "uuid", fallback="") or cp.get("connection", "id", fallback="") or None,
            waits_without_stp=ctx.waits_without_stp,
            **boot_fields(boot),
        )
    ]
