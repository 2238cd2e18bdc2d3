"""Every check the suite makes: id, severity, requirement, rationale, sources, fixes.

One entry per check, in the module named after the test module that implements it
(tests_host/test_bridges.py -> catalog/bridges.py). The ids are stable: users name
them in waiver files and CI gates.
"""
from __future__ import annotations

import pytest

from . import bridges, checksum, dhcp_servers, guest_boot, guest_nics, host, networks
from .base import (
    GUIDE, PHASES, SEVERITIES, Check, Finding, Fix, Limits, Remedy, Step, placeholders, render_fix, xml_attr,
)

CHECKS: dict[str, Check] = {c.id: c for module in (host, networks, dhcp_servers, bridges, checksum, guest_nics, guest_boot) for c in module.CHECKS}

__all__ = ["CHECKS", "GUIDE", "PHASES", "SEVERITIES", "Check", "Finding", "Fix", "Limits", "Remedy", "Step",
           "check", "placeholders", "remedy", "xml_attr"]


def check(check_id: str):
    """Mark a test function as the check `check_id` (its severity comes from the catalog)."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown check id {check_id!r}")

    def mark(fn):
        return pytest.mark.check(check_id)(fn)

    return mark


def remedy(check_id: str, variant: str, **values) -> Remedy:
    """The fix `variant` of a check, rendered for one object (names shell-quoted)."""
    return render_fix(CHECKS[check_id], variant, **values)
