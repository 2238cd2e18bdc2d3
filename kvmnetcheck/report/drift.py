"""Drift: what changed since a previous results.json (new, fixed, still failing).

A finding is a result that failed or was waived: a waiver accepts a problem, it
does not remove it. A finding from the baseline counts as fixed only when its
host was checked this time and the object now passes, no longer applies
(skipped), or is gone; if the host could not be checked it is "not rechecked".
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .results import Result
from .verdict import UNREACHABLE_CHECK

FINDING = ("failed", "waived")
Key = tuple[str, str, str]


class BaselineError(ValueError):
    """A --baseline file that is not a results.json this suite wrote."""


@dataclass(frozen=True)
class Baseline:
    path: str
    generated: str
    outcomes: dict[Key, dict[str, Any]]  # (check, host, object) -> that result


def load_baseline(path: str) -> Optional[Baseline]:
    """The previous run's results, or None when there is no such file yet (a first nightly run)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{path}:{e.lineno}: not JSON: {e.msg}") from None
    except OSError as e:
        raise BaselineError(f"{path}: cannot read: {e.strerror or e}") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise BaselineError(f"{path}: not a kvm-netcheck results.json (no 'results' list)")
    outcomes = {}
    for i, r in enumerate(results):
        try:
            outcomes[(r["check"], r["host"], r["object"])] = r
            r["outcome"]
        except (KeyError, TypeError):
            raise BaselineError(f"{path}: result #{i + 1} lacks check, host, object or outcome") from None
    return Baseline(path, str(doc.get("generated", "")), outcomes)


@dataclass
class Drift:
    baseline: str
    baseline_generated: str
    new: list[dict] = field(default_factory=list)
    fixed: list[dict] = field(default_factory=list)
    still_failing: list[dict] = field(default_factory=list)
    not_rechecked: list[dict] = field(default_factory=list)

    def counts(self) -> str:
        return f"{len(self.new)} new, {len(self.fixed)} fixed, {len(self.still_failing)} still failing" + (
            f", {len(self.not_rechecked)} not rechecked" if self.not_rechecked else ""
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "baseline_generated": self.baseline_generated,
            "new": self.new,
            "fixed": self.fixed,
            "still_failing": self.still_failing,
            "not_rechecked": self.not_rechecked,
        }


def _entry(key: Key, now: Optional[Result], was: Optional[dict]) -> dict[str, Any]:
    """One line of drift; the message is the finding's, from whichever run had it."""
    was = was or {}
    return {
        "check": key[0],
        "host": key[1],
        "object": key[2],
        "severity": now.severity if now else was.get("severity", ""),
        "now": now.outcome if now else "absent",
        "was": was.get("outcome", "absent"),
        "message": now.message if now and now.outcome in FINDING else was.get("message", ""),
    }


def compare(
    baseline: Baseline,
    findings: list[Result],
    outcome_now: dict[tuple, str],
    hosts: list,
    only: Optional[Callable[[str], bool]] = None,
) -> Drift:
    """This run against the baseline. `findings`: this run's failed, error and waived results;
    `outcome_now`: the outcome now of each key the baseline had as a finding; `hosts`: this run's
    host digests; `only`: the hosts this run is about (a shard's), the baseline's others are not its
    business."""
    now = {(r.check, r.host, r.object): r for r in findings if r.host}
    unreachable = {r.host for r in findings if r.check == UNREACHABLE_CHECK}
    checked = {h.host for h in hosts if h.reachable and h.host not in unreachable}
    d = Drift(baseline.path, baseline.generated)
    for key, r in sorted(now.items()):
        if r.outcome not in FINDING:
            continue
        was = baseline.outcomes.get(key)
        (d.still_failing if was and was["outcome"] in FINDING else d.new).append(_entry(key, r, was))
    for key, was in sorted(baseline.outcomes.items()):
        if was["outcome"] not in FINDING or (only is not None and not only(key[1])):
            continue
        r = now.get(key)
        if r is not None and r.outcome in FINDING:
            continue
        outcome = r.outcome if r is not None else outcome_now.get(key)
        seen = r if r is not None else (_Seen(outcome, was.get("severity", "")) if outcome else None)
        if key[1] in checked and (outcome is None or outcome in ("passed", "skipped")):
            d.fixed.append(_entry(key, seen, was))
        else:
            d.not_rechecked.append(_entry(key, seen, was))
    return d


@dataclass(frozen=True)
class _Seen:
    """A key's result now, as far as the stream kept it (its outcome)."""

    outcome: str
    severity: str
    message: str = ""
