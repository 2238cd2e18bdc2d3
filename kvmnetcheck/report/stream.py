"""Results as a stream: each Result is written to a spool file (one JSON line) the moment it is made,
and each finding (failed, error, waived) to a second spool of findings only, with where each host's
findings are in it. What is kept in memory does not grow with the number of results nor of findings:
counts per outcome, per host and check, and per host, check, severity and outcome; the findings'
groups (report/groups.py: one per check and cause); the tally the gate needs (outcome, check and
severity counts, the hosts not fully checked, waived findings); and, for a baseline, the outcome now
of each key the baseline had as a finding. A host's digest (its summary for results.json, what its
fix script needs, which findings each guest's path holds) replaces its facts once its checks are done.

results.json, JUnit, fix scripts and the HTML pages are written from the spools and these;
`kvm-netcheck merge` reads shards' spools the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Callable, Iterable, Iterator, Optional

from .groups import Groups
from .results import Result

FINDING = ("failed", "error", "waived")
BUCKETS = ("failed", "waived", "error", "passed", "skipped")
_BUCKET = {b: i for i, b in enumerate(BUCKETS)}
_ERROR = _BUCKET["error"]
UNREACHABLE = "host-reachable"  # (report/verdict.py UNREACHABLE_CHECK)


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
    # its guests with a finding: (guest, what its NICs attach to, ((check, object), ...)): what
    # report/guests.py GuestStory holds, the findings themselves left in the findings spool; kept as
    # one JSON string per host (a merge holds every host's digest at once)
    stories_packed: str = ""
    position: int = 0  # its place among all hosts of the run (shards keep the unsharded order)

    @property
    def stories(self) -> tuple:
        return _unpack(self.stories_packed)

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
            "stories": [
                {"guest": g, "attached": list(a), "findings": [list(k) for k in ks]} for g, a, ks in self.stories
            ],
            "position": self.position,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "HostDigest":
        return cls(
            host=d["host"],
            summary=d["summary"],
            hostname=d.get("hostname"),
            tools=shared_tools(d["tools"]) if d.get("tools") is not None else None,
            daemons={str(k): v for k, v in d["daemons"].items() if isinstance(v, bool)}
            if isinstance(d.get("daemons"), dict)
            else None,
            libvirt_source=d.get("libvirt_source"),
            libvirt_error=d.get("libvirt_error"),
            libvirt_installed=bool(d.get("libvirt_installed")),
            not_kvm=bool(d.get("not_kvm")),
            parse_errors=tuple(d.get("parse_errors", ())),
            stories_packed=pack_stories(_story_ref(s) for s in d.get("stories", ())),
            position=int(d.get("position", 0)),
        )


_TOOLSETS: dict[frozenset, frozenset] = {}


def shared_tools(tools: Iterable[str]) -> frozenset:
    """A host's set of commands, one object for every host that has the same set (a merge holds every
    host's digest at once, and a fleet's hosts mostly have the same tools)."""
    fs = frozenset(tools)
    return _TOOLSETS.setdefault(fs, fs)


def story_refs(stories: Iterable) -> str:
    """GuestStory entries (report/guests.py) as a digest keeps them: the findings by their key."""
    return pack_stories((s.guest, tuple(s.attached), tuple((r.check, r.object) for r in s.findings)) for s in stories)


def pack_stories(refs: Iterable) -> str:
    refs = [[g, list(a), [list(k) for k in ks]] for g, a, ks in refs]
    return json.dumps(refs, separators=(",", ":")) if refs else ""


def _unpack(packed: str) -> tuple:
    if not packed:
        return ()
    return tuple((g, tuple(a), tuple(tuple(k) for k in ks)) for g, a, ks in json.loads(packed))


def _story_ref(d: dict) -> tuple:
    keys = tuple((f["check"], f["object"]) if isinstance(f, dict) else tuple(f) for f in d.get("findings", ()))
    return (d["guest"], tuple(d["attached"]), keys)


def stories_of(digest: HostDigest, findings: list[Result]) -> list:
    """The digest's guests as report/guests.py GuestStory entries, with their findings (the host's, from
    the findings spool) in place."""
    from .guests import GuestStory

    by_key = {(r.check, r.object): r for r in findings}
    boots = {
        b.get("guest"): b.get("boots_from", "") for b in digest.summary.get("guests_boot") or () if isinstance(b, dict)
    }
    return [
        GuestStory(digest.host, g, attached, tuple(by_key[k] for k in keys if k in by_key), boots.get(g, ""))
        for g, attached, keys in digest.stories
    ]


_LINE = json.JSONEncoder(default=str, separators=(",", ":"), check_circular=False)
_S = encode_basestring_ascii  # a JSON string, as _LINE writes one (ensure_ascii)


def result_line(r: Result) -> str:
    """A result as its spool's JSON line. Most results (passes, skips) carry no fix, figures or waiver:
    theirs is put together from its strings, as the encoder would write it."""
    if r.remediation or r.fix_script or r.fix_steps or r.observed or r.limit is not None or r.waiver is not None:
        return _LINE.encode(r.as_json())
    try:
        return (
            f'{{"check":{_S(r.check)},"host":{_S(r.host)},"object":{_S(r.object)},"outcome":{_S(r.outcome)},'
            f'"severity":{_S(r.severity)},"message":{_S(r.message)},"remediation":"","fix_script":"",'
            f'"fix_steps":[],"observed":{{}},"limit":null,"test":{_S(r.test)},"waiver":null}}'
        )
    except TypeError:  # a value that is not a string: the encoder's way
        return _LINE.encode(r.as_json())


def result_from_line(line: str) -> Result:
    return Result.from_json(json.loads(line))


class Findings:
    """The run's findings (failed, error, waived) in a spool of their own, one JSON line each, with
    the byte spans of each host's; read back whenever a writer needs them. Without a file (a run
    that writes no report) they are kept in memory."""

    def __init__(self, path: Optional[str] = None):
        self.path = path
        self._kept: Optional[list[Result]] = None if path else []
        self._out = open(path, "wb") if path else None
        self._pos = 0
        self.count = 0
        self.spans: dict[str, list[list[int]]] = {}  # host -> [start, end) byte spans

    def add(self, r: Result, line: Optional[str]) -> None:
        self.count += 1
        if self._kept is not None:
            self._kept.append(r)
            return
        data = ((line if line is not None else result_line(r)).rstrip("\n") + "\n").encode("utf-8")
        self._out.write(data)
        spans = self.spans.setdefault(r.host, [])
        if spans and spans[-1][1] == self._pos:
            spans[-1][1] += len(data)
        else:
            spans.append([self._pos, self._pos + len(data)])
        self._pos += len(data)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def _flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def __iter__(self) -> Iterator[Result]:
        if self._kept is not None:
            yield from list(self._kept)
            return
        self._flush()
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield result_from_line(line)

    def hosts(self) -> list[str]:
        """Hosts with a finding, in the order their first finding came."""
        if self._kept is not None:
            return list(dict.fromkeys(r.host for r in self._kept))
        return list(self.spans)

    def of_host(self, host: str) -> list[Result]:
        if self._kept is not None:
            return [r for r in self._kept if r.host == host]
        spans = self.spans.get(host)
        if not spans:
            return []
        self._flush()
        out = []
        with open(self.path, "rb") as f:
            for start, end in spans:
                f.seek(start)
                out += [result_from_line(ln.decode("utf-8")) for ln in f.read(end - start).splitlines() if ln.strip()]
        return out

    def close(self, remove: bool = False) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if remove and self.path:
            try:
                os.remove(self.path)
            except OSError:
                pass


@dataclass
class ResultStream:
    """The run's results: spooled, counted, findings spooled apart and grouped."""

    spool_path: Optional[str] = None
    baseline_keys: frozenset = frozenset()  # (check, host, object) the baseline had as a finding
    findings_path: Optional[str] = None  # where findings are spooled (None: kept in memory)
    counts: Counter = field(default_factory=Counter)
    # host -> check -> counts per outcome, in BUCKETS order (lists: a fleet has a cell per host and check)
    cells: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    severity_of: dict[str, str] = field(default_factory=dict)  # check -> the severity its results carry
    odd_severity: Counter = field(default_factory=Counter)  # (host, check, severity, outcome) -> n, if another
    now: dict[tuple, str] = field(default_factory=dict)  # a baseline finding's key -> its outcome now
    checks: set = field(default_factory=set)
    total: int = 0
    spans: dict[str, list[list[int]]] = field(default_factory=dict)  # host -> [start, end) byte spans in the spool
    groups: Groups = field(default_factory=Groups)
    # what the gate needs of the findings: (outcome, check, severity) -> n, hosts with an error or not
    # reached, the waived findings, and how many findings each waiver entry matched
    tally: Counter = field(default_factory=Counter)
    unchecked_hosts: dict[str, None] = field(default_factory=dict)
    unreached: dict[str, None] = field(default_factory=dict)  # hosts with a finding of host-reachable
    waived: list[Result] = field(default_factory=list)
    waiver_matched: Counter = field(default_factory=Counter)
    # another text each result is written as, as it comes (JUnit's testcase: report/junit.py), to its
    # own spool, so its writer does not read every result back
    cases_path: Optional[str] = None
    case_of: Optional[Callable[[Result], str]] = None

    def __post_init__(self):
        self._out = None
        self._cases = open(self.cases_path, "w", encoding="utf-8") if self.cases_path and self.case_of else None
        self._pos = 0
        self._sha = hashlib.sha256()  # of the spool's bytes as written (a shard's results.jsonl)
        if self.spool_path:
            os.makedirs(os.path.dirname(os.path.abspath(self.spool_path)), exist_ok=True)
            self._out = open(self.spool_path, "wb")
            if self.findings_path is None:
                self.findings_path = self.spool_path + ".findings"
        self.findings = Findings(self.findings_path)

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
        if line is None and (self._out is not None or r.outcome in FINDING):
            line = result_line(r)
        if r.outcome in FINDING:
            self.findings.add(r, line)
            self.groups.add(r)
            self.tally[(r.outcome, r.check, r.severity)] += 1
            if r.outcome == "error" or (r.outcome == "failed" and r.check == UNREACHABLE):
                self.unchecked_hosts[r.host] = None
            if r.check == UNREACHABLE:
                self.unreached[r.host] = None
            if r.outcome == "waived":
                self.waived.append(r)
            if r.waiver:
                self.waiver_matched[r.waiver["where"]] += 1
        key = (r.check, r.host, r.object)
        if key in self.baseline_keys:
            self.now[key] = r.outcome
        if self._cases is not None:
            self._cases.write(self.case_of(r))
        if self._out is not None:
            data = (line.rstrip("\n") + "\n").encode("utf-8")
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
        if self._cases is not None:
            self._cases.close()
            self._cases = None

    def cases(self) -> Optional[Iterator[str]]:
        """The results as `case_of` wrote them, in the order they were made, in chunks; None if not spooled."""
        if not (self.cases_path and self.case_of):
            return None
        self.close()

        def chunks() -> Iterator[str]:
            with open(self.cases_path, encoding="utf-8") as f:
                while chunk := f.read(1 << 20):
                    yield chunk

        return chunks()

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

    def findings_per_check(self) -> dict[str, int]:
        """Failed and errored results per check (results.json's findings_per_check; the nightly trend)."""
        out: dict[str, int] = {}
        for (outcome, check, _), n in self.tally.items():
            if outcome in ("failed", "error") and n:
                out[check] = out.get(check, 0) + n
        return dict(sorted(out.items()))

    def findings_of(self, host: str) -> list[Result]:
        return self.findings.of_host(host)

    def discard(self) -> None:
        """The findings spool is the run's own scratch: gone once every report is written."""
        self.findings.close(remove=True)
