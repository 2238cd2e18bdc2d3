"""The gate: what a run holds hosts and findings to, and its judgement once every result is in.

What it holds them to comes from the options, else the team's policy file, else the defaults: the
lowest severity that fails the run, whether unreachable hosts do, the waivers, a baseline to compare
with, this run's severity of each check (the policy re-rates checks: a copy of the catalog's, never
the catalog itself) and the limits the checks apply. The judgement is the verdict
(report/verdict.py), the waivers used and the drift against the baseline.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from .catalog import CHECKS, SEVERITIES, Limits
from .policy import PolicyError, TeamPolicy, WaiverSet, find_policy, load_policy, load_waivers, looked_for
from .report.drift import Baseline, BaselineError, Drift, compare, load_baseline
from .report.results import Result
from .report.stream import ResultStream
from .report.verdict import Verdict, decide

DEFAULT_MAX_PORT_BLOCK_S = 4.0  # kernel STP with the minimum forward delay (2 s): a new port blocked 4 s
DEFAULT_FAIL_ON = SEVERITIES[-1]  # any failure


@dataclass(frozen=True)
class Judgement:
    """What the gate made of a run's results."""

    verdict: Verdict
    waiver_usage: list[dict]
    drift: Optional[Drift]


@dataclass(frozen=True)
class Gate:
    """What this run holds findings to."""

    fail_on: str
    allow_unreachable: bool
    waivers: WaiverSet
    policy: TeamPolicy
    today: datetime.date
    baseline_path: Optional[str]
    baseline: Optional[Baseline]
    dated_copies: bool
    severity: dict[str, str]  # check -> its severity in this run
    limits: Limits

    @classmethod
    def from_config(cls, config) -> "Gate":
        """The gate of the options, the policy file and the ini; a usage error for a bad file or value."""
        o = config.option
        try:
            policy_path = config.getoption("--policy") or find_policy(
                [getattr(o, "ansible_inventory", None), getattr(o, "ssh_config", None)]
            )
            policy = load_policy(policy_path) if policy_path else TeamPolicy()
            waivers_path = config.getoption("--waivers")
            waivers = load_waivers(waivers_path) if waivers_path else (policy.waivers or WaiverSet())
            baseline_path = config.getoption("--baseline")
            baseline = load_baseline(baseline_path) if baseline_path else None
        except (PolicyError, BaselineError) as e:
            raise pytest.UsageError(str(e)) from None
        allow = config.getoption("--allow-unreachable")
        return cls(
            fail_on=config.getoption("--fail-on") or policy.fail_on or DEFAULT_FAIL_ON,
            allow_unreachable=bool(allow if allow is not None else policy.allow_unreachable),
            waivers=waivers,
            policy=policy,
            today=datetime.date.today(),
            baseline_path=baseline_path,
            baseline=baseline,
            dated_copies=config.getoption("--dated-copies"),
            severity={cid: policy.severities.get(cid, c.severity) for cid, c in CHECKS.items()},
            limits=Limits(max_port_block_s=_max_port_block(config, policy)),
        )

    def note(self) -> str:
        parts = [f"fail-on {self.fail_on}", "unreachable hosts " + ("allowed" if self.allow_unreachable else "fail")]
        if self.policy.path:
            parts.append(f"policy {self.policy.path}")
        else:
            parts.append(f"no policy file (none of {looked_for()})")
        if self.waivers.source:
            parts.append(f"waivers {self.waivers.source} ({len(self.waivers.entries)} entries)")
        if self.policy.severities:
            parts.append("re-rated: " + ", ".join(f"{c}={s}" for c, s in self.policy.severities.items()))
        return "; ".join(parts)

    def fingerprint(self) -> dict[str, Any]:
        """What must be the same in every shard of a fleet for their merge to be one run's judgement."""
        return {
            "fail_on": self.fail_on,
            "allow_unreachable": self.allow_unreachable,
            "severities": dict(sorted(self.severity.items())),
            "max_port_block_s": self.limits.max_port_block_s,
            "waivers": [w.describe() for w in self.waivers.entries],
        }

    def apply_waiver(self, r: Result) -> None:
        """A failed result a waiver covers today is waived; one whose waiver expired says so."""
        if not self.waivers or r.outcome != "failed":
            return
        m = self.waivers.match(r.check, r.host, r.object, self.today)
        if m.applied:
            r.outcome = "waived"
            r.waiver = {"status": "applied", **m.applied.describe()}
        elif m.expired:
            r.waiver = {"status": "expired", **m.expired.describe()}

    def judge(
        self, stream: ResultStream, digests: list, other_failures: int, only: Optional[Callable[[str], bool]] = None
    ) -> Judgement:
        """The verdict on the run's findings, the waivers used, and drift against the baseline (of the
        hosts `only` keeps: a shard's)."""
        verdict = decide(
            stream.tally,
            stream.waived,
            len(stream.unchecked_hosts),
            self.fail_on,
            self.allow_unreachable,
            other_failures,
        )
        usage = self.waivers.usage(dict(stream.waiver_matched), self.today)
        drift = (
            compare(self.baseline, stream.findings, stream.now, digests, only=only)
            if self.baseline is not None
            else None
        )
        return Judgement(verdict, usage, drift)


def _max_port_block(config, policy: TeamPolicy) -> float:
    v = config.getoption("--max-port-block")
    if v is None:
        v = policy.max_port_block_s
    if v is None:
        ini = config.getini("max_port_block_s")
        try:
            v = float(ini)
        except ValueError:
            raise pytest.UsageError(f"ini max_port_block_s = {ini!r} is not a number of seconds") from None
    if v < 0:
        raise pytest.UsageError("--max-port-block must not be negative")
    return v
