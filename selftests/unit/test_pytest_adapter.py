"""kvmnetcheck/pytest_adapter.py against the installed pytest and pytest-html: a real pytest run with
--html whose probe plugin uses every function of the adapter on the real objects, and a check that
the pins in pyproject.toml are the releases the adapter names. A release whose internals moved fails
here, naming the adapter, before it breaks a report."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

from kvmnetcheck import pytest_adapter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r"""
import json
import os

import pytest

from kvmnetcheck import pytest_adapter as A

PROBLEMS = []
CONFIG = []


def need(ok, what):
    if not ok:
        PROBLEMS.append(what)


def pytest_configure(config):
    CONFIG.append(config)
    o = config.option
    need(hasattr(o, "htmlpath"), "pytest-html's option dest htmlpath (--html)")
    need(hasattr(o, "xmlpath"), "pytest's option dest xmlpath (--junitxml)")
    need(hasattr(o, "tbstyle") and hasattr(o, "reportchars"), "pytest's option dests tbstyle and reportchars")
    html, junit = A.given_output_paths(config)
    need(html and html.endswith("probe.html"), f"given_output_paths: --html read as {html!r}")
    need(junit and junit.endswith("probe.xml"), f"given_output_paths: --junitxml read as {junit!r}")


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    config = session.config
    tr = A.terminal_reporter(config)
    need(tr is not None, "pytest's terminal reporter (plugin 'terminalreporter')")
    if tr is not None:
        need(callable(getattr(tr, "_get_teardown_reports", None)), "pytest's TerminalReporter has no _get_teardown_reports")
        for a in ("stats", "getreports", "reportchars", "isatty", "write", "write_line", "startpath", "summary_stats"):
            need(hasattr(tr, a), f"pytest's TerminalReporter has no {a}")
        A.index_teardowns(tr)
    capman = config.pluginmanager.get_plugin("capturemanager")
    need(capman is not None and callable(getattr(capman, "global_and_fixture_disabled", None)),
         "pytest's CaptureManager (plugin 'capturemanager') has no global_and_fixture_disabled")
    with A.uncaptured(config):
        pass
    try:
        from _pytest.terminal import _REPORTCHARS_DEFAULT  # noqa: F401
    except ImportError:
        need(False, "_pytest.terminal has no _REPORTCHARS_DEFAULT")
    plugin = A.HtmlReport(config).plugin
    need(plugin is not None, "pytest-html's report object (found by its attribute _report_path)")
    for a in A.HTML_REPORT_ATTRS:
        need(hasattr(plugin, a), f"pytest-html's report object has no {a}")
    data = getattr(plugin, "_report", None)
    for a in A.HTML_DATA_ATTRS:
        need(hasattr(data, a), f"pytest-html's report data (_report) has no {a}")
    outcomes = getattr(data, "_outcomes", None)
    need(isinstance(outcomes, dict) and all(isinstance(outcomes.get(k), dict) and "value" in outcomes[k]
                                            for k in ("passed", "failed", "skipped", "error", "xfailed")),
         f"pytest-html's _report._outcomes is not a dict of {{'value': n}} per outcome: {outcomes!r}")
    need(isinstance(getattr(plugin, "_reports", None), dict), "pytest-html's _reports is not a dict by node id")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        rep.probe_values = [1, 2]
    return rep


@pytest.hookimpl(wrapper=True)
def pytest_runtest_logreport(report):
    try:
        return (yield)
    finally:
        config = CONFIG[0]
        tr = A.terminal_reporter(config)
        if report.when == "call":
            data = config.hook.pytest_report_to_serializable(config=config, report=report)
            need(isinstance(data, dict) and data.get("probe_values") == [1, 2],
                 "a report's own attributes are not in pytest_report_to_serializable's data")
            A.report_attr_to_wire(data, "probe_values", str)
            need(data.get("probe_values") == ["1", "2"] and report.probe_values == [1, 2],
                 "report_attr_to_wire did not encode the copy only")
            back = config.hook.pytest_report_from_serializable(config=config, data=json.loads(json.dumps(data)))
            A.report_attr_from_wire(back, "probe_values", int)
            need(getattr(back, "probe_values", None) == [1, 2],
                 "a report's own attributes do not come back from pytest_report_from_serializable")
        elif report.when == "teardown" and report.passed and tr is not None:
            before = len(tr.stats.get("", ()))
            need(A.drop_last_passed_report(tr, report) and len(tr.stats.get("", ())) == before - 1,
                 "a passed teardown report is not the last one the terminal reporter keeps under ''")
            need(tr._get_teardown_reports(report.nodeid) == [], "the teardown index does not answer")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    try:
        return (yield)
    finally:
        need(hasattr(item.keywords, "node"), "an item's keywords (NodeKeywords) have no .node")
        A.release_item(item)


def pytest_html_results_table_row(report, cells):
    if not any(c.startswith('<td class="col-testId">') for c in cells):
        PROBLEMS.append(f"pytest-html's row has no <td class=\"col-testId\"> cell: {cells!r}")
    A.escape_test_id_cell(report, cells)


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    report = A.HtmlReport(config)
    report.add_row("probe_test.py::made[<row>]", "failed", "the row's log", ["<p class='probe-block'>block</p>"],
                   probe_attr=True)
    report.add_row("probe_test.py::waived", "skipped", None, [], "the reason")
    report.set_counts({"passed": 7, "failed": 5, "skipped": 3, "error": 2, "xfailed": 1}, 18)
    need(report.plugin._report.collected_items == 18, "set_counts did not set collected_items")
    need(A.quiet_failure_lists(config) and config.option.tbstyle == "no", "quiet_failure_lists left the lists")
    try:
        return (yield)
    finally:
        report.written_to(os.path.join(os.path.dirname(config.option.htmlpath), "announced.html"))


def pytest_unconfigure(config):
    out = os.environ["PROBE_OUT"]
    with open(out, "w") as f:
        json.dump(PROBLEMS, f)
"""

TESTS = """
import pytest


def test_passes():
    pass


@pytest.mark.parametrize("name", ["<b>"])
def test_named(name):
    pass
"""


def _pins() -> dict[str, str]:
    text = open(os.path.join(ROOT, "pyproject.toml")).read()
    deps = re.search(r"^dependencies = \[(.*?)\]", text, re.S | re.M).group(1)
    out = {}
    for dep in re.findall(r'"([^"]+)"', deps):
        m = re.match(r"([A-Za-z0-9_.-]+)(.*)", dep)
        out[m.group(1)] = m.group(2)
    return out


def _fail(problems: list[str]) -> str:
    return (
        f"kvmnetcheck/pytest_adapter.py does not fit pytest {version('pytest')} and pytest-html "
        f"{version('pytest-html')} (it was tested with {pytest_adapter.TESTED}): what moved:\n  "
        + "\n  ".join(problems)
    )


def test_the_adapter_fits_the_installed_pytest_and_pytest_html(tmp_path):
    (tmp_path / "probe_plugin.py").write_text(PROBE)
    (tmp_path / "probe_test.py").write_text(TESTS)
    out = tmp_path / "problems.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PROBE_OUT=str(out), PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:kvmnetcheck",
            "-p",
            "probe_plugin",
            "-c",
            os.devnull,
            f"--rootdir={tmp_path}",
            f"--html={tmp_path / 'probe.html'}",
            "--self-contained-html",
            f"--junitxml={tmp_path / 'probe.xml'}",
            "probe_test.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.exists(), _fail(
        [f"the probe run did not finish (exit {p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}"]
    )
    problems = json.loads(out.read_text())
    page = (tmp_path / "probe.html").read_text() if (tmp_path / "probe.html").exists() else ""
    m = re.search(r'data-jsonblob="([^"]*)"', page)
    tests = json.loads(html.unescape(m.group(1))).get("tests", {}) if m else {}
    made = tests.get("probe_test.py::made[<row>]", [])
    if not any(r.get("result") == "Failed" and "probe-block" in json.dumps(r.get("extras")) for r in made):
        problems.append(f"add_row: the row made from no test item is not in pytest-html's report: {made!r}")
    if not any(r.get("result") == "XFailed" for r in tests.get("probe_test.py::waived", [])):
        problems.append("add_row: a row with a wasxfail reason is not an expected failure in pytest-html's report")
    named = json.dumps(tests.get("probe_test.py::test_named[<b>]", []))
    if "col-testId" not in named or "&lt;b&gt;" not in named:
        problems.append(f"escape_test_id_cell: the test id cell is not escaped: {named[:500]}")
    if "7 Passed" not in page or "5 Failed" not in page or "1 Expected failures" not in page:
        problems.append("set_counts: pytest-html's outcome counts are not the ones set")
    if "announced.html" not in p.stdout:
        problems.append("written_to: pytest-html does not announce the report where it was told it is")
    assert not problems, _fail(problems)


def test_pyproject_pins_the_releases_the_adapter_was_tested_with():
    pins = _pins()
    for name, spec in pytest_adapter.TESTED.items():
        assert pins.get(name) == spec, (
            f"pyproject.toml pins {name}{pins.get(name)}; kvmnetcheck/pytest_adapter.py TESTED says "
            f"{name}{spec}: keep them in step"
        )
