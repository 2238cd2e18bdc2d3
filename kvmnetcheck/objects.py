"""The suite's test items: one per (check, host), each evaluating its check on every object of that
kind on the host, one Result per object. Part of the installed plugin.

A check is a plain function marked @check(ID) that names the objects it is about by argument
name, and optionally `host_facts` (the facts of the host the object lives on), `limits` and
`pytestconfig`; it is called once per object:

| argument        | called once per                                    | a result's object       |
|-----------------|----------------------------------------------------|-------------------------|
| target          | host named on the command line, reachable or not   | kvm01                   |
| host_facts      | reachable host (alone: once per host)              | kvm01                   |
| bridge          | Linux bridge, live                                 | virbr0                  |
| network         | libvirt network                                    | default                 |
| guest, nic      | guest NIC (a check takes both arguments)           | web1/52:54:00:..        |
| bridge_config   | bridge in persistent network config                | br0@/etc/...            |
| ovs_bridge      | Open vSwitch bridge (None: OVS runs, unreadable)   | ovsbr0                  |

The item is named `test_fn[ID:HOST]` (so `-k ID`, `-k HOST` and `-m SEVERITY` select), and each
result's test id is `test_fn[ID:HOST:OBJECT]`, as it appears in results.json and JUnit. A host's
facts are parsed when its first item runs and let go after its last one (items run host by host),
so a run over a fleet holds one host's facts at a time, and pytest holds one item per check and
host, not one per object.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Optional, Protocol

import pytest

from . import text
from .catalog import Limits

KIND_ARGS = {
    "bridge": ("bridge",),
    "network": ("network",),
    "nic": ("guest", "nic"),
    "bridge_config": ("bridge_config",),
    "ovs_bridge": ("ovs_bridge",),
}
EXTRA_ARGS = {"host_facts", "target", "limits", "pytestconfig"}
# this run's limits (Limits), set when the run starts: the `limits` fixture reads them here, and
# the evaluator hands them to each check that asks for them
LIMITS = pytest.StashKey[Limits]()


@pytest.fixture(scope="session")
def limits(pytestconfig) -> Limits:
    """What this run holds hosts to (--max-port-block, the policy file, the ini)."""
    return pytestconfig.stash[LIMITS]


def objects_of(kind: str, h) -> list[tuple[str, tuple]]:
    """(label, argument values) of each object of a kind on a host, in a stable order."""
    if kind == "bridge":
        return [(b.name, (b,)) for b in h.bridges]
    if kind == "network":
        return [(n.name, (n,)) for n in h.libvirt.networks]
    if kind == "nic":
        return [(f"{g.name}/{n.label}", (g, n)) for g in h.libvirt.guests for n in g.nics]
    if kind == "bridge_config":
        return [(f"{c.bridge}@{c.path}", (c,)) for c in h.bridge_configs]
    if kind == "ovs_bridge":
        ovs = h.ovs
        if not ovs.bridges and ovs.installed and ovs.error and ovs.running is not False:
            return [("openvswitch", (None,))]  # its bridges could not be listed: one error result, not none
        return [(b.name, (b,)) for b in ovs.bridges]
    raise KeyError(kind)


def kind_of(fn: Callable) -> Optional[str]:
    """The object kind a check function is about (None: the host itself); a usage error if its
    arguments name none of the known ones, or two kinds."""
    names = set(inspect.signature(fn).parameters)
    kinds = [k for k, args in KIND_ARGS.items() if set(args) & names]
    unknown = names - EXTRA_ARGS - {a for args in KIND_ARGS.values() for a in args}
    if unknown:
        raise pytest.UsageError(
            f"{fn.__name__}: unknown argument(s) {sorted(unknown)} (known: "
            f"{sorted(EXTRA_ARGS | {a for args in KIND_ARGS.values() for a in args})})"
        )
    if len(kinds) > 1:
        raise pytest.UsageError(f"{fn.__name__} asks for several object kinds: {kinds}")
    if kinds:
        missing = set(KIND_ARGS[kinds[0]]) - names
        if missing:
            raise pytest.UsageError(f"{fn.__name__}: a {kinds[0]} check takes {KIND_ARGS[kinds[0]]}")
        return kinds[0]
    return None


class CheckFailed(Exception):
    """An item whose check found something on one or more objects: the text is their findings."""


class CheckItem(pytest.Item):
    """One check on one host. Its evaluator, given when the item is made (make_items), calls the
    check function for each object, one Result each; the item keeps them (`kvm_results`) and fails
    with their findings' text, or skips with their reason."""

    kvm_check_item = True  # (speedups: let go once it has run)

    def __init__(
        self,
        *,
        fn: Callable,
        check_id: str,
        host_index: int,
        host: str,
        kind: Optional[str],
        wants_target: bool,
        evaluator: Evaluator,
        args: tuple[str, ...],
        marks: tuple,
        **kw,
    ):
        super().__init__(**kw)
        self.evaluator = evaluator
        self.fn = fn
        self.check_id = check_id
        self.host_index = host_index
        self.host = host
        self.kind = kind
        self.wants_target = wants_target
        self.args = args  # the function's argument names
        self.kvm_results: list = []  # its Results, once it has run
        self.obj = fn  # pytest-html and others look for the function here
        for m in marks:  # the function's own marks (MarkDecorators, made once per function)
            self.add_marker(m)

    def verdict(self) -> tuple[str, Optional[str]]:
        """Evaluates the check on its objects (keeping their Results): ("passed", None), ("failed", the
        findings' text), or ("skipped", why: every object skipped, or none). A check that cannot run on
        this host at all raises pytest's skip."""
        self.kvm_results = self.evaluator.evaluate(self)
        outcomes = [r.outcome for r in self.kvm_results]
        if "failed" in outcomes or "error" in outcomes:
            return "failed", self.evaluator.failure_text(self.kvm_results)
        if outcomes and all(o in ("skipped", "waived") for o in outcomes) and "skipped" in outcomes:
            n = outcomes.count("skipped")
            return "skipped", self.kvm_results[0].message if len(outcomes) == 1 else f"{n} object(s) skipped"
        if not outcomes:
            return "skipped", f"no {self.kind.replace('_', ' ') if self.kind else 'object'} on this host"
        return "passed", None

    def runtest(self) -> None:
        """Passes, fails with the findings, or skips, by its verdict (pytest's own protocol: see
        pytest_adapter.run_item_lean for the one a run normally uses)."""
        outcome, why = self.verdict()
        if outcome == "failed":
            raise CheckFailed(why)
        if outcome == "skipped":
            pytest.skip(why)

    def call(self, values: dict[str, Any]) -> Any:
        """The check's own return: None, or on a pass the figures it measured (a dict, kept as `observed`)."""
        return self.fn(**{a: values[a] for a in self.args})

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        code = getattr(self.fn, "__code__", None)
        return self.path, (code.co_firstlineno - 1 if code else None), self.name


class Evaluator(Protocol):
    """What evaluates an item (evaluation.py): its check on each object, one Result each."""

    def evaluate(self, item: "CheckItem") -> list: ...

    def failure_text(self, results: list) -> str: ...


def result_test_id(item: CheckItem, label: str) -> str:
    """A result's test id: the item's, with the object after the host for object checks
    (`test_fn[ID:HOST:OBJECT]`); a host check's is the item's own (`test_fn[ID:HOST]`)."""
    return item.nodeid if item.kind is None else f"{item.nodeid[:-1]}:{text.one_line(label)}]"


def make_items(
    collector, name: str, obj, host_list: Callable[[], list], evaluator: Evaluator
) -> Optional[list[CheckItem]]:
    """A function marked @check becomes one CheckItem per host of `host_list()` (asked only then: the
    hosts are gathered when the first check is collected), per reachable host unless it checks the
    host itself as `target`, each evaluated by `evaluator`; None for anything else."""
    marker = None
    for m in getattr(obj, "pytestmark", []) if callable(obj) else ():
        if m.name == "check":
            marker = m
    if marker is None or not name.startswith("test"):
        return None
    cid = marker.args[0]
    kind = kind_of(obj)
    args = tuple(inspect.signature(obj).parameters)
    wants_target = "target" in args
    marks = tuple(getattr(pytest.mark, m.name)(*m.args, **m.kwargs) for m in getattr(obj, "pytestmark", []))
    items = []
    for i, h in enumerate(host_list()):
        if not wants_target and h.error:
            continue  # an unreachable host has only host-reachable
        items.append(
            CheckItem.from_parent(
                collector,
                name=f"{name}[{cid}:{text.one_line(h.host)}]",
                fn=obj,
                check_id=cid,
                host_index=i,
                host=h.host,
                kind=kind,
                wants_target=wants_target,
                evaluator=evaluator,
                args=args,
                marks=marks,
            )
        )
    return items
