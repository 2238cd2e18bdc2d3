"""Parametrization: one test item per (host, object), part of the installed plugin.

A check asks for the objects it is about by argument name, and optionally for
`host_facts` (the facts of the host the object lives on) and `limits`:

| argument        | one item per                                       | id                     |
|-----------------|----------------------------------------------------|------------------------|
| target          | host named on the command line, reachable or not   | ID:kvm01                  |
| host_facts      | reachable host (alone: one item per host)          | ID:kvm01                  |
| bridge          | Linux bridge, live                                 | ID:kvm01:virbr0           |
| network         | libvirt network                                    | ID:kvm01:default          |
| guest, nic      | guest NIC (a check takes both arguments)           | ID:kvm01:web1/52:54:00:.. |
| bridge_config   | bridge in persistent network config                | ID:kvm01:br0@/etc/...     |
| ovs_bridge      | Open vSwitch bridge (None: OVS runs, unreadable)   | ID:kvm01:ovsbr0           |

(ID is the check's id, so `-k bridge-forward-delay` selects that check.)

Each item carries a `subject(host, object)` mark: the run turns its outcome into one
Result about that host and object.
"""
from __future__ import annotations

import pytest

from .catalog import Limits

RUN_PLUGIN = "kvm-netcheck-run"  # the name the run object is registered under


def _run(config):
    return config.pluginmanager.get_plugin(RUN_PLUGIN)


@pytest.fixture(scope="session")
def limits(pytestconfig) -> Limits:
    """What this run holds hosts to (--max-port-block, the policy file, the ini)."""
    return _run(pytestconfig).limits


def _objects(kind, h):
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


KIND_ARGS = {"bridge": ("bridge",), "network": ("network",), "nic": ("guest", "nic"),
             "bridge_config": ("bridge_config",), "ovs_bridge": ("ovs_bridge",)}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("check") is None:
        return  # only the suite's checks are about hosts' objects
    names = set(metafunc.fixturenames)
    kinds = [k for k in KIND_ARGS if k in names]
    if not kinds and not names & {"target", "host_facts"}:
        return
    if len(kinds) > 1:
        raise pytest.UsageError(f"{metafunc.function.__name__} asks for several object kinds: {kinds}")
    hosts = _run(metafunc.config).facts()
    # each id starts with the check's id, so -k CHECK-ID selects it and JUnit's test names carry it
    cid = metafunc.definition.get_closest_marker("check").args[0]
    if "target" in names:
        metafunc.parametrize("target", [
            pytest.param(h, id=f"{cid}:{h.host}", marks=pytest.mark.subject(h.host, h.host)) for h in hosts])
        return
    reachable = [h for h in hosts if h.reachable]
    if not kinds:
        metafunc.parametrize("host_facts", [
            pytest.param(h, id=f"{cid}:{h.host}", marks=pytest.mark.subject(h.host, h.host)) for h in reachable])
        return
    kind = kinds[0]
    argnames = (["host_facts"] if "host_facts" in names else []) + list(KIND_ARGS[kind])
    params = []
    for h in reachable:
        for label, values in _objects(kind, h):
            head = (h,) if "host_facts" in names else ()
            params.append(pytest.param(*head, *values, id=f"{cid}:{h.host}:{label}",
                                       marks=pytest.mark.subject(h.host, label)))
    metafunc.parametrize(argnames, params)
