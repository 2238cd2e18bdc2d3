"""key=value lines, as the collector prints them for meta and bridge sections."""

from __future__ import annotations

import json


def parse_key_values(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and " " not in key:
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def first(kv: dict[str, list[str]], key: str):
    values = kv.get(key)
    return values[0] if values else None


def to_int(value, base: int = 10):
    if value is None:
        return None
    try:
        return int(str(value).strip(), base)
    except ValueError:
        return None


def named_json_entries(text: str, name: str = "ifname"):
    """iproute2's `-j` output (`ip -j addr`, `bridge -j vlan`): its entries that are objects with a string
    `name`; None when the text is not a JSON list (a command cut off, an error message)."""
    try:
        doc = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    return [e for e in doc if isinstance(e, dict) and isinstance(e.get(name), str)]
