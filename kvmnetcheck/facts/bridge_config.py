"""Persistent bridge definitions made outside libvirt, read as the program that applies them does.

The same file means different things to different programs, so each file is first given its
program (netstack.py says which run at boot) and then read with that program's rules:

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

import configparser
import dataclasses
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Optional

import yaml

from .model import BridgeConfig
from .netstack import Boot, NetStack

KERNEL_DEFAULT_FD_S = 15.0
NM_DEFAULT_FD_S = 15.0  # NetworkManager libnm-base/nm-base.h NM_BRIDGE_FORWARD_DELAY_DEF
_TRUE = {"1", "yes", "on", "true", "y", "t"}
_FALSE = {"0", "no", "off", "false", "n", "f"}


@dataclass(frozen=True)
class Context:
    """What reading a config file depends on besides the file itself."""

    netstack: NetStack = field(default_factory=NetStack)
    ifup_style: Optional[str] = None  # "ip" | "brctl" | "unreadable" | None (no ifup-eth)
    waits_without_stp: bool = False
    netplan_renderer: Optional[str] = None  # the global renderer of all netplan files (the last sets it)
    netplan_networkd: bool = False  # netplan's generator starts networkd at boot (a bridge renders to it)
    ifupdown2_stp_default: Optional[bool] = None  # from ifupdown2's policy files


def _unquote(value) -> str:
    return str(value).strip().strip("'\"")


def _bool(value: Optional[str], default: bool, true=_TRUE, false=_FALSE) -> bool:
    if value is None:
        return default
    v = _unquote(value).lower()
    if v in true:
        return True
    if v in false:
        return False
    return default


def _float(value) -> Optional[float]:
    if value is None:
        return None
    text = _unquote(value)
    if not re.fullmatch(r"\d{1,9}(\.\d{0,9})?", text):
        return None
    return float(text)


def _whole(value) -> Optional[int]:
    if value is None:
        return None
    text = _unquote(value)
    return int(text) if re.fullmatch(r"\d{1,9}", text) else None


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


def _boot_fields(boot: Boot) -> dict:
    return {"applies": boot.applies, "boot_note": boot.why}


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


def _ifcfg_program(v: dict[str, str], ctx: Context) -> tuple[str, Boot]:
    """Who applies a RHEL ifcfg file at boot: NetworkManager (ifcfg-rh plugin), initscripts, or nobody.

    initscripts' ifup hands a file to NetworkManager when NM runs and NM_CONTROLLED is not no
    (network-scripts/network-functions source_config); at boot NM itself loads it through ifcfg-rh."""
    ns = ctx.netstack
    nm_controlled = _bool(v.get("NM_CONTROLLED"), True)
    nm = ns.boot("NetworkManager")
    if nm_controlled and ns.nm_reads_ifcfg and nm.applies is not False:
        program, boot = "NetworkManager (ifcfg-rh)", Boot(nm.applies, nm.why + ", and it reads ifcfg files")
    elif ctx.ifup_style is not None:
        style = {"ip": "ip link", "brctl": "brctl"}.get(ctx.ifup_style, "ifup-eth unreadable")
        program, boot = f"initscripts ({style})", ns.boot("initscripts")
    else:
        why = [] if nm_controlled else ["NM_CONTROLLED=no"]
        if not ns.is_installed("NetworkManager"):
            why.append("NetworkManager is not installed")
        elif not ns.nm_reads_ifcfg:
            why.append("NetworkManager has no ifcfg-rh plugin here")
        elif nm.applies is False:
            why.append(nm.why)
        why.append("initscripts (ifup-eth) is not installed")
        return "nothing", Boot(False, "no program applies it at boot: " + "; ".join(why))
    if _bool(v.get("ONBOOT"), True) is False and boot.applies is not False:
        boot = Boot(False, "ONBOOT=no: nothing brings it up at boot")
    return program, boot


def _ifcfg_without_netstack(v: dict[str, str], common: dict, ctx: Context) -> BridgeConfig:
    """Facts saved by an older collector say whether ifup-eth exists, not whether NetworkManager runs:
    read the file as each program that may apply it would; where they disagree, it is unknown."""
    readers = []
    if _bool(v.get("NM_CONTROLLED"), True):
        readers.append(("NetworkManager (ifcfg-rh)", lambda c: _ifcfg_as_networkmanager(v, c)))
    if ctx.ifup_style is not None:
        style = {"ip": "ip link", "brctl": "brctl"}.get(ctx.ifup_style, "ifup-eth unreadable")
        readers.append((f"initscripts ({style})", lambda c: _ifcfg_as_initscripts(v, c, ctx.ifup_style)))
    if not readers:
        return _ifcfg_as_initscripts(v, {**common, "program": "nothing", "applies": False,
                                         "boot_note": "NM_CONTROLLED=no, and initscripts (ifup-eth) is not installed"},
                                     None)
    readings = [(name, read({**common, "program": name})) for name, read in readers]
    first = readings[0][1]
    if all((r.stp, r.new_port_block_s, r.problem is None) == (first.stp, first.new_port_block_s, first.problem is None)
           for _, r in readings):
        return first
    told = "; ".join(f"{name} would apply {'STP on' if r.stp else 'STP off'}, a new port blocked "
                     f"{r.new_port_block_s:g} s" for name, r in readings)
    return dataclasses.replace(first, program=" or ".join(n for n, _ in readings), unknown=(
        "which program applies this file at boot was not gathered (facts saved by an older version), and the "
        f"readings differ: {told}"))


def _context(ctx) -> Context:
    """A Context; a bare ifup-eth style (as from facts of the first collector) makes one."""
    return ctx if isinstance(ctx, Context) else Context(ifup_style=ctx)


def parse_ifcfg(path: str, text: str, ctx) -> list[BridgeConfig]:
    ctx = _context(ctx)
    v = parse_shell_vars(text)
    if path.startswith("/etc/sysconfig/network/") or (v.get("BRIDGE", "").lower() == "yes" and "TYPE" not in v):
        return _parse_suse_ifcfg(path, text, v, ctx)
    if v.get("TYPE", "").lower() != "bridge":
        return []
    name = v.get("DEVICE") or os.path.basename(path).removeprefix("ifcfg-")
    lines = _lines_with(text, ["STP", "DELAY", "BRIDGING_OPTS", "TYPE", "DEVICE", "NM_CONTROLLED", "ONBOOT"])
    common = dict(bridge=name, path=path, format="ifcfg", lines=lines,
                  connection=v.get("UUID") or v.get("NAME") or f"System {name}",
                  waits_without_stp=ctx.waits_without_stp)
    if not ctx.netstack.known:
        return [_ifcfg_without_netstack(v, {**common, "applies": None, "boot_note": ""}, ctx)]
    program, boot = _ifcfg_program(v, ctx)
    common.update(program=program, **_boot_fields(boot))
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
        d = _whole(raw)
        if d is None or d > 30:
            problem = (f"DELAY={raw} is not a whole number of seconds from 0 to 30: NetworkManager ignores it "
                       "and uses 15 s")
        elif d < 2:
            problem = (f"DELAY={raw} with STP on is outside NetworkManager's 2-30 s: it refuses the whole profile, "
                       "so the bridge is not brought up from this file at all")
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
    stp = _bool(v.get("STP"), False)
    if "stp_state" in opts:
        stp = _bool(opts["stp_state"], stp)
    problem = None
    delay: Optional[float] = None
    raw = v.get("DELAY")
    unknown = None
    if raw is not None and raw.strip() != "":
        if ifup_style == "unreadable":
            unknown = ("ifup-eth could not be read, so whether it applies DELAY as seconds (brctl) or "
                       "centiseconds (ip link) is unknown")
        elif ifup_style == "brctl":
            delay = _float(raw)
            if delay is None:
                problem = f"DELAY={raw} is not a number of seconds: brctl refuses it and the kernel's 15 s stays"
        elif re.fullmatch(r"\d+", raw.strip()):
            delay = min(int(raw.strip()[:10]), 10**9) / 100.0
        else:
            problem = (f"DELAY={raw} is not a whole number: this ifup-eth hands it to "
                       "`ip link ... forward_delay`, which refuses it; ifup then stops, so a new bridge is not "
                       "created (an existing one keeps the kernel's 15 s)")
    if "forward_delay" in opts:
        fd = _float(opts["forward_delay"])
        if fd is not None:
            delay = fd / 100.0
    return BridgeConfig(stp=stp, forward_delay_s=delay, default_delay_s=KERNEL_DEFAULT_FD_S,
                        problem=problem if stp else None, unknown=unknown if stp else None, **common)


def _parse_suse_ifcfg(path: str, text: str, v: dict[str, str], ctx: Context) -> list[BridgeConfig]:
    """SUSE wicked: BRIDGE='yes', BRIDGE_STP (off), BRIDGE_FORWARDDELAY (seconds, kernel default 15)."""
    if v.get("BRIDGE", "").lower() != "yes":
        return []
    name = os.path.basename(path).removeprefix("ifcfg-")
    boot = ctx.netstack.boot("wicked") if ctx.netstack.known else Boot(None, "")
    return [BridgeConfig(
        bridge=name, path=path, format="ifcfg", stp=_bool(v.get("BRIDGE_STP"), False),
        forward_delay_s=_float(v.get("BRIDGE_FORWARDDELAY")), default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["BRIDGE", "BRIDGE_STP", "BRIDGE_FORWARDDELAY"]), program="wicked",
        waits_without_stp=ctx.waits_without_stp, **_boot_fields(boot),
    )]


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


# ---------------------------------------------------------------- NetworkManager keyfiles

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
        return Boot(False, f"NetworkManager refuses this keyfile (mode {mode[0]:o}, owner uid {mode[1]}): only root "
                           "may own it and no one else may read it")
    return ns.boot("NetworkManager") if ns.known else Boot(None, "")


def parse_nmconnection(path: str, text: str, ctx: Context = Context()) -> list[BridgeConfig]:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    try:
        cp.read_string(text)
    except configparser.Error:
        return []
    if not cp.has_section("connection") or cp.get("connection", "type", fallback="") != "bridge":
        return []
    # the older form [bridge] interface-name= names the device when [connection] has none
    # (NetworkManager nm-keyfile.c nm_keyfile_read, "deprecated group")
    name = (cp.get("connection", "interface-name", fallback="") or cp.get("bridge", "interface-name", fallback="")
            or cp.get("connection", "id", fallback=""))
    if not name:
        return []
    boot = _keyfile_boot(path, ctx)
    autoconnect = cp.get("connection", "autoconnect", fallback=None)
    if autoconnect is not None and autoconnect.strip().lower() in _GLIB_FALSE and boot.applies is not False:
        boot = Boot(False, "autoconnect=false: NetworkManager does not bring it up at boot")
    raw_stp = cp.get("bridge", "stp", fallback=None)
    stp = _bool(raw_stp, True, _GLIB_TRUE, _GLIB_FALSE)
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
            problem = (f"forward-delay={raw} with STP on is outside NetworkManager's 2-30 s: it refuses the whole "
                       "profile, so the bridge is not brought up from this file")
        else:
            delay = float(d)
    return [BridgeConfig(
        bridge=name, path=path, format="nmconnection", stp=stp, forward_delay_s=delay,
        default_delay_s=NM_DEFAULT_FD_S,
        lines=_lines_with(text, ["stp", "forward-delay", "interface-name", "type", "autoconnect"]),
        problem=problem if stp else None, program="NetworkManager",
        connection=cp.get("connection", "uuid", fallback="") or cp.get("connection", "id", fallback="") or None,
        waits_without_stp=ctx.waits_without_stp, **_boot_fields(boot),
    )]


# ---------------------------------------------------------------- ifupdown

def parse_ifupdown(path: str, text: str, ctx: Context = Context()) -> list[BridgeConfig]:
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
        boot = ns.boot("ifupdown") if ns.known else Boot(None, "")
        if boot.applies is not False and ns.known and name not in auto:
            boot = Boot(False, f"no `auto {name}` line: `ifup -a` does not bring it up at boot")
        raw_stp = opts.get("bridge_stp")
        problem = None
        if two:
            # ifupdown2 addons/bridge.py: on/yes/1 is on, anything else off; unset: its policy's default
            stp = _bool(raw_stp, bool(ctx.ifupdown2_stp_default), {"on", "yes", "1"}, set()) \
                if raw_stp is not None else bool(ctx.ifupdown2_stp_default)
            delay = _whole(opts.get("bridge_fd"))
            if opts.get("bridge_fd") is not None and delay is None:
                problem = f"bridge-fd {opts['bridge_fd']} is not a whole number: ifupdown2 does not apply it (15 s)"
            delay = float(delay) if delay is not None else None
        else:
            # bridge-utils' brctl stp takes on/yes/1 and off/no/0; anything else changes nothing (kernel: off)
            stp = _bool(raw_stp, False, {"on", "yes", "1"}, {"off", "no", "0"})
            delay = _float(opts.get("bridge_fd"))
        out.append(BridgeConfig(
            bridge=name, path=path, format="ifupdown", stp=stp, forward_delay_s=delay,
            default_delay_s=KERNEL_DEFAULT_FD_S, lines=tuple(stanza_lines.get(name, ())),
            problem=problem if stp else None, program="ifupdown2" if two else "ifupdown (bridge-utils)",
            waits_without_stp=ctx.waits_without_stp, **_boot_fields(boot),
        ))
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


# ---------------------------------------------------------------- systemd-networkd

_SYSTEMD_TRUE = {"1", "yes", "y", "true", "t", "on"}
_SYSTEMD_FALSE = {"0", "no", "n", "false", "f", "off"}


def parse_netdev(path: str, text: str, ctx: Context = Context()) -> list[BridgeConfig]:
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
    ns = ctx.netstack
    if path.startswith("/run/"):
        if os.path.basename(path).startswith("10-netplan-"):
            boot = Boot(False, "written by netplan at every boot from its YAML, which is checked itself")
        else:
            boot = Boot(False, "a runtime file under /run: gone at the next boot")
    elif not ns.known:
        boot = Boot(None, "")
    else:
        boot = ns.boot("networkd")
        if boot.applies is False and ctx.netplan_networkd and ns.is_installed("networkd"):
            boot = Boot(True, "netplan starts systemd-networkd at boot")
    raw = cp.get("Bridge", "ForwardDelaySec", fallback=None)
    return [BridgeConfig(
        bridge=name, path=path, format="networkd",
        stp=_bool(cp.get("Bridge", "STP", fallback=None), False, _SYSTEMD_TRUE, _SYSTEMD_FALSE),
        forward_delay_s=_timespan(raw), default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=_lines_with(text, ["Name", "Kind", "STP", "ForwardDelaySec"]), program="systemd-networkd",
        waits_without_stp=ctx.waits_without_stp, **_boot_fields(boot),
    )]


# ---------------------------------------------------------------- netplan

# netplan (libyaml, src/parse.c) follows aliases wherever they point; a few hundred bytes of nested
# aliases then stand for billions of nodes, which reading the values (str() of them) would expand.
# Past these bounds a file is not read.
MAX_YAML_NODES = 100_000  # nodes visited with every alias followed
MAX_YAML_DEPTH = 64


# the bridge of a refused file that names none (no Linux bridge name has a space)
NOT_READ = "(not read)"


class YamlRefused(ValueError):
    """A YAML document whose aliases expand past the bounds (or loop): not read."""


def _bounded(root) -> None:
    """Walk the composed node graph as constructing and reading it would, aliases followed; raise
    YamlRefused past MAX_YAML_NODES nodes or MAX_YAML_DEPTH levels (an alias to its own ancestor
    never ends, and ends here)."""
    seen = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise YamlRefused(f"YAML aliases expand past {MAX_YAML_NODES} nodes")
        if depth > MAX_YAML_DEPTH:
            raise YamlRefused(f"YAML nests (aliases followed) past {MAX_YAML_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))


def compose_netplan(text: str):
    """The file's node graph (aliases are shared nodes, not copies), refused past the bounds: YamlRefused,
    or a YAMLError for a file that is no YAML."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        _bounded(root)
    return root


def load_netplan(text: str):
    """yaml.safe_load of a netplan file (the same values: a key given twice keeps its last value), refused
    past the bounds before any value is built."""
    root = compose_netplan(text)
    return None if root is None else yaml.SafeLoader("").construct_document(root)


def netplan_global_renderer(files: list[tuple[str, str]]) -> Optional[str]:
    """network.renderer of a set of netplan files: the last file (by name) that sets it wins."""
    renderer = None
    for path, text in sorted(files, key=lambda f: os.path.basename(f[0])):
        try:
            doc = load_netplan(text)
        except Exception:  # a refused file is reported by parse_netplan
            continue
        net = doc.get("network") if isinstance(doc, dict) else None
        if isinstance(net, dict) and net.get("renderer"):
            renderer = str(net["renderer"])
    return renderer


def netplan_bridges(text: str, global_renderer: Optional[str]) -> list[tuple[str, dict, str]]:
    """(name, definition, renderer) of each bridge, in file order. A `renderer` key under `bridges:`
    is no bridge: it sets the renderer of the bridges defined after it (netplan src/parse.c)."""
    try:
        doc = load_netplan(text)
    except Exception:  # YAMLError, YamlRefused, and constructor errors such as a bad date or !!int
        return []
    return _bridges_in(doc, global_renderer)


def _bridges_in(doc, global_renderer: Optional[str]) -> list[tuple[str, dict, str]]:
    net = doc.get("network") if isinstance(doc, dict) else None
    bridges = net.get("bridges") if isinstance(net, dict) else None
    if not isinstance(bridges, dict):
        return []
    file_renderer = net.get("renderer")
    type_renderer = None
    out = []
    for name, conf in bridges.items():
        if name == "renderer":
            type_renderer = str(conf) if conf else None
            continue
        conf = conf if isinstance(conf, dict) else {}
        renderer = str(conf.get("renderer") or type_renderer or global_renderer or file_renderer or "networkd")
        out.append((str(name), conf, renderer))
    return out


def parse_netplan(path: str, text: str, ctx: Context = Context()) -> list[BridgeConfig]:
    ns = ctx.netstack
    try:
        root = compose_netplan(text)
        doc = None if root is None else yaml.SafeLoader("").construct_document(root)
    except YamlRefused as e:
        return _refused_netplan(path, text, f"netplan file {path}: {e}; not read", ns)
    except Exception:  # YAMLError, and constructor errors such as a bad date or !!int
        return []
    out = []
    for name, conf, renderer in _bridges_in(doc, ctx.netplan_renderer):
        nm = renderer == "NetworkManager"
        params = conf.get("parameters")
        problem = None
        if isinstance(params, dict):
            stp = _bool(str(params.get("stp")) if "stp" in params else None, True)
            raw = params.get("forward-delay")
            if nm:
                # netplan copies the string into NM's keyfile; NM takes whole seconds only
                delay = _whole(raw)
                if raw is not None and delay is None:
                    problem = (f"forward-delay {raw!r} is no whole number of seconds: NetworkManager refuses the "
                               "value and uses 15 s")
                delay = float(delay) if delay is not None else None
            else:
                delay = _timespan(raw)
            lines = _netplan_lines(root, text, name, ("stp", "forward-delay"))
        else:
            # no parameters: netplan writes no bridge keys, so the renderer's own defaults apply
            stp = nm
            delay = None
            lines = _netplan_lines(root, text, name, ()) or [f"bridges.{name}: no parameters (renderer {renderer})"]
        if nm:
            program = "netplan -> NetworkManager"
            boot = ns.boot("NetworkManager") if ns.known else Boot(None, "")
        else:
            program = "netplan -> systemd-networkd"
            boot = (Boot(True, "netplan starts systemd-networkd at boot") if ns.is_installed("networkd")
                    else Boot(False, "systemd-networkd is not installed")) if ns.known else Boot(None, "")
        if ns.known and not ns.is_installed("netplan"):
            boot = Boot(False, "netplan is not installed: nothing reads this file")
        out.append(BridgeConfig(
            bridge=name, path=path, format="netplan", stp=stp, forward_delay_s=delay,
            default_delay_s=NM_DEFAULT_FD_S if nm else KERNEL_DEFAULT_FD_S, lines=tuple(lines),
            problem=problem if stp else None, program=program + f" (renderer {renderer})",
            connection=f"netplan-{name}" if nm else None,
            waits_without_stp=ctx.waits_without_stp, **_boot_fields(boot),
        ))
    return out


def _refused_netplan(path: str, text: str, why: str, ns: NetStack) -> list[BridgeConfig]:
    """Each bridge a refused file names (its keys under network.bridges, found without following the
    aliases any further), unknown; one that names none it could be read for stands for them all."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # composing shares aliased nodes: no expansion
    _, net = _child(root, "network")
    _, bridges = _child(net, "bridges")
    keys = [k for k, _ in bridges.value if isinstance(k, yaml.ScalarNode) and k.value != "renderer"] \
        if isinstance(bridges, yaml.MappingNode) else []
    names = list(dict.fromkeys(k.value for k in keys)) or [NOT_READ]
    src = text.splitlines()
    boot = Boot(False, "netplan is not installed: nothing reads this file") \
        if ns.known and not ns.is_installed("netplan") else Boot(None, "")
    return [BridgeConfig(
        bridge=name, path=path, format="netplan", stp=True, forward_delay_s=None, default_delay_s=KERNEL_DEFAULT_FD_S,
        lines=tuple(f"{k.start_mark.line + 1}: {src[k.start_mark.line].strip()}" for k in keys
                    if k.value == name and k.start_mark.line < len(src)),
        program="netplan", unknown=why, **_boot_fields(boot),
    ) for name in names]


def _child(node, key):
    """The first (key node, value node) of `key` in a mapping node; (None, None) if none."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def _netplan_lines(root, text: str, bridge: str, keys: tuple[str, ...]) -> list[str]:
    """The file's own lines (numbered) that define `bridge` and set the given parameters: where a key
    is given twice, the first (the values are the last's, as yaml.safe_load reads them)."""
    src = text.splitlines()
    _, net = _child(root, "network")
    _, bridges = _child(net, "bridges")
    key_node, conf = _child(bridges, bridge)
    if key_node is None:
        return []
    marks = [key_node.start_mark.line]
    _, params = _child(conf, "parameters")
    for k in keys:
        kn, _ = _child(params, k)
        if kn is not None:
            marks.append(kn.start_mark.line)
    return [f"{n + 1}: {src[n].strip()}" for n in marks if n < len(src)]


def parse_config_file(path: str, text: str, ctx) -> list[BridgeConfig]:
    """The bridges a config file defines; `ctx` a Context (or, as before, ifup-eth's style alone)."""
    ctx = _context(ctx)
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
