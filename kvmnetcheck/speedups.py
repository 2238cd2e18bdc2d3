"""What keeps pytest fast over a fleet's tens of thousands of results; nothing here changes output.

Measured with bench/fleet_bench.py: without these, 1,000 saved hosts took minutes more.
"""
from __future__ import annotations

import contextlib
import gc

import pytest

_GC_THRESHOLDS = pytest.StashKey[tuple]()


def index_teardown_reports(tr) -> None:
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


@contextlib.contextmanager
def native_tracebacks(config, replaced: bool):
    """pytest formats a traceback that the suite replaces by the finding's own text: let it make the
    cheap (native) one; its default style parses the test's source for every failure."""
    if not replaced:
        yield
        return
    opt = config.option
    style, opt.tbstyle = getattr(opt, "tbstyle", "auto"), "native"
    try:
        yield
    finally:
        opt.tbstyle = style


class Speedups:
    """Registered as a plugin: the hooks that tune pytest for a large run."""

    def pytest_sessionstart(self, session):
        index_teardown_reports(session.config.pluginmanager.get_plugin("terminalreporter"))

    def pytest_collection_finish(self, session):
        # Items, facts and every report live until the end: a full collection walks all of them,
        # and the run triggers one each time they grow by a quarter (seconds over a fleet). Young
        # garbage is still collected; what reaches the oldest generation waits for the end.
        config = session.config
        config.stash[_GC_THRESHOLDS] = gc.get_threshold()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 1000)

    def pytest_unconfigure(self, config):
        if _GC_THRESHOLDS in config.stash:
            gc.set_threshold(*config.stash[_GC_THRESHOLDS])
