"""Fix scripts: per host, every failure's fix as one reviewed shell script (reports/fix/HOST.sh).

The suite only writes these files; it never runs them and stays read-only. Each
fix is commented with the check and object it is for. Fixes that cannot be
scripted safely (and waived findings) appear as comments for a person to read.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shlex
from typing import Callable, Optional

from .. import text
from ..catalog import CHECKS, DAEMONS, NEEDS_RUNNING, NEEDS_STOPPED, PHASES
from .results import Result
from .verdict import RANK, UNREACHABLE_CHECK

MARKER = "# kvm-netcheck fix script"

_PHASE = {p: i for i, p in enumerate(PHASES)}


def file_name(host: str) -> str:
    """HOST.sh, for a host name made of letters, digits, `_`, `.` and `-`; any other name keeps what
    it can of itself and gains a hash of the whole name, so that `kvm_01` and `kvm~01` never share
    a file (write_fix_scripts settles what collides anyway)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100].lstrip(".") or "host"
    if safe == host:
        return host + ".sh"
    digest = hashlib.sha256(host.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{safe}-{digest}.sh"


def _order(r: Result) -> tuple:
    return (RANK.get(r.severity, -1), r.object)


def steps_of(r: Result) -> list[tuple[str, str, tuple[str, ...]]]:
    """(phase, commands, tools they need) of a result's fix; results without phases (an older
    results.json) take the phase of their check's first scripted step."""
    if r.fix_steps:
        return [(step[0], step[1], tuple(step[2]) if len(step) > 2 else ()) for step in r.fix_steps]
    if not r.fix_script.strip():
        return []
    c = CHECKS.get(r.check)
    phases = [st.phase for f in (c.fixes.values() if c else ()) for st in f.steps]
    return [(phases[0] if phases else PHASES[-1], r.fix_script, ())]


def _comment(body: str, lead: str = "#   ") -> list[str]:
    """Text as comment lines: each of its lines flattened (text.one_line), so nothing in it reaches
    the shell, whatever line breaks (\\n, \\r, \\v, U+2028 ...) a name from a host holds."""
    out = []
    for ln in body.split("\n"):
        ln = text.one_line(ln)
        out.append(ln if ln.startswith("#") else (lead + ln).rstrip())
    return out


def logical_lines(script: str) -> list[str]:
    """A step's lines with backslash continuations joined, as the shell reads them."""
    out, cur = [], ""
    for ln in script.split("\n"):
        if ln.endswith("\\"):
            cur += ln[:-1]
            continue
        out.append(cur + ln)
        cur = ""
    return out + ([cur] if cur else [])


@functools.lru_cache(maxsize=4096)  # a host's script asks of each step several times
def stays_on_its_lines(script: str) -> bool:
    """Whether a step can go into a script as it is: no character a line cannot carry, and each
    logical line a complete shell line on its own (no quote left open, so no value spans a line
    break). Steps are rendered so (catalog.render_fix); this holds steps read back from an older
    results.json or a shard to the same rule."""
    if text.unsafe(script.replace("\n", "")):
        return False
    try:
        for ln in logical_lines(script):
            if "'" in ln or '"' in ln or "\\" in ln:  # only a quote or an escape can leave a line open
                shlex.split(ln, comments=True)
    except ValueError:
        return False
    return True


# the processes (their comm, as the collector lists them) that serve each of catalog.DAEMONS
SERVED_BY = {
    "NetworkManager": ("NetworkManager",),
    "libvirt": ("libvirtd", "virtqemud", "virtnetworkd"),
    "firewalld": ("firewalld",),
    "ovsdb-server": ("ovsdb-server",),
}


def daemon_states(f) -> dict[str, bool]:
    """Which of catalog.DAEMONS run on a host (its HostFacts), as far as its facts tell; one left out
    is unknown. A daemon not seen is taken as stopped only where the collector ran as root: /proc
    mounted with hidepid hides other users' processes from anyone else."""
    out: dict[str, bool] = {}
    if f.daemons is not None:
        running = {p.comm for p in f.daemons}
        out.update(
            {d: True if running.intersection(comms) else False for d, comms in SERVED_BY.items()}
            if f.uid == 0
            else {d: True for d, comms in SERVED_BY.items() if running.intersection(comms)}
        )
    # libvirt's sockets answer with no daemon running (systemd socket activation, libvirtd --timeout):
    # the suite's own connection, answered, says libvirt does
    if f.libvirt.source in ("libvirt-python", "virsh"):
        out["libvirt"] = True
    if f.netstack.known:
        out["systemd"] = f.netstack.systemd
    return out


def _unmet(need: str, commands: Optional[frozenset], daemons: Optional[dict]) -> Optional[str]:
    """Why a host does not meet one of a step's needs (catalog Step.conditions); None: it does (or,
    for a tool, the host's tools are not known: older facts)."""
    for prefix, wanted in ((NEEDS_RUNNING, True), (NEEDS_STOPPED, False)):
        if need.startswith(prefix):
            name = need[len(prefix) :]
            what = DAEMONS.get(name, name)
            state = (daemons or {}).get(name)
            if state is wanted:
                return None
            if state is None:
                return (
                    f"whether {what} runs on this host could not be told (its processes were not read, or not as root)"
                )
            return f"{what} is not running on this host" if wanted else f"{what} runs on this host"
    if commands is not None and need not in commands:
        return f"this host has no {need}"
    return None


def _reasons(whys) -> str:
    """Why steps were left to a person, each reason once, the tools a host lacks as one phrase."""
    tools, others = [], []
    for why in (w for ws in whys for w in ws):
        if why.startswith("this host has no "):
            tools.append(why[len("this host has no ") :])
        else:
            others.append(why)
    parts = ([f"this host has no {', '.join(sorted(set(tools)))}"] if tools else []) + list(dict.fromkeys(others))
    return "; ".join(parts)


def host_script(
    host: str,
    hostname: Optional[str],
    results: list[Result],
    made_from: str,
    commands: Optional[frozenset] = None,
    name: Optional[str] = None,
    daemons: Optional[dict] = None,
) -> str:
    """The fix script for one host's failed (and, as comments, waived) results.

    `commands` are the tools the host has (None: not known): a step needing one it lacks is left
    to a person, so the script never stops half-way at "command not found". `daemons` says which
    daemons run (daemon_states; one not in it, or all with None, unknown): a step whose tool needs
    one not known to run is left to a person too, with the reason, unless the fix's way for that
    daemon stopped (catalog Step.without) runs in its place."""
    failed = sorted((r for r in results if r.outcome == "failed"), key=_order)
    waived = sorted((r for r in results if r.outcome == "waived"), key=_order)

    def why_not(step) -> list[str]:
        return [w for w in (_unmet(n, commands, daemons) for n in step[2]) if w]

    def runnable(step) -> bool:
        return stays_on_its_lines(step[1]) and not why_not(step)

    def replaced(step, steps) -> bool:
        """Whether another step of the fix stands in for this one: the way for a stopped daemon where
        it runs; the one that needs it where the way for it stopped runs."""
        for need in step[2]:
            name = need.partition(":")[2]
            if need.startswith(NEEDS_STOPPED) and (daemons or {}).get(name) is True:
                return True
            if need.startswith(NEEDS_RUNNING) and any(NEEDS_STOPPED + name in o[2] and runnable(o) for o in steps):
                return True
        return False

    def left(r) -> list:
        """The steps of a result's fix left to a person."""
        steps = steps_of(r)
        return [st for st in steps if not runnable(st) and not replaced(st, steps)]

    scripted = [r for r in failed if any(runnable(st) for st in steps_of(r))]
    in_script = set(map(id, scripted))
    manual = [r for r in failed if id(r) not in in_script]
    lacking = [(r, st) for r in scripted for st in left(r)]
    restarts = any(st[0] == "daemon-restart" for r in scripted for st in steps_of(r) if runnable(st))
    out = [
        "#!/bin/sh",
        text.one_line(f"{MARKER} for {host}, made from {made_from}"),
        f"# {len(scripted)} fix(es) to run, {len(manual)} for a person (comments below), {len(waived)} waived.",
        "# Review before running. Steps run in a safe order: lasting config, then live bridge settings,",
        "# saved libvirt definitions, guest definitions, firewall changes"
        + (", and last a daemon restart (guests keep their links)." if restarts else "."),
        "# No step restarts a network or takes a bridge down. kvm-netcheck itself never runs this file.",
        "# Run it on the host as root, e.g.:  ssh root@HOST sh -s < " + (name or file_name(host)),
        "set -eu",
    ]
    if hostname:
        # a kernel host name holding a line break is compared in its escaped form, which no host
        # has: such a script refuses to run unless told to (KVMNETCHECK_ANY_HOST=1)
        want = shlex.quote(text.one_line(hostname))
        out += [
            f'if [ "$(cat /proc/sys/kernel/hostname)" != {want} ] && [ "${{KVMNETCHECK_ANY_HOST:-}}" != 1 ]; then',
            f"    printf '%s\\n' 'this script fixes '{want}', not '\"$(cat /proc/sys/kernel/hostname)\""
            "' (KVMNETCHECK_ANY_HOST=1 to run it anyway)' >&2",
            "    exit 2",
            "fi",
        ]
    # every step of every fix, in phase order; within a phase, the most severe finding first
    planned = sorted(
        (
            (_PHASE.get(phase, len(PHASES)), _order(r), i, r, script.strip("\n"), phase)
            for r in scripted
            for i, (phase, script, needs) in enumerate(steps_of(r))
            if runnable((phase, script, needs))
        ),
        key=lambda t: t[:3],
    )
    done: dict[str, str] = {}  # commands -> the finding they were first written for
    introduced: set[int] = set()
    step = 0
    for _, _, _, r, script, phase in planned:
        label = text.one_line(f"[{r.severity}] {r.check} {r.object}")
        if script in done:
            out += ["", f"# {label}: fixed by the same commands as {done[script]} above"]
            continue
        done[script] = label
        step += 1
        out += ["", f"# --- {step}. {label}"]
        if phase == "daemon-restart":
            out.append("# restarts a libvirt daemon: last, on purpose")
        if id(r) not in introduced:
            introduced.add(id(r))
            out += _comment(r.message, "# ")
        out.append(f"echo {shlex.quote(text.one_line(f'kvm-netcheck fix {step}: {r.check} {r.object}'))}")
        out += script.splitlines()
    if manual or lacking:
        out += ["", "# --- Not scripted: these fixes need a person (edit, restart or upgrade by hand)"]
        for r in manual:
            why = _reasons(why_not(st) for st in left(r))
            lack = f": {why}; by other means:" if why else ""
            out += ["", *_comment(f"# [{r.severity}] {r.check} {r.object}{lack}")] + _comment(r.message, "# ")
            out += _comment(r.remediation) + [ln for st in left(r) for ln in _comment(st[1])]
        for r, step in lacking:
            why = _reasons([why_not(step)])
            why = f"{why}; by other means" if why else "a name in it cannot be scripted safely; by hand"
            out += ["", *_comment(f"# [{r.severity}] {r.check} {r.object}: {why}:")]
            out += _comment(step[1])
    if waived:
        out += ["", "# --- Waived findings: not fixed here"]
        for r in waived:
            w = r.waiver or {}
            out += _comment(
                f"# [{r.severity}] {r.check} {r.object}: waived until {w.get('expires', '?')} "
                f"({w.get('where', '?')}): {w.get('reason', '')}"
            )
    out += ["", "echo 'kvm-netcheck fixes done: run the suite again to confirm'", ""]
    return "\n".join(out)


def write_fix_scripts(
    directory: str, results, hosts: list, made_from: str, each: Optional[Callable] = None
) -> dict[str, str]:
    """Write HOST.sh for each host with a failure; drop scripts of an earlier run that no longer apply.
    `results`: the run's findings, a list or the stream's findings spool (read back host by host);
    `each(host, its findings, its script or None)` is called for every host with a finding, so that
    what else is made of them (its page) reads them once."""
    if hasattr(results, "of_host"):
        host_names, of_host = results.hosts(), results.of_host
    else:
        listed: dict[str, list[Result]] = {}
        for r in results:
            listed.setdefault(r.host, []).append(r)
        host_names, of_host = list(listed), listed.__getitem__

    def mine(found: list[Result]) -> list[Result]:
        # reaching a host is fixed from the control node, not on the host
        return [r for r in found if r.outcome in ("failed", "waived") and r.check != UNREACHABLE_CHECK]

    # `hosts`: the run's host digests (report/stream.py HostDigest)
    names = {h.host: h.hostname for h in hosts if h.reachable}
    # the tools each host has (facts of the first collector did not list all of them: unknown)
    tools = {h.host: h.tools for h in hosts if h.reachable}
    daemons = {h.host: h.daemons for h in hosts if h.reachable}
    os.makedirs(directory, exist_ok=True)
    written = {}
    taken: set[str] = set()
    for host in sorted(h for h in host_names if h):
        every = of_host(host)
        found = mine(every)
        if not any(r.outcome == "failed" for r in found):
            if each is not None:
                each(host, every, None)
            continue
        name = file_name(host)
        n = 1
        while name.lower() in taken:  # lower: a case-insensitive file system must not merge them either
            n += 1
            name = f"{file_name(host)[:-3]}.{n}.sh"
        taken.add(name.lower())
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(host_script(host, names.get(host), found, made_from, tools.get(host), name, daemons.get(host)))
        written[host] = path
        if each is not None:
            each(host, every, path)
    keep = {os.path.basename(p) for p in written.values()}
    for name in os.listdir(directory):
        p = os.path.join(directory, name)
        if name.endswith(".sh") and name not in keep and _is_ours(p):
            os.remove(p)
    return written


def is_ours(path: str) -> bool:
    """A fix script this suite wrote (its second line is the marker)."""
    return _is_ours(path)


def _is_ours(path: str) -> bool:
    try:
        with open(path) as f:
            f.readline()
            return f.readline().startswith(MARKER)
    except OSError:
        return False
