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
    text = str(value).strip().strip("'\"")
    if not re.fullmatch(r"\d{1,9}(\.\d{0,9})?", text):
        return None
    return float(text)


_SPAN_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "": 1.0, "s": 1.0, "sec": 1.0,
               "second": 1.0, "seconds": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
               "h": 3600.0, "hr": 3600.0, "hour": 3600.0, "hours": 3600.0}


def _timespan(value) -> Optional[float]:
    """Seconds from a plain number or a systemd/netplan time span ("4", "4s", "500ms", "1min 30s")."""
    if value is None:
        return None
    text = str(value).strip().strip("'\"").lower()
    parts = re.findall(r"(\d{1,9}(?:\.\d{1,9})?)\s*([a-z]*)", text)
    if not parts or re.sub(r"[\d.\sa-z]", "", text) or "".join(n + u for n, u in parts) != re.sub(r"\s", "", text):
        return None
    total = 0.0
    for number, unit in parts:
        if unit not in _SPAN_UNITS:
            return None
        total += float(number) * _SPAN_UNITS[unit]
    return total


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
    if v.get("BRIDGE", "").lower() == "yes" and "TYPE" not in v:
        return _parse_suse_ifcfg(path, text, v)
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
                delay = min(int(raw.strip()[:10]), 10**9) / 100.0
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


def _parse_suse_ifcfg(path: str, text: str, v: dict[str, str]) -> list[BridgeConfig]:
    """SUSE wicked: BRIDGE='yes', BRIDGE_STP (off), BRIDGE_FORWARDDELAY (seconds, kernel default 15)."""
    name = os.path.basename(path).removeprefix("ifcfg-")
    return [BridgeConfig(
        bridge=name, path=path, format="ifcfg", stp=_bool(v.get("BRIDGE_STP"), False),
        forward_delay_s=_float(v.get("BRIDGE_FORWARDDELAY")), default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["BRIDGE", "BRIDGE_STP", "BRIDGE_FORWARDDELAY"]),
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
    stanza_lines: dict[str, list[str]] = {}
    cur = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        words = s.split()
        if words[0] == "iface" and len(words) >= 2:
            cur = stanzas.setdefault(words[1], {})
            stanza_lines.setdefault(words[1], []).append(f"{n}: {s}")
            name = words[1]
            continue
        if words[0] in ("auto", "allow-hotplug", "mapping", "source", "source-directory") or words[0].startswith("allow-"):
            cur = None
            continue
        if cur is not None and len(words) >= 1:
            key = words[0].replace("-", "_")
            cur[key] = " ".join(words[1:])
            if key in ("bridge_stp", "bridge_fd", "bridge_ports"):
                stanza_lines[name].append(f"{n}: {s}")
    out = []
    for name, opts in stanzas.items():
        if "bridge_ports" not in opts and "bridge_stp" not in opts and "bridge_fd" not in opts:
            continue
        stp = _bool(opts.get("bridge_stp"), False)
        out.append(BridgeConfig(
            bridge=name, path=path, format="ifupdown", stp=stp,
            forward_delay_s=_float(opts.get("bridge_fd")), default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=tuple(stanza_lines.get(name, ())),
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
        forward_delay_s=_timespan(raw), default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["Name", "Kind", "STP", "ForwardDelaySec"]),
    )]


# ---------------------------------------------------------------- netplan

def parse_netplan(path: str, text: str) -> list[BridgeConfig]:
    try:
        doc = yaml.safe_load(text)
    except Exception:  # YAMLError, and constructor errors such as a bad date or !!int
        return []
    net = doc.get("network") if isinstance(doc, dict) else None
    bridges = net.get("bridges") if isinstance(net, dict) else None
    if not isinstance(bridges, dict):
        return []
    default_renderer = str(net.get("renderer") or "networkd")
    out = []
    for name, conf in bridges.items():
        conf = conf if isinstance(conf, dict) else {}
        renderer = str(conf.get("renderer") or default_renderer)
        params = conf.get("parameters")
        if isinstance(params, dict):
            stp = _bool(str(params.get("stp")) if "stp" in params else None, True)
            delay = _timespan(params.get("forward-delay"))
            lines = _netplan_lines(text, str(name), ("stp", "forward-delay"))
        else:
            # no parameters: netplan writes no bridge keys, so the renderer's own defaults apply
            stp = renderer == "NetworkManager"
            delay = None
            lines = _netplan_lines(text, str(name), ()) or [f"bridges.{name}: no parameters (renderer {renderer})"]
        out.append(BridgeConfig(
            bridge=str(name), path=path, format="netplan", stp=stp, forward_delay_s=delay,
            default_delay_s=KERNEL_DEFAULT_FD_S, lines=tuple(lines),
        ))
    return out


def _netplan_lines(text: str, bridge: str, keys: tuple[str, ...]) -> list[str]:
    """The file's own lines (numbered) that define `bridge` and set the given parameters."""
    try:
        root = yaml.compose(text)
    except Exception:
        return []
    src = text.splitlines()

    def child(node, key):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return k, v
        return None, None

    _, net = child(root, "network")
    _, bridges = child(net, "bridges")
    key_node, conf = child(bridges, bridge)
    if key_node is None:
        return []
    marks = [key_node.start_mark.line]
    _, params = child(conf, "parameters")
    for k in keys:
        kn, _ = child(params, k)
        if kn is not None:
            marks.append(kn.start_mark.line)
    return [f"{n + 1}: {src[n].strip()}" for n in marks if n < len(src)]


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
