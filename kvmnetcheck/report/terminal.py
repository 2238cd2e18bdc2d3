"""The terminal summary: findings by host with their fixes, waivers, drift and the gate."""

from __future__ import annotations

import os
from typing import Optional

from .. import text
from .drift import Drift
from .guests import stories_lines
from .results import Result
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


def libvirt_sources(hosts: list) -> list[str]:
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
        for f in hosts[:LISTED]:
            why = f.libvirt_error if src == "none" else f.summary.get("libvirt_fallback")
            lines.append(f"  {f.host}: libvirt read through {src}" + (f" ({why})" if why else ""))
        if len(hosts) > LISTED:
            lines.append(f"  ... and {len(hosts) - LISTED} more read through {src}")
    return lines


FULL = 20  # findings printed in full, with their fixes; past it, a line per check and per host


def findings(tr, stream, hosts: list, results_path: Optional[str], quieted: bool = False) -> None:
    """The findings by host with their fixes, and the counts. `stream`: the run's ResultStream.

    At fleet size (more than FULL findings) a count per check and a line per host that needs
    attention (LISTED of them): the fixes are in the HTML report, results.json and the fix scripts."""
    tr = PrintableTerminal(tr)
    tr.section("kvm-netcheck findings")
    by_host: dict[str, list[Result]] = {}
    for r in stream.findings:
        if r.outcome in ("failed", "error"):
            by_host.setdefault(r.host, []).append(r)
    total = sum(len(rs) for rs in by_host.values())
    if total <= FULL:
        for host in sorted(by_host):
            tr.write_line(f"{host}:", bold=True)
            for r in sorted(by_host[host], key=_by_severity):
                tag = "ERROR" if r.outcome == "error" else "FAIL"
                tr.write_line(f"  {tag} [{r.severity}] {r.check} {r.object}: {r.message}", red=True)
                for ln in r.remediation.splitlines():
                    tr.write_line(f"      {ln}")
    else:
        _fleet_findings(tr, by_host, total)
        if quieted:
            tr.write_line(
                "  (pytest's failure list and short summary are left out at this size: --tb=short -rfE show them)"
            )
    counts = {o: stream.counts.get(o, 0) for o in ("passed", "failed", "skipped", "error")}
    tr.write_line(
        f"hosts: {len(hosts)} ({sum(1 for f in hosts if not f.reachable)} unreachable); "
        + ", ".join(f"{n} {o}" for o, n in counts.items())
    )
    for line in libvirt_sources(hosts):
        tr.write_line(line)
    problems = [(f.host, p) for f in hosts if f.reachable for p in f.parse_errors]
    for host, problem in problems[:LISTED]:
        tr.write_line(f"  {host}: could not read: {problem}", yellow=True)
    if len(problems) > LISTED:
        tr.write_line(
            f"  ... and {len(problems) - LISTED} more facts that could not be read (results.json: notes)", yellow=True
        )
    if results_path:
        tr.write_line(f"results: {results_path}")


def _by_severity(r: Result):
    return _ORDER.get(r.severity, 9), r.check, r.object


def _fleet_findings(tr, by_host: dict[str, list[Result]], total: int) -> None:
    tr.write_line(
        f"{total} findings on {len(by_host)} host(s); each one with its fix is in the HTML report, "
        "results.json and the host's fix script",
        bold=True,
    )
    per_check: dict[tuple[str, str], list[Result]] = {}
    for rs in by_host.values():
        for r in rs:
            per_check.setdefault((r.severity, r.check), []).append(r)
    for (sev, cid), rs in sorted(per_check.items(), key=lambda kv: (_ORDER.get(kv[0][0], 9), kv[0][1])):
        errors = sum(1 for r in rs if r.outcome == "error")
        what = f"{len(rs) - errors} failed" + (f", {errors} could not be checked" if errors else "")
        tr.write_line(f"  [{sev}] {cid}: {what} on {len({r.host for r in rs})} host(s)", red=True)
    hosts = sorted(by_host, key=lambda h: (min(_ORDER.get(r.severity, 9) for r in by_host[h]), h))
    for host in hosts[:LISTED]:
        rs = sorted(by_host[host], key=_by_severity)
        shown = ", ".join(f"{r.check} {r.object}" for r in rs[:3])
        tr.write_line(f"  {host}: {shown}" + (f" and {len(rs) - 3} more" if len(rs) > 3 else ""))
    if len(hosts) > LISTED:
        tr.write_line(f"  ... and {len(hosts) - LISTED} more host(s) with findings")


def guests(tr, stories) -> None:
    """Per guest, its findings in the order to check them (the fixes are in the findings above)."""
    if not stories:
        return
    tr = PrintableTerminal(tr)
    tr.section("why guests get no address or boot file")
    for line in stories_lines(stories[:LISTED]):
        tr.write_line(line, red=line.lstrip()[:1].isdigit())
    if len(stories) > LISTED:
        tr.write_line(f"... and {len(stories) - LISTED} more guest(s): the HTML report lists each one")


def waivers(tr, waived: tuple[Result, ...], usage: list[dict]) -> None:
    if not (waived or usage):
        return
    tr = PrintableTerminal(tr)
    tr.section("kvm-netcheck waivers")
    for r in waived[:LISTED]:
        w = r.waiver
        tr.write_line(
            f"  WAIVED [{r.severity}] {r.host} {r.check} {r.object}: until {w['expires']} "
            f"({w['where']}): {w['reason']}",
            yellow=True,
        )
    if len(waived) > LISTED:
        tr.write_line(f"  ... and {len(waived) - LISTED} more waived (results.json: outcome waived)", yellow=True)
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


def drift(tr, drift: Optional[Drift], baseline_path: str) -> None:
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
        for i in items[:LISTED]:
            tr.write_line(
                f"  {label} [{i['severity']}] {i['host']} {i['check']} {i['object']}: {i['was']} -> {i['now']}",
                **colour,
            )
        if len(items) > LISTED:
            tr.write_line(f"  ... and {len(items) - LISTED} more {label.lower()} (results.json: drift)", **colour)


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
