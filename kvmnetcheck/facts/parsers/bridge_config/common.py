"""What reading every kind of bridge config shares: the programs' defaults, their ways of reading
booleans, numbers and time spans, and what the file depends on besides itself (Context)."""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from typing import Optional

from ...model import Boot, NetStack

KERNEL_DEFAULT_FD_S = 15.0
NM_DEFAULT_FD_S = 15.0  # NetworkManager libnm-base/nm-base.h NM_BRIDGE_FORWARD_DELAY_DEF
TRUE = {"1", "yes", "on", "true", "y", "t"}
FALSE = {"0", "no", "off", "false", "n", "f"}


@dataclass(frozen=True)
class Context:
    """What reading a config file depends on besides the file itself."""

    netstack: NetStack = field(default_factory=NetStack)
    ifup_style: Optional[str] = None  # "ip" | "brctl" | "unreadable" | None (no ifup-eth)
    waits_without_stp: bool = False
    netplan_renderer: Optional[str] = None  # the global renderer of all netplan files (the last sets it)
    netplan_networkd: bool = False  # netplan's generator starts networkd at boot (a bridge renders to it)
    ifupdown2_stp_default: Optional[bool] = None  # from ifupdown2's policy files


NO_CONTEXT = Context()  # a file read on its own: nothing else of the host known


def read_ini(text: str) -> Optional[configparser.ConfigParser]:
    """An INI-style file (a keyfile, a .netdev) with keys as written, or None where it does not parse."""
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    try:
        cp.read_string(text)
    except configparser.Error:
        return None
    return cp


def unquote(value) -> str:
    return str(value).strip().strip("'\"")


def to_bool(value: Optional[str], default: bool, true=TRUE, false=FALSE) -> bool:
    if value is None:
        return default
    v = unquote(value).lower()
    if v in true:
        return True
    if v in false:
        return False
    return default


def to_float(value) -> Optional[float]:
    if value is None:
        return None
    text = unquote(value)
    if not re.fullmatch(r"\d{1,9}(\.\d{0,9})?", text):
        return None
    return float(text)


def whole(value) -> Optional[int]:
    if value is None:
        return None
    text = unquote(value)
    return int(text) if re.fullmatch(r"\d{1,9}", text) else None


SPAN_UNITS = {
    "us": 1e-6,
    "usec": 1e-6,
    "ms": 1e-3,
    "msec": 1e-3,
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}


def timespan(value) -> Optional[float]:
    """Seconds from a plain number or a systemd/netplan time span ("4", "4s", "500ms", "1min 30s")."""
    if value is None:
        return None
    text = str(value).strip().strip("'\"").lower()
    parts = re.findall(r"(\d{1,9}(?:\.\d{1,9})?)\s*([a-z]*)", text)
    if not parts or re.sub(r"[\d.\sa-z]", "", text) or "".join(n + u for n, u in parts) != re.sub(r"\s", "", text):
        return None
    total = 0.0
    for number, unit in parts:
        if unit not in SPAN_UNITS:
            return None
        total += float(number) * SPAN_UNITS[unit]
    return total


def lines_with(text: str, keys) -> tuple[str, ...]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if any(re.search(rf"(^|[\s\[]){re.escape(k)}\s*[=:\s]", line, re.IGNORECASE) for k in keys):
            out.append(f"{n}: {line.strip()}")
    return tuple(out)


def boot_fields(boot: Boot) -> dict:
    return {"applies": boot.applies, "boot_note": boot.why}


def as_context(ctx) -> Context:
    """A Context; a bare ifup-eth style (as from facts of the first collector) makes one."""
    return ctx if isinstance(ctx, Context) else Context(ifup_style=ctx)
