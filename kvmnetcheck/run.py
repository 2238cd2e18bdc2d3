"""The run: one object, registered in pytest_configure, whose methods are the pytest hooks. Each hook
hands its work to the part of the run that does it:

| part                         | its job                                                            |
|------------------------------|--------------------------------------------------------------------|
| `gate.py` `Gate`             | options and policy: fail-on, waivers, baseline, severities, limits; the judgement |
| `hosts.py` `Hosts`           | where hosts and facts come from (gathered, --facts, --shard, --merge, xdist); digests |
| `items.py` `Items`           | check items made, selected, ordered host by host, counted down      |
| `evaluation.py` `Evaluator`  | a check on each object: Results, waivers, failure text             |
| `publishing.py` `Reports`    | the stream of Results, every report written, published or kept, dated copies |
| `views.py` `Views`           | pytest-html's page (its frame, the top of the page), the terminal summary |
| `pytest_adapter.py`          | every contact with pytest's and pytest-html's internals            |

A run over a fleet stays flat in memory: pytest holds one item per check and host (objects.py), a
host's facts are parsed when its first item runs and replaced by its digest after its last one,
each Result goes to a spool file as it is made, and results.json, JUnit and the HTML are written
from the spool, the findings and counts.

`kvm-netcheck merge` is a run too (--merge): no item, the shards' hosts and results read back in the
order one run over all hosts would have made them, and the same end.
"""

from __future__ import annotations

import pytest

from . import pytest_adapter
from .catalog import Limits
from .evaluation import Evaluator, waived_status
from .gate import Gate
from .hosts import Hosts
from .items import Items
from .objects import LIMITS, CheckItem
from .publishing import Reports
from .report.results import Result
from .views import Views

PROGRESS_HOSTS = 20  # past this many hosts, progress is a line each tenth of them, not pytest's characters
_RESULTS = "kvm_results"  # a check item's call report: its Results (report attribute)


class KvmRun:
    """One run of the suite (see the module docstring)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.gate = Gate.from_config(config)  # a bad policy, waiver or baseline file is a usage error
        self.hosts = Hosts(config)
        self.is_worker = hasattr(config, "workerinput")
        self.views = Views(config, self.gate, self.hosts)
        self.reports = Reports(config, self.gate, self.hosts, self.views)
        self.evaluator = Evaluator(
            self.gate, self.hosts.facts_at, config, pytest_adapter.failure_lists_at_default(config)
        )
        self.items = Items(self.hosts, self.evaluator, self.gate.severity)
        config.stash[LIMITS] = self.gate.limits
        self.progress = None  # [hosts checked, hosts]: a fleet's progress, said host by host
        self.lean = pytest_adapter.lean_protocol_allowed(config)  # check items run without pytest's phases

    @property
    def limits(self) -> Limits:
        return self.gate.limits

    # ------------------------------------------------------------ start

    def pytest_sessionstart(self, session):
        pytest_adapter.paths_from_rootdir(self.config)
        self.hosts.stream = self.reports.start()
        if self.is_worker:
            return
        if self.hosts.merge_dirs:
            pytest_adapter.drop_stats_line(self.config)
            self.hosts.load_shards(self.gate.fingerprint())
        elif self.config.getoption("--facts"):
            self.hosts.host_list()  # a directory this version cannot read stops the run here, in one line

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        self.hosts.hand_to_worker(node)

    def pytest_ignore_collect(self, collection_path, config):
        return True if self.hosts.merge_dirs else None  # a merge runs no check

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makeitem(self, collector, name, obj):
        return self.items.make(collector, name, obj)

    @pytest.hookimpl(tryfirst=True)  # before -m and -k select: the severity markers are set here
    def pytest_collection_modifyitems(self, session, config, items):
        self.items.select_and_order(config, items)

    def pytest_collection_finish(self, session):
        hosts = self.items.count(session.items)
        if hosts > PROGRESS_HOSTS and not self.is_worker and pytest_adapter.progress_by_host(self.config):
            self.progress = [0, hosts]

    # ------------------------------------------------------------ each check on each host

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if isinstance(item, CheckItem) and self.lean:
            pytest_adapter.run_item_lean(item, item.verdict, self.items.label_report)
            return True
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        self.items.label_report(item, outcome.get_result())

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        status = waived_status(report)
        if self.progress is not None and getattr(report, "kvm_check_item", False):
            # counted as pytest counts it, shown by no character: the progress is said host by host
            category = status[0] if status else ("" if report.when != "call" and report.passed else report.outcome)
            return category, "", ""
        return status

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logreport(self, report):
        yield
        self.reports.record(report)
        if report.when == "teardown" and not self.is_worker and self.items.torn_down(report):
            self._host_done()

    def _host_done(self) -> None:
        """A fleet's progress: a line each tenth of its hosts."""
        if self.progress is None:
            return
        self.progress[0] += 1
        done, total = self.progress
        if done * 10 // total != (done - 1) * 10 // total or done == total:
            tr = pytest_adapter.terminal_reporter(self.config)
            if tr is not None:
                s = self.reports.stream
                tr.write_line(f"kvm-netcheck: {done}/{total} hosts checked, {len(s.findings)} finding(s) so far")

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, config, report):
        data = yield  # pytest-xdist: Results travel from a worker as plain data
        pytest_adapter.report_attr_to_wire(data, _RESULTS, Result.as_json)
        return data

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, config, data):
        report = yield
        pytest_adapter.report_attr_from_wire(report, _RESULTS, Result.from_json)
        return report

    # ------------------------------------------------------------ pytest-html

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report):
        report.title = "kvm-netcheck compliance report"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells):
        self.views.table_header(cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report, cells):
        self.views.table_row(report, cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        self.views.html_summary(prefix, self.reports)

    # ------------------------------------------------------------ end of the run

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        # around pytest-html's own sessionfinish: the verdict before it writes its file (the file
        # carries it), the reports moved into place after (and before the terminal summary)
        self.reports.finish(session)
        self.reports.quiet_failure_lists()
        try:
            return (yield)
        finally:
            self.reports.publish_or_keep(session)

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        self.views.terminal_summary(terminalreporter, self.reports)

    def pytest_unconfigure(self, config):
        self.reports.unconfigure()
