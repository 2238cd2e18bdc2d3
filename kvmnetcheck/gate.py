"""Gates and nightly reports: severities that fail a run, waivers, fleet view, drift, fix scripts.

Registered by kvmnetcheck.plugin; reads the Results that plugin collects. The
policy (command line over kvmnetcheck.yaml) is read once at start-up, so a bad
waiver or baseline file stops the run before any host is reached. The exit code
contract is in kvmnetcheck/report/verdict.py.
"""
from __future__ import annotations

import dataclasses
import datetime
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from .checks.catalog import CHECKS, SEVERITIES
from .policy import PolicyError, TeamPolicy, WaiverSet, find_policy, load_policy, load_waivers
from .report import fleet
from .report.drift import Baseline, BaselineError, Drift, compare, load_baseline
from .report.fixscripts import write_fix_scripts
from .report.results import Result
from .report.verdict import PYTEST_CODES_KEPT, Verdict, decide

DEFAULT_FAIL_ON = SEVERITIES[-1]  # any failure


@dataclass
class GateRun:
    """What this run holds findings to, and, after the session, what it concluded."""

    fail_on: str
    allow_unreachable: bool
    waivers: WaiverSet
    policy: TeamPolicy
    today: datetime.date
    baseline_path: Optional[str] = None
    baseline: Optional[Baseline] = None
    fix_dir: Optional[str] = None
    dated_copies: bool = False
    other_failures: int = 0
    verdict: Optional[Verdict] = None
    drift: Optional[Drift] = None
    usage: list[dict] = field(default_factory=list)
    fix_scripts: dict[str, str] = field(default_factory=dict)
    severities_before: dict[str, str] = field(default_factory=dict)

    def note(self) -> str:
        parts = [f"fail-on {self.fail_on}", "unreachable hosts " + ("allowed" if self.allow_unreachable else "fail")]
        if self.policy.path:
            parts.append(f"policy {self.policy.path}")
        if self.waivers.source:
            parts.append(f"waivers {self.waivers.source} ({len(self.waivers.entries)} entries)")
        if self.policy.severities:
            parts.append("re-rated: " + ", ".join(f"{c}={s}" for c, s in self.policy.severities.items()))
        return "; ".join(parts)


GATE = pytest.StashKey[GateRun]()
_CONFIG: Optional[pytest.Config] = None  # logreport and the HTML row hook get no config argument


# ---------------------------------------------------------------- options

def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kvm-netcheck")
    g.addoption("--fail-on", choices=SEVERITIES, default=None, metavar="SEVERITY",
                help="lowest severity that fails the run: critical, high, medium or low "
                     "(default from the policy file, else low: any failure); lower findings are still reported")
    g.addoption("--allow-unreachable", action="store_true", default=None,
                help="hosts that cannot be reached (and checks that cannot run) do not fail the run")
    g.addoption("--waivers", default=None, metavar="FILE",
                help="YAML file of waivers: check, host and object patterns, reason, expires (YYYY-MM-DD)")
    g.addoption("--policy", default=None, metavar="FILE",
                help="policy file (fail_on, allow_unreachable, max_port_block_s, severities, waivers); "
                     "default: kvmnetcheck.yaml beside --ansible-inventory or --ssh-config")
    g.addoption("--baseline", default=None, metavar="PATH",
                help="a previous results.json: report what is new, fixed and still failing since")
    g.addoption("--fix-scripts", default=None, metavar="DIR",
                help="where to write HOST.sh fix scripts (default: fix/ beside results.json; 'none': do not)")
    g.addoption("--dated-copies", action="store_true", default=False,
                help="also keep this run's reports in YYYY-MM-DD/ beside results.json (for nightly runs)")


def _results_path(config) -> str:
    return config.getoption("--results-json") or config.getini("results_json")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # first: the plugin's own configure reads --max-port-block, which the policy file may supply
    try:
        run = _gate_run(config)
    except (PolicyError, BaselineError) as e:
        raise pytest.UsageError(str(e)) from None
    config.stash[GATE] = run
    global _CONFIG
    _CONFIG = config
    if run.policy.max_port_block_s is not None and config.getoption("--max-port-block") is None:
        config.option.max_port_block = run.policy.max_port_block_s
    # the policy's re-rated severities are this run's catalog: JUnit, HTML, JSON and the gate agree
    for check, sev in run.policy.severities.items():
        run.severities_before[check] = CHECKS[check].severity
        CHECKS[check] = dataclasses.replace(CHECKS[check], severity=sev)


def _gate_run(config) -> GateRun:
    o = config.option
    policy_path = config.getoption("--policy") or find_policy(
        [getattr(o, "ansible_inventory", None), getattr(o, "ssh_config", None)])
    policy = load_policy(policy_path) if policy_path else TeamPolicy()
    waivers_path = config.getoption("--waivers")
    waivers = load_waivers(waivers_path) if waivers_path else (policy.waivers or WaiverSet())
    baseline_path = config.getoption("--baseline")
    fix_dir = config.getoption("--fix-scripts")
    if fix_dir is None:
        fix_dir = os.path.join(os.path.dirname(_results_path(config)) or ".", "fix")
    allow = config.getoption("--allow-unreachable")
    return GateRun(
        fail_on=config.getoption("--fail-on") or policy.fail_on or DEFAULT_FAIL_ON,
        allow_unreachable=bool(allow if allow is not None else policy.allow_unreachable),
        waivers=waivers, policy=policy, today=datetime.date.today(),
        baseline_path=baseline_path, baseline=load_baseline(baseline_path) if baseline_path else None,
        fix_dir=None if fix_dir == "none" else fix_dir, dated_copies=config.getoption("--dated-copies"),
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(GATE, None)
    if run is None:
        return
    for check, sev in run.severities_before.items():
        CHECKS[check] = dataclasses.replace(CHECKS[check], severity=sev)
    if run.dated_copies and run.verdict is not None:
        _copy_dated(config, run)


def _copy_dated(config, run: GateRun) -> None:
    """Keep this run's reports in YYYY-MM-DD/ beside results.json (written last: HTML and JUnit are done)."""
    results = _results_path(config)
    dest = os.path.join(os.path.dirname(os.path.abspath(results)), run.today.isoformat())
    os.makedirs(dest, exist_ok=True)
    for path in (results, getattr(config.option, "htmlpath", None), getattr(config.option, "xmlpath", None)):
        if path and os.path.isfile(path):
            shutil.copy2(path, dest)
    html_path = getattr(config.option, "htmlpath", None)
    assets = os.path.join(os.path.dirname(os.path.abspath(html_path)), "assets") if html_path else None
    if assets and os.path.isdir(assets):
        shutil.copytree(assets, os.path.join(dest, "assets"), dirs_exist_ok=True)
    if run.fix_scripts:
        fix_dest = os.path.join(dest, "fix")
        if os.path.isdir(fix_dest):
            shutil.rmtree(fix_dest)
        os.makedirs(fix_dest)
        for p in run.fix_scripts.values():
            shutil.copy2(p, fix_dest)


# ---------------------------------------------------------------- waivers, per result

@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # outermost wrapper: runs after the plugin has turned the item into a Result (rep.kvm_result)
    outcome = yield
    rep = outcome.get_result()
    d = getattr(rep, "kvm_result", None)
    run = item.config.stash.get(GATE, None)
    if d is None or run is None or not run.waivers or d["outcome"] != "failed":
        return
    m = run.waivers.match(d["check"], d["host"], d["object"], run.today)
    if m.applied:
        w = m.applied
        d["outcome"] = "waived"
        d["waiver"] = {"status": "applied", **w.describe()}
        # to pytest a waived finding is an expected failure: counted apart, not failed, not passed
        rep.outcome = "skipped"
        rep.wasxfail = f"waived until {w.expires.isoformat()} ({w.where}): {w.reason}"
        _waiver_extra(rep, f"Waived until {w.expires.isoformat()} by {w.where}: {w.reason}")
    elif m.expired:
        w = m.expired
        d["waiver"] = {"status": "expired", **w.describe()}
        _waiver_extra(rep, f"A waiver for this finding expired on {w.expires.isoformat()} ({w.where}), "
                           f"so it fails again: {w.reason}")


def _waiver_extra(rep, text: str) -> None:
    try:
        from pytest_html import extras
    except ImportError:
        return
    rep.extras = getattr(rep, "extras", []) + [extras.html(f'<p class="kvm-waiver">{fleet.e(text)}</p>')]


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report, config):
    d = getattr(report, "kvm_result", None)
    if d is not None and d["outcome"] == "waived" and report.when == "call":
        return "waived", "w", "WAIVED"
    return None


def pytest_runtest_logreport(report):
    # a failed test that is no check (no Result) still fails the gate: nothing vouches for it
    if report.failed and getattr(report, "kvm_result", None) is None and _CONFIG is not None:
        run = _CONFIG.stash.get(GATE, None)
        if run is not None:
            run.other_failures += 1


# ---------------------------------------------------------------- end of the run

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    # first: the plugin writes results.json with these sections, pytest-html asks for the summary
    from .plugin import RAWS, REPORT_SECTIONS, RESULTS, facts_for

    config = session.config
    run = config.stash.get(GATE, None)
    if run is None or hasattr(config, "workerinput"):
        return
    results: list[Result] = config.stash.get(RESULTS, [])
    if RAWS not in config.stash and not results:
        return  # no check ran (e.g. the project's own tests)
    hosts = facts_for(config)
    run.verdict = decide(results, run.fail_on, run.allow_unreachable, run.other_failures)
    matched: dict[str, int] = {}
    for r in results:
        if r.waiver:
            matched[r.waiver["where"]] = matched.get(r.waiver["where"], 0) + 1
    run.usage = run.waivers.usage(matched, run.today)
    if run.baseline is not None:
        run.drift = compare(run.baseline, results, hosts)
    if run.fix_dir:
        run.fix_scripts = write_fix_scripts(run.fix_dir, results, hosts,
                                            f"the run of {datetime.datetime.now().isoformat(timespec='seconds')}")
    config.stash[REPORT_SECTIONS] = _sections(run, results)
    _junit_properties(config, run)
    # a run cut short (-x, --maxfail) did not check everything: pytest's own code stands
    if session.exitstatus not in PYTEST_CODES_KEPT and not (session.shouldfail or session.shouldstop):
        session.exitstatus = run.verdict.exit_code


def _sections(run: GateRun, results: list[Result]) -> dict[str, Any]:
    counts = {o: 0 for o in ("failed", "waived", "error", "passed", "skipped")}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    out: dict[str, Any] = {
        "gate": {**run.verdict.as_dict(), "policy_file": run.policy.path,
                 "severities": dict(run.policy.severities)},
        "counts": counts,
        "waivers": {"file": run.waivers.source or None, "entries": run.usage},
        "fix_scripts": run.fix_scripts,
    }
    if run.baseline_path:
        out["drift"] = run.drift.as_dict() if run.drift else {"baseline": run.baseline_path, "missing": True}
    return out


def _junit_properties(config, run: GateRun) -> None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:
        return
    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    xml.add_global_property("kvm-netcheck-gate", run.verdict.word)
    xml.add_global_property("kvm-netcheck-exit-code", str(run.verdict.exit_code))
    xml.add_global_property("kvm-netcheck-fail-on", run.fail_on)
    xml.add_global_property("kvm-netcheck-waived", str(len(run.verdict.waived)))


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    run = config.stash.get(GATE, None)
    if run is None or run.verdict is None:
        return
    tr = terminalreporter
    waived = run.verdict.waived
    if waived or run.usage:
        tr.section("kvm-netcheck waivers")
        for r in waived:
            w = r.waiver
            tr.write_line(f"  WAIVED [{r.severity}] {r.host} {r.check} {r.object}: until {w['expires']} "
                          f"({w['where']}): {w['reason']}", yellow=True)
        for u in run.usage:
            if u["status"] == "expired":
                tr.write_line(f"  EXPIRED {u['where']} ({u['check']} {u['host']} {u['object']}) ended {u['expires']}: "
                              f"{u['matched']} finding(s) fail again", red=True)
            elif u["status"] == "unused":
                tr.write_line(f"  UNUSED {u['where']} ({u['check']} {u['host']} {u['object']}): "
                              "matched no failing result; remove it?", yellow=True)
    if run.baseline_path:
        tr.section("kvm-netcheck drift")
        if run.drift is None:
            tr.write_line(f"no baseline at {run.baseline_path} yet: drift is reported from the next run on")
        else:
            d = run.drift
            tr.write_line(f"since {d.baseline} ({d.baseline_generated}): {d.counts()}")
            for label, items, colour in (("NEW", d.new, {"red": True}), ("FIXED", d.fixed, {"green": True}),
                                         ("NOT RECHECKED", d.not_rechecked, {"yellow": True})):
                for i in items:
                    tr.write_line(f"  {label} [{i['severity']}] {i['host']} {i['check']} {i['object']}: "
                                  f"{i['was']} -> {i['now']}", **colour)
    tr.section("kvm-netcheck gate")
    if run.fix_scripts:
        tr.write_line(f"fix scripts (review, then run on the host): {', '.join(run.fix_scripts.values())}")
    v = run.verdict
    tr.write_line(v.summary(), red=v.exit_code != 0, green=v.exit_code == 0, bold=True)
    tr.write_line(f"  {run.note()}")


# ---------------------------------------------------------------- HTML

@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_html_results_table_header(cells):
    cells.insert(1, '<th class="sortable" data-column-type="status">Status</th>')


@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_html_results_table_row(report, cells):
    run = _CONFIG.stash.get(GATE, None) if _CONFIG is not None else None
    d = getattr(report, "kvm_result", None)
    cells.insert(1, fleet.status_cell(d, run.fail_on if run else DEFAULT_FAIL_ON,
                                      run.allow_unreachable if run else False))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix, summary, postfix, session):
    from .plugin import FACTS, RESULTS

    config = session.config
    run = config.stash.get(GATE, None)
    if run is None or run.verdict is None:
        return
    prefix.append(fleet.fleet_html(
        config.stash.get(RESULTS, []), config.stash.get(FACTS, []), run.verdict, run.note(), run.usage,
        run.waivers.source, run.drift, run.baseline_path if run.baseline_path and run.drift is None else None,
        run.fix_scripts))
