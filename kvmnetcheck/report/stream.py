"""Results as a stream: each Result is written to a spool file (one JSON line) the moment it is made,
and only what the end of the run needs is kept in memory: findings (failed, error, waived), counts
per outcome, per host and check, and per host, check, severity and outcome, and, for a baseline, the
outcome now of each key the baseline had as a finding. A host's digest (its summary for results.json,
what its fix script needs, its guests' findings) replaces its facts once its checks are done.

results.json, JUnit and the HTML are written from the spool and these, so memory does not grow
with the number of passed results; `kvm-netcheck merge` reads shards' spools the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from .results import Result

FINDING = ("failed", "error", "waived")
BUCKETS = ("failed", "waived", "error", "passed", "skipped")
_BUCKET = {b: i for i, b in enumerate(BUCKETS)}
_ERROR = _BUCKET["error"]


@dataclass
class HostDigest:
    """What the end of a run needs of one host, once its facts are let go."""

    host: str
    summary: dict[str, Any]  # results.json's entry for the host (report/results.py host_summary)
    hostname: Optional[str] = None
    tools: Optional[frozenset[str]] = None  # commands the host has; None: not known (old facts)
    daemons: Optional[dict[str, bool]] = None  # which fix steps' daemons run (fixscripts.daemon_states)
    libvirt_source: Optional[str] = None
    libvirt_error: Optional[str] = None
    libvirt_installed: bool = False
    not_kvm: bool = False  # reached and read: no libvirt, no Linux or Open vSwitch bridge (nothing to check)
    parse_errors: tuple[str, ...] = ()
    stories: tuple = ()  # report/guests.py GuestStory entries of its guests with a finding
    position: int = 0  # its place among all hosts of the run (shards keep the unsharded order)

    @property
    def reachable(self) -> bool:
        return bool(self.summary.get("reachable"))

    @property
    def error(self) -> Optional[str]:
        return self.summary.get("error")

    def as_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "summary": self.summary,
            "hostname": self.hostname,
            "tools": sorted(self.tools) if self.tools is not None else None,
            "daemons": dict(self.daemons) if self.daemons is not None else None,
            "libvirt_source": self.libvirt_source,
            "libvirt_error": self.libvirt_error,
            "libvirt_installed": self.libvirt_installed,
            "not_kvm": self.not_kvm,
            "parse_errors": list(self.parse_errors),
            "stories": [s.as_json() for s in self.stories],
            "position": self.position,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "HostDigest":
        from .guests import GuestStory

        return cls(
            host=d["host"],
            summary=d["summary"],
            hostname=d.get("hostname"),
            tools=frozenset(d["tools"]) if d.get("tools") is not None else None,
            daemons={str(k): v for k, v in d["daemons"].items() if isinstance(v, bool)}
            if isinstance(d.get("daemons"), dict)
            else None,
            libvirt_source=d.get("libvirt_source"),
            libvirt_error=d.get("libvirt_error"),
            libvirt_installed=bool(d.get("libvirt_installed")),
            not_kvm=bool(d.get("not_kvm")),
            parse_errors=tuple(d.get("parse_errors", ())),
            stories=tuple(GuestStory.from_json(s) for s in d.get("stories", ())),
            position=int(d.get("position", 0)),
        )


def result_line(r: Result) -> str:
    return json.dumps(r.as_json(), default=str, separators=(",", ":"))


def result_from_line(line: str) -> Result:
    return Result.from_json(json.loads(line))


@dataclass
class ResultStream:
    """The run's results: spooled, counted, findings kept."""

    spool_path: Optional[str] = None
    baseline_keys: frozenset = frozenset()  # (check, host, object) the baseline had as a finding
    findings: list[Result] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    # host -> check -> counts per outcome, in BUCKETS order (lists: a fleet has a cell per host and check)
    cells: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    severity_of: dict[str, str] = field(default_factory=dict)  # check -> the severity its results carry
    odd_severity: Counter = field(default_factory=Counter)  # (host, check, severity, outcome) -> n, if another
    now: dict[tuple, str] = field(default_factory=dict)  # a baseline finding's key -> its outcome now
    checks: set = field(default_factory=set)
    total: int = 0
    _by_host: dict[str, list[Result]] = field(default_factory=dict)
    spans: dict[str, list[list[int]]] = field(default_factory=dict)  # host -> [start, end) byte spans in the spool

    def __post_init__(self):
        self._out = None
        self._pos = 0
        self._sha = hashlib.sha256()  # of the spool's bytes as written (a shard's results.jsonl)
        if self.spool_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.spool_path)), exist_ok=True)
            self._out = open(self.spool_path, "wb")

    def add(self, r: Result, line: Optional[str] = None) -> None:
        """Count and keep what matters of one result, and spool it (`line`: its JSON as read from a shard)."""
        self.total += 1
        self.counts[r.outcome] += 1
        self.checks.add(r.check)
        if r.host:
            row = self.cells.get(r.host)
            if row is None:
                row = self.cells[r.host] = {}
            c = row.get(r.check)
            if c is None:
                c = row[r.check] = [0] * len(BUCKETS)
            c[_BUCKET.get(r.outcome, _ERROR)] += 1
        if self.severity_of.setdefault(r.check, r.severity) != r.severity:
            self.odd_severity[(r.host, r.check, r.severity, r.outcome)] += 1
        if r.outcome in FINDING:
            self.findings.append(r)
            self._by_host.setdefault(r.host, []).append(r)
        key = (r.check, r.host, r.object)
        if key in self.baseline_keys:
            self.now[key] = r.outcome
        if self._out is not None:
            data = ((line if line is not None else result_line(r)).rstrip("\n") + "\n").encode("utf-8")
            self._out.write(data)
            self._sha.update(data)
            spans = self.spans.setdefault(r.host, [])
            if spans and spans[-1][1] == self._pos:
                spans[-1][1] += len(data)  # the host's results follow one another (items run host by host)
            else:
                spans.append([self._pos, self._pos + len(data)])
            self._pos += len(data)

    @property
    def spool_sha256(self) -> str:
        return self._sha.hexdigest()

    def host_counts(self, host: str) -> dict[str, int]:
        """How many of the host's results had each outcome (those that had any)."""
        sums = [sum(c) for c in zip(*self.cells.get(host, {}).values())]
        return {b: n for b, n in zip(BUCKETS, sums) if n}

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def lines(self) -> Iterator[str]:
        """Every result's JSON line, in the order they were made."""
        self.close()
        if not self.spool_path or not os.path.exists(self.spool_path):
            return
        with open(self.spool_path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield line.rstrip("\n")

    def results(self) -> Iterator[Result]:
        for line in self.lines():
            yield result_from_line(line)

    def series(self) -> Counter:
        """(host, check, severity, outcome) -> how many results, from the cells and each check's severity."""
        out: Counter = Counter()
        for host, row in self.cells.items():
            for check, counts in row.items():
                for b, n in zip(BUCKETS, counts):
                    if n:
                        out[(host, check, self.severity_of.get(check, ""), b)] += n
        for (host, check, sev, outcome), n in self.odd_severity.items():
            out[(host, check, self.severity_of.get(check, ""), BUCKETS[_BUCKET.get(outcome, _ERROR)])] -= n
            out[(host, check, sev, outcome)] += n
        return +out

    def findings_of(self, host: str) -> list[Result]:
        return self._by_host.get(host, [])
