"""Debian's /etc/network/interfaces, as ifupdown with bridge-utils or ifupdown2 reads it."""

from __future__ import annotations

import json
from typing import Optional

from ...model import Boot, BridgeConfig
from ..netstack import program_boot
from .common import KERNEL_DEFAULT_FD_S, NO_CONTEXT, Context, boot_fields, to_bool, to_float, whole


def parse_ifupdown(path: str, text: str, ctx: Context = NO_CONTEXT) -> list[BridgeConfig]:
    stanzas: dict[str, dict[str, str]] = {}
    stanza_lines: dict[str, list[str]] = {}
    auto: set[str] = set()
    cur = None
    name = ""
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if words[0] == "iface" and len(words) >= 2:
            name = words[1]
            cur = stanzas.setdefault(name, {})
            stanza_lines.setdefault(name, []).append(f"{n}: {s}")
            continue
        if words[0] in ("auto", "allow-auto"):
            auto.update(words[1:])
            cur = None
            continue
        if words[0] in ("mapping", "source", "source-directory", "rename") or words[0].startswith("allow-"):
            cur = None
            continue
        if cur is not None:
            key = words[0].replace("-", "_")  # ifupdown: hyphens and underscores name the same option
            cur[key] = " ".join(words[1:])
            if key in ("bridge_stp", "bridge_fd", "bridge_ports"):
                stanza_lines[name].append(f"{n}: {s}")
    two = ctx.netstack.ifupdown2
    ns = ctx.netstack
    out = []
    for name, opts in stanzas.items():
        if "bridge_ports" not in opts and "bridge_stp" not in opts and "bridge_fd" not in opts:
            continue
        boot = program_boot(ns, "ifupdown") if ns.known else Boot(None, "")
        if boot.applies is not False and ns.known and name not in auto:
            boot = Boot(False, f"no `auto {name}` line: `ifup -a` does not bring it up at boot")
        raw_stp = opts.get("bridge_stp")
        problem = None
        if two:
            # ifupdown2 addons/bridge.py: on/yes/1 is on, anything else off; unset: its policy's default
            stp = (
                to_bool(raw_stp, bool(ctx.ifupdown2_stp_default), {"on", "yes", "1"}, set())
                if raw_stp is not None
                else bool(ctx.ifupdown2_stp_default)
            )
            delay = whole(opts.get("bridge_fd"))
            if opts.get("bridge_fd") is not None and delay is None:
                problem = f"bridge-fd {opts['bridge_fd']} is not a whole number: ifupdown2 does not apply it (15 s)"
            delay = float(delay) if delay is not None else None
        else:
            # bridge-utils' brctl stp takes on/yes/1 and off/no/0; anything else changes nothing (kernel: off)
            stp = to_bool(raw_stp, False, {"on", "yes", "1"}, {"off", "no", "0"})
            delay = to_float(opts.get("bridge_fd"))
        out.append(
            BridgeConfig(
                bridge=name,
                path=path,
                format="ifupdown",
                stp=stp,
                forward_delay_s=delay,
                default_delay_s=KERNEL_DEFAULT_FD_S,
                lines=tuple(stanza_lines.get(name, ())),
                problem=problem if stp else None,
                program="ifupdown2" if two else "ifupdown (bridge-utils)",
                waits_without_stp=ctx.waits_without_stp,
                **boot_fields(boot),
            )
        )
    return out


def ifupdown2_stp_default(policy_texts: list[str]) -> Optional[bool]:
    """bridge.defaults.bridge-stp from ifupdown2's policy files (user files read last win)."""
    value = None
    for text in policy_texts:
        try:
            doc = json.loads(text)
            v = doc["bridge"]["defaults"]["bridge-stp"]
        except (ValueError, KeyError, TypeError):
            continue
        value = str(v).lower() in ("on", "yes", "1")
    return value
