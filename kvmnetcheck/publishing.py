"""A run's reports, from its first Result to the files in place.

Each Result goes into the run's stream (report/stream.py) as it is made, and each of the first
findings becomes a row of pytest-html's table of its own (views.py). At the end of the run (`Reports.finish`, read top to bottom
in the order it happens): the hosts not yet digested, the gate's judgement, fix scripts, the exit
status, results.json, JUnit, the Markdown summary, the Prometheus textfile, a shard's meta, and with
the fix scripts each host's page. Every
file is written into a staging directory (report/publish.py); after pytest-html has written its
own, a run that checked something and ended on its own moves them all into place
(`publish_or_keep`), any other discards them; `--dated-copies` keeps a copy in YYYY-MM-DD/.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
import time
from typing import Any, Optional

import pytest

from . import pytest_adapter
from .catalog import CHECKS
from .catalog.docs import check_record
from .gate import Gate, Judgement
from .hosts import Hosts
from .report.fixscripts import is_ours, write_fix_scripts
from .report.guests import boots_html, stories_html
from .report.junit import testcase, write_junit
from .report.merge import shard_meta
from .report.pages import PAGES_DIR, write_host_page
from .report.publish import DEFAULT_OUTPUT_DIR, Outputs
from .report.results import write_results
from .report.stream import FINDING, ResultStream, result_from_line, stories_of
from .report.summaries import write_prom_textfile, write_summary_md
from .report.verdict import PYTEST_CODES_KEPT
from .views import Views


def _ini_true(config, name: str) -> bool:
    try:
        return str(config.getini(name)).strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        return False


def outputs_of(config, shard: Optional[tuple[int, int]]) -> Optional[Outputs]:
    """The run's report paths: --results-json, --html, --junitxml, --fix-scripts, --summary-md and
    --prom-textfile where given, else in --output-dir (or the ini's output_dir, `reports`). A pytest
    run that is no kvm-netcheck run (no such ini, no output option) writes none."""
    given_dir = config.getoption("--output-dir")
    if not (given_dir or config.getoption("--results-json") or _ini_true(config, "kvm_netcheck_reports")):
        return None
    out_dir = given_dir or config.getini("output_dir") or DEFAULT_OUTPUT_DIR
    to_stdout = config.getoption("--results-json") == "-"  # written to standard output at the end
    results = (None if to_stdout else config.getoption("--results-json")) or (
        os.path.join(out_dir, "results.json")
        if given_dir
        else config.getini("results_json") or os.path.join(out_dir, "results.json")
    )
    fix_dir = config.getoption("--fix-scripts")
    if fix_dir is None:
        fix_dir = os.path.join(os.path.dirname(results) or ".", "fix")
    html, junit = pytest_adapter.given_output_paths(config)
    base = os.path.dirname(results) or "."
    html = html or os.path.join(out_dir, "compliance.html")
    return Outputs(
        results=results,
        html=html,
        junit=junit or os.path.join(out_dir, "junit.xml"),
        fix_dir=None if fix_dir == "none" else fix_dir,
        summary_md=config.getoption("--summary-md"),
        prom=config.getoption("--prom-textfile"),
        # a shard keeps its results one per line and what merging needs of its hosts
        spool=os.path.join(base, "results.jsonl") if shard else None,
        shard_meta=os.path.join(base, "shard.json") if shard else None,
        results_to_stdout=to_stdout,
        pages=os.path.join(os.path.dirname(html) or ".", PAGES_DIR),
    )


def page_writer(out: Outputs, digests: list, docs_url: Optional[str] = None):
    """What writes hosts/HOST.html for a host with a finding: every finding with its own fix, its
    guests (report/pages.py), and a link to its fix script."""
    where, final = out.at(out.pages), os.path.abspath(out.pages)
    front = os.path.basename(out.html)
    by_host = {d.host: d for d in digests}

    def page(host: str, found: list, script) -> None:
        d = by_host.get(host)
        stories = stories_html(stories_of(d, found)) if d is not None and d.stories_packed else ""
        if d is not None:
            stories += boots_html(d.summary.get("guests_boot") or [])
        rel = os.path.relpath(out.final_of(script), final) if script else None
        write_host_page(where, host, found, stories, rel, front, docs_url)

    return page


class Reports:
    """The run's results and every report made of them."""

    def __init__(self, config, gate: Gate, hosts: Hosts, views: Views):
        self.config = config
        self.gate = gate
        self.hosts = hosts
        self.views = views  # the HTML page: a row for each of the first findings
        self.is_worker = hasattr(config, "workerinput")
        # where the reports go; staged until the run has checked something and ended on its own
        self.outputs = None if self.is_worker else outputs_of(config, hosts.shard)
        if self.outputs is not None:
            self.outputs.stage()
            # pytest-html writes compliance.html (staged); JUnit is written from the results, not by pytest
            pytest_adapter.route_outputs(config, self.outputs.at(self.outputs.html))
        self.published: Optional[bool] = None  # True: reports moved into place; False: left as they were
        self.written: list[str] = []  # the files and directories moved into place
        self.keep_reason: Optional[str] = None
        self.stream: Optional[ResultStream] = None
        self.quieted = False  # pytest's own failure lists left out at fleet size
        self.other_failures = 0  # failed tests that are no check: nothing vouches for them
        self.items_run = 0  # check items (a check on a host) that ran
        self.judgement: Optional[Judgement] = None
        self.fix_scripts: dict[str, str] = {}
        self.exit_code: Optional[int] = None  # what the process returns (results.json's gate.exit_code)
        self.started = time.monotonic()

    @property
    def results_path(self) -> Optional[str]:
        """Where results.json is written during the run (its staged place)."""
        return self.outputs.at(self.outputs.results) if self.outputs else None

    @property
    def verdict(self):
        return self.judgement.verdict if self.judgement is not None else None

    def start(self) -> ResultStream:
        """The run's stream of results: spooled beside results.json (a worker's only counts)."""
        if self.is_worker:
            self.stream = ResultStream()
            return self.stream
        out = self.outputs
        baseline = self.gate.baseline
        keys = (
            frozenset(k for k, r in baseline.outcomes.items() if r["outcome"] in FINDING) if baseline else frozenset()
        )
        spool = findings = None
        if out is not None:
            spool = (
                out.at(out.spool) if out.spool else os.path.join(os.path.dirname(self.results_path), ".results.jsonl")
            )
            # findings are read back after the reports are in place (the terminal summary): beside
            # them, not in the staging directory; removed when the run ends
            fd, findings = tempfile.mkstemp(
                prefix=".kvm-netcheck-findings-", suffix=".jsonl", dir=os.path.dirname(os.path.abspath(out.results))
            )
            os.close(fd)
        # JUnit's testcases are written as the results come, beside the spool (and staged with it)
        cases = spool + ".junit" if out is not None and out.junit else None
        self.stream = ResultStream(spool, keys, findings, cases_path=cases, case_of=testcase)
        return self.stream

    # ------------------------------------------------------------ each result

    def record(self, report) -> None:
        """A report's Results into the stream (its findings into pytest-html's table); a failed test that
        is no check is counted."""
        results = getattr(report, "kvm_results", None)
        if results is not None:
            for r in results:
                self.stream.add(r)
                if r.outcome in FINDING:
                    self.views.add_finding(r, len(self.stream.findings))
            report.kvm_results = []  # the stream has them; the report is kept by pytest to the end
        elif report.failed and not getattr(report, "kvm_synthetic", False):
            self.other_failures += 1
        if report.when == "teardown":
            self.views.html.forget(report.nodeid)
            if getattr(report, "kvm_check_item", False):
                self.items_run += 1

    def _replay_shards(self) -> None:
        """The shards' results, host by host in the order one run over all of them would have made."""
        for line in self.hosts.shards.lines():
            r = result_from_line(line)
            self.stream.add(r, line)
            if r.outcome in FINDING:
                self.views.add_finding(r, len(self.stream.findings))

    # ------------------------------------------------------------ end of the run

    def finish(self, session) -> None:
        if self.is_worker or self.stream is None:
            return
        hosts = self.hosts
        if hosts.shards is not None:
            self._replay_shards()
        elif not hosts.gathered:
            return  # no check ran (e.g. the project's own tests)
        if self.checked_something(session) is not None:
            return  # nothing to judge: no verdict, no report (the previous ones stay)
        g, s = self.gate, self.stream
        digests = hosts.all_digests()
        self.judgement = g.judge(s, digests, self.other_failures, hosts.in_my_shard())
        out = self.outputs
        page = page_writer(out, digests, self.views.docs_url) if out is not None and out.html and out.pages else None
        if out is not None and out.fix_dir:
            staged = write_fix_scripts(
                out.at(out.fix_dir),
                s.findings,
                digests,
                f"the run of {datetime.datetime.now().isoformat(timespec='seconds')}",
                page,
            )
            self.fix_scripts = {h: out.final_of(p) for h, p in staged.items()}
        elif page is not None:
            for host in s.findings.hosts():
                page(host, s.findings_of(host), None)
        # a run cut short (-x, --maxfail) did not check everything: pytest's own code stands
        if (
            hosts.shards is not None
            or hosts.empty_shard
            or (session.exitstatus not in PYTEST_CODES_KEPT and not (session.shouldfail or session.shouldstop))
        ):
            session.exitstatus = self.verdict.exit_code
        self.exit_code = int(session.exitstatus)
        if out is None:
            return  # a pytest run of the checks without the suite's ini or an output option: no files
        self._write(digests)
        hosts.remove_worker_copy()

    def _write(self, digests: list) -> None:
        out, g, s, verdict = self.outputs, self.gate, self.stream, self.verdict
        write_results(
            self.results_path,
            [d.summary for d in digests],
            s.lines(),
            {"max_port_block_s": g.limits.max_port_block_s},
            self._sections(),
        )
        if out.junit:
            write_junit(
                out.at(out.junit),
                s,
                {
                    "kvm-netcheck-gate": verdict.word,
                    "kvm-netcheck-exit-code": str(self.exit_code),
                    "kvm-netcheck-fail-on": g.fail_on,
                    "kvm-netcheck-waived": str(len(verdict.waived)),
                },
                time.monotonic() - self.started,
            )
        if out.summary_md:
            write_summary_md(out.at(out.summary_md), s, digests, verdict, self.exit_code, out.html, out.results)
        if out.prom:
            write_prom_textfile(out.at(out.prom), s, digests, verdict, self.exit_code, time.monotonic() - self.started)
        if out.shard_meta:
            with open(out.at(out.shard_meta), "w", encoding="utf-8") as f:
                json.dump(shard_meta(self.hosts.shard, g.fingerprint(), digests, s), f)

    def quiet_failure_lists(self) -> None:
        """At fleet size pytest's own failure list (one traceback-style block per failed check and host)
        and its short summary say again, thousands of lines long, what the findings section says."""
        if self.stream is not None and not self.is_worker:
            bad = sum(n for (outcome, _, _), n in self.stream.tally.items() if outcome in ("failed", "error"))
            self.quieted = bad > 0 and pytest_adapter.quiet_failure_lists(self.config)

    def checked_something(self, session) -> Optional[str]:
        """None for a run whose reports should replace the last ones; else why not."""
        if self.config.option.collectonly:
            return "a collect-only run checks nothing"
        if (
            self.hosts.empty_shard
            and session is not None
            and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
        ):
            return None
        if self.stream is None or not self.stream.total:
            return "no check ran (nothing selected, no host, or the run stopped before)"
        if self.hosts.shards is not None:
            return None
        if session is None or session.exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
            pytest.ExitCode.USAGE_ERROR,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            return "the run did not end on its own"
        if session.shouldfail or session.shouldstop:
            return "the run was cut short (-x, --maxfail)"
        return None

    def publish_or_keep(self, session) -> None:
        out = self.outputs
        if out is None or self.published is not None:
            return
        self.keep_reason = self.checked_something(session)
        if self.keep_reason is None and self.judgement is not None:
            self.written = out.publish(keep_in_dirs=lambda p: not (p.endswith(".sh") and is_ours(p)))
            self.published = True
            if out.html:
                self.views.html.written_to(out.html)
        else:
            out.discard()
            self.published = False
            self.views.html.drop()

    def _sections(self) -> dict[str, Any]:
        s, g, j = self.stream, self.gate, self.judgement
        out: dict[str, Any] = {
            "gate": {
                **j.verdict.as_dict(),
                "exit_code": self.exit_code,
                "policy_file": g.policy.path,
                "severities": dict(g.policy.severities),
            },
            "counts": {o: s.counts.get(o, 0) for o in ("failed", "waived", "error", "passed", "skipped")},
            # ahead of the results: a nightly trend reads this much of each dated copy, not the whole file
            "findings_per_check": s.findings_per_check(),
            "waivers": {"file": g.waivers.source or None, "entries": j.waiver_usage},
            "fix_scripts": self.fix_scripts,
            # each check that has a result: its record and reference page (docs/checks/ID.md)
            "checks": {
                cid: {**check_record(CHECKS[cid]), "severity": g.severity[cid]}
                for cid in sorted(s.checks & set(CHECKS))
            },
        }
        shard = self.hosts.shard
        if shard:
            out["shard"] = {"k": shard[0], "n": shard[1]}
        if self.hosts.shards is not None:
            out["merged"] = self.hosts.shards.describe()
        if g.baseline_path:
            out["drift"] = j.drift.as_dict() if j.drift else {"baseline": g.baseline_path, "missing": True}
        return out

    def unconfigure(self) -> None:
        if self.stream is not None:
            self.stream.discard()
        if self.outputs is not None and self.published is None:
            self.outputs.discard()  # the session never finished (a usage error, a crash)
            self.published = False
        if self.gate.dated_copies and self.published:
            copy_dated(self.outputs, self.gate.today, self.fix_scripts)


def copy_dated(out: Outputs, today: datetime.date, fix_scripts: dict[str, str]) -> None:
    """Keep this run's reports in YYYY-MM-DD/ beside results.json (written last: HTML and JUnit are done)."""
    dest = os.path.join(os.path.dirname(os.path.abspath(out.results)), today.isoformat())
    os.makedirs(dest, exist_ok=True)
    for path in (out.results, out.html, out.junit, out.summary_md):
        if path and os.path.isfile(path):
            shutil.copy2(path, dest)
    if out.pages and os.path.isdir(out.pages):
        shutil.copytree(out.pages, os.path.join(dest, os.path.basename(out.pages)), dirs_exist_ok=True)
    assets = os.path.join(os.path.dirname(os.path.abspath(out.html)), "assets") if out.html else None
    if assets and os.path.isdir(assets):
        shutil.copytree(assets, os.path.join(dest, "assets"), dirs_exist_ok=True)
    if fix_scripts:
        fix_dest = os.path.join(dest, "fix")
        if os.path.isdir(fix_dest):
            shutil.rmtree(fix_dest)
        os.makedirs(fix_dest)
        for p in fix_scripts.values():
            shutil.copy2(p, fix_dest)
