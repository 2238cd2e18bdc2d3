"""The terminal summary: findings by host with their fixes, waivers, drift and the gate."""

from __future__ import annotations

import os
import shutil
import textwrap
from typing import Optional

from .. import text
from .drift import Drift
from .groups import host_list
from .guests import stories_lines
from .results import Result
from .summaries import first_fix_line
from .verdict import Verdict

_ORDER = {s: i for i, s in enumerate(("critical", "high", "medium", "low"))}


def printable(value: str) -> str:
    """Multi-line text with every unsafe character shown escaped (\\x1b): names from a host may carry
    terminal escape sequences, bidi overrides or bytes that are no UTF-8."""
    return text.lines(value)


class PrintableTerminal:
    """pytest's terminal writer, with control characters in each line written escaped."""

    def __init__(self, tr):
        self._tr = tr

    def write_line(self, line: str, **markup) -> None:
        self._tr.write_line(text.one_line(line), **markup)

    def __getattr__(self, name):
        return getattr(self._tr, name)


LISTED = 20  # hosts named one by one in a summary line before "and N more"
NAMED = 5  # in the terminal, at fleet size: items of a list named before "and N more"


def width() -> int:
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def wrapped(line: str, indent: str) -> list[str]:
    """A line of prose wrapped to the terminal's width, its next lines indented."""
    return textwrap.wrap(line, width() - 1, subsequent_indent=indent, break_on_hyphens=False) or [line]


def libvirt_sources(hosts: list, named: int = LISTED) -> list[str]:
    """How libvirt was read, summed up by source; only the hosts that need attention are named, with
    why (read through the virsh fallback or libvirt's state files, or not at all). `hosts`: the run's
    host digests."""
    by: dict[str, list] = {}
    for f in hosts:
        if f.reachable:
            by.setdefault(f.libvirt_source, []).append(f)
    if not by:
        return []
    lines = ["  libvirt read through: " + ", ".join(f"{src} on {len(hs)} host(s)" for src, hs in sorted(by.items()))]
    for src in ("virsh", "files", "none"):
        hosts = by.get(src, [])
        for f in hosts[:named]:
            why = f.libvirt_error if src == "none" else f.summary.get("libvirt_fallback")
            lines.append(f"  {f.host}: libvirt read through {src}" + (f" ({why})" if why else ""))
        if len(hosts) > named:
            lines.append(f"  ... and {len(hosts) - named} more read through {src} (results.json: hosts)")
    return lines


FULL = 20  # findings printed one by one, with their fixes; past it, a line per check and cause
GROUPS = 8  # groups printed at fleet size (three lines each)
ERRORS = 3  # of which, at most, groups of errors (one cause each)


def bad_count(stream) -> int:
    return sum(n for (outcome, _, _), n in stream.tally.items() if outcome in ("failed", "error"))


def findings(tr, stream, hosts: list, results_path: Optional[str], quieted: bool = False, where: str = "") -> None:
    """Each finding once, with its fix, and the counts. `stream`: the run's ResultStream.

    At fleet size (more than FULL findings) a line per check and cause (report/groups.py) with its
    fix, the hosts most in need, and where every finding is (`where`: the HTML report)."""
    tr = PrintableTerminal(tr)
    tr.section("kvm-netcheck findings")
    total = bad_count(stream)
    fleet = total > FULL
    if not fleet:
        for host in sorted(stream.findings.hosts()):
            rs = [r for r in stream.findings_of(host) if r.outcome in ("failed", "error")]
            if not rs:
                continue
            tr.write_line(f"{host}:", bold=True)
            for r in sorted(rs, key=_by_severity):
                tag = "ERROR" if r.outcome == "error" else "FAIL"
                for ln in wrapped(f"  {tag} [{r.severity}] {r.check} {r.object}: {r.message}", "      "):
                    tr.write_line(ln, red=True)
                for i, ln in enumerate(r.remediation.splitlines()):
                    tr.write_line(("    fix: " if i == 0 else "         ") + ln)
    else:
        _fleet_findings(tr, stream, total, where)
    if quieted:
        tr.write_line("  (pytest's own failure list says the same: --tb=short -rfE show it too)")
    named = NAMED if fleet else LISTED
    unreachable = sum(1 for f in hosts if not f.reachable)
    tr.write_line(f"hosts: {len(hosts)} ({unreachable} unreachable)")
    for line in libvirt_sources(hosts, named):
        tr.write_line(line)
    problems = [(f.host, p) for f in hosts if f.reachable for p in f.parse_errors]
    for host, problem in problems[:named]:
        tr.write_line(f"  {host}: could not read: {problem}", yellow=True)
    if len(problems) > named:
        tr.write_line(
            f"  ... and {len(problems) - named} more facts that could not be read (results.json: notes)", yellow=True
        )
    if results_path:
        tr.write_line(f"results: {results_path}")


def _by_severity(r: Result):
    return _ORDER.get(r.severity, 9), r.check, r.object


def _fleet_findings(tr, stream, total: int, where: str) -> None:
    hosts_with = {h for h, row in stream.cells.items() if any(c[0] or c[2] for c in row.values())}
    groups = stream.groups.ordered(("failed", "error"))
    for ln in wrapped(
        f"{total} findings on {len(hosts_with)} host(s), in {len(groups)} group(s) of one check and cause; "
        f"each one with its own fix: {where or 'the HTML report'} (a page per host), results.json, the fix scripts",
        "  ",
    ):
        tr.write_line(ln, bold=True)
    w = width() - 1
    fails, errors = stream.groups.ordered(("failed",)), stream.groups.ordered(("error",))
    # every cause that stopped checks is said (up to ERRORS), whatever the number of failure groups
    shown = fails[: max(GROUPS - len(errors), GROUPS - ERRORS)] + errors[:ERRORS]
    for g in shown:
        names, more = host_list(g.hosts, 2)
        hosts = ", ".join(names) + (f" and {more} more" if more else "")
        if g.outcome == "error":
            head = f"  ERROR: {g.count} on {len(g.hosts)} host(s) ({hosts}): {g.message}"
        else:
            head = f"  [{g.severity}] {g.check}: {g.count} on {len(g.hosts)} host(s) ({hosts}): {g.message}"
        lines = wrapped(head, "      ")
        rest = "      " + " ".join(ln.strip() for ln in lines[1:])
        for ln in lines[:1] + [_cut(rest, w)] if len(lines) > 1 else lines:
            tr.write_line(ln, red=True)
        if g.outcome == "error":
            tr.write_line(_cut(f"      could not run: {', '.join(sorted(g.checks))}", w))
        elif g.fix:
            tr.write_line(_cut("      fix: " + first_fix_line(g.fix), w))
    if len(groups) > len(shown):
        tr.write_line(f"  ... and {len(groups) - len(shown)} more group(s): the HTML report lists each")
    worst = sorted(hosts_with, key=lambda h: (-_bad(stream.cells[h]), h))
    tr.write_line(
        _cut(
            "hosts most in need: "
            + ", ".join(f"{h} ({_bad(stream.cells[h])})" for h in worst[:NAMED])
            + (f" and {len(worst) - NAMED} more" if len(worst) > NAMED else ""),
            w,
        )
    )


def _bad(row: dict) -> int:
    return sum(c[0] + c[2] for c in row.values())  # BUCKETS: failed, waived, error, ...


def _cut(line: str, w: int) -> str:
    return line if len(line) <= w else line[: w - 1] + "…"


def guests(tr, stories, total: int, fleet: bool = False) -> None:
    """Per guest, its findings in the order to check them (the fixes are in the findings above); at
    fleet size only how many guests have one (each host's page lists its own)."""
    if not stories:
        return
    tr = PrintableTerminal(tr)
    tr.section("why guests get no address or boot file")
    if fleet:
        tr.write_line(f"{total} guest(s) have a finding on their path: each host's page lists its guests, in order")
        return
    for line in stories_lines(stories[:LISTED]):
        tr.write_line(line, red=line.lstrip()[:1].isdigit())
    if total > LISTED:
        tr.write_line(f"... and {total - LISTED} more guest(s): the HTML report lists each one")


def waivers(tr, waived: tuple[Result, ...], usage: list[dict], named: int = LISTED) -> None:
    if not (waived or usage):
        return
    tr = PrintableTerminal(tr)
    tr.section("kvm-netcheck waivers")
    for r in waived[:named]:
        w = r.waiver
        tr.write_line(
            f"  WAIVED [{r.severity}] {r.host} {r.check} {r.object}: until {w['expires']} "
            f"({w['where']}): {w['reason']}",
            yellow=True,
        )
    if len(waived) > named:
        tr.write_line(f"  ... and {len(waived) - named} more waived (results.json: outcome waived)", yellow=True)
    for u in usage:
        if u["status"] == "expired":
            tr.write_line(
                f"  EXPIRED {u['where']} ({u['check']} {u['host']} {u['object']}) ended {u['expires']}: "
                f"{u['matched']} finding(s) fail again",
                red=True,
            )
        elif u["status"] == "unused":
            tr.write_line(
                f"  UNUSED {u['where']} ({u['check']} {u['host']} {u['object']}): "
                "matched no failing result; remove it?",
                yellow=True,
            )


def drift(tr, drift: Optional[Drift], baseline_path: str, named: int = LISTED) -> None:
    tr = PrintableTerminal(tr)
    tr.section("kvm-netcheck drift")
    if drift is None:
        tr.write_line(f"no baseline at {baseline_path} yet: drift is reported from the next run on")
        return
    tr.write_line(f"since {drift.baseline} ({drift.baseline_generated}): {drift.counts()}")
    for label, items, colour in (
        ("NEW", drift.new, {"red": True}),
        ("FIXED", drift.fixed, {"green": True}),
        ("NOT RECHECKED", drift.not_rechecked, {"yellow": True}),
    ):
        for i in items[:named]:
            tr.write_line(
                f"  {label} [{i['severity']}] {i['host']} {i['check']} {i['object']}: {i['was']} -> {i['now']}",
                **colour,
            )
        if len(items) > named:
            tr.write_line(f"  ... and {len(items) - named} more {label.lower()} (results.json: drift)", **colour)


def gate(tr, verdict: Verdict, note: str, fix_scripts: dict[str, str]) -> None:
    tr.section("kvm-netcheck gate")
    paths = list(fix_scripts.values())
    if len(paths) > LISTED:
        where = sorted({os.path.dirname(p) for p in paths})
        tr.write_line(f"fix scripts (review, then run on the host): {len(paths)}, one per host, in {', '.join(where)}")
    elif paths:
        tr.write_line(f"fix scripts (review, then run on the host): {', '.join(paths)}")
    tr.write_line(verdict.summary(), red=verdict.exit_code != 0, green=verdict.exit_code == 0, bold=True)
    tr.write_line(f"  {note}")


def finding_text(r: Result, rationale: str, source: str) -> str:
    """A failed check's report in pytest's own failure list: what, why, where from, and the fix."""
    lines = [f"[{r.severity}] {r.check} on {r.host}: {r.object}", r.message]
    if r.limit:
        lines.append(f"limit: {r.limit}")
    lines.append(f"why: {rationale}")
    lines.append(f"source: {source}")
    lines.append("fix:")
    lines += ["    " + ln for ln in r.remediation.splitlines()]
    return "\n".join(printable(ln) for ln in lines)


def closing_line(stream, verdict: Verdict, items: int) -> tuple[list[tuple[str, dict]], str]:
    """pytest's last line, in the suite's words: the gate, then every result's outcome, then pytest's
    items (a check on a host), so nothing in it contradicts the gate. (parts, colour)"""
    colour = {0: "green", 1: "red"}.get(verdict.exit_code, "yellow")
    c = stream.counts
    parts = [(f"gate {verdict.word.upper()} (exit {verdict.exit_code})", {colour: True, "bold": True})]
    parts.append(
        (
            f"{stream.total} results: "
            + ", ".join(f"{c.get(o, 0)} {o}" for o in ("failed", "error", "waived", "passed", "skipped") if c.get(o)),
            {},
        )
    )
    if items:
        parts.append((f"{items} pytest items (a check on a host each)", {}))
    return parts, colour
