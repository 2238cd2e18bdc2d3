"""key=value lines, as the collector prints them for meta and bridge sections."""

from __future__ import annotations


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
