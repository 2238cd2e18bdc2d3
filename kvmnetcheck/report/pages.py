"""The page's findings, grouped, and a page per host: the report stays a static folder (mail it,
archive it, open it from disk) whose first page does not grow with the number of findings.

compliance.html lists each group of findings once (report/groups.py: one check, one cause), with its
message and fix shown with placeholders where the names differ, how many objects on how many hosts,
the first hosts, and examples; every host with a finding has hosts/HOST.html beside it, which holds
each of its findings in full, with its own fix, and its guests' view. No script is needed to read
either: links lead from a group to a host's page and to one object's finding on it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Optional

from .. import text
from ..catalog import CHECKS
from .fixscripts import file_name
from .groups import Group, Groups, host_list
from .html import doc_link, finding_blocks
from .results import Result
from .summaries import first_fix_line

e = text.for_html

PAGES_DIR = "hosts"  # beside compliance.html
HOSTS_NAMED = 12  # hosts a group names before "and N more"
GROUPS_SHOWN = 300  # groups listed on the first page; the rest are counted (each on its hosts' pages)


def page_name(host: str) -> str:
    """hosts/HOST.html: the same safe name as the host's fix script (fixscripts.file_name)."""
    return file_name(host)[: -len(".sh")] + ".html"


def page_href(host: str, anchor: Optional[str] = None) -> str:
    return f"{PAGES_DIR}/{page_name(host)}" + (f"#{anchor}" if anchor else "")


def anchor(check: str, obj: str) -> str:
    """The id of one finding on its host's page."""
    return "f-" + hashlib.sha256(f"{check}\0{obj}".encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _hosts_cell(g: Group) -> str:
    names, more = host_list(g.hosts, HOSTS_NAMED)
    links = ", ".join(
        f"<a href='{e(page_href(h))}'>{e(h)}</a>" + (f" ({g.hosts[h]})" if g.hosts[h] > 1 else "") for h in names
    )
    return links + (f" and {more} more host(s)" if more else "")


def _examples_cell(g: Group) -> str:
    return ", ".join(
        f"<a class='kvm-object' href='{e(page_href(h, anchor(c, o)))}'>{e(h)}: {e(o)}</a>" for h, o, c in g.examples
    )


def group_row(g: Group, docs_url: Optional[str] = None) -> str:
    what = "error" if g.outcome == "error" else ("waived" if g.outcome == "waived" else g.severity)
    check = (
        doc_link(g.check, g.check, docs_url)
        if g.check
        else ", ".join(e(c) for c in sorted(g.checks, key=lambda c: -g.checks[c])[:6])
        + (f" and {len(g.checks) - 6} more" if len(g.checks) > 6 else "")
    )
    fix = (
        f"<code>{e(first_fix_line(g.fix))}</code>"
        + (
            f"<details><summary>the whole fix</summary><pre class='kvm-group-fix'>{e(g.fix)}</pre></details>"
            if "\n" in g.fix.strip()
            else ""
        )
        if g.fix
        else ""
    )
    return (
        f"<tr class='kvm-static-finding kvm-group' data-check='{e(g.check)}' data-outcome='{e(g.outcome)}'>"
        f"<td>{e(what)}</td><td>{check}</td><td>{e(g.message)}</td>"
        f"<td class='kvm-count'>{g.count} on {len(g.hosts)} host(s)</td><td>{_hosts_cell(g)}"
        f"<br><small>e.g. {_examples_cell(g)}</small></td><td>{fix}</td></tr>"
    )


def groups_html(groups: Groups, docs_url: Optional[str] = None) -> str:
    """The report's first block, readable without JavaScript: every finding (failed or error) in its
    group, with the fix once (placeholders in braces: {HOST}, {OBJECT}, {GUEST}, {NIC}, {BRIDGE},
    {PATH}); each host's page has every finding with its own fix."""
    shown = groups.ordered(("failed", "error"))
    total = sum(g.count for g in shown)
    if not shown:
        return (
            "<div class='kvm-static-findings'><h2>Findings</h2><p>No finding: every check that ran passed "
            "or did not apply.</p></div>"
        )
    rows = "".join(group_row(g, docs_url) for g in shown[:GROUPS_SHOWN])
    more = (
        f"<p>... and {len(shown) - GROUPS_SHOWN} more group(s): each finding is on its host's page.</p>"
        if len(shown) > GROUPS_SHOWN
        else ""
    )
    return (
        f"<div class='kvm-static-findings'><h2>Findings ({total}, in {len(shown)} group(s))</h2>"
        "<p>Findings of one check with the same cause are one row; in the message and the fix, "
        "<code>{HOST}</code>, <code>{OBJECT}</code>, <code>{GUEST}</code>, <code>{NIC}</code>, "
        "<code>{BRIDGE}</code> and <code>{PATH}</code> stand for each object's own names. "
        "Each host's page (a link on its name) has every finding with its own fix.</p>"
        "<table><tr><th>severity</th><th>check</th><th>finding</th><th>how many</th><th>hosts</th>"
        f"<th>fix</th></tr>{rows}</table>{more}</div>"
    )


def hosts_index_html(hosts: list[str], cells: dict) -> str:
    """A link to each host's page, with its findings' count: every finding is two clicks away."""
    if not hosts:
        return ""

    def bad(h):
        return sum(c[0] + c[1] + c[2] for c in cells.get(h, {}).values())  # failed, waived, error

    links = " ".join(f"<a href='{e(page_href(h))}'>{e(h)}</a>&nbsp;({bad(h)})" for h in sorted(hosts))
    return (
        f"<details class='kvm-host-pages' open><summary>Each host's findings, with their fixes: "
        f"{len(hosts)} host page(s)</summary><p>{links}</p></details>"
    )


PAGE_CSS = """
body { font-family: sans-serif; margin: 16px; }
.kvm-finding { border: 1px solid #ddd; padding: 6px 10px; margin: 8px 0; }
section:target { outline: 2px solid #c0392b; }
pre { background: #f6f6f6; padding: 6px; white-space: pre-wrap; }
"""


def host_page(
    host: str,
    findings: list[Result],
    stories_block: str,
    fix_script: Optional[str],
    front: str = "compliance.html",
    docs_url: Optional[str] = None,
) -> str:
    """One host's page: each finding with its details and its own fix, then its guests' view."""
    from .verdict import RANK

    order = {"failed": 0, "error": 1, "waived": 2}
    rows = []
    for r in sorted(findings, key=lambda r: (order.get(r.outcome, 9), RANK.get(r.severity, 9), r.check, r.object)):
        blocks = finding_blocks(r, CHECKS.get(r.check), docs_url, f"../{front}")
        if r.outcome == "waived" and not any("kvm-finding" in b for b in blocks):
            blocks.insert(0, f"<p><b>[{e(r.severity)}] {e(r.check)}</b> {e(r.object)}: {e(r.message)}</p>")
        rows.append(
            f"<section id='{anchor(r.check, r.object)}' class='kvm-host-finding' data-check='{e(r.check)}' "
            f"data-object='{e(r.object)}' data-outcome='{e(r.outcome)}'>{''.join(blocks)}</section>"
        )
    script = (
        f"<p>Fix script (review, then run on the host): <a href='{e(fix_script)}'>{e(os.path.basename(fix_script))}</a>"
        "</p>"
        if fix_script
        else ""
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>kvm-netcheck: {e(host)}</title>"
        f"<style>{PAGE_CSS}</style></head><body><p><a href='../{e(front)}'>the fleet's report</a></p>"
        f"<h1>{e(host)}: {len(findings)} finding(s)</h1>{script}{''.join(rows)}{stories_block}</body></html>"
    )


def write_host_page(
    directory: str,
    host: str,
    findings: list[Result],
    stories_block: str,
    fix_script: Optional[str],
    front: str,
    docs_url: Optional[str] = None,
) -> str:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, page_name(host))
    with open(path, "w", encoding="utf-8") as f:
        f.write(host_page(host, findings, stories_block, fix_script, front, docs_url))
    return path
