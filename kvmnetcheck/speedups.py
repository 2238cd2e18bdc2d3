"""What keeps pytest fast, and its memory flat, over a fleet's tens of thousands of results;
nothing here changes output.

Measured with bench/fleet_bench.py: without these, 1,000 saved hosts took minutes more, and memory
grew with every check item and report pytest keeps to the end of the run. A check item's reports
say they are one (`kvm_check_item`, set where they are made); other tests' are left alone.
"""

from __future__ import annotations

import gc

import pytest

from . import pytest_adapter

_GC_THRESHOLDS = pytest.StashKey[tuple]()
_NO_KEYWORDS: dict = {}


class Speedups:
    """Registered as a plugin: the hooks that tune pytest for a large run."""

    def __init__(self):
        self.terminal = None
        self._next = 0  # where in session.items the next check item to let go is looked for

    def pytest_sessionstart(self, session):
        self.terminal = pytest_adapter.terminal_reporter(session.config)
        pytest_adapter.index_teardowns(self.terminal)

    def pytest_collection_finish(self, session):
        # Items, facts and every report live until the end: a full collection walks all of them,
        # and the run triggers one each time they grow by a quarter (seconds over a fleet). Young
        # garbage is still collected; what reaches the oldest generation waits for the end.
        config = session.config
        config.stash[_GC_THRESHOLDS] = gc.get_threshold()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1000)

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config):
        if _GC_THRESHOLDS in config.stash:
            gc.set_threshold(*config.stash[_GC_THRESHOLDS])
            # pytest's own unconfigure walks every object left in a full garbage collection (to report
            # unraisable exceptions): what the run held to its end, a fleet's digests and counts, is
            # left out of that walk, and given back to the collector when the run is done
            gc.freeze()
            config.add_cleanup(gc.unfreeze)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report):
        """After every plugin has seen a check item's report (its results are in the stream by now):
        what pytest keeps of it to the end shrinks to what the summary lines use."""
        try:
            return (yield)
        finally:
            if getattr(report, "kvm_check_item", False):
                _slim(report, self.terminal)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        """A check item that has run is let go (its results are streamed, its reports slimmed): the
        session's list of items would keep every one of them to the end."""
        try:
            return (yield)
        finally:
            if getattr(item, "kvm_check_item", False) and not hasattr(item.config, "workerinput"):
                items = item.session.items
                i = self._next
                while i < len(items) and items[i] is not item:
                    i += 1
                if i < len(items):
                    items[i] = pytest_adapter.ran_in(item.location[0])
                    self._next = i + 1
                    pytest_adapter.release_item(item)  # (a full garbage collection is rare: above)
                    item.kvm_results = []


def _slim(report, tr) -> None:
    if report.passed and report.when != "call" and tr is not None:
        if pytest_adapter.drop_last_passed_report(tr, report):  # counted nowhere, shown nowhere
            return
    report.keywords = _NO_KEYWORDS
    if not report.sections:
        report.sections = []
