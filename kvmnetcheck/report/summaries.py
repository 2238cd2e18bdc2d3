"""Short forms of a run for where people look: a Markdown summary (a CI job summary) and a
Prometheus textfile (node_exporter's textfile collector) for nightly trends."""

from __future__ import annotations

import re
import time
from typing import Optional

from ..text import for_prometheus_label, one_line
from .verdict import Verdict

MD_ROWS = 200  # findings listed in the Markdown summary; the rest are counted
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_cell(text: str, limit: int = 160) -> str:
    """A table cell: one line, Markdown and HTML characters escaped (names come from hosts)."""
    one = one_line(" ".join(str(text).split()))
    if len(one) > limit:
        one = one[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", one)


def first_fix_line(remediation: str) -> str:
    """The first command of a fix, else its first line."""
    lines = [ln.strip() for ln in (remediation or "").splitlines() if ln.strip()]
    return next((ln for ln in lines if not ln.startswith("#")), lines[0] if lines else "")


def summary_md(
    stream, hosts: list, verdict: Verdict, exit_code: int, html: Optional[str], results_json: Optional[str]
) -> str:
    """`stream`: the run's ResultStream; `hosts`: its host digests."""
    counts = stream.counts
    unreachable = sum(1 for h in hosts if not h.reachable)
    word = {0: "PASSED", 1: "FAILED", 6: "INCOMPLETE"}.get(exit_code, f"ENDED ({exit_code})")
    out = [
        f"## kvm-netcheck: gate {word} (exit {exit_code})",
        "",
        f"{len(hosts)} host(s), {unreachable} unreachable; "
        + ", ".join(f"{counts.get(o, 0)} {o}" for o in ("failed", "error", "waived", "passed", "skipped")),
        "",
        md_cell(verdict.summary(), 400),
        "",
    ]
    bad = [r for r in stream.findings if r.outcome in ("failed", "error")]
    if bad:
        out += ["| host | object | check | severity | finding | fix |", "|---|---|---|---|---|---|"]
        for r in bad[:MD_ROWS]:
            out.append(
                "| "
                + " | ".join(
                    md_cell(x)
                    for x in (
                        r.host,
                        r.object,
                        r.check,
                        r.severity if r.outcome == "failed" else "error",
                        r.message,
                        first_fix_line(r.remediation),
                    )
                )
                + " |"
            )
        if len(bad) > MD_ROWS:
            out += ["", f"and {len(bad) - MD_ROWS} more: see results.json"]
        out.append("")
    reports = [p for p in (html, results_json) if p]
    if reports:
        out.append("Reports: " + ", ".join(f"`{md_cell(p, 300)}`" for p in reports))
    return "\n".join(out) + "\n"


def write_summary_md(path: str, stream, hosts, verdict, exit_code, html, results_json) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(summary_md(stream, hosts, verdict, exit_code, html, results_json))


def _label(value: str) -> str:
    """A label value in the text exposition format: backslash, double quote and newline escaped."""
    return for_prometheus_label(value)


def prom_textfile(
    stream, hosts: list, verdict: Verdict, exit_code: int, duration_s: float, now: Optional[float] = None
) -> str:
    """`stream`: the run's ResultStream (its counts by host, check, severity and outcome)."""
    lines = [
        "# HELP kvm_netcheck_results Results of the last run, by host, check, severity and outcome.",
        "# TYPE kvm_netcheck_results gauge",
    ]
    counts = stream.series()
    for (host, check, severity, outcome), n in sorted(counts.items()):
        lines.append(
            f'kvm_netcheck_results{{host="{_label(host)}",check="{_label(check)}",'
            f'severity="{_label(severity)}",outcome="{_label(outcome)}"}} {n}'
        )
    lines += [
        "# HELP kvm_netcheck_host_reachable Whether the host could be read in the last run.",
        "# TYPE kvm_netcheck_host_reachable gauge",
    ]
    for h in sorted(hosts, key=lambda h: h.host):
        lines.append(f'kvm_netcheck_host_reachable{{host="{_label(h.host)}"}} {1 if h.reachable else 0}')
    lines += [
        "# HELP kvm_netcheck_gate_passed 1 when the last run's gate passed, else 0.",
        "# TYPE kvm_netcheck_gate_passed gauge",
        f"kvm_netcheck_gate_passed {1 if exit_code == 0 else 0}",
        "# HELP kvm_netcheck_exit_code The exit status of the last run.",
        "# TYPE kvm_netcheck_exit_code gauge",
        f"kvm_netcheck_exit_code {exit_code}",
        "# HELP kvm_netcheck_failing_findings Findings that fail the gate in the last run.",
        "# TYPE kvm_netcheck_failing_findings gauge",
        f"kvm_netcheck_failing_findings {verdict.failing}",
        "# HELP kvm_netcheck_run_duration_seconds How long the last run took.",
        "# TYPE kvm_netcheck_run_duration_seconds gauge",
        f"kvm_netcheck_run_duration_seconds {duration_s:.3f}",
        "# HELP kvm_netcheck_last_run_timestamp_seconds When the last run ended.",
        "# TYPE kvm_netcheck_last_run_timestamp_seconds gauge",
        f"kvm_netcheck_last_run_timestamp_seconds {int(now if now is not None else time.time())}",
    ]
    return "\n".join(lines) + "\n"


def write_prom_textfile(path: str, stream, hosts, verdict, exit_code, duration_s) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(prom_textfile(stream, hosts, verdict, exit_code, duration_s))
