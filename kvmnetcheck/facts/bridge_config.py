"""Persistent bridge definitions made outside libvirt, in each distribution's format.

Each parser returns the bridges a file defines, with STP and forward delay as the
tool that reads the file would apply them (defaults included, units in seconds).

| format      | STP key (unset)             | delay key (unit, unset)                  |
|-------------|-----------------------------|------------------------------------------|
| ifcfg       | STP= (off)                  | DELAY= (see below), BRIDGING_OPTS=       |
| nmconnection| [bridge] stp= (on)          | [bridge] forward-delay= (s, 15)          |
| ifupdown    | bridge_stp / bridge-stp (off)| bridge_fd / bridge-fd (s, 15)           |
| networkd    | [Bridge] STP= (off)         | [Bridge] ForwardDelaySec= (s, 15)        |
| netplan     | parameters.stp (on)         | parameters.forward-delay (s, 15)         |

ifcfg units depend on who reads the file: initscripts whose ifup-eth calls
`ip link ... forward_delay` pass DELAY through as centiseconds and cannot take a
fraction (DELAY=0.0 fails there); older ifup-eth (brctl setfd) and
NetworkManager's ifcfg reader take seconds. BRIDGING_OPTS values go to sysfs
as ticks under initscripts and are seconds for NetworkManager.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
from typing import Optional

import yaml

from .model import BridgeConfig

KERNEL_DEFAULT_FD_S = 15.0
_TRUE = {"1", "yes", "on", "true", "y"}
_FALSE = {"0", "no", "off", "false", "n"}


def _bool(value: Optional[str], default: bool) -> bool:
    if value is None:
        return default
    v = str(value).strip().strip("'\"").lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return default


def _float(value) -> Optional[float]:
    if value is None:
        return None
    try:
        f = float(str(value).strip().strip("'\""))
    except ValueError:
        return None
    return f if f >= 0 else None


def _lines_with(text: str, keys) -> tuple[str, ...]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if any(re.search(rf"(^|[\s\[]){re.escape(k)}\s*[=:\s]", line, re.IGNORECASE) for k in keys):
            out.append(f"{n}: {line.strip()}")
    return tuple(out)


# ---------------------------------------------------------------- ifcfg

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


def parse_ifcfg(path: str, text: str, ifup_style: Optional[str]) -> list[BridgeConfig]:
    """ifup_style: "ip" (ifup-eth uses ip link), "brctl", or None (NetworkManager reads ifcfg)."""
    v = parse_shell_vars(text)
    if v.get("TYPE", "").lower() != "bridge":
        return []
    name = v.get("DEVICE") or os.path.basename(path).removeprefix("ifcfg-")
    opts = dict(o.split("=", 1) for o in v.get("BRIDGING_OPTS", "").split() if "=" in o)
    stp = _bool(v.get("STP"), False)
    if "stp_state" in opts:
        stp = _bool(opts["stp_state"], stp)
    problem = None
    delay: Optional[float] = None
    raw = v.get("DELAY")
    if raw is not None and raw.strip() != "":
        if ifup_style == "ip":
            if re.fullmatch(r"\d+", raw.strip()):
                delay = int(raw) / 100.0
            else:
                problem = (f"DELAY={raw} is not a whole number: this ifup-eth hands it to "
                           "`ip link ... forward_delay`, which refuses it, so the bridge keeps "
                           "the kernel's 15 s")
        else:
            delay = _float(raw)
            if delay is None:
                problem = f"DELAY={raw} is not a number of seconds; it is ignored and 15 s applies"
            elif not re.fullmatch(r"\d+", raw.strip()):
                problem = (f"DELAY={raw} has a fraction: initscripts that call "
                           "`ip link ... forward_delay` refuse it and leave 15 s; write DELAY=0")
    if "forward_delay" in opts:
        fd = _float(opts["forward_delay"])
        if fd is not None:
            delay = fd / 100.0 if ifup_style in ("ip", "brctl") else fd
    return [BridgeConfig(
        bridge=name, path=path, format="ifcfg", stp=stp, forward_delay_s=delay,
        default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["STP", "DELAY", "BRIDGING_OPTS", "TYPE", "DEVICE"]),
        problem=problem if stp else None,
    )]


def ifup_style(ifup_eth_grep: Optional[str]) -> Optional[str]:
    """From `grep -n -e forward_delay -e setfd ifup-eth`: how DELAY gets applied."""
    if not ifup_eth_grep:
        return None
    if "forward_delay" in ifup_eth_grep:
        return "ip"
    if "setfd" in ifup_eth_grep:
        return "brctl"
    return None


# ---------------------------------------------------------------- NetworkManager

def parse_nmconnection(path: str, text: str) -> list[BridgeConfig]:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cp.read_string(text)
    except configparser.Error:
        return []
    if not cp.has_section("connection") or cp.get("connection", "type", fallback="") != "bridge":
        return []
    name = cp.get("connection", "interface-name", fallback=None) or cp.get("connection", "id", fallback="")
    if not name:
        return []
    stp = _bool(cp.get("bridge", "stp", fallback=None), True)
    raw = cp.get("bridge", "forward-delay", fallback=None)
    delay = _float(raw)
    return [BridgeConfig(
        bridge=name, path=path, format="nmconnection", stp=stp, forward_delay_s=delay,
        default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["stp", "forward-delay", "interface-name", "type"]),
        problem=(f"forward-delay={raw} is not a number of seconds" if raw is not None and delay is None and stp
                 else None),
    )]


# ---------------------------------------------------------------- ifupdown

def parse_ifupdown(path: str, text: str) -> list[BridgeConfig]:
    stanzas: dict[str, dict[str, str]] = {}
    cur = None
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if words[0] == "iface" and len(words) >= 2:
            cur = stanzas.setdefault(words[1], {})
            continue
        if words[0] in ("auto", "allow-hotplug", "mapping", "source", "source-directory") or words[0].startswith("allow-"):
            cur = None
            continue
        if cur is not None and len(words) >= 1:
            cur[words[0].replace("-", "_")] = " ".join(words[1:])
    out = []
    for name, opts in stanzas.items():
        if "bridge_ports" not in opts and "bridge_stp" not in opts and "bridge_fd" not in opts:
            continue
        stp = _bool(opts.get("bridge_stp"), False)
        out.append(BridgeConfig(
            bridge=name, path=path, format="ifupdown", stp=stp,
            forward_delay_s=_float(opts.get("bridge_fd")), default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=_lines_with(text, ["iface", "bridge_stp", "bridge-stp", "bridge_fd", "bridge-fd"]),
        ))
    return out


# ---------------------------------------------------------------- systemd-networkd

def parse_netdev(path: str, text: str) -> list[BridgeConfig]:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    try:
        cp.read_string(text)
    except configparser.Error:
        return []
    if cp.get("NetDev", "Kind", fallback="") != "bridge":
        return []
    name = cp.get("NetDev", "Name", fallback="")
    if not name:
        return []
    raw = cp.get("Bridge", "ForwardDelaySec", fallback=None)
    return [BridgeConfig(
        bridge=name, path=path, format="networkd",
        stp=_bool(cp.get("Bridge", "STP", fallback=None), False),
        forward_delay_s=_float(raw.rstrip("s") if raw else None), default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["Name", "Kind", "STP", "ForwardDelaySec"]),
    )]


# ---------------------------------------------------------------- netplan

def parse_netplan(path: str, text: str) -> list[BridgeConfig]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    bridges = (doc or {}).get("network", {}) if isinstance(doc, dict) else {}
    bridges = bridges.get("bridges") if isinstance(bridges, dict) else None
    if not isinstance(bridges, dict):
        return []
    out = []
    for name, conf in bridges.items():
        params = conf.get("parameters") if isinstance(conf, dict) else None
        stp = False
        delay = None
        if isinstance(params, dict):
            stp = _bool(str(params.get("stp")) if "stp" in params else None, True)
            delay = _float(params.get("forward-delay"))
        out.append(BridgeConfig(
            bridge=str(name), path=path, format="netplan", stp=stp, forward_delay_s=delay,
            default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=_lines_with(text, [str(name), "stp", "forward-delay", "parameters"]),
        ))
    return out


def parse_config_file(path: str, text: str, ifup: Optional[str]) -> list[BridgeConfig]:
    base = os.path.basename(path)
    if base.startswith("ifcfg-"):
        return parse_ifcfg(path, text, ifup)
    if "/NetworkManager/system-connections/" in path:
        return parse_nmconnection(path, text)
    if path.startswith("/etc/network/interfaces"):
        return parse_ifupdown(path, text)
    if path.endswith(".netdev"):
        return parse_netdev(path, text)
    if "/netplan/" in path:
        return parse_netplan(path, text)
    return []
