"""The evaluator both kinds of rules compile to: tri-state logic (True, False, or None when the facts cannot
tell), and the walk of one packet through one table's chains, an undecidable rule followed both ways."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

ACCEPT = "accept"
DROP = "drop"
UNKNOWN = "unknown"

# Bounds: a host's rules are untrusted input, and a loop of gotos or a ruleset full of undecidable
# rules must cost an "unknown", not the run.
MAX_DEPTH = 64  # nested jumps (the kernel allows 16 in nftables)
MAX_STEPS = 200_000  # rules looked at in one table for one packet
MAX_FORKS = 4_096  # undecidable rules whose two outcomes are both followed
MAX_NEST = 100  # undecidable rules followed inside one another (keeps Python's stack small)


Tri = Optional[bool]  # True, False, or None: the facts cannot tell


def tri_and(values) -> Tri:
    result: Tri = True
    for v in values:
        if v is False:
            return False
        if v is None:
            result = None
    return result


def tri_not(v: Tri) -> Tri:
    return None if v is None else not v


def tri_any(values) -> Tri:
    return tri_not(tri_and(tri_not(v) for v in values))


@dataclass(frozen=True)
class Action:
    kind: str  # accept | drop | jump | goto | return | continue | unknown
    target: str = ""  # the chain, or for unknown why


CONTINUE = Action("continue")


@dataclass(frozen=True)
class Rule:
    label: str
    # tried in order: the first whose condition holds acts (a vmap has several, a plain rule one)
    alternatives: tuple[tuple[Tri, Action], ...]


@dataclass(frozen=True)
class Outcome:
    verdict: str
    by: tuple[str, ...]
    undecided: tuple[str, ...] = ()


@dataclass
class Program:
    """One base chain and the chains it can reach, compiled for one packet."""

    desc: str  # "iptables filter", "nft inet firewalld"
    base: str
    chains: dict  # name -> tuple[Rule, ...]
    policy: Optional[str]  # accept | drop | None (not seen or not understood)
    policy_label: str


def merge(*groups: tuple[str, ...], limit: int = 20) -> tuple[str, ...]:
    out: list[str] = []
    for g in groups:
        for x in g:
            if x not in out and len(out) < limit:
                out.append(x)
    return tuple(out)


def _either(label: str, matched: Outcome, rest: Outcome) -> Outcome:
    """An undecidable rule: the outcome if it matched, and if it did not."""
    if matched.verdict == rest.verdict != UNKNOWN:
        return Outcome(rest.verdict, merge(rest.by, matched.by, limit=3))
    by = merge(*(o.by for o in (matched, rest) if o.verdict == UNKNOWN), limit=3)
    return Outcome(UNKNOWN, by, merge((label,), matched.undecided, rest.undecided))


class Walk:
    """Follows one packet through a program; an undecidable rule is followed both ways."""

    def __init__(self, program: Program):
        self.p = program
        self.memo: dict = {}
        self.steps = 0
        self.forks = 0

    def outcome(self) -> Outcome:
        o = self._run(((self.p.base, 0),), 0)
        if o.verdict == UNKNOWN and not o.by:
            o = Outcome(UNKNOWN, (f"{self.p.desc}: the verdict depends on rules the facts cannot decide",), o.undecided)
        return o

    def _policy(self) -> Outcome:
        if self.p.policy in (ACCEPT, DROP):
            return Outcome(self.p.policy, (self.p.policy_label,))
        return Outcome(UNKNOWN, (self.p.policy_label,))

    def _pop(self, stack):
        # the end of a chain, or RETURN: back to the caller, or the base chain's policy
        return self._policy() if len(stack) <= 1 else stack[:-1]

    def _apply(self, adv, action: Action, label: str):
        """A new stack, or an Outcome when the action ends the walk. `adv` points past the rule."""
        k = action.kind
        if k in (ACCEPT, DROP):
            return Outcome(k, (label,))
        if k == "continue":
            return adv
        if k == "return":
            return self._pop(adv)
        if k in ("jump", "goto"):
            if action.target not in self.p.chains:
                return Outcome(UNKNOWN, (f"{label}: chain {action.target} is not in the ruleset",), (label,))
            if len(adv) >= MAX_DEPTH:
                return Outcome(UNKNOWN, (f"{self.p.desc}: chains nested deeper than {MAX_DEPTH} (a loop?)",), (label,))
            frame = ((action.target, 0),)
            return adv + frame if k == "jump" else adv[:-1] + frame
        return Outcome(UNKNOWN, (f"{label}: {action.target or 'its effect is not modelled'}",), (label,))

    def _run(self, start, nest: int) -> Outcome:
        if start in self.memo:
            return self.memo[start]
        pending: list[tuple[str, Outcome]] = []
        stack = start
        result: Optional[Outcome] = None
        while result is None:
            self.steps += 1
            if self.steps > MAX_STEPS:
                result = Outcome(UNKNOWN, (f"{self.p.desc}: more than {MAX_STEPS} rule evaluations (a loop?)",))
                break
            chain, idx = stack[-1]
            rules = self.p.chains.get(chain, ())
            if idx >= len(rules):
                nxt = self._pop(stack)
                if isinstance(nxt, Outcome):
                    result = nxt
                else:
                    stack = nxt
                continue
            rule = rules[idx]
            adv = stack[:-1] + ((chain, idx + 1),)
            taken: Optional[Action] = None
            for cond, action in rule.alternatives:
                if cond is False:
                    continue
                if cond is True:
                    taken = action
                    break
                self.forks += 1
                if self.forks > MAX_FORKS or nest >= MAX_NEST:
                    result = Outcome(
                        UNKNOWN, (f"{self.p.desc}: too many rules the facts cannot decide",), (rule.label,)
                    )
                    break
                matched = self._apply(adv, action, rule.label)
                if not isinstance(matched, Outcome):
                    matched = self._run(matched, nest + 1)
                pending.append((rule.label, matched))
            if result is not None:
                break
            if taken is None:
                stack = adv
                continue
            nxt = self._apply(adv, taken, rule.label)
            if isinstance(nxt, Outcome):
                result = nxt
            else:
                stack = nxt
        for label, matched in reversed(pending):
            result = _either(label, matched, result)
        self.memo[start] = result
        return result
