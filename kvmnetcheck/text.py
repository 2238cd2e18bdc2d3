"""Text from hosts, made safe for each place it is written: one path for every writer.

Names and messages come from the hosts a run checks (bridge, network, guest and host names,
command output), and a host may hold anything: line breaks, terminal escape sequences, bidi
overrides that reorder what a reader sees, lone surrogates (bytes that were not UTF-8),
noncharacters. Each writer passes what it writes through the function for its format; a character
the format cannot carry is replaced by a visible escape (`\\x0a`, `\\u202e`), never dropped silently,
never a crash, never a broken file.

The bottom layer: it imports nothing of the package, and every layer may use it.
"""

from __future__ import annotations

import html
import re

# Never safe on a line a person reads or a shell runs: C0 and C1 controls and DEL, the Unicode
# line and paragraph separators, bidi embeddings, overrides and isolates (they reorder what a
# reader sees), lone surrogates, and the noncharacters U+FFFE/U+FFFF (XML 1.0 has no room for them).
_BEYOND_C0 = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_UNSAFE_RE = re.compile("[\x00-\x1f" + _BEYOND_C0 + "]")
# the same, with the line break and tab that multi-line text keeps
_UNSAFE_IN_LINES_RE = re.compile("[\x00-\x08\x0b-\x1f" + _BEYOND_C0 + "]")
# what XML 1.0 cannot carry at all (Char production), and what JSON written as UTF-8 cannot
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def visible(ch: str) -> str:
    """One character as an escape a reader sees: \\xNN, \\uNNNN or \\UNNNNNNNN."""
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def _sub(pattern: "re.Pattern[str]", text: str) -> str:
    return pattern.sub(lambda m: visible(m.group()), text)


def unsafe(text: str) -> bool:
    """Whether a value holds a character that must not reach a line as it is."""
    return bool(_UNSAFE_RE.search(text))


def one_line(text) -> str:
    """A value that cannot leave its line: every line break and other unsafe character escaped.

    For what goes inside one line: a fix script's comment, a label, a table cell, a terminal line."""
    text = str(text)
    return _sub(_UNSAFE_RE, text) if _UNSAFE_RE.search(text) else text


def lines(text) -> str:
    """Multi-line text for a terminal or a plain-text file: its own line breaks (and tabs) kept, every
    other unsafe character escaped, so a host name cannot move the cursor or recolour the screen."""
    text = str(text)
    text = text.replace("\r\n", "\n")
    return _sub(_UNSAFE_IN_LINES_RE, text) if _UNSAFE_IN_LINES_RE.search(text) else text


def for_xml(text) -> str:
    """Text XML 1.0 can carry (escape the markup characters after this): the characters it cannot
    hold at all are shown escaped, so junit.xml and the HTML page stay well-formed."""
    text = str(text)
    return _sub(_NOT_XML_RE, text) if _NOT_XML_RE.search(text) else text


def for_html(text) -> str:
    """Text for an HTML page: markup characters escaped (quotes too), and every unsafe character shown
    as on a terminal, line breaks kept (what a page shows must be what the host has, bidi included)."""
    return html.escape(lines(text), quote=True)


def for_prometheus_label(text) -> str:
    """A label value of Prometheus' text format (UTF-8): backslash, double quote and line break escaped
    as the format wants, every other unsafe character shown."""
    return one_line(str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))


def for_json(text) -> str:
    """Text that encodes as UTF-8: lone surrogates (bytes that were not UTF-8) shown escaped."""
    text = str(text)
    return _sub(_SURROGATE_RE, text) if _SURROGATE_RE.search(text) else text


def json_safe(value):
    """A JSON-ready value (dicts, lists, strings, numbers) with every string made encodable."""
    if isinstance(value, str):
        return for_json(value)
    if isinstance(value, dict):
        return {for_json(k) if isinstance(k, str) else k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def shell_inert(text: str) -> bool:
    """Whether a value may stand unquoted in a shell command: letters, digits and `_.:/@%+=,-` only."""
    return bool(re.fullmatch(r"[A-Za-z0-9_.:/@%+=,-]*", text))
