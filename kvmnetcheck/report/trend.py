"""How the fleet moves: findings per check over the last nightly runs, from the dated copies of
results.json (`--dated-copies` keeps each night's in YYYY-MM-DD/ beside results.json), drawn as a
small inline SVG (no script, no external file: it survives mail and CI artifact viewers).

`trend_svg` is a pure function of the series; `read_series` reads the dated copies.
"""

from __future__ import annotations

import json
import os
import re
from typing import Optional

from .. import text

DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_RUNS = 14
HEAD_BYTES = 4 * 1024 * 1024  # results.json's sections ahead of its hosts' summaries and results
# where report/results.py:write_results (json indent=1) starts the hosts' summaries, then the results:
# the sections before them are read, the rest of the file is not
CUT_AT = ('\n "hosts": [', '\n "results": [')
OLD_COPY_BYTES = 32 * 1024 * 1024  # a copy without findings_per_check is read whole only up to this size
FINDINGS = ("failed", "error")
# one colour per line (checks past the tenth share them; the legend names each)
COLOURS = ("#c0392b", "#2980b9", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#f39c12", "#2c3e50", "#e84393")


def findings_per_check(results: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in results:
        if r.get("outcome") in FINDINGS:
            out[r.get("check", "?")] = out.get(r.get("check", "?"), 0) + 1
    return out


def read_series(
    results_dir: str, today: Optional[tuple[str, dict[str, int]]] = None
) -> list[tuple[str, dict[str, int]]]:
    """(date, findings per check) of the last MAX_RUNS dated copies under results_dir, oldest first;
    `today` (this run's, not copied yet) replaces or follows its own date."""
    try:
        days = sorted(d for d in os.listdir(results_dir) if DATED.match(d))
    except OSError:
        days = []
    series = []
    for day in days[-MAX_RUNS:]:
        counts = _day_counts(os.path.join(results_dir, day, "results.json"))
        if counts is not None:
            series.append((day, counts))
    if today is not None:
        series = [s for s in series if s[0] != today[0]] + [today]
    return series[-MAX_RUNS:]


def _day_counts(path: str) -> Optional[dict[str, int]]:
    """One dated copy's findings per check: from its `findings_per_check`, which results.json writes
    ahead of its results, so only its head is read (a fleet's results.json weighs hundreds of MB); a
    copy written before that section existed is read whole only when small. None: no point for it."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as f:
            head = f.read(HEAD_BYTES)
            at = min((i for i in (head.find(k) for k in CUT_AT) if i >= 0), default=-1)
            if at >= 0:
                doc = json.loads(head[:at].rstrip().rstrip(",") + "\n}")
                got = doc.get("findings_per_check") if isinstance(doc, dict) else None
                if isinstance(got, dict):
                    return {str(k): v for k, v in got.items() if isinstance(v, int) and not isinstance(v, bool)}
            if os.path.getsize(path) > OLD_COPY_BYTES:
                return None
            f.seek(0)
            doc = json.load(f)
    except (OSError, ValueError):
        return None  # a copy that cannot be read has no point on the chart
    if isinstance(doc, dict) and isinstance(doc.get("results"), list):
        return findings_per_check([r for r in doc["results"] if isinstance(r, dict)])
    return None


def trend_svg(series: list[tuple[str, dict[str, int]]], width: int = 480, height: int = 160) -> str:
    """An SVG line per check: its findings at each run (x: the runs in order, y: the count). Empty
    text when there are fewer than two runs (no movement to show)."""
    if len(series) < 2:
        return ""
    checks = sorted({c for _, counts in series for c in counts})
    if not checks:
        return ""
    top = max(max(counts.values(), default=0) for _, counts in series) or 1
    left, right, up, down = 30, 10, 10, 20
    w, h = width - left - right, height - up - down
    step = w / (len(series) - 1)

    def x(i: int) -> float:
        return left + i * step

    def y(n: int) -> float:
        return up + h - h * n / top

    e = text.for_html
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kvm-trend" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="findings per check over the last runs">',
        f'<line x1="{left}" y1="{up + h}" x2="{left + w}" y2="{up + h}" stroke="#999"/>',
        f'<text x="2" y="{up + 8}" font-size="10">{top}</text><text x="2" y="{up + h}" font-size="10">0</text>',
        f'<text x="{left}" y="{height - 4}" font-size="10">{e(series[0][0])}</text>',
        f'<text x="{left + w}" y="{height - 4}" font-size="10" text-anchor="end">{e(series[-1][0])}</text>',
    ]
    for n, check in enumerate(checks):
        points = " ".join(f"{x(i):.1f},{y(counts.get(check, 0)):.1f}" for i, (_, counts) in enumerate(series))
        colour = COLOURS[n % len(COLOURS)]
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{e(check)}: {e(' '.join(str(c.get(check, 0)) for _, c in series))}</title></polyline>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span style="color:{COLOURS[n % len(COLOURS)]}">&#9632;</span> {e(c)}: {series[-1][1].get(c, 0)} now</li>'
        for n, c in enumerate(checks)
    )
    return (
        f'<div id="kvm-trend"><h3>Findings per check, last {len(series)} runs</h3>'
        + "".join(parts)
        + f'<ul class="kvm-trend-legend">{legend}</ul></div>'
    )
