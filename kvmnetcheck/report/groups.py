"""Findings grouped by cause: the results of one check whose message and fix have the same shape once
the names of their host and object are taken out (placeholders in their place) are one group, listed
once with how many objects on how many hosts it covers. Errors are grouped by their message's shape
across checks, so a cause that stops several checks (facts of an older version, libvirt not read) is
said once, with the checks and hosts it covers.

Memory: a group keeps its host names (each once) and a few objects as examples; a check with more
than GROUPS_PER_CHECK shapes puts the rest in one group of its own, so a message that carries a
number per object cannot make the groups grow with the findings.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .results import Result

EXAMPLES = 8  # objects a group names as examples (every one is on its host's page)
GROUPS_PER_CHECK = 100
OLDER = "older version"  # what every parser says of a fact an older collector did not gather


def _names(r: Result) -> list[tuple[str, str]]:
    """(value, placeholder) of the names a result's text carries: its object's parts and its host."""
    out = []
    obj = r.object
    if "@" in obj:  # a bridge's config file: BRIDGE@PATH (objects.py)
        bridge, _, path = obj.partition("@")
        out += [(obj, "OBJECT"), (path, "PATH"), (bridge, "BRIDGE")]
    elif "/" in obj and obj != r.host:  # a guest's NIC: GUEST/NIC
        guest, _, nic = obj.partition("/")
        out += [(obj, "OBJECT"), (guest, "GUEST"), (nic, "NIC")]
    elif obj and obj != r.host:
        out.append((obj, "OBJECT"))
    if r.host:
        out.append((r.host, "HOST"))
    return [(v, p) for v, p in out if v]


def shape(value: str, names: list[tuple[str, str]]) -> str:
    """`value` with each name replaced by its placeholder, where it stands as a word of its own
    (alone, quoted or in a path), longest names first."""
    for name, ph in sorted(names, key=lambda n: -len(n[0])):
        if name in value:
            value = _word(name).sub("{" + ph + "}", value)
    return value


@functools.lru_cache(maxsize=1024)  # items run host by host: a host's names are asked for together
def _word(name: str) -> re.Pattern:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])")


def cause_of(r: Result) -> str:
    """The cause an error shares with errors of other checks: facts an older version did not
    gather are one cause, whatever each parser says of them."""
    if OLDER in r.message:
        return "facts gathered by an older version of the suite did not hold what this check needs: gather again"
    return shape(r.message, _names(r))


@dataclass
class Group:
    key: tuple
    check: str  # "" for errors of several checks
    outcome: str
    severity: str
    message: str  # with placeholders
    fix: str  # with placeholders ("" for errors and fixes that differ)
    checks: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)  # host -> objects of this group on it
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (host, object, check)
    count: int = 0

    def add(self, r: Result) -> None:
        self.count += 1
        self.checks[r.check] = self.checks.get(r.check, 0) + 1
        self.hosts[r.host] = self.hosts.get(r.host, 0) + 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((r.host, r.object, r.check))


_RANK = {s: i for i, s in enumerate(("critical", "high", "medium", "low"))}


@dataclass
class Groups:
    """Every finding (failed, error, waived) in its group, as they come."""

    groups: dict[tuple, Group] = field(default_factory=dict)
    per_check: dict[str, int] = field(default_factory=dict)

    def add(self, r: Result) -> None:
        if r.outcome == "error":
            cause = cause_of(r)
            key = ("error", cause)
            if key not in self.groups:
                self.groups[key] = Group(key, "", "error", r.severity, cause, "")
        else:
            names = _names(r)
            key = (r.check, r.outcome, r.severity, shape(r.message, names), shape(r.remediation, names))
            if key not in self.groups:
                n = self.per_check.get(r.check, 0)
                if n >= GROUPS_PER_CHECK:
                    key = (r.check, r.outcome, r.severity, "(other messages: see each host's page)", "")
                if key not in self.groups:
                    self.per_check[r.check] = n + 1
                    self.groups[key] = Group(key, r.check, r.outcome, r.severity, key[3], key[4])
        self.groups[key].add(r)

    def ordered(self, outcomes: Iterable[str] = ("failed", "error", "waived")) -> list[Group]:
        """Failures by severity then size, then errors by size, then waived."""
        want = tuple(outcomes)
        order = {o: i for i, o in enumerate(("failed", "error", "waived"))}
        return sorted(
            (g for g in self.groups.values() if g.outcome in want),
            key=lambda g: (order.get(g.outcome, 9), _RANK.get(g.severity, 9) if g.outcome != "error" else 0, -g.count),
        )


def host_list(hosts: dict[str, int], limit: Optional[int] = None) -> tuple[list[str], int]:
    """A group's hosts, most objects first (then by name): the first `limit`, and how many more."""
    names = sorted(hosts, key=lambda h: (-hosts[h], h))
    if limit is None or len(names) <= limit:
        return names, 0
    return names[:limit], len(names) - limit
