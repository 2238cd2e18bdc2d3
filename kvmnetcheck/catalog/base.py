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

from .. import text

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


# The daemons a step's tool may need running, not only installed: nmcli asks NetworkManager over D-Bus
# ("Could not create NMClient object"), virsh asks libvirt's daemon, firewall-cmd firewalld (even with
# --permanent), ovs-vsctl ovsdb-server, systemctl systemd as PID 1. Each name: what a person is told.
DAEMONS = {
    "NetworkManager": "NetworkManager",
    "libvirt": "libvirt's daemon (libvirtd, or virtqemud and virtnetworkd)",
    "firewalld": "firewalld",
    "ovsdb-server": "Open vSwitch's database server (ovsdb-server)",
    "systemd": "systemd (as the init system)",
}
# how a rendered step (Remedy.steps, results.json fix_steps) carries them among the tools it needs
NEEDS_RUNNING, NEEDS_STOPPED = "running:", "not-running:"


@dataclass(frozen=True)
class Step:
    """One non-interactive command (or a few lines) of a fix, run in its phase of a fix script.

    `needs` names the tools it calls that a host may lack: a fix script never calls one the host
    does not have (the step is left to a person instead). `daemons` names what must run for them to
    work (DAEMONS): the step is scripted only where the host's facts show it running. `without` marks
    the way that works with the daemon stopped: scripted only where it is known not to run, in place
    of the step that needs it."""

    phase: str
    script: str
    needs: tuple[str, ...] = ()
    daemons: tuple[str, ...] = ()
    without: tuple[str, ...] = ()

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ValueError(f"unknown fix phase {self.phase!r} (known: {', '.join(PHASES)})")
        unknown = [d for d in self.daemons + self.without if d not in DAEMONS]
        if unknown:
            raise ValueError(f"unknown daemon {unknown[0]!r} (known: {', '.join(DAEMONS)})")

    @property
    def conditions(self) -> tuple[str, ...]:
        """What it needs of the host as a rendered step carries it: tools, then running:D / not-running:D."""
        return (
            self.needs + tuple(NEEDS_RUNNING + d for d in self.daemons) + tuple(NEEDS_STOPPED + d for d in self.without)
        )


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


def xml_attr(value: str) -> str:
    """An XML attribute value with its quotes; single quotes, as libvirt writes them, where possible."""
    return f"'{escape(value)}'" if "'" not in value else quoteattr(value)


_FMT = string.Formatter()


def placeholders(template: str) -> set[str]:
    """The names a template needs filled in."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Remedy:
    """A fix for one object, rendered: the text a person reads, and the script steps (phase, commands)."""

    text: str
    steps: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (phase, commands, Step.conditions)

    @property
    def script(self) -> str:
        return "\n".join(s for _, s, _ in self.steps)

    def __add__(self, other: "Remedy") -> "Remedy":
        return Remedy("\n".join(t for t in (self.text, other.text) if t), self.steps + other.steps)


# A name that starts with '-' may stand right after these in a command: the tool reads what follows
# them as a name, never as an option (`--` ends a tool's options; `dev` and `master` are iproute2
# keywords that take the next word; `--opt=` and `-i`/`-o` take their value whatever it looks like).
_NAME_AFTER = ("-- ", "dev ", "master ", "=", "-i ", "-o ")


def _render(template: str, values: dict, script: bool, refused: list[str]) -> str:
    """A template with each value in place, on its line: shell-quoted, or as an XML attribute
    ({x:xml}), or as it is ({x:raw}, only for values the suite made). In a script step a value that
    could not be run as written (a line break or other control character, a name taken for an
    option, a raw value that is not inert) is added to `refused`, and the caller scripts nothing."""
    out = []
    for literal, name, spec, conversion in _FMT.parse(template):
        out.append(literal)
        if name is None:
            continue
        value, _ = _FMT.get_field(name, (), values)
        value = str(_FMT.convert_field(value, conversion) if conversion else value)
        flat = text.one_line(value)
        if spec == "raw":
            if script and not text.shell_inert(value):
                refused.append(value)
            out.append(flat)
            continue
        as_option = (
            script
            and value.startswith("-")
            and not literal.endswith(_NAME_AFTER)
            and not "".join(out).rpartition("\n")[2].lstrip().startswith("#")
        )  # a comment runs nothing
        if text.unsafe(value) or as_option:
            refused.append(value)
        out.append(xml_attr(flat) if spec == "xml" else shlex.quote(flat))
    return "".join(out)


def render_fix(check: Check, variant: str, **values) -> Remedy:
    """A check's fix for one object. No value leaves its line: one holding a line break or another
    control character is shown escaped (\\x0a), and then, like a name a command would take for an
    option, it is in no script step: the fix is left to a person, who is told why."""
    fix = check.fixes[variant]
    refused: list[str] = []
    body = _render(fix.text, values, False, refused).strip("\n")
    steps = tuple((s.phase, _render(s.script, values, True, refused).strip("\n"), s.conditions) for s in fix.steps)
    if not refused:
        return Remedy(body, steps)
    why = []
    for value in dict.fromkeys(refused):
        shown = shlex.quote(text.one_line(value))
        if text.unsafe(value):
            why.append(
                f"# not scripted: {shown} holds characters no command line can carry as they are (shown "
                "escaped as \\xNN below): type that name by hand, e.g. in bash as $'...'"
            )
        elif value.startswith("-"):
            why.append(
                f"# not scripted: {shown} starts with '-', which a command may read as an option: "
                "check each command below names it after `--` or its keyword"
            )
        else:
            why.append(f"# not scripted: {shown} is not a plain word; check the commands below by hand")
    return Remedy("\n".join(why + [body]), ())


class Finding(AssertionError):
    """A failed check, carrying what was observed, the limit, and the fix for this object."""

    def __init__(
        self,
        message: str,
        *,
        remediation: "Remedy | str",
        observed: Optional[dict[str, Any]] = None,
        limit: Optional[str] = None,
    ):
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
