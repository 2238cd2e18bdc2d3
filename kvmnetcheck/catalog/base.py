"""What a check is: its catalog entry, its fixes, the marker that ties a test to it, and its finding.

Remediation texts are templates rendered with the real object names; every value
put into a template is shell-quoted unless the placeholder says otherwise
({x:xml} as an XML attribute, {x:raw} as is), so a name like `b$(id)` comes out
as a literal.
"""
from __future__ import annotations

import shlex
import string
from dataclasses import dataclass, field
from typing import Any, Optional
from xml.sax.saxutils import escape, quoteattr

SEVERITIES = ("critical", "high", "medium", "low")

GUIDE = "RHEL Virtualization Deployment and Administration Guide, appendix B.8"

# The order a host's fix script runs its steps in. Lasting config first, so nothing later is
# undone at the next ifup; live bridge settings take effect at once and drop no traffic; saved
# libvirt definitions change nothing that runs; guest definitions apply at the guest's next cold
# start; firewall changes; then what disrupts: network restarts (guests on the network lose their
# link) and, last, daemon restarts, which re-add libvirt's rules over whatever came before.
PHASES = (
    "persistent-config",
    "live-bridge",
    "libvirt-definition",
    "guest-definition",
    "firewall",
    "network-restart",
    "daemon-restart",
)


@dataclass(frozen=True)
class Step:
    """One non-interactive command (or a few lines) of a fix, run in its phase of a fix script.

    `needs` names the tools it calls that a host may lack: a fix script never calls one the host
    does not have (the step is left to a person instead)."""

    phase: str
    script: str
    needs: tuple[str, ...] = ()

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"unknown fix phase {self.phase!r} (known: {', '.join(PHASES)})")


@dataclass(frozen=True)
class Fix:
    """One way to fix a finding: the text a person reads and types, and the same as script steps.

    A fix with no steps cannot be scripted safely and is left to a person."""

    text: str
    steps: tuple[Step, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    fails_when: str  # a short phrase for the README and --list-checks: what makes it fail
    severity: str
    per: str  # what one result is about
    requirement: str  # one line: what a good host looks like
    rationale: str  # why a failure breaks PXE/DHCP
    sources: tuple[str, ...]  # the guide section first, then the upstream files behind the facts
    skipped_when: tuple[str, ...]  # when the check does not apply to an object
    fixes: dict[str, Fix]  # variant -> fix
    verify: tuple[str, ...] = field(default=())  # read-only commands that show the facts by hand

    @property
    def guide(self) -> str:
        return self.sources[0]


class _ShellFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        if format_spec == "raw":
            return str(value)
        if format_spec == "xml":
            return xml_attr(str(value))
        return shlex.quote(str(value))


def xml_attr(value: str) -> str:
    """An XML attribute value with its quotes; single quotes, as libvirt writes them, where possible."""
    return f"'{escape(value)}'" if "'" not in value else quoteattr(value)


_FMT = _ShellFormatter()


def placeholders(template: str) -> set[str]:
    """The names a template needs filled in."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Remedy:
    """A fix for one object, rendered: the text a person reads, and the script steps (phase, commands)."""

    text: str
    steps: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (phase, commands, tools they need)

    @property
    def script(self) -> str:
        return "\n".join(s for _, s, _ in self.steps)

    def __add__(self, other: "Remedy") -> "Remedy":
        return Remedy("\n".join(t for t in (self.text, other.text) if t), self.steps + other.steps)


def render_fix(check: Check, variant: str, **values) -> Remedy:
    fix = check.fixes[variant]
    return Remedy(_FMT.format(fix.text, **values).strip("\n"),
                  tuple((s.phase, _FMT.format(s.script, **values).strip("\n"), s.needs) for s in fix.steps))


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
        self.steps = remediation.steps
        self.observed = observed or {}
        self.limit = limit


@dataclass(frozen=True)
class Limits:
    """What the checks hold hosts to (from --max-port-block, the policy file or the ini)."""

    max_port_block_s: float  # how long a new bridge port may stay silent

    def describe_limit(self) -> str:
        return f"a new port may be blocked for at most {self.max_port_block_s:g} s"
