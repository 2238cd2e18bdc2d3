"""The gate: which results fail a run, and the exit code that says so.

Exit codes (pytest's own 2-5 keep their meaning):

| code | meaning |
|---|---|
| 0 | gate passed: no finding at or above --fail-on that is not waived, and every host was checked |
| 1 | gate failed: at least one such finding (or a test outside the checks failed) |
| 2 | interrupted (pytest) |
| 3 | internal error (pytest) |
| 4 | usage error: a bad option, or a bad policy, waiver or baseline file (pytest) |
| 5 | no checks collected (pytest) |
| 6 | incomplete: no finding fails the gate, but a host could not be reached or a check could not run |

Findings come first: a run with both failing findings and unreachable hosts exits 1. Findings
below --fail-on and waived findings never change the code; every report still shows them. A run
cut short by -x or --maxfail checked only part of the fleet and keeps pytest's 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..catalog import SEVERITIES
from .results import Result

EXIT_PASSED = 0
EXIT_FINDINGS = 1
EXIT_INCOMPLETE = 6
# pytest's codes for runs the gate cannot judge; left as pytest set them
PYTEST_CODES_KEPT = (2, 3, 4, 5)

RANK = {s: i for i, s in enumerate(SEVERITIES)}  # critical first
UNREACHABLE_CHECK = "host-reachable"


def at_or_above(severity: str, fail_on: str) -> bool:
    # a severity this version does not know counts as the highest: the gate errs towards failing
    return RANK.get(severity, -1) <= RANK[fail_on]


def is_unchecked(r: Result) -> bool:
    """A result saying the host or the check could not be evaluated, rather than a finding."""
    return r.outcome == "error" or (r.outcome == "failed" and r.check == UNREACHABLE_CHECK)


def gate_status(r: Result, fail_on: str, allow_unreachable: bool) -> str:
    """How one result weighs on the gate: fails, below, waived, unchecked, allowed, or ok."""
    if r.outcome == "waived":
        return "waived"
    if is_unchecked(r):
        return "allowed" if allow_unreachable else "unchecked"
    if r.outcome == "failed":
        return "fails" if at_or_above(r.severity, fail_on) else "below"
    return "ok"


@dataclass(frozen=True)
class Verdict:
    exit_code: int
    fail_on: str
    allow_unreachable: bool
    failing: int  # findings that fail the gate
    below: int  # findings under --fail-on: reported only
    waived: tuple[Result, ...]
    unchecked: int  # results of unreachable hosts and of checks that could not run
    unchecked_hosts: int = 0
    other_failures: int = 0  # failed tests that are no check

    @property
    def word(self) -> str:
        return {EXIT_PASSED: "passed", EXIT_FINDINGS: "failed", EXIT_INCOMPLETE: "incomplete"}[self.exit_code]

    def summary(self) -> str:
        parts = [f"{self.failing} finding(s) at or above {self.fail_on}"]
        if self.below:
            parts.append(f"{self.below} below it (reported only)")
        if self.waived:
            parts.append(f"{len(self.waived)} waived")
        if self.unchecked:
            parts.append(
                f"{self.unchecked_hosts} host(s) not fully checked"
                + (" (allowed by --allow-unreachable)" if self.allow_unreachable else "")
            )
        if self.other_failures:
            parts.append(f"{self.other_failures} failed test(s) outside the checks")
        return f"gate {self.word.upper()} (exit {self.exit_code}): " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.word,
            "exit_code": self.exit_code,
            "fail_on": self.fail_on,
            "allow_unreachable": self.allow_unreachable,
            "counts": {
                "failing": self.failing,
                "below_fail_on": self.below,
                "waived": len(self.waived),
                "unchecked": self.unchecked,
                "other_failures": self.other_failures,
            },
            "summary": self.summary(),
        }


def decide(
    tally: Mapping[tuple[str, str, str], int],
    waived: Iterable[Result],
    unchecked_hosts: int,
    fail_on: str,
    allow_unreachable: bool,
    other_failures: int = 0,
) -> Verdict:
    """The verdict from the findings' tally: (outcome, check, severity) -> how many."""
    groups = {"fails": 0, "below": 0, "unchecked": 0, "allowed": 0}
    for (outcome, check, severity), n in tally.items():
        g = gate_status(Result(check, "", "", outcome, severity), fail_on, allow_unreachable)
        if g in groups:
            groups[g] += n
    if groups["fails"] or other_failures:
        code = EXIT_FINDINGS
    elif groups["unchecked"]:
        code = EXIT_INCOMPLETE
    else:
        code = EXIT_PASSED
    return Verdict(
        code,
        fail_on,
        allow_unreachable,
        groups["fails"],
        groups["below"],
        tuple(waived),
        groups["unchecked"] + groups["allowed"],
        unchecked_hosts,
        other_failures,
    )
