"""What the suite adds to pytest-html's report: columns, each finding's details, and the top of the page."""

from __future__ import annotations

import functools
from typing import Optional

from .. import text
from ..catalog import CHECKS, Check
from ..catalog.docs import doc_file
from .results import Result

e = text.for_html

COLUMNS = ("check", "host", "object", "severity")


def finding_blocks(r: Result, check: Optional[Check], docs_url: Optional[str] = None, front: str = "") -> list[str]:
    """The HTML blocks of a finding's row: its details, and its waiver's note (`front`: the front page's
    path, from a host page)."""
    out = []
    block = finding_html(r, check, docs_url, front) if check is not None else None
    if block:
        out.append(block)
    w = r.waiver or {}
    if w.get("status") == "applied":
        out.append(waiver_html(f"Waived until {w.get('expires')} by {w.get('where')}: {w.get('reason')}"))
    elif w.get("status") == "expired":
        out.append(
            waiver_html(
                f"A waiver for this finding expired on {w.get('expires')} ({w.get('where')}), "
                f"so it fails again: {w.get('reason')}"
            )
        )
    return out


def finding_html(r: Result, check: Check, docs_url: Optional[str] = None, front: str = "") -> Optional[str]:
    """The details block of a failed, errored or skipped result (observed values, limit, why, fix)."""
    if r.outcome not in ("failed", "error", "skipped"):
        return None
    parts = [
        f'<div class="kvm-finding" data-check="{e(r.check)}">',
        f"<p><b>[{e(r.severity)}] {e(r.check)}</b> on <b>{e(r.host)}</b>: {e(r.object)}</p>",
        f"<p>{e(r.message)}</p>",
    ]
    if r.outcome == "failed":
        if r.observed:
            parts.append(
                "<table class='kvm-observed'>"
                + "".join(
                    f"<tr><th>{e(str(k))}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in r.observed.items()
                )
                + "</table>"
            )
        if r.limit:
            parts.append(f"<p><b>Limit:</b> {e(r.limit)}</p>")
        parts.append(_why(check.id, docs_url, front))
        parts.append(f"<p><b>Fix:</b></p><pre class='kvm-remediation'>{e(r.remediation)}</pre>")
    parts.append("</div>")
    return "".join(parts)


@functools.lru_cache(maxsize=1024)
def _why(check_id: str, docs_url: Optional[str] = None, front: str = "") -> str:
    """A check's why, source and reference page: the same for each of its findings."""
    check = CHECKS[check_id]
    return (
        f"<p><b>Why:</b> {e(check.rationale)}</p><p><b>Source:</b> {e(check.guide)}</p>"
        f"<p><b>Reference:</b> {doc_link(check.id, docs_url=docs_url, front=front)}</p>"
    )


def waiver_html(text: str) -> str:
    return f'<p class="kvm-waiver">{e(text)}</p>'


def table_header(cells: list) -> None:
    """Status, Check, Host, Object and Severity columns after the Result column, sortable."""
    for col in reversed(("status",) + COLUMNS):
        cells.insert(1, f'<th class="sortable" data-column-type="{col}">{col.capitalize()}</th>')


def table_row(report, cells: list, status_cell: str) -> None:
    r = getattr(report, "kvm_result", None)
    vals = tuple(getattr(r, c) for c in COLUMNS) if r else ("",) * len(COLUMNS)
    for v, col in reversed(list(zip(vals, COLUMNS))):
        cells.insert(1, f'<td class="col-{col}">{e(v)}</td>')
    cells.insert(1, status_cell)


def unread_html(hosts: list) -> str:
    """What could not be parsed has no result of its own: name it at the top of the report.
    `hosts`: the run's host digests."""
    unread = [(h.host, p) for h in hosts for p in h.parse_errors]
    if not unread:
        return ""
    return (
        "<div class='kvm-unread'><p><b>Facts that could not be read</b> (no check saw them):</p><ul>"
        + "".join(f"<li>{e(h)}: {e(p)}</li>" for h, p in unread)
        + "</ul></div>"
    )


@functools.lru_cache(maxsize=1024)
def doc_link(check_id: str, link_text: Optional[str] = None, docs_url: Optional[str] = None, front: str = "") -> str:
    """A link to the check's reference page that works wherever the report is read: under the team's
    --docs-url, else the copy embedded in the front page (reference_pages_html; `front`: that page's
    path from a host page), never a file of this machine."""
    label = e(link_text if link_text is not None else f"kvm-netcheck show {check_id}")
    href = f"{docs_url.rstrip('/')}/{check_id}.md" if docs_url else f"{front}#kvm-doc-{check_id}"
    return f"<a href='{e(href)}'>{label}</a>"


def reference_pages_html(check_ids: list[str]) -> str:
    """The reference page of each check with a finding, in the page (closed until opened): a report
    mailed or kept as a CI artifact carries what its links point to."""
    blocks = []
    for cid in check_ids:
        path = doc_file(cid)
        if not path:
            continue
        with open(path, encoding="utf-8") as f:
            page = f.read()
        blocks.append(
            f"<details class='kvm-doc' id='kvm-doc-{e(cid)}'><summary>{e(cid)}</summary><pre>{e(page)}</pre></details>"
        )
    if not blocks:
        return ""
    return "<div class='kvm-docs'><h2>Reference pages</h2>" + "".join(blocks) + "</div>"
