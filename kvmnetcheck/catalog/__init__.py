"""Every check the suite makes: id, severity, requirement, rationale, sources, fixes.

One entry per check, in the module named after the test module that implements it
(tests_host/test_bridges.py -> catalog/bridges.py). The ids are stable: users name
them in waiver files and CI gates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Optional

import pytest

from . import bridges, checksum, dhcp_servers, guest_boot, guest_nics, host, networks, ovs, probe
from .base import (
    DAEMONS,
    GUIDE,
    NEEDS_RUNNING,
    NEEDS_STOPPED,
    PHASES,
    SEVERITIES,
    Check,
    Finding,
    Fix,
    Limits,
    Remedy,
    Step,
    placeholders,
    render_fix,
    xml_attr,
)

CHECKS: dict[str, Check] = {
    c.id: c
    for module in (host, networks, dhcp_servers, bridges, ovs, checksum, guest_nics, guest_boot, probe)
    for c in module.CHECKS
}

# The order a person works through "why does this guest get no address or no boot file": can the host be
# read; is the guest's link up and its port forwarding; does anything between it and its DHCP server drop
# the request; is the server there, alone, with addresses to give; does the bridge let a new port talk in
# time; are the replies valid; then what it boots. The per-guest view of the reports lists findings so.
TROUBLESHOOTING = (
    "host-reachable",
    "libvirt-readable",
    "libvirt-network-inactive",
    "guest-nic-rom-file",
    "guest-port-forwarding",
    "guest-macvtap-host-dhcp",
    "bridge-netfilter-dhcp",
    "firewalld-libvirt-conflict",
    "network-dhcp-server",
    "network-dhcp-conflict",
    "network-dhcp-pool",
    "guest-nic-bridge-delay",
    "libvirt-network-stp-delay",
    "bridge-forward-delay",
    "bridge-stp-root",
    "ovs-bridge-stp",
    "bridge-persistent-config",
    "guest-nic-dhcp-checksum",
    "dhcp-checksum-fixup",
    "iptables-checksum-support",
    "libvirt-checksum-warning",
    "guest-pxe-boot-rom",
    "guest-pxe-boot-file",
    # measured, not inferred (--probe): what a new port on the bridge really got, and where that contradicts
    # the inferences above
    "probe-dhcp-offer",
    "probe-pxe-boot-file",
    "probe-inference-agrees",
)

__all__ = [
    "CHECKS",
    "DAEMONS",
    "NEEDS_RUNNING",
    "NEEDS_STOPPED",
    "TROUBLESHOOTING",
    "GUIDE",
    "PHASES",
    "SEVERITIES",
    "Check",
    "Finding",
    "Fix",
    "Limits",
    "Remedy",
    "Step",
    "check",
    "placeholders",
    "remedy",
    "running",
    "xml_attr",
]


def check(check_id: str):
    """Mark a test function as the check `check_id` (its severity comes from the catalog)."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown check id {check_id!r}")

    def mark(fn):
        return pytest.mark.check(check_id)(fn)

    return mark


# the check whose function runs now (set by whoever calls check functions: the run's evaluation)
_RUNNING: ContextVar[Optional[str]] = ContextVar("kvmnetcheck_running_check", default=None)


@contextmanager
def running(check_id: str) -> Iterator[None]:
    """Inside it, the check `check_id` runs: remedy() renders that check's fixes."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown check id {check_id!r}")
    token = _RUNNING.set(check_id)
    try:
        yield
    finally:
        _RUNNING.reset(token)


def remedy(variant: str, **values) -> Remedy:
    """The fix `variant` of the check that runs now (`with running(check_id)`), rendered for one object
    (names shell-quoted)."""
    check_id = _RUNNING.get()
    if check_id is None:
        raise RuntimeError(
            f"remedy({variant!r}) outside a running check: call the check inside `with catalog.running(check_id)`"
        )
    return render_fix(CHECKS[check_id], variant, **values)
