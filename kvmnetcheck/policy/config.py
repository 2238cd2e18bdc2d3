"""A team's policy file, kept in version control beside the inventory.

    # kvmnetcheck.yaml
    fail_on: high               # lowest severity that fails the gate (critical, high, medium, low)
    allow_unreachable: false    # true: hosts that cannot be checked do not fail the gate
    max_port_block_s: 4         # the limit the bridge checks hold new ports to
    severities:                 # re-rate checks for this fleet
      bridge-stp-root: low
    waivers: waivers.yaml       # a waiver file (relative to this one), or a list of entries

Command-line options override every key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ..catalog import CHECKS, SEVERITIES
from .source import Mapping, PolicyError, load
from .waivers import WaiverSet, load_waivers, parse_entries

POLICY_FILE = "kvmnetcheck.yaml"
SYSTEM_POLICY = "/etc/kvm-netcheck/policy.yaml"  # a team's policy for every run on the machine
KEYS = ("fail_on", "allow_unreachable", "max_port_block_s", "severities", "waivers")


@dataclass(frozen=True)
class TeamPolicy:
    path: Optional[str] = None
    fail_on: Optional[str] = None
    allow_unreachable: Optional[bool] = None
    max_port_block_s: Optional[float] = None
    severities: dict[str, str] = field(default_factory=dict)
    waivers: Optional[WaiverSet] = None


def find_policy(beside: list[Optional[str]], cwd: str = ".", system: str = SYSTEM_POLICY) -> Optional[str]:
    """The policy a run uses when --policy names none, the first found of: kvmnetcheck.yaml next to
    (or, for a directory, inside) one of the given paths (the inventory, the ssh config), then
    ./kvmnetcheck.yaml, then the system-wide /etc/kvm-netcheck/policy.yaml."""
    for p in beside:
        if not p:
            continue
        p = os.path.expanduser(p)
        d = p if os.path.isdir(p) else os.path.dirname(os.path.abspath(p))
        candidate = os.path.join(d, POLICY_FILE)
        if os.path.isfile(candidate):
            return candidate
    for candidate in (os.path.join(cwd, POLICY_FILE), system):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def looked_for() -> str:
    """Where a run looks for a policy file, for the line that says it used none."""
    return f"{POLICY_FILE} beside the inventory or ssh config, ./{POLICY_FILE}, {SYSTEM_POLICY}"


def load_policy(path: str) -> TeamPolicy:
    doc = load(path)
    if doc is None:
        return TeamPolicy(path=path)
    if not isinstance(doc, Mapping):
        raise PolicyError(path, getattr(doc, "line", 1), f"a policy file is a mapping of {', '.join(KEYS)}")
    for key in doc:
        if key not in KEYS:
            raise PolicyError(path, doc.lines[key], f"unknown key '{key}' (known: {', '.join(KEYS)})")
    values: dict[str, Any] = {"path": path}
    if "fail_on" in doc:
        values["fail_on"] = severity(doc["fail_on"], path, doc.lines["fail_on"])
    if "allow_unreachable" in doc:
        if not isinstance(doc["allow_unreachable"], bool):
            raise PolicyError(path, doc.lines["allow_unreachable"], "allow_unreachable must be true or false")
        values["allow_unreachable"] = doc["allow_unreachable"]
    if "max_port_block_s" in doc:
        v = doc["max_port_block_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise PolicyError(
                path,
                doc.lines["max_port_block_s"],
                f"max_port_block_s must be a number of seconds, 0 or more, got {v!r}",
            )
        values["max_port_block_s"] = float(v)
    if "severities" in doc:
        values["severities"] = _severities(doc["severities"], path, doc.lines["severities"])
    if "waivers" in doc:
        w = doc["waivers"]
        if isinstance(w, str):
            values["waivers"] = load_waivers(os.path.join(os.path.dirname(os.path.abspath(path)), w))
        else:
            values["waivers"] = WaiverSet(parse_entries(w, path, doc.lines["waivers"]), path)
    return TeamPolicy(**values)


def severity(value: Any, path: str, line: int) -> str:
    if not isinstance(value, str) or value.lower() not in SEVERITIES:
        raise PolicyError(path, line, f"severity {value!r} is not one of {', '.join(SEVERITIES)}")
    return value.lower()


def _severities(doc: Any, path: str, line: int) -> dict[str, str]:
    if not isinstance(doc, Mapping):
        raise PolicyError(path, line, "severities maps check ids to severities (bridge-stp-root: low)")
    out = {}
    for check, sev in doc.items():
        if check not in CHECKS:
            raise PolicyError(
                path, doc.lines[check], f"unknown check id '{check}' (known: {', '.join(sorted(CHECKS))})"
            )
        out[check] = severity(sev, path, doc.lines[check])
    return out
