"""iptables: version, the CHECKSUM extension, and the rules from iptables-save.

iptables v1.8.9 (nf_tables)
iptables v1.4.7

*mangle
:LIBVIRT_PRT - [0:0]
-A POSTROUTING -j LIBVIRT_PRT
-A LIBVIRT_PRT -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
COMMIT
"""

from __future__ import annotations

import dataclasses
import functools
import re
import shlex
from typing import Optional

from ..model import Iptables, IptablesRule
from .gathered import Gathered

_VERSION = re.compile(r"iptables v(\d{1,6}(?:\.\d{1,6}){0,5})(?!\d)(?:\s+\((\w+)\))?")


def parse_version(text: str) -> tuple[Optional[tuple[int, ...]], Optional[str], Optional[str]]:
    m = _VERSION.search(text or "")
    if not m:
        return None, None, None
    version = tuple(int(p) for p in m.group(1).split("."))
    return version, m.group(0), m.group(2)


def parse_checksum_help(text: str) -> Optional[bool]:
    """True when `iptables -j CHECKSUM -h` shows the target's options.

    The collector keeps only the lines naming CHECKSUM: the options header when
    the extension loads, "Couldn't load target `CHECKSUM'" when it does not, and
    nothing at all from releases that never had it; and any line saying the
    command was refused (not root), which makes the answer unknown.
    """
    text = text or ""
    if "CHECKSUM target options" in text:
        return True
    lowered = text.lower()
    if "denied" in lowered or "must be root" in lowered or "not permitted" in lowered:
        return None  # the help could not be printed: unknown, never a pass or a fail
    if text.strip() == "" or "load target" in text or "CHECKSUM" in text:
        return False
    return None


def parse_save(text: str) -> tuple[IptablesRule, ...]:
    return parse_save_with_policies(text)[0]


def parse_save_with_policies(text: str) -> tuple[tuple[IptablesRule, ...], tuple[tuple[str, str, str], ...]]:
    """The rules, and each built-in chain's policy as (table, chain, policy) (`:FORWARD DROP [0:0]`)."""
    rules, policies = [], []
    table = None
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:].strip() or None
        elif line.startswith("-A ") and table:
            rule = _parse_rule(table, line)
            if rule is not None:
                rules.append(rule)
        elif line.startswith(":") and table:
            words = line[1:].split()
            if len(words) >= 2 and words[1] != "-":
                policies.append((table, words[0], words[1]))
    return tuple(rules), tuple(policies)


@functools.lru_cache(maxsize=8192)
def rule_words(line: str) -> tuple[str, ...]:
    """A rule's words as the shell would split iptables-save's quoting (plain words if it cannot).

    Split once per distinct line: the hosts of a fleet share most of their rules (libvirt writes
    the same ones for the same networks), and each bridge's verdict walks them all again."""
    try:
        return tuple(shlex.split(line))
    except ValueError:
        return tuple(line.split())


@functools.lru_cache(maxsize=8192)
def _parse_rule(table: str, line: str) -> Optional[IptablesRule]:
    # one immutable rule for a line, shared by every host that has it
    words = rule_words(line)
    if len(words) < 2:
        return None
    chain = words[1]
    opts = {"-i": None, "-o": None, "-j": None}
    negated = False
    for i, w in enumerate(words):
        if w == "!":
            negated = True
            continue
        if w in opts and i + 1 < len(words):
            opts[w] = None if (negated and w in ("-i", "-o")) else words[i + 1]
        negated = False
    return IptablesRule(table, chain, line, opts["-i"], opts["-o"], opts["-j"])


def build_iptables(
    installed: bool,
    version_text: Optional[str],
    help_text: Optional[str],
    save_text: Optional[str],
    save_rc: Optional[int],
    legacy_text: Optional[str] = None,
) -> Iptables:
    if not installed:
        return Iptables(installed=False)
    version, vtext, variant = parse_version(version_text or "")
    rules_error = None
    rules: tuple[IptablesRule, ...] = ()
    policies: tuple[tuple[str, str, str], ...] = ()
    if save_text is None:
        rules_error = "iptables-save is not installed"
    elif save_rc not in (0, None) or "Permission denied" in save_text or "you must be root" in save_text.lower():
        rules_error = "iptables-save failed: " + (save_text.strip().splitlines() or ["no output"])[-1][:200]
    else:
        rules, policies = parse_save_with_policies(save_text)
    if legacy_text:
        legacy_rules, legacy_policies = parse_save_with_policies(legacy_text)
        rules += tuple(dataclasses.replace(r, legacy=True) for r in legacy_rules)
        policies += tuple((f"legacy:{t}", c, p) for t, c, p in legacy_policies)
    return Iptables(
        installed=True,
        version=version,
        version_text=vtext,
        variant=variant,
        checksum_extension=parse_checksum_help(help_text) if help_text is not None else None,
        rules=rules,
        rules_error=rules_error,
        policies=policies,
    )


def read_iptables(g: Gathered) -> Iptables:
    """The `iptables_version`, `iptables_checksum_help`, `iptables_save` and `iptables_legacy_save` sections."""
    legacy = g.one("iptables_legacy_save")
    return build_iptables(
        installed="iptables" in g.commands,
        version_text=g.text("iptables_version"),
        help_text=g.text("iptables_checksum_help"),
        save_text=g.text("iptables_save"),
        save_rc=g.rc("iptables_save"),
        legacy_text=legacy.text if legacy is not None and legacy.ok else None,
    )
