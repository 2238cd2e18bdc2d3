"""Waivers: accepted findings, each with a reason and an end date.

A waiver never hides a finding: the result is reported as waived, with the
reason, and counted apart from failures. Once its date has passed a waiver stops
applying (the finding fails again and the report names the expired entry), so
no exception outlives the decision behind it.

    waivers:
      - check: bridge-stp-root        # a check id, or a pattern such as bridge-*
        host: kvm0*                   # fnmatch pattern on the host name (default *)
        object: br-ring               # fnmatch pattern on the object (default *)
        reason: ring topology needs STP; PXE guests never use br-ring (CHG-1042)
        expires: 2026-06-30           # last day the waiver applies
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Optional

from ..catalog import CHECKS
from .source import Mapping, PolicyError, Sequence, load

FIELDS = ("check", "host", "object", "reason", "expires")
_GLOB = set("*?[")


@dataclass(frozen=True)
class Waiver:
    check: str
    host: str
    object: str
    reason: str
    expires: datetime.date
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def covers(self, check: str, host: str, obj: str) -> bool:
        return fnmatchcase(check, self.check) and fnmatchcase(host, self.host) and fnmatchcase(obj, self.object)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    def describe(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "host": self.host,
            "object": self.object,
            "reason": self.reason,
            "expires": self.expires.isoformat(),
            "where": self.where,
        }


@dataclass(frozen=True)
class Match:
    applied: Optional[Waiver] = None  # an entry in force that covers the finding
    expired: Optional[Waiver] = None  # else, an entry past its date that would have


@dataclass(frozen=True)
class WaiverSet:
    entries: tuple[Waiver, ...] = ()
    source: str = ""  # the file the entries were read from

    def __bool__(self) -> bool:
        return bool(self.entries)

    def match(self, check: str, host: str, obj: str, today: datetime.date) -> Match:
        """The first entry in force covering (check, host, object), else the first expired one."""
        expired = None
        for w in self.entries:
            if not w.covers(check, host, obj):
                continue
            if not w.expired(today):
                return Match(applied=w)
            expired = expired or w
        return Match(expired=expired)

    def usage(self, matched: dict[str, int], today: datetime.date) -> list[dict[str, Any]]:
        """Each entry with its status (applied, unused, expired) and how many findings it matched.

        `matched` counts findings per entry location (`where`), applied or expired.
        """
        out = []
        for w in self.entries:
            n = matched.get(w.where, 0)
            status = "expired" if w.expired(today) else ("applied" if n else "unused")
            out.append({**w.describe(), "status": status, "matched": n})
        return out


def load_waivers(path: str) -> WaiverSet:
    """Read a waiver file: a list of entries, or a mapping with a `waivers:` list."""
    doc = load(path)
    if doc is None:
        return WaiverSet((), path)
    if isinstance(doc, Mapping):
        unknown = [k for k in doc if k != "waivers"]
        if unknown:
            raise PolicyError(
                path, doc.lines[unknown[0]], f"unknown key '{unknown[0]}' (a waiver file holds a 'waivers:' list)"
            )
        if "waivers" not in doc:
            raise PolicyError(path, doc.line, "no 'waivers:' list")
        doc = doc["waivers"]
    return WaiverSet(parse_entries(doc, path, getattr(doc, "line", 1)), path)


def parse_entries(doc: Any, path: str, line: int) -> tuple[Waiver, ...]:
    if doc is None:
        return ()
    if not isinstance(doc, Sequence):
        raise PolicyError(path, line, "waivers must be a list of entries (each starting with '- check:')")
    return tuple(_entry(item, path, item_line) for item, item_line in zip(doc, doc.lines))


def _entry(item: Any, path: str, line: int) -> Waiver:
    if not isinstance(item, Mapping):
        raise PolicyError(path, line, "a waiver entry is a mapping with check, host, object, reason and expires")
    for key in item:
        if key not in FIELDS:
            raise PolicyError(path, item.lines[key], f"unknown key '{key}' in a waiver (known: {', '.join(FIELDS)})")
    for key in ("check", "reason", "expires"):
        if key not in item or item[key] in (None, ""):
            raise PolicyError(path, line, f"waiver has no '{key}'")
    check = _text(item, "check", path)
    if _GLOB & set(check):
        if not any(fnmatchcase(c, check) for c in CHECKS):
            raise PolicyError(path, item.lines["check"], f"check pattern '{check}' matches no check id")
    elif check not in CHECKS:
        raise PolicyError(path, item.lines["check"], f"unknown check id '{check}' (known: {', '.join(sorted(CHECKS))})")
    return Waiver(
        check=check,
        host=_text(item, "host", path, "*"),
        object=_text(item, "object", path, "*"),
        reason=_text(item, "reason", path).strip(),
        expires=_date(item, path),
        path=path,
        line=line,
    )


def _text(item: Mapping, key: str, path: str, default: Optional[str] = None) -> str:
    if key not in item:
        return default
    v = item[key]
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise PolicyError(path, item.lines[key], f"'{key}' must be text, got {v!r}")
    v = str(v)
    if not v.strip():
        raise PolicyError(path, item.lines[key], f"'{key}' is empty")
    return v


def _date(item: Mapping, path: str) -> datetime.date:
    v = item["expires"]
    if isinstance(v, datetime.datetime):
        return v.date()
    if isinstance(v, datetime.date):
        return v
    if isinstance(v, str):
        try:
            return datetime.date.fromisoformat(v.strip())
        except ValueError:
            pass
    raise PolicyError(path, item.lines["expires"], f"expires {v!r} is not a date written YYYY-MM-DD")
