"""What the suite adds to pytest-html's report: columns, each finding's details, and the top of the page."""
from __future__ import annotations

import html
from typing import Optional

from ..catalog import Check
from ..facts.model import HostFacts
from .results import Result

e = html.escape

COLUMNS = ("check", "host", "object", "severity")


def finding_html(r: Result, check: Check) -> Optional[str]:
    """The details block of a failed, errored or skipped result (observed values, limit, why, fix)."""
    if r.outcome not in ("failed", "error", "skipped"):
        return None
    parts = [f'<div class="kvm-finding" data-check="{e(r.check)}">',
             f"<p><b>[{e(r.severity)}] {e(r.check)}</b> on <b>{e(r.host)}</b>: {e(r.object)}</p>",
             f"<p>{e(r.message)}</p>"]
    if r.outcome == "failed":
        if r.observed:
            parts.append("<table class='kvm-observed'>" + "".join(
                f"<tr><th>{e(str(k))}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in r.observed.items())
                + "</table>")
        if r.limit:
            parts.append(f"<p><b>Limit:</b> {e(r.limit)}</p>")
        parts.append(f"<p><b>Why:</b> {e(check.rationale)}</p>")
        parts.append(f"<p><b>Source:</b> {e(check.guide)}</p>")
        parts.append(f"<p><b>Fix:</b></p><pre class='kvm-remediation'>{e(r.remediation)}</pre>")
    parts.append("</div>")
    return "".join(parts)


def waiver_html(text: str) -> str:
    return f'<p class="kvm-waiver">{e(text)}</p>'


def table_header(cells: list) -> None:
    """Status, Check, Host, Object and Severity columns after the Result column, sortable."""
    for col in reversed(("status",) + COLUMNS):
        cells.insert(1, f'<th class="sortable" data-column-type="{col}">{col.capitalize()}</th>')


def table_row(report, cells: list, status_cell: str) -> None:
    r = getattr(report, "kvm_result", None)
    vals = tuple(r[c] for c in COLUMNS) if r else ("",) * len(COLUMNS)
    for v, col in reversed(list(zip(vals, COLUMNS))):
        cells.insert(1, f'<td class="col-{col}">{e(v)}</td>')
    cells.insert(1, status_cell)
    # pytest-html writes the test id into its row unescaped, and ids carry names read from hosts
    for i, cell in enumerate(cells):
        if cell.startswith('<td class="col-testId">'):
            test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
            cells[i] = f'<td class="col-testId">{e(test_id)}</td>'


def unread_html(facts: list[HostFacts]) -> str:
    """What could not be parsed has no result of its own: name it at the top of the report."""
    unread = [(f.host, p) for f in facts for p in f.parse_errors]
    if not unread:
        return ""
    return ("<div class='kvm-unread'><p><b>Facts that could not be read</b> (no check saw them):</p><ul>"
            + "".join(f"<li>{e(h)}: {e(p)}</li>" for h, p in unread) + "</ul></div>")
