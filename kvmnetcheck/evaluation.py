"""Evaluating a check item: its check called once per object of its kind on its host, each
outcome a Result (report/results.py) with this run's severity and any waiver that matches; and
what the terminal shows for an item with findings. Each CheckItem is given the Evaluator when it
is made (objects.py)."""

from __future__ import annotations

from typing import Callable, Optional

import pytest

from .catalog import CHECKS, Finding, running
from .facts.model import HostFacts
from .gate import Gate
from .objects import KIND_ARGS, CheckItem, objects_of, result_test_id
from .report import terminal
from .report.results import Result


class Evaluator:
    """Turns one item's check into its Results."""

    def __init__(self, gate: Gate, facts_at: Callable[[int], HostFacts], config, brief: bool = False):
        self.gate = gate
        self.facts_at = facts_at  # host index -> its facts (parsed when first asked for)
        self.config = config
        # pytest's failure list is left out when a run has findings and the user did not ask for it
        # (publishing.Reports.quiet_failure_lists): then an item's failure text is never shown, and
        # a short one saves making it for every failing item (and keeping it in its report)
        self.brief = brief

    def evaluate(self, item: CheckItem) -> list[Result]:
        """The check of `item` on every object of its kind on its host: one result each."""
        h = self.facts_at(item.host_index)
        if not item.wants_target and not h.reachable:
            pytest.skip(f"{h.host} could not be read: see host-reachable")
        common = {"host_facts": h, "target": h, "limits": self.gate.limits, "pytestconfig": self.config}
        subjects = [(h.host, ())] if item.kind is None else objects_of(item.kind, h)
        out = []
        sev = self.gate.severity[item.check_id]
        with running(item.check_id):
            for label, values in subjects:
                out.append(self._result(item, h, common, sev, label, values))
        return out

    def _result(self, item: CheckItem, h: HostFacts, common: dict, sev: str, label: str, values: tuple) -> Result:
        """The check of `item` on one object (its catalog entry running): its Result."""
        r = Result(
            check=item.check_id,
            host=h.host,
            object=label,
            outcome="passed",
            severity=sev,
            test=result_test_id(item, label),
        )
        args = dict(common)
        if item.kind:
            args.update(zip(KIND_ARGS[item.kind], values))
        try:
            figures = item.call(args)
            if isinstance(figures, dict):  # a pass that carries what was measured (the probe's checks)
                r.observed = figures
        except Finding as f:
            r.outcome = "failed"
            r.message, r.remediation, r.observed, r.limit = f.message, f.remediation, f.observed, f.limit
            r.fix_script = f.script
            r.fix_steps = [list(s) for s in f.steps]
        except pytest.skip.Exception as s:
            r.outcome = "skipped"
            r.message = str(s.msg)
        except AssertionError as e:
            r.outcome = "failed"
            r.message = str(e).split("\nassert ")[0].strip()
        except (KeyboardInterrupt, SystemExit, pytest.exit.Exception):
            raise
        except Exception as e:  # an Unreadable fact, or a bug in the check: that object's error
            r.outcome = "error"
            r.message = f"the check could not run: {type(e).__name__}: {' '.join(str(e).split())[:2000]}"
        self.gate.apply_waiver(r)
        return r

    def failure_text(self, results: list[Result]) -> str:
        """What the terminal shows for an item with findings: each finding's own text, no traceback
        (where pytest's failure list is shown), else where they are."""
        if self.brief:
            bad = sum(1 for r in results if r.outcome in ("failed", "error"))
            return f"{bad} finding(s): see kvm-netcheck findings"
        parts = []
        for r in results:
            if r.outcome == "failed":
                c = CHECKS[r.check]
                parts.append(terminal.finding_text(r, c.rationale, c.guide))
            elif r.outcome == "error":
                parts.append(terminal.printable(f"[{r.severity}] {r.check} on {r.host}: {r.object}\n{r.message}"))
        return "\n\n".join(parts)


def waived_status(report) -> Optional[tuple[str, str, str]]:
    """pytest's status of an item whose findings were all waived (it passed): waived, not passed."""
    results = getattr(report, "kvm_results", None)
    if results and report.when == "call" and report.passed and any(r.outcome == "waived" for r in results):
        return "waived", "w", "WAIVED"
    return None
