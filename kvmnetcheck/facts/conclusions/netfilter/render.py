"""Labels for a report: nft rules as nft prints them, clipped."""

from __future__ import annotations

import json
from typing import Any, Optional

MAX_LABEL = 300


def clip(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."


def _render_value(v: Any, quote: bool, depth: int = 0) -> str:
    if depth > 4:
        return "..."
    if isinstance(v, str):
        return f'"{v}"' if quote and not v.startswith("@") else v
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, list):
        return ",".join(_render_value(x, quote, depth + 1) for x in v[:8])
    if isinstance(v, dict) and len(v) == 1:
        k, b = next(iter(v.items()))
        if k == "set" and isinstance(b, list):
            return (
                "{ "
                + ", ".join(_render_value(x, quote, depth + 1) for x in b[:8])
                + (", ..." if len(b) > 8 else "")
                + " }"
            )
        if k == "range" and isinstance(b, list) and len(b) == 2:
            return f"{_render_value(b[0], quote, depth + 1)}-{_render_value(b[1], quote, depth + 1)}"
        if k == "prefix" and isinstance(b, dict):
            return f"{b.get('addr')}/{b.get('len')}"
        if k in ("meta", "payload", "ct"):
            return _render_left(v)
    return clip(json.dumps(v, default=str))[:80]


def _render_left(left: Any) -> str:
    if isinstance(left, dict) and len(left) == 1:
        k, b = next(iter(left.items()))
        if isinstance(b, dict):
            if k == "meta":
                key = b.get("key")
                return str(key) if key in ("iifname", "oifname", "iif", "oif") else f"meta {key}"
            if k == "payload" and "protocol" in b:
                return f"{b.get('protocol')} {b.get('field')}"
            if k == "ct":
                return f"ct {b.get('key')}"
    return clip(json.dumps(left, default=str))[:80]


def _render_statement(st: Any) -> str:
    if not isinstance(st, dict) or len(st) != 1:
        return clip(json.dumps(st, default=str))[:80]
    k, b = next(iter(st.items()))
    if k == "match" and isinstance(b, dict):
        left = _render_left(b.get("left"))
        quote = left in ("iifname", "oifname", "iif", "oif") or left.endswith("brname")
        op = b.get("op", "==")
        op_text = "" if op in ("==", "in") else f"{op} "
        return f"{left} {op_text}{_render_value(b.get('right'), quote)}"
    if k in ("jump", "goto") and isinstance(b, dict):
        return f"{k} {b.get('target')}"
    if k == "reject" and isinstance(b, dict) and b.get("type"):
        return f"reject with {b.get('type')} {b.get('expr', '')}".rstrip()
    if k == "xt" and isinstance(b, dict):
        return f'xt {b.get("type")} "{b.get("name")}"'
    if k == "vmap" and isinstance(b, dict):
        data = b.get("data")
        entries = data.get("set") if isinstance(data, dict) else data
        if isinstance(entries, list):
            shown = ", ".join(
                f"{_render_value(e[0], True)} : {_render_statement(e[1])}"
                if isinstance(e, list) and len(e) == 2
                else "?"
                for e in entries[:6]
            )
            entries = "{ " + shown + (", ..." if len(entries) > 6 else "") + " }"
        return f"{_render_left(b.get('key'))} vmap {entries}"
    return k


def render_rule(expr: Optional[list]) -> str:
    if not isinstance(expr, list):
        return "(unreadable)"
    return " ".join(_render_statement(st) for st in expr[:12]) + (" ..." if len(expr) > 12 else "")
