"""The run: one object, registered in pytest_configure, that owns everything a run of the suite has.

It holds the options and team policy (with this run's severities: a copy of the
catalog's, never the catalog itself), every host's raw and parsed facts, each
check's Result as it is made, and, once the session ends, the gate's verdict. Its
methods are the pytest hooks; `pytest_sessionfinish` reads top to bottom in the order
the end of a run happens: verdict, waivers used, drift, fix scripts, JUnit properties,
results.json, exit status.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Optional

import pytest

from . import __version__
from . import raw as raw_store
from .catalog import CHECKS, SEVERITIES, Finding, Limits
from .catalog.docs import check_record
from .collect.gather import GatherOptions, gather_all
from .facts.host import facts_from_raw
from .facts.model import HostFacts, Unreadable
from .policy import PolicyError, TeamPolicy, WaiverSet, find_policy, load_policy, load_waivers
from .raw import RawHost
from .report import fleet, guests, html as html_report, terminal
from .report.drift import Baseline, BaselineError, Drift, compare, load_baseline
from .report.fixscripts import write_fix_scripts
from .report.publish import DEFAULT_OUTPUT_DIR, Outputs
from .report.summaries import write_prom_textfile, write_summary_md
from .report.results import Result, write_results
from .report.verdict import PYTEST_CODES_KEPT, Verdict, decide
from .speedups import native_tracebacks

DEFAULT_MAX_PORT_BLOCK_S = 4.0  # kernel STP with the minimum forward delay (2 s), see DOMAIN.md s.6
DEFAULT_FAIL_ON = SEVERITIES[-1]  # any failure
WORKER_FACTS_DIR = "kvmnetcheck_facts_dir"
TOOL = f"kvm-netcheck {__version__}"


@dataclass(frozen=True)
class Gate:
    """What this run holds findings to."""

    fail_on: str
    allow_unreachable: bool
    waivers: WaiverSet
    policy: TeamPolicy
    today: datetime.date
    baseline_path: Optional[str]
    baseline: Optional[Baseline]
    dated_copies: bool

    def note(self) -> str:
        parts = [f"fail-on {self.fail_on}", "unreachable hosts " + ("allowed" if self.allow_unreachable else "fail")]
        if self.policy.path:
            parts.append(f"policy {self.policy.path}")
        if self.waivers.source:
            parts.append(f"waivers {self.waivers.source} ({len(self.waivers.entries)} entries)")
        if self.policy.severities:
            parts.append("re-rated: " + ", ".join(f"{c}={s}" for c, s in self.policy.severities.items()))
        return "; ".join(parts)


def _ini_true(config, name: str) -> bool:
    try:
        return str(config.getini(name)).strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        return False


def _check_ids(config, option: str) -> set[str]:
    """--check / --skip-check values (repeatable, comma-separated), each a known check id."""
    ids = {x.strip() for v in config.getoption(option) or () for x in v.split(",") if x.strip()}
    unknown = sorted(ids - set(CHECKS))
    if unknown:
        raise pytest.UsageError(f"{option}: no check {', '.join(unknown)} (kvm-netcheck --list-checks names them)")
    return ids


def _check_id(item) -> Optional[str]:
    m = item.get_closest_marker("check")
    return m.args[0] if m and m.args else None


def _subject(item) -> tuple[str, str]:
    m = item.get_closest_marker("subject")
    if m and len(m.args) == 2:
        return m.args[0], m.args[1]
    return "", ""


class KvmRun:
    """One run of the suite (see the module docstring)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        try:
            self.gate = self._gate(config)
        except (PolicyError, BaselineError) as e:
            raise pytest.UsageError(str(e)) from None
        self.limits = Limits(max_port_block_s=self._max_port_block(config))
        try:
            self.shard = raw_store.parse_shard(config.getoption("--shard")) if config.getoption("--shard") else None
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        # this run's catalog severities: the policy re-rates checks for this fleet
        self.severity = {cid: self.gate.policy.severities.get(cid, c.severity) for cid, c in CHECKS.items()}
        self.is_worker = hasattr(config, "workerinput")
        # where the reports go; staged until the run has checked something and ended on its own
        self.outputs = None if self.is_worker else self._outputs(config)
        if self.outputs is not None:
            self.outputs.stage()
            o = config.option
            o.htmlpath, o.xmlpath = self.outputs.at(self.outputs.html), self.outputs.at(self.outputs.junit)
        self.published: Optional[bool] = None  # True: reports moved into place; False: left as they were
        self.session = None
        self._raws: Optional[list[RawHost]] = None
        self._facts: Optional[list[HostFacts]] = None
        self.results: list[Result] = []
        self.other_failures = 0  # failed tests that are no check: nothing vouches for them
        self.verdict: Optional[Verdict] = None
        self.drift: Optional[Drift] = None
        self.waiver_usage: list[dict] = []
        self.fix_scripts: dict[str, str] = {}
        self._worker_dir: Optional[str] = None
        self.exit_code: Optional[int] = None  # what the process returns (results.json's gate.exit_code)
        self.keep_reason: Optional[str] = None
        self.started = time.monotonic()

    # ------------------------------------------------------------ outputs

    @staticmethod
    def _outputs(config) -> Optional[Outputs]:
        """The run's report paths: --results-json, --html, --junitxml, --fix-scripts, --summary-md and
        --prom-textfile where given, else in --output-dir (or the ini's output_dir, `reports`). A pytest
        run that is no kvm-netcheck run (no such ini, no output option) writes none."""
        given_dir = config.getoption("--output-dir")
        if not (given_dir or config.getoption("--results-json") or _ini_true(config, "kvm_netcheck_reports")):
            return None
        out_dir = given_dir or config.getini("output_dir") or DEFAULT_OUTPUT_DIR
        results = config.getoption("--results-json") or (
            os.path.join(out_dir, "results.json") if given_dir else config.getini("results_json")
            or os.path.join(out_dir, "results.json"))
        fix_dir = config.getoption("--fix-scripts")
        if fix_dir is None:
            fix_dir = os.path.join(os.path.dirname(results) or ".", "fix")
        o = config.option
        return Outputs(
            results=results,
            html=getattr(o, "htmlpath", None) or os.path.join(out_dir, "compliance.html"),
            junit=getattr(o, "xmlpath", None) or os.path.join(out_dir, "junit.xml"),
            fix_dir=None if fix_dir == "none" else fix_dir,
            summary_md=config.getoption("--summary-md"), prom=config.getoption("--prom-textfile"))

    @property
    def results_path(self) -> Optional[str]:
        """Where results.json is written during the run (its staged place)."""
        return self.outputs.at(self.outputs.results) if self.outputs else None

    # ------------------------------------------------------------ policy

    @staticmethod
    def _gate(config) -> Gate:
        o = config.option
        policy_path = config.getoption("--policy") or find_policy(
            [getattr(o, "ansible_inventory", None), getattr(o, "ssh_config", None)])
        policy = load_policy(policy_path) if policy_path else TeamPolicy()
        waivers_path = config.getoption("--waivers")
        waivers = load_waivers(waivers_path) if waivers_path else (policy.waivers or WaiverSet())
        baseline_path = config.getoption("--baseline")
        allow = config.getoption("--allow-unreachable")
        return Gate(
            fail_on=config.getoption("--fail-on") or policy.fail_on or DEFAULT_FAIL_ON,
            allow_unreachable=bool(allow if allow is not None else policy.allow_unreachable),
            waivers=waivers, policy=policy, today=datetime.date.today(),
            baseline_path=baseline_path, baseline=load_baseline(baseline_path) if baseline_path else None,
            dated_copies=config.getoption("--dated-copies"),
        )

    def _max_port_block(self, config) -> float:
        v = config.getoption("--max-port-block")
        if v is None:
            v = self.gate.policy.max_port_block_s
        if v is None:
            ini = config.getini("max_port_block_s")
            try:
                v = float(ini)
            except ValueError:
                raise pytest.UsageError(f"ini max_port_block_s = {ini!r} is not a number of seconds") from None
        if v < 0:
            raise pytest.UsageError("--max-port-block must not be negative")
        return v

    # ------------------------------------------------------------ facts

    def raws(self) -> list[RawHost]:
        """Every host's raw facts, gathered (or loaded) once for the whole run."""
        if self._raws is not None:
            return self._raws
        config = self.config
        tr = config.pluginmanager.get_plugin("terminalreporter")
        worker_dir = getattr(config, "workerinput", {}).get(WORKER_FACTS_DIR)
        source = worker_dir or config.getoption("--facts")
        started = time.monotonic()
        if source:
            try:
                raws = raw_store.load(source)
            except raw_store.FactsFormatError as e:
                raise pytest.UsageError(str(e)) from None
            if not worker_dir:
                raws = [r for r in raws if raw_store.in_shard(r.host, self.shard)]
        else:
            def progress(done, total, name):
                if tr is not None and total > 1 and tr.isatty():  # sys.stdout is pytest's capture here
                    with self._uncaptured():
                        tr.write(f"\rgathering facts: {done}/{total} hosts, {time.monotonic() - started:.0f} s",
                                 flush=True)

            raws = gather_all(self._host_specs(), self._gather_options(), progress)
            save_dir = config.getoption("--save-facts")
            if save_dir:
                raw_store.save(save_dir, raws, TOOL)
        self._raws = raws
        if tr is not None and not worker_dir:
            bad = sum(1 for r in raws if r.error)
            verb = f"loaded from {source}" if source else "gathered"
            with self._uncaptured():
                tr.write_line(f"\nkvm-netcheck: {len(raws)} host(s) {verb} in {time.monotonic() - started:.1f} s"
                              + (f", {bad} unreachable" if bad else ""))
        return raws

    def facts(self) -> list[HostFacts]:
        """Every host's parsed facts (parsed once per process)."""
        if self._facts is None:
            raws = self.raws()
            self._facts = [facts_from_raw(r) for r in raws]
            # parsed: keep which hosts were read, not their text (tens of MB over a fleet)
            self._raws = [dataclasses.replace(r, output="", libvirt=None) for r in raws]
        return self._facts

    @property
    def gathered(self) -> bool:
        return self._raws is not None

    def _host_specs(self) -> list[Optional[str]]:
        hosts = getattr(self.config.option, "hosts", None)
        if not hosts:
            return [None]  # testinfra's local://
        return [h.strip() for h in hosts.split(",") if h.strip()]

    def _gather_options(self) -> GatherOptions:
        config = self.config
        uris = {}
        for item in config.getoption("--libvirt-uri") or []:
            host, sep, uri = item.partition("=")
            if not sep or not host or not uri:
                raise pytest.UsageError(f"--libvirt-uri wants HOST=URI, got {item!r}")
            uris[host] = uri
        o = config.option
        return GatherOptions(
            connection=getattr(o, "connection", None), ssh_config=getattr(o, "ssh_config", None),
            ssh_identity_file=getattr(o, "ssh_identity_file", None),
            ssh_extra_args=getattr(o, "ssh_extra_args", None), sudo=getattr(o, "sudo", False),
            sudo_user=getattr(o, "sudo_user", None), ansible_inventory=getattr(o, "ansible_inventory", None),
            force_ansible=getattr(o, "force_ansible", False), libvirt_uris=uris,
            workers=config.getoption("--gather-workers"), host_timeout=config.getoption("--host-timeout"),
            shard=self.shard,
        )

    def _uncaptured(self):
        """Facts are gathered during collection, while pytest captures output: write past it."""
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()

    # ------------------------------------------------------------ start

    def pytest_sessionstart(self, session):
        self.session = session
        if self.config.getoption("--facts") and not self.is_worker:
            self.raws()  # a directory this version cannot read stops the run here, in one line

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        """pytest-xdist: the controller gathers once and hands the saved facts to every worker."""
        raws = self.raws()
        if self._worker_dir is None:
            self._worker_dir = tempfile.mkdtemp(prefix="kvmnetcheck-facts-")
            raw_store.save(self._worker_dir, raws, TOOL)
        node.workerinput[WORKER_FACTS_DIR] = self._worker_dir

    @pytest.hookimpl(tryfirst=True)  # before -m and -k select: the severity markers are set here
    def pytest_collection_modifyitems(self, session, config, items):
        # a check whose objects no host has gets pytest's one empty-parameter item (NOTSET), about
        # no host and no object: it is no result, so it is not run
        only, skip = _check_ids(config, "--check"), _check_ids(config, "--skip-check")

        def dropped(i) -> bool:
            cid = _check_id(i)
            if cid is None:
                return False
            return _subject(i) == ("", "") or (only and cid not in only) or cid in skip

        gone = [i for i in items if dropped(i)]
        if gone:
            config.hook.pytest_deselected(items=gone)
            items[:] = [i for i in items if not dropped(i)]
        shared: dict[tuple, tuple] = {}
        for item in items:
            cid = _check_id(item)
            if cid is None:
                continue
            host, obj = _subject(item)
            item.add_marker(self.severity[cid])  # -m high, -m "critical or high"
            props = [("check", cid), ("host", host), ("object", obj), ("severity", self.severity[cid])]
            item.user_properties.extend(shared.setdefault(p, p) for p in props)  # one tuple per value

    # ------------------------------------------------------------ each result

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        cid = _check_id(item)
        exc = getattr(call.excinfo, "value", None)
        with native_tracebacks(item.config, cid is not None and call.when == "call"
                               and isinstance(exc, (Finding, Unreadable))):
            outcome = yield
        rep = outcome.get_result()
        if cid is None or not (rep.when == "call" or (rep.when == "setup" and not rep.passed)):
            return
        result = self._result(item, call, rep, cid)
        # plain data: travels from xdist workers to the controller (the fields are plain values
        # already; asdict's deep copy costs seconds over 50,000 results)
        rep.kvm_result = vars(result)
        if result.outcome == "failed" and isinstance(exc, Finding):
            c = CHECKS[cid]
            rep.longrepr = terminal.finding_text(result, c.rationale, c.guide)
        elif result.outcome == "error" and isinstance(exc, Unreadable):
            # a fact missing on the host, not a bug in the check: what is missing, no traceback
            rep.longrepr = terminal.printable(f"[{result.severity}] {result.check} on {result.host}: "
                                              f"{result.object}\n{result.message}")
        extra = html_report.finding_html(result, CHECKS[cid])
        if extra:
            self._html_extra(rep, extra)
        self._apply_waiver(rep, rep.kvm_result)

    def _result(self, item, call, rep, cid: str) -> Result:
        host, obj = _subject(item)
        r = Result(check=cid, host=host, object=obj, outcome="passed", severity=self.severity[cid],
                   test=item.nodeid)
        exc = call.excinfo.value if call.excinfo is not None else None
        if rep.skipped:
            r.outcome = "skipped"
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            r.message = reason.removeprefix("Skipped: ")
        elif isinstance(exc, Finding):
            r.outcome = "failed"
            r.message, r.remediation, r.observed, r.limit = exc.message, exc.remediation, exc.observed, exc.limit
            r.fix_script = exc.script
            r.fix_steps = [list(s) for s in exc.steps]
        elif rep.failed and isinstance(exc, AssertionError) and rep.when == "call":
            r.outcome = "failed"
            r.message = str(exc).split("\nassert ")[0].strip()
        elif rep.failed:
            r.outcome = "error"
            r.message = f"the check could not run: {type(exc).__name__}: {exc}" if exc else str(rep.longrepr)[-500:]
        return r

    def _apply_waiver(self, rep, d: dict) -> None:
        g = self.gate
        if not g.waivers or d["outcome"] != "failed":
            return
        m = g.waivers.match(d["check"], d["host"], d["object"], g.today)
        if m.applied:
            w = m.applied
            d["outcome"] = "waived"
            d["waiver"] = {"status": "applied", **w.describe()}
            # to pytest a waived finding is an expected failure: counted apart, not failed, not passed
            rep.outcome = "skipped"
            rep.wasxfail = f"waived until {w.expires.isoformat()} ({w.where}): {w.reason}"
            self._html_extra(rep, html_report.waiver_html(
                f"Waived until {w.expires.isoformat()} by {w.where}: {w.reason}"))
        elif m.expired:
            w = m.expired
            d["waiver"] = {"status": "expired", **w.describe()}
            self._html_extra(rep, html_report.waiver_html(
                f"A waiver for this finding expired on {w.expires.isoformat()} ({w.where}), "
                f"so it fails again: {w.reason}"))

    @staticmethod
    def _html_extra(rep, text: str) -> None:
        try:
            from pytest_html import extras
        except ImportError:
            return
        rep.extras = getattr(rep, "extras", []) + [extras.html(text)]

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        d = getattr(report, "kvm_result", None)
        if d is not None and d["outcome"] == "waived" and report.when == "call":
            return "waived", "w", "WAIVED"
        return None

    def pytest_runtest_logreport(self, report):
        d = getattr(report, "kvm_result", None)
        if d is not None:
            r = Result(**d)
            self.results.append(r)
            report.kvm_result = vars(r)  # one dict for the report and its Result
        elif report.failed:
            self.other_failures += 1

    # ------------------------------------------------------------ end of the run

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        # around pytest-html's and JUnit's own sessionfinish: the verdict before they write their
        # files (they carry it), the reports moved into place after (and before the terminal summary)
        self._finish(session)
        try:
            return (yield)
        finally:
            self._publish_or_keep(session)

    def _finish(self, session) -> None:
        if self.is_worker or not (self.gathered or self.results):
            return  # no check ran (e.g. the project's own tests)
        if self.checked_something(session) is not None:
            return  # nothing to judge: no verdict, no report (the previous ones stay)
        g = self.gate
        hosts = self.facts()
        self.verdict = decide(self.results, g.fail_on, g.allow_unreachable, self.other_failures)
        matched: dict[str, int] = {}
        for r in self.results:
            if r.waiver:
                matched[r.waiver["where"]] = matched.get(r.waiver["where"], 0) + 1
        self.waiver_usage = g.waivers.usage(matched, g.today)
        if g.baseline is not None:
            self.drift = compare(g.baseline, self.results, hosts)
        out = self.outputs
        if out is not None and out.fix_dir:
            staged = write_fix_scripts(
                out.at(out.fix_dir), self.results, hosts,
                f"the run of {datetime.datetime.now().isoformat(timespec='seconds')}")
            self.fix_scripts = {h: out.final_of(p) for h, p in staged.items()}
        # a run cut short (-x, --maxfail) did not check everything: pytest's own code stands
        if session.exitstatus not in PYTEST_CODES_KEPT and not (session.shouldfail or session.shouldstop):
            session.exitstatus = self.verdict.exit_code
        self.exit_code = int(session.exitstatus)
        self._junit_properties()
        if out is None:
            return  # a pytest run of the checks without the suite's ini or an output option: no files
        write_results(self.results_path, hosts, self.results, {"max_port_block_s": self.limits.max_port_block_s},
                      self._report_sections())
        if out.summary_md:
            write_summary_md(out.at(out.summary_md), self.results, hosts, self.verdict, self.exit_code,
                             out.html, out.results)
        if out.prom:
            write_prom_textfile(out.at(out.prom), self.results, hosts, self.verdict, self.exit_code,
                                time.monotonic() - self.started)
        if self._worker_dir:
            shutil.rmtree(self._worker_dir, ignore_errors=True)

    def checked_something(self, session) -> Optional[str]:
        """None for a run whose reports should replace the last ones; else why not."""
        if self.config.option.collectonly:
            return "a collect-only run checks nothing"
        if not self.results:
            return "no check ran (nothing selected, no host, or the run stopped before)"
        if session is None or session.exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
                                                     pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
            return "the run did not end on its own"
        if session.shouldfail or session.shouldstop:
            return "the run was cut short (-x, --maxfail)"
        return None

    def _publish_or_keep(self, session) -> None:
        out = self.outputs
        if out is None or self.published is not None:
            return
        self.keep_reason = self.checked_something(session)
        if self.keep_reason is None and self.verdict is not None:
            out.publish()
            self.published = True
            self._point_writers_at(out)
        else:
            out.discard()
            self.published = False
            self._silence_writers()

    def _point_writers_at(self, out: Outputs) -> None:
        """pytest-html and JUnit say where they wrote their file: the final place, not the staging one."""
        from pathlib import Path
        for plugin in self.config.pluginmanager.get_plugins():
            if hasattr(plugin, "_report_path") and out.html:
                plugin._report_path = Path(os.path.abspath(out.html))
        xml = self._junit()
        if xml is not None and out.junit:
            xml.logfile = os.path.abspath(out.junit)

    def _silence_writers(self) -> None:
        """Reports that were not published are not announced."""
        pm = self.config.pluginmanager
        for plugin in list(pm.get_plugins()):
            if hasattr(plugin, "_report_path"):
                pm.unregister(plugin)
        xml = self._junit()
        if xml is not None:
            from _pytest.junitxml import xml_key
            pm.unregister(xml)
            del self.config.stash[xml_key]  # so that JUnit's own unconfigure does not unregister it again

    def _junit(self):
        try:
            from _pytest.junitxml import xml_key
        except ImportError:
            return None
        return self.config.stash.get(xml_key, None)

    def _report_sections(self) -> dict[str, Any]:
        counts = {o: 0 for o in ("failed", "waived", "error", "passed", "skipped")}
        for r in self.results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        g = self.gate
        out: dict[str, Any] = {
            "gate": {**self.verdict.as_dict(), "exit_code": self.exit_code, "policy_file": g.policy.path,
                     "severities": dict(g.policy.severities)},
            "counts": counts,
            "waivers": {"file": g.waivers.source or None, "entries": self.waiver_usage},
            "fix_scripts": self.fix_scripts,
            # each check that has a result: its record and reference page (docs/checks/ID.md)
            "checks": {cid: {**check_record(CHECKS[cid]), "severity": self.severity[cid]}
                       for cid in sorted({r.check for r in self.results} & set(CHECKS))},
        }
        if g.baseline_path:
            out["drift"] = self.drift.as_dict() if self.drift else {"baseline": g.baseline_path, "missing": True}
        return out

    def _junit_properties(self) -> None:
        try:
            from _pytest.junitxml import xml_key
        except ImportError:
            return
        xml = self.config.stash.get(xml_key, None)
        if xml is None:
            return
        xml.add_global_property("kvm-netcheck-gate", self.verdict.word)
        xml.add_global_property("kvm-netcheck-exit-code", str(self.exit_code))
        xml.add_global_property("kvm-netcheck-fail-on", self.gate.fail_on)
        xml.add_global_property("kvm-netcheck-waived", str(len(self.verdict.waived)))

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if self.is_worker or not (self.results or self._facts):
            return
        out = self.outputs
        terminal.findings(terminalreporter, self.results, self._facts or [],
                          out.results if out is not None and self.published else None)
        if out is not None and self.published is False:
            terminalreporter.write_line(f"kvm-netcheck: reports not written, the previous ones are kept: "
                                        f"{self.keep_reason}", yellow=True)
        terminal.guests(terminalreporter, guests.guest_stories(self.results, self._facts or []))
        if self.verdict is None:
            return
        terminal.waivers(terminalreporter, self.verdict.waived, self.waiver_usage)
        if self.gate.baseline_path:
            terminal.drift(terminalreporter, self.drift, self.gate.baseline_path)
        terminal.gate(terminalreporter, self.verdict, self.gate.note(), self.fix_scripts)

    def pytest_unconfigure(self, config):
        if self.outputs is not None and self.published is None:
            self.outputs.discard()  # the session never finished (a usage error, a crash)
            self.published = False
        if self.gate.dated_copies and self.published:
            self._copy_dated()

    def _copy_dated(self) -> None:
        """Keep this run's reports in YYYY-MM-DD/ beside results.json (written last: HTML and JUnit are done)."""
        out = self.outputs
        dest = os.path.join(os.path.dirname(os.path.abspath(out.results)), self.gate.today.isoformat())
        os.makedirs(dest, exist_ok=True)
        html_path = out.html
        for path in (out.results, html_path, out.junit, out.summary_md):
            if path and os.path.isfile(path):
                shutil.copy2(path, dest)
        assets = os.path.join(os.path.dirname(os.path.abspath(html_path)), "assets") if html_path else None
        if assets and os.path.isdir(assets):
            shutil.copytree(assets, os.path.join(dest, "assets"), dirs_exist_ok=True)
        if self.fix_scripts:
            fix_dest = os.path.join(dest, "fix")
            if os.path.isdir(fix_dest):
                shutil.rmtree(fix_dest)
            os.makedirs(fix_dest)
            for p in self.fix_scripts.values():
                shutil.copy2(p, fix_dest)

    # ------------------------------------------------------------ pytest-html

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report):
        report.title = "kvm-netcheck compliance report"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells):
        html_report.table_header(cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report, cells):
        html_report.table_row(report, cells, fleet.status_cell(
            getattr(report, "kvm_result", None), self.gate.fail_on, self.gate.allow_unreachable))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        if self.verdict is not None:
            prefix.insert(0, html_report.static_findings_html(self.results))
            g = self.gate
            prefix.append(fleet.fleet_html(
                self.results, self._facts or [], self.verdict, g.note(), self.waiver_usage, g.waivers.source,
                self.drift, g.baseline_path if g.baseline_path and self.drift is None else None, self.fix_scripts))
        if self._facts is not None:
            stories = guests.stories_html(guests.guest_stories(self.results, self._facts))
            if stories:
                prefix.append(stories)
            unread = html_report.unread_html(self._facts)
            if unread:
                prefix.append(unread)
