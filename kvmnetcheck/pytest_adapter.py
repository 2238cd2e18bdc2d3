"""Every place the suite reaches into pytest's or pytest-html's internals, and nowhere else.

The rest of the package uses their public hooks and options; what they do not offer (pytest-html's
report object and its table, pytest's capture, its failure summary, its report serialization for
xdist) goes through here. The releases this was tested with are pinned in pyproject.toml (TESTED
below says the same); `selftests/unit/test_pytest_adapter.py` fails, naming this module, when an
installed release no longer has what is used here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable, Optional

from . import text

# the releases this module was tested with, as pyproject.toml's dependencies pin them: pytest 8.4 and
# 9.2, pytest-html 4.2
TESTED = {"pytest": ">=8.4,<9.3,!=9.0.*,!=9.1.*", "pytest-html": ">=4.2,<4.3"}

# what pytest-html's report object has that the suite uses (the unit test checks each one)
HTML_REPORT_ATTRS = ("_report_path", "_reports", "_report", "pytest_runtest_logreport")
HTML_DATA_ATTRS = ("_outcomes", "collected_items")


# ------------------------------------------------------------ pytest


def terminal_reporter(config):
    """pytest's terminal reporter (None with -p no:terminal)."""
    return config.pluginmanager.get_plugin("terminalreporter")


def paths_from_rootdir(config) -> None:
    """Progress lines name each check file relative to where pytest was started; when the checks are
    not under it (an installed suite in site-packages), name them from the rootdir instead
    (`tests_host/test_bridges.py`). The terminal reporter keeps that start as `startpath`."""
    tr = terminal_reporter(config)
    here, root = Path(config.invocation_params.dir), Path(config.rootpath)
    if tr is not None and hasattr(tr, "startpath") and here != root and here not in root.parents:
        tr.startpath = root


def drop_stats_line(config) -> None:
    """A run with no item (a merge) would end on pytest's "no tests ran": its gate line is its end."""
    tr = terminal_reporter(config)
    if tr is not None and hasattr(tr, "summary_stats"):
        tr.summary_stats = lambda: None


def uncaptured(config):
    """Write past pytest's output capture (facts are gathered during collection, while it captures)."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()


def index_teardowns(tr) -> None:
    """pytest's failure summary finds each failure's teardown report by scanning every passed
    report: with thousands of findings among 150,000 reports that takes minutes. Same answer,
    from an index built once."""
    if tr is None or not callable(getattr(tr, "_get_teardown_reports", None)):
        return
    index: dict = {}
    seen = [-1]

    def teardown_reports(node_id):
        if seen[0] != len(tr.stats.get("", ())):  # built again only if reports came meanwhile
            index.clear()
            for rep in tr.getreports(""):
                if rep.when == "teardown":
                    index.setdefault(rep.id, []).append(rep)
            seen[0] = len(tr.stats.get("", ()))
        return index.get(node_id, [])

    tr._get_teardown_reports = teardown_reports


def drop_last_passed_report(tr, report) -> bool:
    """Forget a passed setup or teardown report the terminal reporter just kept (counted nowhere,
    shown nowhere); True if it was the last one kept."""
    kept = tr.stats.get("")
    if kept and kept[-1] is report:
        kept.pop()
        return True
    return False


def release_item(item) -> None:
    """The item and its keywords refer to each other: that cycle would wait for a full garbage
    collection, which a large run makes rare."""
    item.keywords.node = None


def lean_protocol_allowed(config) -> bool:
    """Whether check items may run by `run_item_lean`: not when the user asked pytest to stop in a
    debugger, show or only run the setup of fixtures, which need pytest's own phases."""
    o = config.option
    return not any(getattr(o, name, False) for name in ("usepdb", "trace", "setuponly", "setupshow", "setupplan"))


def run_item_lean(item, verdict: Callable[[], tuple[str, Optional[str]]], label: Callable[[Any, Any], None]) -> None:
    """pytest's run of one item, for an item that uses no fixture and prints nothing: its start, a
    report for each of setup, call and teardown through `pytest_runtest_logreport` (what every
    reader of reports sees: the terminal, pytest-html, xdist, the session's failure count, -x), its
    finish. What it leaves out is pytest's per-phase machinery (the setup/call/teardown hooks with
    output capture, log capture and fixture setup, the report built from a traceback), which over a
    fleet's tens of thousands of items took more time than the checks themselves.

    `verdict()` runs the item: ("passed"|"failed"|"skipped", its text); pytest's skip raised in it
    skips the item, any other exception fails it with its traceback. `label(item, report)` marks each
    report before it is logged (as a pytest_runtest_makereport wrapper would)."""
    import time
    import traceback

    import pytest
    from _pytest.reports import TestReport

    ihook, nodeid, location = item.ihook, item.nodeid, item.location
    ihook.pytest_runtest_logstart(nodeid=nodeid, location=location)
    start, t0 = time.time(), time.perf_counter()
    try:
        outcome, why = verdict()
    except pytest.skip.Exception as e:
        outcome, why = "skipped", str(e.msg)
    except (KeyboardInterrupt, pytest.exit.Exception):
        raise
    except BaseException:
        outcome, why = "failed", traceback.format_exc()
    duration = time.perf_counter() - t0
    if outcome == "skipped":
        path, line = item.reportinfo()[:2]
        longrepr: Any = (os.fspath(path), (line or 0) + 1, f"Skipped: {why}")
    else:
        longrepr = why
    stop = start + duration
    for when, rep_outcome, rep_longrepr, took in (
        ("setup", "passed", None, 0.0),
        ("call", outcome, longrepr, duration),
        ("teardown", "passed", None, 0.0),
    ):
        report = TestReport(nodeid, location, {}, rep_outcome, rep_longrepr, when, [], took, start, stop)
        label(item, report)
        ihook.pytest_runtest_logreport(report=report)
    ihook.pytest_runtest_logfinish(nodeid=nodeid, location=location)


class _Ran:
    """Where check items that have run were in session.items: their file (pytest's progress display
    counts a module's items by location), nothing else; one per file."""

    __slots__ = ("nodeid", "location")

    def __init__(self, path: str):
        self.nodeid, self.location = path, (path, None, "")


_RAN: dict[str, _Ran] = {}


def ran_in(path: str) -> _Ran:
    """What stands in session.items for an item of file `path` once it has run and been let go."""
    ran = _RAN.get(path)
    if ran is None:
        ran = _RAN[path] = _Ran(path)
    return ran


def progress_by_host(config) -> bool:
    """pytest's progress (a character per item, a file name each time the file changes) is left out, so
    a fleet's run can say its progress host by host; not when the user asked for -v. True if so."""
    tr = terminal_reporter(config)
    if tr is None or tr.verbosity > 0:
        return False
    tr.showfspath = False
    return True


def failure_lists_at_default(config) -> bool:
    """Whether the user left --tb and -r at their defaults (so pytest's failure lists can be left out)."""
    from _pytest.terminal import _REPORTCHARS_DEFAULT

    o = config.option
    return getattr(o, "tbstyle", "auto") == "auto" and getattr(o, "reportchars", "") == _REPORTCHARS_DEFAULT


def quiet_failure_lists(config) -> bool:
    """Leave out pytest's own failure list and short summary of failures and errors, when the user
    did not ask for them (--tb and -r at their defaults). True if they were left out."""
    from _pytest.terminal import _REPORTCHARS_DEFAULT

    o = config.option
    tr = terminal_reporter(config)
    if tr is None or o.tbstyle != "auto" or o.reportchars != _REPORTCHARS_DEFAULT:
        return False
    o.tbstyle = "no"
    tr.reportchars = tr.reportchars.replace("f", "").replace("E", "")
    return True


def closing_line(tr, parts: list[tuple[str, dict]], colour: str) -> None:
    """pytest's last line ("1 failed, 4 passed in 0.5s") counts items, coloured by them: the suite's
    parts and colour instead (its duration stays)."""
    if tr is not None and callable(getattr(tr, "build_summary_stats_line", None)):
        tr.build_summary_stats_line = lambda: (parts, colour)


def report_attr_to_wire(data: Optional[dict], name: str, encode: Callable[[Any], Any]) -> None:
    """A report serialized for pytest-xdist (pytest copies its attributes into `data`): the list in
    attribute `name` as plain data, each element encoded (the report itself keeps its own)."""
    if isinstance(data, dict) and data.get(name):
        data[name] = [encode(x) for x in data[name]]


def report_attr_from_wire(report, name: str, decode: Callable[[Any], Any]) -> None:
    """The other end: a report read back from pytest-xdist gets its list in `name` decoded."""
    values = getattr(report, name, None)
    if values:
        setattr(report, name, [decode(x) for x in values])


# ------------------------------------------------------------ pytest's junitxml and pytest-html's options


def given_output_paths(config) -> tuple[Optional[str], Optional[str]]:
    """(--html, --junitxml) as given."""
    o = config.option
    return getattr(o, "htmlpath", None), getattr(o, "xmlpath", None)


def route_outputs(config, html_path: Optional[str]) -> None:
    """pytest-html writes its file to `html_path`; pytest's own junitxml writes none (the suite
    writes JUnit from its results)."""
    config.option.htmlpath = html_path
    config.option.xmlpath = None


# ------------------------------------------------------------ pytest-html's report


class HtmlReport:
    """pytest-html's report object, as the suite uses it: rows of its own, its outcome counts, where
    it says it wrote the file. Every method does nothing when pytest-html writes no report."""

    def __init__(self, config):
        self._config = config
        self._found = False
        self._plugin = None

    @property
    def active(self) -> bool:
        return self.plugin is not None

    @property
    def plugin(self):
        if not self._found:
            self._plugin = next(
                (p for p in self._config.pluginmanager.get_plugins() if hasattr(p, "_report_path")), None
            )
            self._found = True
        return self._plugin

    def forget(self, nodeid: str) -> None:
        """pytest-html keeps every report to the end of the run otherwise."""
        html = self.plugin
        if html is not None:
            getattr(html, "_reports", {}).pop(nodeid, None)

    def add_row(
        self,
        nodeid: str,
        outcome: str,
        longrepr: Optional[str],
        blocks: list[str],
        wasxfail: Optional[str] = None,
        **attrs: Any,
    ) -> None:
        """A row of the results table drawn from no test item: a call report (`outcome`, its log
        `longrepr`, the HTML `blocks` above it, `attrs` set on it) and a passed teardown."""
        html = self.plugin
        if html is None:
            return
        from _pytest.reports import TestReport

        try:
            from pytest_html import extras
        except ImportError:
            return
        location = (nodeid.split("::", 1)[0], None, nodeid)
        call = TestReport(nodeid, location, {}, outcome, longrepr, "call", [], 0.0)
        if wasxfail is not None:
            call.wasxfail = wasxfail
        call.extras = [extras.html(b) for b in blocks]
        for k, v in attrs.items():
            setattr(call, k, v)
        done = TestReport(nodeid, location, {}, "passed", None, "teardown", [], 0.0)
        done.kvm_synthetic = True
        html.pytest_runtest_logreport(report=call)
        html.pytest_runtest_logreport(report=done)
        getattr(html, "_reports", {}).pop(nodeid, None)

    def set_counts(self, counts: dict[str, int], total: int) -> None:
        """pytest-html's outcome counts and number of tests (its own count only the rows it drew)."""
        html = self.plugin
        if html is None:
            return
        outcomes = getattr(getattr(html, "_report", None), "_outcomes", None)
        if not isinstance(outcomes, dict):
            return
        for k, v in counts.items():
            if k in outcomes and isinstance(outcomes[k], dict):
                outcomes[k]["value"] = v
        report = getattr(html, "_report", None)
        if report is not None and hasattr(report, "collected_items"):
            report.collected_items = total

    def written_to(self, path: Optional[str]) -> None:
        """Where pytest-html says (in the terminal) it wrote the report: its final place."""
        html = self.plugin
        if html is not None and path:
            html._report_path = Path(os.path.abspath(path))

    def drop(self) -> None:
        """A report not written is not announced."""
        html = self.plugin
        if html is not None:
            self._config.pluginmanager.unregister(html)


def escape_test_id_cell(report, cells: list) -> None:
    """pytest-html writes the test id into its row unescaped, and ids carry names read from hosts."""
    for i, cell in enumerate(cells):
        if cell.startswith('<td class="col-testId">'):
            test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
            cells[i] = f'<td class="col-testId">{text.for_html(test_id)}</td>'
