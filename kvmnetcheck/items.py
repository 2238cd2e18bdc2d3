"""The run's check items: made one per (check, host) with what evaluates them (objects.py), selected
(--check, --skip-check), marked with this run's severity (so -m selects by it), and ordered host by
host, so each host's facts are parsed once and let go after its last item is torn down."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from .catalog import CHECKS
from .catalog.docs import no_such_check
from .evaluation import Evaluator
from .hosts import Hosts
from .objects import CheckItem, make_items


def _check_ids(config, option: str) -> set[str]:
    """--check / --skip-check values (repeatable, comma-separated): check ids or patterns such as
    bridge-* (fnmatch, as in waivers), each matching at least one check; a typo gets the nearest ids."""
    given = [x.strip() for v in config.getoption(option) or () for x in v.split(",") if x.strip()]
    ids: set[str] = set()
    for pattern in given:
        matched = {c for c in CHECKS if fnmatchcase(c, pattern)}
        if not matched:
            raise pytest.UsageError(f"{option}: {no_such_check(pattern)}")
        ids |= matched
    return ids


class Items:
    """Making, selecting and ordering the check items, and counting each host's down as they finish."""

    def __init__(self, hosts: Hosts, evaluator: Evaluator, severity: dict[str, str]):
        self.hosts = hosts
        self.evaluator = evaluator
        self.severity = severity
        self._left: dict[int, int] = {}  # host -> its items not yet torn down

    def make(self, collector, name: str, obj):
        return make_items(collector, name, obj, self.hosts.host_list, self.evaluator)

    def select_and_order(self, config, items: list) -> None:
        only, skip = _check_ids(config, "--check"), _check_ids(config, "--skip-check")
        gone = [
            i for i in items if isinstance(i, CheckItem) and ((only and i.check_id not in only) or i.check_id in skip)
        ]
        if gone:
            config.hook.pytest_deselected(items=gone)
            dropped = set(map(id, gone))
            items[:] = [i for i in items if id(i) not in dropped]
        for item in items:
            if isinstance(item, CheckItem):
                item.add_marker(self.severity[item.check_id])  # -m high, -m "critical or high"
        # host by host (stable): each host's facts are parsed once and let go after its last check
        order = {id(it): n for n, it in enumerate(items)}
        items.sort(key=lambda it: (it.host_index if isinstance(it, CheckItem) else -1, order[id(it)]))

    def count(self, items: list) -> int:
        """Each host's items, counted down as they are torn down; how many hosts have any."""
        self._left = {}
        for it in items:
            if isinstance(it, CheckItem):
                self._left[it.host_index] = self._left.get(it.host_index, 0) + 1
        return len(self._left)

    @staticmethod
    def label_report(item, rep) -> None:
        """A check item's report says it is one, which host it is about, and (its call) its Results."""
        if isinstance(item, CheckItem):
            rep.kvm_check_item = True  # (speedups: slimmed once every plugin has seen it)
            rep.kvm_host_index = item.host_index  # plain data: travels from xdist workers to the controller
            if rep.when == "call":
                rep.kvm_results = item.kvm_results

    def torn_down(self, report) -> bool:
        """One of a host's items is done; after its last, the host is digested and its facts let go
        (True then)."""
        i = getattr(report, "kvm_host_index", None)
        if i is None or i not in self._left:
            return False
        self._left[i] -= 1
        if self._left[i] == 0:
            del self._left[i]
            self.hosts.digest(i)
            return True
        return False
