"""RHEL and SUSE ifcfg files, as NetworkManager (ifcfg-rh), initscripts (ifup-eth) or wicked reads them."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
from typing import Optional

from ...model import Boot, BridgeConfig
from ..netstack import is_installed, nm_reads_ifcfg, program_boot
from .common import (
    KERNEL_DEFAULT_FD_S,
    NM_DEFAULT_FD_S,
    Context,
    as_context,
    boot_fields,
    lines_with,
    to_bool,
    to_float,
    whole,
)


def parse_shell_vars(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[7:].strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        try:
            words = shlex.split(value, comments=True)
        except ValueError:
            words = [value.strip().strip("'\"")]
        out[key] = " ".join(words)
    return out


def _ifcfg_program(v: dict[str, str], ctx: Context) -> tuple[str, Boot]:
    """Who applies a RHEL ifcfg file at boot: NetworkManager (ifcfg-rh plugin), initscripts, or nobody.

    initscripts' ifup hands a file to NetworkManager when NM runs and NM_CONTROLLED is not no
    (network-scripts/network-functions source_config); at boot NM itself loads it through ifcfg-rh."""
    ns = ctx.netstack
    nm_controlled = to_bool(v.get("NM_CONTROLLED"), True)
    nm = program_boot(ns, "NetworkManager")
    if nm_controlled and nm_reads_ifcfg(ns) and nm.applies is not False:
        program, boot = "NetworkManager (ifcfg-rh)", Boot(nm.applies, nm.why + ", and it reads ifcfg files")
    elif ctx.ifup_style is not None:
        style = {"ip": "ip link", "brctl": "brctl"}.get(ctx.ifup_style, "ifup-eth unreadable")
        program, boot = f"initscripts ({style})", program_boot(ns, "initscripts")
    else:
        why = [] if nm_controlled else ["NM_CONTROLLED=no"]
        if not is_installed(ns, "NetworkManager"):
            why.append("NetworkManager is not installed")
        elif not nm_reads_ifcfg(ns):
            why.append("NetworkManager has no ifcfg-rh plugin here")
        elif nm.applies is False:
            why.append(nm.why)
        why.append("initscripts (ifup-eth) is not installed")
        return "nothing", Boot(False, "no program applies it at boot: " + "; ".join(why))
    if to_bool(v.get("ONBOOT"), True) is False and boot.applies is not False:
        boot = Boot(False, "ONBOOT=no: nothing brings it up at boot")
    return program, boot


def _ifcfg_without_netstack(v: dict[str, str], common: dict, ctx: Context) -> BridgeConfig:
    """Facts saved by an older collector say whether ifup-eth exists, not whether NetworkManager runs:
    read the file as each program that may apply it would; where they disagree, it is unknown."""
    readers = []
    if to_bool(v.get("NM_CONTROLLED"), True):
        readers.append(("NetworkManager (ifcfg-rh)", lambda c: _ifcfg_as_networkmanager(v, c)))
    if ctx.ifup_style is not None:
        style = {"ip": "ip link", "brctl": "brctl"}.get(ctx.ifup_style, "ifup-eth unreadable")
        readers.append((f"initscripts ({style})", lambda c: _ifcfg_as_initscripts(v, c, ctx.ifup_style)))
    if not readers:
        return _ifcfg_as_initscripts(
            v,
            {
                **common,
                "program": "nothing",
                "applies": False,
                "boot_note": "NM_CONTROLLED=no, and initscripts (ifup-eth) is not installed",
            },
            None,
        )
    readings = [(name, read({**common, "program": name})) for name, read in readers]
    first = readings[0][1]
    if all(
        (r.stp, r.new_port_block_s, r.problem is None) == (first.stp, first.new_port_block_s, first.problem is None)
        for _, r in readings
    ):
        return first
    told = "; ".join(
        f"{name} would apply {'STP on' if r.stp else 'STP off'}, a new port blocked {r.new_port_block_s:g} s"
        for name, r in readings
    )
    return dataclasses.replace(
        first,
        program=" or ".join(n for n, _ in readings),
        unknown=(
            "which program applies this file at boot was not gathered (facts saved by an older version), and the "
            f"readings differ: {told}"
        ),
    )


def parse_ifcfg(path: str, text: str, ctx) -> list[BridgeConfig]:
    ctx = as_context(ctx)
    v = parse_shell_vars(text)
    if path.startswith("/etc/sysconfig/network/") or (v.get("BRIDGE", "").lower() == "yes" and "TYPE" not in v):
        return _parse_suse_ifcfg(path, text, v, ctx)
    if v.get("TYPE", "").lower() != "bridge":
        return []
    name = v.get("DEVICE") or os.path.basename(path).removeprefix("ifcfg-")
    lines = lines_with(text, ["STP", "DELAY", "BRIDGING_OPTS", "TYPE", "DEVICE", "NM_CONTROLLED", "ONBOOT"])
    common = dict(
        bridge=name,
        path=path,
        format="ifcfg",
        lines=lines,
        connection=v.get("UUID") or v.get("NAME") or f"System {name}",
        waits_without_stp=ctx.waits_without_stp,
    )
    if not ctx.netstack.known:
        return [_ifcfg_without_netstack(v, {**common, "applies": None, "boot_note": ""}, ctx)]
    program, boot = _ifcfg_program(v, ctx)
    common.update(program=program, **boot_fields(boot))
    if program.startswith("NetworkManager"):
        return [_ifcfg_as_networkmanager(v, common)]
    return [_ifcfg_as_initscripts(v, common, ctx.ifup_style)]


def _ifcfg_as_networkmanager(v: dict[str, str], common: dict) -> BridgeConfig:
    """NM's ifcfg-rh reader: STP only on/yes (anything else, or unset, is off); DELAY whole seconds,
    read only with STP on; BRIDGING_OPTS' stp_state and forward_delay are not NM options and are ignored."""
    raw_stp = v.get("STP")
    stp = raw_stp is not None and raw_stp.strip().lower() in ("on", "yes")
    problem = None
    delay = None
    raw = v.get("DELAY")
    if stp and raw is not None and raw.strip():
        d = whole(raw)
        if d is None or d > 30:
            problem = (
                f"DELAY={raw} is not a whole number of seconds from 0 to 30: NetworkManager ignores it and uses 15 s"
            )
        elif d < 2:
            problem = (
                f"DELAY={raw} with STP on is outside NetworkManager's 2-30 s: it refuses the whole profile, "
                "so the bridge is not brought up from this file at all"
            )
        else:
            delay = float(d)
    if raw_stp is not None and raw_stp.strip().lower() not in ("on", "yes", "off", "no"):
        note = f"STP={raw_stp} is not on/yes/off/no: NetworkManager takes it as off"
        common = {**common, "lines": common["lines"] + (note,)}
    return BridgeConfig(stp=stp, forward_delay_s=delay, default_delay_s=NM_DEFAULT_FD_S, problem=problem, **common)


def _ifcfg_as_initscripts(v: dict[str, str], common: dict, ifup_style: Optional[str]) -> BridgeConfig:
    """initscripts' ifup-eth: STP through is_true/is_false, DELAY through `ip link ... forward_delay`
    (raw, centiseconds; 9.83 and later) or `brctl setfd` (seconds; RHEL 7), then BRIDGING_OPTS written
    to sysfs (centiseconds), which wins."""
    opts = dict(o.split("=", 1) for o in v.get("BRIDGING_OPTS", "").split() if "=" in o)
    stp = to_bool(v.get("STP"), False)
    if "stp_state" in opts:
        stp = to_bool(opts["stp_state"], stp)
    problem = None
    delay: Optional[float] = None
    raw = v.get("DELAY")
    unknown = None
    if raw is not None and raw.strip() != "":
        if ifup_style == "unreadable":
            unknown = (
                "ifup-eth could not be read, so whether it applies DELAY as seconds (brctl) or "
                "centiseconds (ip link) is unknown"
            )
        elif ifup_style == "brctl":
            delay = to_float(raw)
            if delay is None:
                problem = f"DELAY={raw} is not a number of seconds: brctl refuses it and the kernel's 15 s stays"
        elif re.fullmatch(r"\d+", raw.strip()):
            delay = min(int(raw.strip()[:10]), 10**9) / 100.0
        else:
            problem = (
                f"DELAY={raw} is not a whole number: this ifup-eth hands it to "
                "`ip link ... forward_delay`, which refuses it; ifup then stops, so a new bridge is not "
                "created (an existing one keeps the kernel's 15 s)"
            )
    if "forward_delay" in opts:
        fd = to_float(opts["forward_delay"])
        if fd is not None:
            delay = fd / 100.0
    return BridgeConfig(
        stp=stp,
        forward_delay_s=delay,
        default_delay_s=KERNEL_DEFAULT_FD_S,
        problem=problem if stp else None,
        unknown=unknown if stp else None,
        **common,
    )


def _parse_suse_ifcfg(path: str, text: str, v: dict[str, str], ctx: Context) -> list[BridgeConfig]:
    """SUSE wicked: BRIDGE='yes', BRIDGE_STP (off), BRIDGE_FORWARDDELAY (seconds, kernel default 15)."""
    if v.get("BRIDGE", "").lower() != "yes":
        return []
    name = os.path.basename(path).removeprefix("ifcfg-")
    boot = program_boot(ctx.netstack, "wicked") if ctx.netstack.known else Boot(None, "")
    return [
        BridgeConfig(
            bridge=name,
            path=path,
            format="ifcfg",
            stp=to_bool(v.get("BRIDGE_STP"), False),
            forward_delay_s=to_float(v.get("BRIDGE_FORWARDDELAY")),
            default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=lines_with(text, ["BRIDGE", "BRIDGE_STP", "BRIDGE_FORWARDDELAY"]),
            program="wicked",
            waits_without_stp=ctx.waits_without_stp,
            **boot_fields(boot),
        )
    ]


def ifup_style(ifup_eth_grep: Optional[str], readable: bool = True) -> Optional[str]:
    """From `grep -n -e forward_delay -e setfd ifup-eth`: how DELAY gets applied."""
    if not readable:
        return "unreadable"
    if not ifup_eth_grep:
        return None
    if "forward_delay" in ifup_eth_grep:
        return "ip"
    if "setfd" in ifup_eth_grep:
        return "brctl"
    return None
