"""Open vSwitch: three read-only listings of its database, one section each.

    ovs-vsctl --format=json --columns=name,stp_enable,rstp_enable,other_config,ports list Bridge
    {"data":[["br-fd4",true,false,["map",[["stp-forward-delay","4"]]],["set",[["uuid","a86b..."],["uuid","bb69..."]]]],
             ["br-lone",false,false,["map",[]],["uuid","dce8..."]]],
     "headings":["name","stp_enable","rstp_enable","other_config","ports"]}

    ovs-vsctl --format=json --columns=_uuid,name,interfaces,other_config,status,rstp_status list Port
    ovs-vsctl --format=json --columns=_uuid,name,type,external_ids,link_state list Interface

Cells are OVSDB JSON (RFC 7047 5.1): a reference is ["uuid","..."], a set of one element is that element
alone, a set of zero or several is ["set",[...]], a map is ["map",[[key,value],...]]. Bridge.ports names
Port rows, Port.interfaces names Interface rows.

Without the database (no ovsdb-server) ovs-vsctl prints one line and exits 1:

    ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)

"(Connection refused)" when the server died and left its socket, "(Permission denied)" for a user who may
not open the socket (root only on Debian).
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from ..model import (
    OVS_GUEST_TAP,
    OVS_STP_DEFAULT_FORWARD_DELAY_S,
    OVS_STP_DEFAULT_HELLO_TIME_MS,
    OVS_STP_DEFAULT_MAX_AGE_S,
    Ovs,
    OvsBridge,
    OvsInterface,
    OvsPort,
)
from .gathered import Gathered

BRIDGE_COLUMNS = ("name", "stp_enable", "rstp_enable", "other_config", "ports")
PORT_COLUMNS = ("_uuid", "name", "interfaces", "status", "rstp_status")
INTERFACE_COLUMNS = ("_uuid", "name", "type", "external_ids")

# the server is not there at all: nothing listens on its socket
_NOT_RUNNING = re.compile(r"database connection failed \((No such file or directory|Connection refused)\)")
# strtoull(3) as ovs-vswitchd's smap_get_ullong calls it: blanks, a sign, decimal digits, nothing after
_ULLONG = re.compile(r"^[ \t\n\v\f\r]*([+-]?)([0-9]+)$")
_ULLONG_MAX = 2**64 - 1


def build_ovs(
    installed: bool,
    bridge_json: Optional[str],
    port_json: Optional[str],
    iface_json: Optional[str],
    bridge_rc: Optional[int] = None,
    port_rc: Optional[int] = None,
    iface_rc: Optional[int] = None,
) -> Ovs:
    """Ovs from the three listings (their text, stdout and stderr together, and exit status; None when not
    run or cut off). A listing that failed or cannot be read sets `error`: no bridges then means "unknown",
    never "none"."""
    if not installed:
        return Ovs(installed=False, running=False)
    bridges, why = _table("Bridge", bridge_json, bridge_rc, BRIDGE_COLUMNS)
    if bridges is None:
        return Ovs(installed=True, running=_running(bridge_json, bridge_rc), error=why)
    problems = [why] if why else []
    ports, why = _table("Port", port_json, port_rc, PORT_COLUMNS)
    problems += [why] if why else []
    ifaces, why = _table("Interface", iface_json, iface_rc, INTERFACE_COLUMNS)
    problems += [why] if why else []

    iface_by_uuid = {}
    for row in ifaces or ():
        uuid, iface = _interface(row)
        if uuid and iface:
            iface_by_uuid[uuid] = iface
    port_rows = {}
    for row in ports or ():
        uuid = _uuid(row.get("_uuid"))
        if uuid:
            port_rows[uuid] = row

    out = []
    bad_rows = 0
    for row in bridges:
        b = _bridge(row, port_rows if ports is not None else None, iface_by_uuid if ifaces is not None else None)
        if b is None:
            bad_rows += 1
        else:
            out.append(b)
    if bad_rows:
        problems.append(f"ovs-vsctl list Bridge: {bad_rows} row(s) could not be read")
    return Ovs(
        installed=True,
        running=True,
        bridges=tuple(sorted(out, key=lambda b: b.name)),
        error="; ".join(problems) or None,
    )


def _running(text: Optional[str], rc: Optional[int]) -> Optional[bool]:
    if rc == 0:
        return True
    if _NOT_RUNNING.search(text or ""):
        return False
    return None


def _table(
    table: str, text: Optional[str], rc: Optional[int], columns: tuple[str, ...]
) -> tuple[Optional[list[dict[str, Any]]], Optional[str]]:
    """The rows as {heading: cell}, or None and why. A row of the wrong shape is left out, and said."""
    what = f"ovs-vsctl list {table}"
    if text is None:
        return None, f"{what} was not run"
    if rc not in (0, None):
        return None, f"{what} failed (exit status {rc}): {_first_line(text)}"
    doc = _json(text)
    if doc is None:
        if not text.strip():
            return None, f"{what} printed nothing"
        return None, f"{what} printed no readable JSON: {_first_line(text)}"
    headings, data = doc.get("headings"), doc.get("data")
    if not (isinstance(headings, list) and isinstance(data, list) and all(isinstance(h, str) for h in headings)):
        return None, f"{what}: JSON without headings and data"
    missing = [c for c in columns if c not in headings]
    if missing:
        return None, f"{what}: no column {', '.join(missing)}"
    rows, bad = [], 0
    for r in data:
        if isinstance(r, list) and len(r) == len(headings):
            rows.append(dict(zip(headings, r)))
        else:
            bad += 1
    return rows, (f"{what}: {bad} row(s) of the wrong shape" if bad else None)


def _json(text: str) -> Optional[dict]:
    """The listing's JSON object; the collector merges stderr in, so a warning line may come first."""
    candidates = [text] + [line for line in text.splitlines() if line.lstrip().startswith("{")][::-1]
    for c in candidates:
        try:
            doc = json.loads(c)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict):
            return doc
    return None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else "(no output)"


def _uuid(cell: Any) -> Optional[str]:
    if isinstance(cell, list) and len(cell) == 2 and cell[0] == "uuid" and isinstance(cell[1], str):
        return cell[1]
    return None


def _uuids(cell: Any) -> Optional[list[str]]:
    """A set of references: one bare ["uuid", ...] or ["set", [...]]; None when garbled."""
    items = cell[1] if isinstance(cell, list) and len(cell) == 2 and cell[0] == "set" else [cell]
    if not isinstance(items, list):
        return None
    out = [_uuid(i) for i in items]
    return None if None in out else out  # type: ignore[return-value]


def _map(cell: Any) -> Optional[dict[str, str]]:
    """A string-to-string map; None when garbled."""
    if not (isinstance(cell, list) and len(cell) == 2 and cell[0] == "map" and isinstance(cell[1], list)):
        return None
    out = {}
    for pair in cell[1]:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
            return None
        out[pair[0]] = pair[1]
    return out


def _str(cell: Any) -> Optional[str]:
    """An optional string column: the bare string, else None (["set",[]] when it has no value)."""
    return cell if isinstance(cell, str) else None


def _ullong(config: dict[str, str], key: str, default: int, problems: list[str]) -> int:
    """other_config[key] as ovs-vswitchd reads it (smap_get_ullong): a number strtoull takes whole, else
    the default. A minus sign wraps as strtoull's does, kept here as the negative number."""
    raw = config.get(key)
    if raw is None:
        return default
    m = _ULLONG.match(raw)
    if m and int(m.group(2)) <= _ULLONG_MAX:
        return -int(m.group(2)) if m.group(1) == "-" else int(m.group(2))
    problems.append(f"other_config:{key} {raw[:40]!r} is not a whole number: Open vSwitch uses its default, {default}")
    return default


def _interface(row: dict[str, Any]) -> tuple[Optional[str], Optional[OvsInterface]]:
    uuid, name, kind = _uuid(row.get("_uuid")), row.get("name"), row.get("type")
    if not (uuid and isinstance(name, str) and isinstance(kind, str)):
        return None, None
    ids = _map(row.get("external_ids")) or {}
    return uuid, OvsInterface(
        name=name,
        type=kind,
        vm_id=ids.get("vm-id") or None,
        attached_mac=ids.get("attached-mac") or None,
        link_state=_str(row.get("link_state")) or None,
    )


def _port(row: dict[str, Any], ifaces: Optional[dict[str, OvsInterface]], problems: list[str]) -> Optional[OvsPort]:
    name = row.get("name")
    if not isinstance(name, str):
        return None
    found: list[OvsInterface] = []
    refs = _uuids(row.get("interfaces"))
    if refs is None:
        problems.append(f"port {name}: its interfaces could not be read")
    elif ifaces is not None:
        found = [ifaces[u] for u in refs if u in ifaces]
        if len(found) < len(refs):
            problems.append(f"port {name}: {len(refs) - len(found)} interface(s) not in the Interface listing")
    status = _map(row.get("status")) or {}
    rstp = _map(row.get("rstp_status")) or {}
    internal = bool(found) and all(i.is_internal for i in found)
    return OvsPort(
        name=name,
        interfaces=tuple(found),
        stp_state=(status.get("stp_state") or "").lower() or None,
        rstp_state=(rstp.get("rstp_port_state") or "").lower() or None,
        # a port whose interfaces are unknown still has its interface's name (OVS names it so by default)
        is_guest=any(i.is_guest for i in found) if found else bool(OVS_GUEST_TAP.match(name)),
        is_internal=internal,
    )


def _bridge(
    row: dict[str, Any], ports: Optional[dict[str, dict[str, Any]]], ifaces: Optional[dict[str, OvsInterface]]
) -> Optional[OvsBridge]:
    name, stp, rstp, config = (
        row.get("name"),
        row.get("stp_enable"),
        row.get("rstp_enable"),
        _map(row.get("other_config")),
    )
    if not (isinstance(name, str) and isinstance(stp, bool) and isinstance(rstp, bool) and config is not None):
        return None  # without these, how long its new ports wait is unknown
    problems: list[str] = []
    fd = _ullong(config, "stp-forward-delay", int(OVS_STP_DEFAULT_FORWARD_DELAY_S), problems)
    ma = _ullong(config, "stp-max-age", int(OVS_STP_DEFAULT_MAX_AGE_S), problems)
    ht = _ullong(config, "stp-hello-time", OVS_STP_DEFAULT_HELLO_TIME_MS, problems)
    found: list[OvsPort] = []
    refs = _uuids(row.get("ports"))
    if refs is None:
        problems.append("its ports could not be read")
    elif ports is None:
        problems.append("its ports are unknown (the Port listing could not be read)")
    else:
        missing = 0
        for u in refs:
            p = _port(ports[u], ifaces, problems) if u in ports else None
            if p is None:
                missing += 1
            else:
                found.append(p)
        if missing:
            problems.append(f"{missing} port(s) missing from the Port listing or unreadable")
        if ifaces is None:
            problems.append("its interfaces are unknown (the Interface listing could not be read)")
    # Bridge.status (vswitchd/bridge.c br_refresh_stp_status): stp_bridge_id and stp_designated_root, the
    # same ID when this bridge is the root, whose timers then apply; absent from listings without the column
    status = _map(row.get("status")) if "status" in row else None
    own, root = (status or {}).get("stp_bridge_id"), (status or {}).get("stp_designated_root")
    return OvsBridge(
        name=name,
        stp=stp,
        rstp=rstp,
        stp_forward_delay_s=float(fd),
        stp_max_age_s=float(ma),
        ports=tuple(sorted(found, key=lambda p: p.name)),
        stp_hello_time_ms=ht,
        error="; ".join(problems) or None,
        stp_root=None if not (own and root) else ("self" if own == root else root),
    )


def read_ovs(g: Gathered) -> Ovs:
    """The `ovs_bridges`, `ovs_ports` and `ovs_interfaces` sections."""
    if not g.gathered_since(3):
        return Ovs(
            installed="ovs-vsctl" in g.commands,
            running=None,
            error="gathered by an older version, which did not read Open vSwitch",
        )
    b, p, i = g.one("ovs_bridges"), g.one("ovs_ports"), g.one("ovs_interfaces")
    return build_ovs(
        "ovs-vsctl" in g.commands, b and b.text, p and p.text, i and i.text, b and b.rc, p and p.rc, i and i.rc
    )
