"""What a check is: the catalog entry, the marker that ties a test to it, and its finding."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pytest

from .catalog import CHECKS, SEVERITIES, Check, Remedy, remedy, render

__all__ = ["CHECKS", "SEVERITIES", "Check", "Finding", "Policy", "Remedy", "check", "remedy", "render"]


def check(check_id: str):
    """Mark a test function as the check `check_id` (its severity comes from the catalog)."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown check id {check_id!r}")

    def mark(fn):
        return pytest.mark.check(check_id)(fn)

    return mark


class Finding(AssertionError):
    """A failed check, carrying what was observed, the limit, and the fix for this object."""

    def __init__(self, message: str, *, remediation: "Remedy | str", observed: Optional[dict[str, Any]] = None,
                 limit: Optional[str] = None):
        super().__init__(message)
        self.message = message
        if isinstance(remediation, str):
            remediation = Remedy(remediation)
        self.remediation = remediation.text
        self.script = remediation.script
        self.observed = observed or {}
        self.limit = limit


@dataclass(frozen=True)
class Policy:
    max_port_block_s: float  # how long a new bridge port may stay silent

    def describe_limit(self) -> str:
        return f"a new port may be blocked for at most {self.max_port_block_s:g} s"
