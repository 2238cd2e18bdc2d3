"""Bridge state from /sys/class/net/BR/bridge/* and brif/*/state.

Sample (as the collector prints it):

    stp_state=1
    forward_delay=1500
    hello_time=200
    bridge_id=8000.525400123456
    root_id=8000.525400123456
    root_port=0
    priority=32768
    operstate=up
    port=vnet0 state=3

`brif=unreadable` instead of the ports: /sys/class/net/BR/brif could not be listed (collector 5).
Timers are in USER_HZ ticks (getconf CLK_TCK): forward_delay 1500 at 100 Hz is 15 s.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

from ..model import Bridge, BridgePort, TcFilters
from .gathered import Gathered
from .keyvalue import first, parse_key_values, to_int
from .tc import parse_filters

_BRIDGE_ID = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{12}$")
_PORT = re.compile(r"^port=(\S+) state=(\S*)$")


def parse_bridge(name: str, text: str, clk_tck: Optional[int]) -> Bridge:
    kv = parse_key_values(text)
    hz = clk_tck if clk_tck and clk_tck > 0 else None
    problems = []

    def seconds(key: str) -> Optional[float]:
        ticks = to_int(first(kv, key))
        if ticks is None or hz is None or ticks < 0:
            return None
        return ticks / hz

    def bridge_id(key: str) -> Optional[str]:
        v = first(kv, key)
        if v is None:
            return None
        if not _BRIDGE_ID.match(v):
            problems.append(f"{key} {v!r} is not a bridge id")
            return None
        return v.lower()

    stp_state = to_int(first(kv, "stp_state"))
    if stp_state not in (0, 1, 2):
        if first(kv, "stp_state") is not None:
            problems.append(f"stp_state {first(kv, 'stp_state')!r} is not 0, 1 or 2")
        stp_state = None
    if stp_state is None:
        problems.append("stp_state could not be read")
    fd = seconds("forward_delay")
    if fd is None:
        problems.append("forward_delay could not be read" + ("" if hz else " (CLK_TCK unknown)"))
    ports = []
    for line in text.splitlines():
        m = _PORT.match(line)
        if m:
            ports.append(BridgePort(m.group(1), to_int(m.group(2))))
    unlisted = first(kv, "brif") == "unreadable"
    return Bridge(
        name=name,
        stp_state=stp_state,
        forward_delay_s=fd,
        hello_time_s=seconds("hello_time"),
        max_age_s=seconds("max_age"),
        bridge_id=bridge_id("bridge_id"),
        root_id=bridge_id("root_id"),
        root_port=to_int(first(kv, "root_port")),
        priority=to_int(first(kv, "priority")),
        operstate=first(kv, "operstate"),
        nf_call_iptables=_flag(first(kv, "nf_call_iptables")),
        vlan_filtering=_flag(first(kv, "vlan_filtering")),
        ports=None if unlisted else tuple(ports),
        ports_error=f"/sys/class/net/{name}/brif could not be listed" if unlisted else None,
        error="; ".join(problems) or None,
    )


def _flag(value) -> Optional[bool]:
    v = to_int(value)
    return None if v is None else v != 0


def read_bridges(g: Gathered) -> tuple[tuple[Bridge, ...], tuple[TcFilters, ...], Optional[str]]:
    """(bridges, each one's tc filters, why the list may lack some) from the `bridge` and `tc_filter` sections."""
    bridges, tcs = [], []
    for s in g.all("bridge"):
        b = parse_bridge(s.arg, s.text, g.clk_tck)
        if s.rc is None:
            b = dataclasses.replace(
                b, ports=None, ports_error=f"the collector's output was cut short inside bridge {s.arg}'s section"
            )
        elif not b.ports and not g.gathered_since(5):
            # collectors before 5 printed no port alike for a bridge without ports and for a port list that
            # could not be listed
            b = dataclasses.replace(
                b,
                ports=None,
                ports_error="gathered by an older version, which did not say whether the port list could be read",
            )
        bridges.append(dataclasses.replace(b, waits_without_stp=True) if g.waits_without_stp else b)
        texts = [f.text for f in g.all("tc_filter") if f.arg.split(" ", 1)[0] == s.arg and f.ok]
        tcs.append(parse_filters(s.arg, texts))
    return tuple(bridges), tuple(tcs), g.cut_before("bridge")
