"""Fix scripts: per host, every failure's fix as one reviewed shell script (reports/fix/HOST.sh).

The suite only writes these files; it never runs them and stays read-only. Each
fix is commented with the check and object it is for. Fixes that cannot be
scripted safely (and waived findings) appear as comments for a person to read.
"""
from __future__ import annotations

import os
import re
import shlex
from typing import Optional

from ..catalog import CHECKS, PHASES
from ..facts.model import HostFacts
from .results import Result
from .verdict import RANK, UNREACHABLE_CHECK

MARKER = "# kvm-netcheck fix script"

_PHASE = {p: i for i, p in enumerate(PHASES)}


def file_name(host: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100] or "host") + ".sh"


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


def _comment(text: str, lead: str = "#   ") -> list[str]:
    return [ln if ln.startswith("#") else (lead + ln).rstrip() for ln in text.splitlines()]


def host_script(host: str, hostname: Optional[str], results: list[Result], made_from: str,
                commands: Optional[frozenset] = None) -> str:
    """The fix script for one host's failed (and, as comments, waived) results.

    `commands` are the tools the host has (None: not known): a step needing one it lacks is left
    to a person, so the script never stops half-way at "command not found"."""
    failed = sorted((r for r in results if r.outcome == "failed"), key=_order)
    waived = sorted((r for r in results if r.outcome == "waived"), key=_order)

    def runnable(step) -> bool:
        return commands is None or all(tool in commands for tool in step[2])

    scripted = [r for r in failed if any(runnable(st) for st in steps_of(r))]
    manual = [r for r in failed if r not in scripted]
    lacking = [(r, st) for r in scripted for st in steps_of(r) if not runnable(st)]
    restarts = any(st[0] == "daemon-restart" for r in scripted for st in steps_of(r) if runnable(st))
    out = ["#!/bin/sh", f"{MARKER} for {host}, made from {made_from}",
           f"# {len(scripted)} fix(es) to run, {len(manual)} for a person (comments below), {len(waived)} waived.",
           "# Review before running. Steps run in a safe order: lasting config, then live bridge settings,",
           "# saved libvirt definitions, guest definitions, firewall changes"
           + (", and last a daemon restart (guests keep their links)." if restarts else "."),
           "# No step restarts a network or takes a bridge down. kvm-netcheck itself never runs this file.",
           "# Run it on the host as root, e.g.:  ssh root@HOST sh -s < " + file_name(host),
           "set -eu"]
    if hostname:
        want = shlex.quote(hostname)
        out += [f"if [ \"$(cat /proc/sys/kernel/hostname)\" != {want} ] && [ \"${{KVMNETCHECK_ANY_HOST:-}}\" != 1 ]; then",
                f"    echo \"this script fixes {hostname}, not $(cat /proc/sys/kernel/hostname)"
                " (KVMNETCHECK_ANY_HOST=1 to run it anyway)\" >&2",
                "    exit 2", "fi"]
    # every step of every fix, in phase order; within a phase, the most severe finding first
    planned = sorted(((_PHASE.get(phase, len(PHASES)), _order(r), i, r, script.strip("\n"), phase)
                      for r in scripted for i, (phase, script, needs) in enumerate(steps_of(r))
                      if runnable((phase, script, needs))),
                     key=lambda t: t[:3])
    done: dict[str, str] = {}  # commands -> the finding they were first written for
    introduced: set[int] = set()
    step = 0
    for _, _, _, r, script, phase in planned:
        label = f"[{r.severity}] {r.check} {r.object}"
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
        out.append(f"echo {shlex.quote(f'kvm-netcheck fix {step}: {r.check} {r.object}')}")
        out += script.splitlines()
    if manual or lacking:
        out += ["", "# --- Not scripted: these fixes need a person (edit, restart or upgrade by hand)"]
        for r in manual:
            missing = sorted({t for st in steps_of(r) for t in st[2] if commands is not None and t not in commands})
            lack = f": this host has no {', '.join(missing)}; by other means:" if missing else ""
            out += ["", f"# [{r.severity}] {r.check} {r.object}{lack}"] + _comment(r.message, "# ")
            out += _comment(r.remediation) + [ln for st in steps_of(r) for ln in _comment(st[1])]
        for r, (phase, script, needs) in lacking:
            missing = ", ".join(t for t in needs if commands is not None and t not in commands)
            out += ["", f"# [{r.severity}] {r.check} {r.object}: this host has no {missing}; by other means:"]
            out += _comment(script)
    if waived:
        out += ["", "# --- Waived findings: not fixed here"]
        for r in waived:
            w = r.waiver or {}
            out.append(f"# [{r.severity}] {r.check} {r.object}: waived until {w.get('expires', '?')} "
                       f"({w.get('where', '?')}): {w.get('reason', '')}")
    out += ["", "echo 'kvm-netcheck fixes done: run the suite again to confirm'", ""]
    return "\n".join(out)


def write_fix_scripts(directory: str, results: list[Result], hosts: list, made_from: str) -> dict[str, str]:
    """Write HOST.sh for each host with a failure; drop scripts of an earlier run that no longer apply."""
    by_host: dict[str, list[Result]] = {}
    for r in results:
        # reaching a host is fixed from the control node, not on the host
        if r.host and r.outcome in ("failed", "waived") and r.check != UNREACHABLE_CHECK:
            by_host.setdefault(r.host, []).append(r)
    # `hosts`: the run's host digests (report/stream.py HostDigest)
    names = {h.host: h.hostname for h in hosts if h.reachable}
    # the tools each host has (facts of the first collector did not list all of them: unknown)
    tools = {h.host: h.tools for h in hosts if h.reachable}
    os.makedirs(directory, exist_ok=True)
    written = {}
    for host in sorted(by_host):
        if not any(r.outcome == "failed" for r in by_host[host]):
            continue
        path = os.path.join(directory, file_name(host))
        with open(path, "w") as f:
            f.write(host_script(host, names.get(host), by_host[host], made_from, tools.get(host)))
        written[host] = path
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
