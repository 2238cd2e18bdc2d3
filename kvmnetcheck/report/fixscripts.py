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

from ..facts.model import HostFacts
from .results import Result
from .verdict import RANK, UNREACHABLE_CHECK

MARKER = "# kvm-netcheck fix script"

# Safe order: lasting config first, so nothing later is undone at the next ifup; then live bridge
# settings, which take effect at once without dropping traffic; then libvirt definitions with the
# network restarts they need (guests on a restarted network lose their link); then guest
# definitions (applied at their next cold start); then firewall changes and, last, daemon restarts,
# which re-add libvirt's rules over whatever came before. Checks missing here come after all of these.
FIX_ORDER = (
    "bridge-persistent-config",
    "bridge-forward-delay",
    "bridge-stp-root",
    "libvirt-network-stp-delay",
    "guest-nic-bridge-delay",
    "dhcp-checksum-fixup",
    "guest-nic-dhcp-checksum",
    "firewalld-libvirt-conflict",
    "iptables-checksum-support",
    "libvirt-checksum-warning",
    "libvirt-readable",
    "host-reachable",
)
_PHASE = {c: i for i, c in enumerate(FIX_ORDER)}


def file_name(host: str) -> str:
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100] or "host") + ".sh"


def _order(r: Result) -> tuple:
    return (_PHASE.get(r.check, len(FIX_ORDER)), RANK.get(r.severity, -1), r.object)


def _comment(text: str, lead: str = "#   ") -> list[str]:
    return [ln if ln.startswith("#") else (lead + ln).rstrip() for ln in text.splitlines()]


def host_script(host: str, hostname: Optional[str], results: list[Result], made_from: str) -> str:
    """The fix script for one host's failed (and, as comments, waived) results."""
    failed = sorted((r for r in results if r.outcome == "failed"), key=_order)
    waived = sorted((r for r in results if r.outcome == "waived"), key=_order)
    scripted = [r for r in failed if r.fix_script.strip()]
    manual = [r for r in failed if not r.fix_script.strip()]
    out = ["#!/bin/sh", f"{MARKER} for {host}, made from {made_from}",
           f"# {len(scripted)} fix(es) to run, {len(manual)} for a person (comments below), {len(waived)} waived.",
           "# Review before running: some fixes restart libvirt networks, and guests on them lose",
           "# their link until restarted. kvm-netcheck itself never runs this file.",
           "# Run it on the host as root, e.g.:  ssh root@HOST sh -s < " + file_name(host),
           "set -eu"]
    if hostname:
        want = shlex.quote(hostname)
        out += [f"if [ \"$(cat /proc/sys/kernel/hostname)\" != {want} ] && [ \"${{KVMNETCHECK_ANY_HOST:-}}\" != 1 ]; then",
                f"    echo \"this script fixes {hostname}, not $(cat /proc/sys/kernel/hostname)"
                " (KVMNETCHECK_ANY_HOST=1 to run it anyway)\" >&2",
                "    exit 2", "fi"]
    done: dict[str, list[str]] = {}  # script text -> the findings it was emitted for
    step = 0
    for r in scripted:
        label = f"[{r.severity}] {r.check} {r.object}"
        script = r.fix_script.strip("\n")
        if script in done:
            done[script].append(label)
            out += ["", f"# {label}: fixed by the same commands as {done[script][0]} above"]
            continue
        done[script] = [label]
        step += 1
        out += ["", f"# --- {step}. {label}"] + _comment(r.message, "# ")
        out.append(f"echo {shlex.quote(f'kvm-netcheck fix {step}: {r.check} {r.object}')}")
        out += script.splitlines()
    if manual:
        out += ["", "# --- Not scripted: these fixes need a person (edit, restart or upgrade by hand)"]
        for r in manual:
            out += ["", f"# [{r.severity}] {r.check} {r.object}"] + _comment(r.message, "# ") + _comment(r.remediation)
    if waived:
        out += ["", "# --- Waived findings: not fixed here"]
        for r in waived:
            w = r.waiver or {}
            out.append(f"# [{r.severity}] {r.check} {r.object}: waived until {w.get('expires', '?')} "
                       f"({w.get('where', '?')}): {w.get('reason', '')}")
    out += ["", "echo 'kvm-netcheck fixes done: run the suite again to confirm'", ""]
    return "\n".join(out)


def write_fix_scripts(directory: str, results: list[Result], hosts: list[HostFacts],
                      made_from: str) -> dict[str, str]:
    """Write HOST.sh for each host with a failure; drop scripts of an earlier run that no longer apply."""
    by_host: dict[str, list[Result]] = {}
    for r in results:
        # reaching a host is fixed from the control node, not on the host
        if r.host and r.outcome in ("failed", "waived") and r.check != UNREACHABLE_CHECK:
            by_host.setdefault(r.host, []).append(r)
    names = {h.host: h.hostname for h in hosts if h.reachable}
    os.makedirs(directory, exist_ok=True)
    written = {}
    for host in sorted(by_host):
        if not any(r.outcome == "failed" for r in by_host[host]):
            continue
        path = os.path.join(directory, file_name(host))
        with open(path, "w") as f:
            f.write(host_script(host, names.get(host), by_host[host], made_from))
        written[host] = path
    keep = {os.path.basename(p) for p in written.values()}
    for name in os.listdir(directory):
        p = os.path.join(directory, name)
        if name.endswith(".sh") and name not in keep and _is_ours(p):
            os.remove(p)
    return written


def _is_ours(path: str) -> bool:
    try:
        with open(path) as f:
            f.readline()
            return f.readline().startswith(MARKER)
    except OSError:
        return False
