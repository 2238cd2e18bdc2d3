"""What a person sees of a run besides its files: pytest-html's page (its frame, a row for each of the
first findings with the run's Status/Check/Host/Object/Severity cells, and at the top the findings'
groups and each host's page, the fleet view, the first guests' findings and the facts not read) and
the terminal summary."""

from __future__ import annotations

import os

from . import pytest_adapter
from .catalog import CHECKS
from .gate import Gate
from .hosts import Hosts
from .report import fleet, guests, pages, terminal, trend
from .report import html as html_report
from .report.results import Result
from .report.stream import stories_of

STORIES = 20  # guests whose view is on the first page; each host's page has all of its own


def first_stories(stream, digests: list, limit: int = STORIES) -> list:
    """The first `limit` guests' views (report/guests.py GuestStory), their findings read back."""
    out: list = []
    for d in digests:
        if len(out) >= limit:
            break
        if d.stories_packed:
            out += stories_of(d, stream.findings_of(d.host))[: limit - len(out)]
    return out


ROWS = 200  # findings that get a row of pytest-html's table of their own


class Views:
    """The HTML page and the terminal summary, drawn from the run's reports (publishing.Reports)."""

    def __init__(self, config, gate: Gate, hosts: Hosts):
        self.gate = gate
        self.hosts = hosts
        self.html = pytest_adapter.HtmlReport(config)
        self.docs_url = config.getoption("--docs-url", None)  # where the team keeps the reference pages

    def add_finding(self, r: Result, n: int) -> None:
        """The run's first ROWS findings (`n`: this one's number) become rows of pytest-html's table
        (the items' own rows are not drawn); a fleet's findings are in the groups at the top and on
        each host's page (report/pages.py), so the page does not grow with them."""
        if n > ROWS or not self.html.active:
            return
        outcome = {"failed": "failed", "error": "failed", "waived": "skipped"}[r.outcome]
        # the row's log is one line: the finding in full is its HTML above it (a fleet's page stays small)
        longrepr = f"[{r.severity}] {r.check} on {r.host}: {r.object}: {r.message}"
        wasxfail = (r.waiver.get("reason", "waived") if r.waiver else "waived") if r.outcome == "waived" else None
        self.html.add_row(
            r.test,
            outcome,
            longrepr if outcome == "failed" else None,
            html_report.finding_blocks(r, CHECKS.get(r.check), self.docs_url),
            wasxfail,
            kvm_result=r,
            kvm_synthetic=True,
        )

    @staticmethod
    def table_header(cells: list) -> None:
        html_report.table_header(cells)

    def table_row(self, report, cells: list) -> None:
        if getattr(report, "kvm_check_item", False):
            del cells[:]  # a check item's row: its findings have rows of their own, its passes are counted
            return
        html_report.table_row(
            report,
            cells,
            fleet.status_cell(getattr(report, "kvm_result", None), self.gate.fail_on, self.gate.allow_unreachable),
        )
        pytest_adapter.escape_test_id_cell(report, cells)

    def html_summary(self, prefix: list, reports) -> None:
        """The top of the HTML page: the findings, the fleet view, each guest's findings, facts not read."""
        j = reports.judgement
        if j is None:
            return
        s, g = reports.stream, self.gate
        digests = self.hosts.all_digests()
        prefix.insert(
            0, pages.groups_html(s.groups, self.docs_url) + pages.hosts_index_html(s.findings.hosts(), s.cells)
        )
        prefix.append(
            fleet.fleet_html(
                s,
                digests,
                j.verdict,
                g.note(),
                j.waiver_usage,
                g.waivers.source,
                j.drift,
                g.baseline_path if g.baseline_path and j.drift is None else None,
                reports.fix_scripts,
                ROWS,
            )
        )
        out = reports.outputs
        if out is not None and not out.results_to_stdout:  # beside the drift list: the last nights' trend
            runs = trend.read_series(
                os.path.dirname(os.path.abspath(out.results)), (g.today.isoformat(), s.findings_per_check())
            )
            prefix.append(trend.trend_svg(runs))
        stories = guests.stories_html(first_stories(s, digests))
        if stories:
            prefix.append(stories)
        unread = html_report.unread_html(digests)
        if unread:
            prefix.append(unread)
        if not self.docs_url:  # the pages the findings link to, in the page
            prefix.append(html_report.reference_pages_html(sorted(s.findings_per_check())))
        # every result's counts, not only those of the rows pytest-html drew
        c = s.counts
        self.html.set_counts(
            {
                "passed": c.get("passed", 0),
                "failed": c.get("failed", 0),
                "skipped": c.get("skipped", 0),
                "error": c.get("error", 0),
                "xfailed": c.get("waived", 0),
            },
            s.total,
        )

    def terminal_summary(self, tr, reports) -> None:
        hosts, s = self.hosts, reports.stream
        if reports.is_worker or s is None or not (s.total or hosts.gathered):
            return
        out, j = reports.outputs, reports.judgement
        digests = hosts.all_digests() if (j is not None or (hosts.listed and hosts.host_list())) else []
        published = out is not None and reports.published
        fleet = terminal.bad_count(s) > terminal.FULL
        named = terminal.NAMED if fleet else terminal.LISTED
        results = ("standard output" if out.results_to_stdout else out.results) if published else None
        terminal.findings(tr, s, digests, results, reports.quieted, out.html if published else "")
        if out is not None and reports.published is False:
            tr.write_line(
                f"kvm-netcheck: reports not written, the previous ones are kept: {reports.keep_reason}", yellow=True
            )
        terminal.guests(tr, first_stories(s, digests, terminal.LISTED), sum(len(d.stories) for d in digests), fleet)
        if j is None:
            return
        terminal.waivers(tr, j.verdict.waived, j.waiver_usage, named)
        if self.gate.baseline_path:
            terminal.drift(tr, j.drift, self.gate.baseline_path, named)
        for d in digests:
            if d.not_kvm:  # said plainly, not left to a count of skipped items
                tr.write_line(f"{d.host}: not a KVM host: nothing to check (no libvirt, no bridge)")
        terminal.gate(tr, j.verdict, self.gate.note(), reports.fix_scripts)
        if reports.written:  # every file the run wrote, in one line
            tr.write_line("written: " + ", ".join("standard output" if p == "-" else p for p in reports.written))
        pytest_adapter.closing_line(tr, *terminal.closing_line(s, j.verdict, reports.items_run))
