"""The fleet view at the top of the HTML report: gate verdict, hosts not checked, hosts whose
libvirt was read another way than libvirt-python (and why), a host by
check matrix, waivers, drift and fix scripts, plus a host/check filter for the results table.

pytest-html draws its results table in the browser from a JSON blob and redraws it on every
sort or outcome filter, so the host/check filter is a CSS rule keyed on the Status cell this
module adds to each row: it keeps working across redraws without touching pytest-html's code.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Optional

from .. import text
from ..catalog import CHECKS
from .drift import Drift
from .results import Result
from .terminal import LISTED
from .verdict import UNREACHABLE_CHECK, Verdict, gate_status

BUCKETS = ("failed", "waived", "error", "passed", "skipped")
LETTER = {"failed": "F", "waived": "W", "error": "E", "passed": "P", "skipped": "S"}


def e(v: Any) -> str:
    return text.for_html(v)


def status_of(res: Result, fail_on: str, allow_unreachable: bool) -> tuple[str, str]:
    """(text, css class) of one result for the Status column."""
    g = gate_status(res, fail_on, allow_unreachable)
    expired = (res.waiver or {}).get("status") == "expired"
    if g == "waived":
        return "waived", "waived"
    if res.outcome == "failed" and res.check == UNREACHABLE_CHECK:
        return ("unreachable (allowed)" if g == "allowed" else "unreachable"), "failed"
    if res.outcome == "error":
        return "error", "error"
    if g == "below":
        return "failed, below fail-on" + (", waiver expired" if expired else ""), "below"
    if g == "fails":
        return "failed" + (", waiver expired" if expired else ""), "failed"
    return res.outcome, res.outcome


def status_cell(r: Optional[Result], fail_on: str, allow_unreachable: bool) -> str:
    if r is None:
        return '<td class="col-status"></td>'
    text, cls = status_of(r, fail_on, allow_unreachable)
    return f'<td class="col-status kvm-st-{cls}" data-host="{e(r.host)}" data-check="{e(r.check)}">{e(text)}</td>'


def not_checked(findings_of, unreached: Iterable[str], hosts: list) -> list[tuple[str, str, str]]:
    """(host, why, note) for each host that could not be checked, or only partly; each host once.
    `findings_of`: a host's failed, error and waived results; `unreached`: hosts with a finding of
    host-reachable; `hosts`: the run's host digests."""
    out: dict[str, tuple[str, str, str]] = {}
    for h in hosts:
        if not h.reachable:
            out.setdefault(h.host, (h.host, h.error or "unreachable", ""))
    mine = [r for h in sorted(set(unreached)) for r in findings_of(h)]
    for r in mine:
        if r.host and r.check == UNREACHABLE_CHECK and r.outcome in ("failed", "waived", "error"):
            note = f"waived until {r.waiver['expires']}: {r.waiver['reason']}" if r.outcome == "waived" else ""
            prev = out.get(r.host)
            out[r.host] = (r.host, prev[1] if prev else r.message, note)
    for h in hosts:
        if h.reachable and h.host not in out and h.libvirt_source == "none" and h.libvirt_installed:
            out[h.host] = (h.host, f"partly: libvirt could not be read ({h.libvirt_error})", "")
    return [out[k] for k in sorted(out)]


def libvirt_fallbacks_html(hosts: list) -> str:
    """The hosts whose libvirt was read through virsh or its state files, not libvirt-python, with why
    (a host it could not be read on at all is among the hosts not checked). `hosts`: host digests."""
    fell = [
        (h.host, h.libvirt_source, h.summary.get("libvirt_fallback"))
        for h in hosts
        if h.reachable and h.libvirt_source in ("virsh", "files")
    ]
    if not fell:
        return ""
    items = "".join(
        f'<li data-host="{e(h)}"><b>{e(h)}</b>: libvirt read through {e(src)}'
        + (f" ({e(why)})" if why else "")
        + "</li>"
        for h, src, why in fell[:LISTED]
    )
    more = f"<li>... and {len(fell) - LISTED} more (results.json: libvirt_fallback)</li>" if len(fell) > LISTED else ""
    return (
        f'<div id="kvm-libvirt-fallback"><h3>libvirt not read through libvirt-python ({len(fell)})</h3>'
        f"<ul>{items}{more}</ul></div>"
    )


def matrix(cells: dict[str, dict[str, list[int]]]) -> tuple[list[str], list[str]]:
    """Hosts and checks of the stream's counts (host -> check -> counts in BUCKETS order)."""
    checks = {c for row in cells.values() for c in row}
    order = {c: i for i, c in enumerate(CHECKS)}
    return sorted(h for h in cells if h), sorted(checks, key=lambda c: (order.get(c, len(order)), c))


def _cell(c: Optional[list[int]]) -> str:
    """One matrix cell, as lean as it can be (a fleet's matrix has a row per host): its host is its
    row's, its check its column's; the page's script gives it a title and a click."""
    if not c or not any(c):
        return '<td class="kvm-none">·</td>'
    present = [(b, n) for b, n in zip(BUCKETS, c) if n]
    if len(present) == 1:
        b, n = present[0]
        return f'<td class="kvm-w-{b} kvm-n-{b}">{n}{LETTER[b]}</td>'
    body = " ".join(f'<span class="kvm-n-{b}">{n}{LETTER[b]}</span>' for b, n in present)
    return f'<td class="kvm-w-{present[0][0]}">{body}</td>'


def _sum(cells) -> list[int]:
    total = [0] * len(BUCKETS)
    for c in cells:
        for i, n in enumerate(c):
            total[i] += n
    return total


def matrix_html(hosts: list[str], checks: list[str], counts: dict[str, dict[str, list[int]]]) -> str:
    if not hosts:
        return "<p>No results.</p>"
    head = "".join(
        f'<th class="kvm-check" data-check="{e(c)}" title="{e(CHECKS[c].requirement if c in CHECKS else c)}">'
        f"{e(c).replace('-', '-<wbr>')}</th>"
        for c in checks
    )
    rows = []
    for h in hosts:
        row = counts.get(h, {})
        cells = "".join(_cell(row.get(c)) for c in checks)
        rows.append(f'<tr data-host="{e(h)}"><th class="kvm-host">{e(h)}</th>{cells}{_cell(_sum(row.values()))}</tr>')
    foot = "".join(_cell(_sum(counts[h][c] for h in hosts if c in counts.get(h, {}))) for c in checks)
    return (
        f'<table id="kvm-fleet-matrix"><thead><tr><th>host \\ check</th>{head}<th data-check="">all</th>'
        f'</tr></thead><tbody>{"".join(rows)}</tbody><tfoot><tr data-host=""><th>all hosts</th>{foot}'
        f"{_cell(_sum(c for row in counts.values() for c in row.values()))}</tr></tfoot></table>"
        '<p class="kvm-legend">F failed, W waived, E could not run, P passed, S skipped (does not apply). '
        "Click a cell, host or check to show only its results below.</p>"
    )


def _finding_list(items: list[dict], empty: str) -> str:
    if not items:
        return f"<p>{e(empty)}</p>"
    lis = "".join(
        f"<li><b>{e(i['host'])}</b> <code>{e(i['check'])}</code> {e(i['object'])} [{e(i['severity'])}]"
        f' <span class="kvm-was">{e(i["was"])} &rarr; {e(i["now"])}</span>'
        + (f"<br><small>{e(i['message'])}</small>" if i.get("message") else "")
        + "</li>"
        for i in items
    )
    return f"<ul>{lis}</ul>"


def drift_html(drift: Optional[Drift], missing: Optional[str]) -> str:
    if missing:
        return (
            f'<div id="kvm-drift"><h3>Since the baseline</h3><p>No baseline at {e(missing)} yet: '
            "drift is reported from the next run on.</p></div>"
        )
    if drift is None:
        return ""
    return (
        f'<div id="kvm-drift"><h3>Since the baseline: {e(drift.counts())}</h3>'
        f"<p>Baseline {e(drift.baseline)} ({e(drift.baseline_generated or 'date unknown')}).</p>"
        f'<h4 class="kvm-new">New ({len(drift.new)})</h4>{_finding_list(drift.new, "Nothing new.")}'
        f'<h4 class="kvm-fixed">Fixed ({len(drift.fixed)})</h4>{_finding_list(drift.fixed, "Nothing fixed.")}'
        f"<details><summary>Still failing ({len(drift.still_failing)})</summary>"
        f"{_finding_list(drift.still_failing, 'None.')}</details>"
        + (
            f"<h4>Not rechecked ({len(drift.not_rechecked)}): the host could not be checked this time</h4>"
            f"{_finding_list(drift.not_rechecked, '')}"
            if drift.not_rechecked
            else ""
        )
        + "</div>"
    )


def waivers_html(usage: list[dict], waived: list[Result], source: str) -> str:
    if not usage:
        return ""
    expired = [u for u in usage if u["status"] == "expired"]
    unused = [u for u in usage if u["status"] == "unused"]

    def entry(u: dict) -> str:
        return (
            f"<li><code>{e(u['where'])}</code> check <code>{e(u['check'])}</code> host <code>{e(u['host'])}</code> "
            f"object <code>{e(u['object'])}</code>, until {e(u['expires'])}: {e(u['reason'])}"
            f" ({u['matched']} finding(s))</li>"
        )

    rows = "".join(
        f"<tr><td>{e(r.host)}</td><td><code>{e(r.check)}</code></td><td>{e(r.object)}</td>"
        f"<td>{e(r.severity)}</td><td>{e(r.waiver['expires'])}</td><td>{e(r.waiver['reason'])}</td>"
        f"<td><code>{e(r.waiver['where'])}</code></td></tr>"
        for r in waived
    )
    return (
        f'<div id="kvm-waivers"><h3>Waivers ({e(source)}): {len(waived)} finding(s) waived, '
        f"{len(expired)} entry(ies) expired, {len(unused)} unused</h3>"
        + (
            f'<table class="kvm-waived"><tr><th>host</th><th>check</th><th>object</th><th>severity</th>'
            f"<th>until</th><th>reason</th><th>entry</th></tr>{rows}</table>"
            if waived
            else ""
        )
        + (
            f'<h4 class="kvm-expired">Expired: no longer applied</h4><ul>{"".join(map(entry, expired))}</ul>'
            if expired
            else ""
        )
        + (
            f'<h4 class="kvm-unused">Unused: matched no failing result</h4><ul>{"".join(map(entry, unused))}</ul>'
            if unused
            else ""
        )
        + "</div>"
    )


def fleet_html(
    stream,
    hosts: list,
    verdict: Verdict,
    policy_note: str,
    usage: list[dict],
    waiver_source: str,
    drift: Optional[Drift],
    missing_baseline: Optional[str],
    fix_scripts: dict[str, str],
    rows_limit: int = 200,
) -> str:
    """The fleet block; `stream`: the run's ResultStream (counts and findings), `hosts`: its host digests."""
    down = not_checked(stream.findings_of, stream.unreached, hosts)
    down_html = (
        '<div id="kvm-unchecked"><h3>Hosts that could not be checked ({})</h3><ul>{}</ul></div>'.format(
            len(down),
            "".join(
                f'<li data-host="{e(h)}"><b>{e(h)}</b>: {e(why)}' + (f" <i>({e(note)})</i>" if note else "") + "</li>"
                for h, why, note in down
            ),
        )
        if down
        else ""
    )
    scripts = list(fix_scripts.values())
    fixes = (
        "<p>Fix scripts (never run by the suite): "
        + (
            ", ".join(f"<code>{e(os.path.basename(p))}</code>" for p in scripts)
            if len(scripts) <= LISTED
            else f"{len(scripts)}, one per host (<code>HOST.sh</code>)"
        )
        + f" in <code>{e(os.path.dirname(scripts[0]))}</code></p>"
        if scripts
        else ""
    )
    host_names, checks = matrix(stream.cells)
    counts = stream.cells
    hosts_opts = "".join(f'<option value="{e(h)}">{e(h)}</option>' for h in host_names)
    check_opts = "".join(f'<option value="{e(c)}">{e(c)}</option>' for c in checks)
    passes = stream.counts.get("passed", 0) + stream.counts.get("skipped", 0)
    n = len(stream.findings)
    rows = (
        f"a row for each of the {n} finding(s)"
        if n <= rows_limit
        else f"a row for the first {rows_limit} of the {n} findings (every one is in the groups at the top and "
        "on its host's page)"
    )
    first_view = (
        f'<p id="kvm-passes-counted">{stream.total} results: the table below has {rows}; the {passes} passed '
        "and skipped ones are counted in the matrix above, and listed one by one in results.json.</p>"
    )
    return (
        f'<section id="kvm-fleet"><h2>Fleet</h2>'
        f'<p id="kvm-gate" class="kvm-gate-{verdict.word}"><b>{e(verdict.summary())}</b><br>'
        f"<small>{e(policy_note)}</small></p>"
        f"{down_html}{libvirt_fallbacks_html(hosts)}"
        f"<h3>Results by host and check</h3>{matrix_html(host_names, checks, counts)}"
        '<div id="kvm-filter">Show results of host <select id="kvm-host-filter"><option value="">(all)</option>'
        f'{hosts_opts}</select> and check <select id="kvm-check-filter"><option value="">(all)</option>'
        f'{check_opts}</select> <button id="kvm-filter-clear">show all</button> '
        '<button class="kvm-group" data-column="host">group by host</button> '
        '<button class="kvm-group" data-column="check">group by check</button> '
        f'<span id="kvm-filter-status"></span></div>{first_view}'
        f"{waivers_html(usage, stream.waived, waiver_source)}"
        f"{drift_html(drift, missing_baseline)}{fixes}</section><style>{CSS}</style><script>{JS}</script>"
    )


CSS = """
#kvm-fleet { border: 1px solid #ccc; padding: 8px 12px; margin: 8px 0 16px; background: #fcfcfc; }
#kvm-fleet h2 { margin-top: 0; }
#kvm-gate { padding: 6px 10px; border-radius: 4px; }
.kvm-gate-passed { background: #e3f6e8; } .kvm-gate-failed { background: #fbe4e1; }
.kvm-gate-incomplete { background: #fdf0d5; }
#kvm-fleet-matrix { border-collapse: collapse; font-size: 12px; }
#kvm-fleet-matrix th, #kvm-fleet-matrix td { border: 1px solid #ddd; padding: 2px 5px; text-align: center; }
#kvm-fleet-matrix th.kvm-check { max-width: 90px; font-weight: normal; vertical-align: bottom; }
#kvm-fleet-matrix th.kvm-host { text-align: left; }
#kvm-fleet-matrix td, #kvm-fleet-matrix th { cursor: pointer; }
.kvm-w-failed { background: #fbe4e1; } .kvm-w-waived { background: #fdf0d5; } .kvm-w-error { background: #efe1f5; }
.kvm-w-passed { background: #e3f6e8; } .kvm-w-skipped { background: #f2f2f2; } .kvm-none { color: #bbb; }
.kvm-n-failed { color: #c0392b; font-weight: bold; } .kvm-n-waived { color: #9a6207; font-weight: bold; }
.kvm-n-error { color: #8e44ad; font-weight: bold; } .kvm-n-passed { color: #1e8449; } .kvm-n-skipped { color: #777; }
.kvm-legend { font-size: 11px; color: #555; }
#kvm-filter { margin: 8px 0; }
td.kvm-st-failed { color: #c0392b; font-weight: bold; } td.kvm-st-waived { color: #9a6207; font-weight: bold; }
td.kvm-st-below { color: #b9770e; } td.kvm-st-error { color: #8e44ad; }
table.kvm-waived th, table.kvm-waived td { padding: 2px 8px; text-align: left; }
.kvm-waiver { border-left: 3px solid #b9770e; padding-left: 6px; }
"""

JS = r"""
(function () {
  var fleet = document.getElementById('kvm-fleet');
  var title = document.getElementById('title');
  var findings = document.querySelector('.kvm-static-findings');
  // the findings list and the fleet view come before the environment table
  if (fleet && title) { title.after(fleet); }
  if (findings && fleet) { fleet.before(findings); }
  var style = document.createElement('style');
  document.head.appendChild(style);
  var hostSel = document.getElementById('kvm-host-filter');
  var checkSel = document.getElementById('kvm-check-filter');
  var status = document.getElementById('kvm-filter-status');
  function quoted(v) { return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }
  function selector() {
    var s = 'td.col-status';
    if (hostSel.value) { s += '[data-host=' + quoted(hostSel.value) + ']'; }
    if (checkSel.value) { s += '[data-check=' + quoted(checkSel.value) + ']'; }
    return s;
  }
  function count() {
    // what the browser really shows: rows the filter rule hid have no layout boxes
    var rows = document.querySelectorAll('#results-table > tbody.results-table-row');
    var filtered = hostSel.value || checkSel.value;
    var shown = filtered ? Array.prototype.filter.call(rows, function (r) {
      return r.getClientRects().length > 0;
    }).length : rows.length;
    status.textContent = filtered ? shown + ' of ' + rows.length + ' results shown' : rows.length + ' results shown';
    status.dataset.shown = shown;
    status.dataset.rows = rows.length;
  }
  function apply() {
    style.textContent = (hostSel.value || checkSel.value) ?
      '#results-table > tbody.results-table-row:not(:has(' + selector() + ')) { display: none; }' : '';
    var url = new URL(window.location.href);
    [['kvm-host', hostSel.value], ['kvm-check', checkSel.value]].forEach(function (p) {
      if (p[1]) { url.searchParams.set(p[0], p[1]); } else { url.searchParams.delete(p[0]); }
    });
    window.history.replaceState({}, '', url.href);
    count();
  }
  function pick(host, check) {
    hostSel.value = host || '';
    checkSel.value = check || '';
    apply();
    document.getElementById('results-table').scrollIntoView();
  }
  var params = new URL(window.location.href).searchParams;
  hostSel.value = params.get('kvm-host') || '';
  checkSel.value = params.get('kvm-check') || '';
  hostSel.addEventListener('change', apply);
  checkSel.addEventListener('change', apply);
  document.getElementById('kvm-filter-clear').addEventListener('click', function () { pick('', ''); });
  // a matrix cell's host is its row's, its check its column's (the cells carry neither: a fleet's
  // matrix has a row per host); one listener for the whole table
  var matrix = document.getElementById('kvm-fleet-matrix');
  var words = {F: 'failed', W: 'waived', E: 'could not run', P: 'passed', S: 'skipped'};
  function where(el) {
    var cell = el.closest('td, th');
    if (!cell || !matrix.contains(cell)) { return null; }
    var row = cell.parentElement;
    var head = matrix.tHead.rows[0].cells[cell.cellIndex];
    var inHead = row.parentElement === matrix.tHead;
    return {cell: cell, host: inHead ? '' : (row.dataset.host || ''),
            check: cell.cellIndex === 0 ? '' : ((head && head.dataset.check) || '')};
  }
  if (matrix) {
    matrix.addEventListener('click', function (ev) {
      var w = where(ev.target);
      if (w) { pick(w.host, w.check); }
    });
    matrix.addEventListener('mouseover', function (ev) {
      var w = where(ev.target);
      if (!w || w.cell.tagName !== 'TD' || w.cell.title) { return; }
      var counts = w.cell.textContent.trim().split(/\s+/).map(function (n) {
        return n.slice(0, -1) + ' ' + (words[n.slice(-1)] || n.slice(-1));
      });
      w.cell.title = (w.host || 'all hosts') + ' / ' + (w.check || 'all checks') + ': ' + counts.join(', ');
    });
  }
  document.querySelectorAll('button.kvm-group').forEach(function (b) {
    b.addEventListener('click', function () {
      var th = document.querySelector('#results-table-head th[data-column-type="' + b.dataset.column + '"]');
      if (th) { th.click(); }
    });
  });
  // pytest-html replaces the results table on every sort or filter: recount then
  new MutationObserver(count).observe(document.body, { childList: true });
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', apply);
  } else {
    apply();
  }
})();
"""
