"""The command line of `kvm-netcheck`: every command and option, defined once with argparse. The
help, the man page and the shell completion (cli/manual.py) are all made from these parsers.

`run` (the default command) knows the options a user needs, from the suite, pytest and
pytest-testinfra; any other option is pytest's (or a plugin's) and is passed on as it was given,
as is everything after `--`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Optional

from ..catalog import SEVERITIES

PROG = "kvm-netcheck"


@dataclass(frozen=True)
class Opt:
    """One option of `run`: how argparse reads it and how it is handed to pytest (always `--opt=VALUE`,
    so no value is ever taken for a directory to test, nor a directory for a value)."""

    flags: tuple[str, ...]
    kind: str  # value | append | flag | count | optional
    help: str  # "(hidden) ...": read and handed on, but left out of --help and the man page
    metavar: Optional[str] = None
    choices: Optional[tuple[str, ...]] = None
    group: str = "reports"
    complete: str = ""  # file | dir | (empty): what the shell completes its value with

    @property
    def dest(self) -> str:
        return self.flags[-1].lstrip("-").replace("-", "_")


GROUPS = {
    "hosts": "hosts (pytest-testinfra's options; no --hosts: this machine)",
    "select": "what to check (-k, -m, -x: pytest's)",
    "gate": "the gate (a policy file's keys; options win)",
    "reports": "reports (default: compliance.html, junit.xml, results.json, fix/ in ./reports)",
}

RUN_OPTIONS = (
    Opt(("--hosts",), "value", "hosts to check: ssh://[USER@]HOST,... or ansible://GROUP", "URLS", group="hosts"),
    Opt(("--ssh-config",), "value", "ssh client config file", "FILE", group="hosts", complete="file"),
    Opt(("--ssh-identity-file",), "value", "ssh identity file", "FILE", group="hosts", complete="file"),
    Opt(("--sudo",), "flag", "read the hosts with sudo", group="hosts"),
    Opt(("--ansible-inventory",), "value", "Ansible inventory file", "FILE", group="hosts", complete="file"),
    Opt(
        ("--facts",),
        "value",
        "check facts saved by --save-facts, reaching no host",
        "DIR",
        group="hosts",
        complete="dir",
    ),
    Opt(
        ("--save-facts",), "value", "(hidden) also keep what was gathered in DIR", "DIR", group="hosts", complete="dir"
    ),
    Opt(("--shard",), "value", "check slice K of N of the hosts (then `merge`)", "K/N", group="hosts"),
    Opt(("--check",), "append", "only these checks: ids or patterns (bridge-*)", "ID[,ID]", group="select"),
    Opt(("--skip-check",), "append", "all checks but these (ids or patterns)", "ID[,ID]", group="select"),
    Opt(("-k",), "value", "pytest: only tests whose id matches EXPR (check ids, hosts)", "EXPR", group="select"),
    Opt(("-m",), "value", 'pytest: only this run\'s severities ("critical or high")', "EXPR", group="select"),
    Opt(
        ("--list-checks",), "optional", "the same as `kvm-netcheck checks`", "FORMAT", ("text", "json"), group="select"
    ),
    Opt(
        ("--policy",),
        "value",
        "policy file (default ./kvmnetcheck.yaml, /etc/kvm-netcheck/policy.yaml)",
        "FILE",
        group="gate",
        complete="file",
    ),
    Opt(
        ("--fail-on",),
        "value",
        "lowest severity that fails the run (default low)",
        "SEVERITY",
        SEVERITIES,
        group="gate",
    ),
    Opt(
        ("--waivers",),
        "value",
        "waiver file (check, host, object, reason, expires)",
        "FILE",
        group="gate",
        complete="file",
    ),
    Opt(("--allow-unreachable",), "flag", "hosts that cannot be checked do not fail the run", group="gate"),
    Opt(
        ("--baseline",),
        "value",
        "a previous results.json: what is new, fixed, still failing",
        "FILE",
        group="gate",
        complete="file",
    ),
    Opt(("--output-dir",), "value", "where every report goes", "DIR", complete="dir"),
    Opt(("--results-json",), "value", "results.json elsewhere ('-': standard output)", "PATH", complete="file"),
    Opt(("--summary-md",), "value", "also a Markdown summary (a CI job summary)", "PATH", complete="file"),
    Opt(("--prom-textfile",), "value", "also Prometheus text format (node_exporter)", "PATH", complete="file"),
    Opt(("--dated-copies",), "flag", "also keep the reports in YYYY-MM-DD/ (nightly runs)"),
    Opt(("--docs-url",), "value", "link findings to the reference pages under URL", "URL"),
    Opt(("-q", "--quiet"), "count", "less output (-qq: less still)"),
    Opt(("-v", "--verbose"), "count", "a line per check and host"),
)

EPILOG = f"""\
commands: run (the default), checks [--format=json], show CHECK-ID, merge DIR..., schema,
  completion bash, man; `{PROG} COMMAND --help` says more of each.
Any other pytest or testinfra option passes on as given (--libvirt-uri=HOST=URI, --tb=short), and all
after `--`; `{PROG} run --help-pytest` lists them. Exit: 0 passed, 1 findings, 6 incomplete, 4 usage."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=30, width=110)


def run_parser(parser: Optional[argparse.ArgumentParser] = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(prog=PROG, allow_abbrev=False)
    p.formatter_class = _Formatter
    p.usage = f"{PROG} [run] [OPTIONS] [-- PYTEST-ARGS]"
    p.description = "Checks KVM/libvirt hosts for every condition that makes guests fail PXE boot or DHCP."
    p.epilog = EPILOG
    p.add_argument("--version", action="store_true", help="its version, and pytest's, testinfra's, libvirt's")
    p.add_argument("--help-pytest", action="store_true", help=argparse.SUPPRESS)
    groups = {name: p.add_argument_group(title) for name, title in GROUPS.items()}
    for o in RUN_OPTIONS:
        hidden = o.help.startswith("(hidden) ")
        kw: dict = {"help": argparse.SUPPRESS if hidden else o.help, "dest": o.dest}
        if o.kind in ("value", "append", "optional"):
            kw["metavar"] = o.metavar
        if o.choices:
            kw["choices"] = o.choices
        if o.kind == "flag":
            kw["action"] = "store_true"
        elif o.kind == "count":
            kw["action"] = "count"
            kw["default"] = 0
        elif o.kind == "append":
            kw["action"] = "append"
        elif o.kind == "optional":
            kw["nargs"] = "?"
            kw["const"] = "text"
        groups[o.group].add_argument(*o.flags, **kw)
    return p


def to_pytest(ns: argparse.Namespace) -> list[str]:
    """The run options given, as pytest reads them: `--opt=VALUE` (short ones `-k VALUE`)."""
    out: list[str] = []
    for o in RUN_OPTIONS:
        v = getattr(ns, o.dest, None)
        flag = o.flags[-1] if o.flags[-1].startswith("--") else o.flags[0]
        if v in (None, False, 0, []):
            continue
        if o.kind == "flag":
            out.append(flag)
        elif o.kind == "count":
            out += [flag] * v
        elif o.kind == "append":
            out += [f"{flag}={x}" for x in v]
        elif flag.startswith("--"):
            out.append(f"{flag}={v}")
        else:
            out += [flag, v]
    return out


def command_parser() -> argparse.ArgumentParser:
    """`kvm-netcheck COMMAND ...`: every command, with `run` the one used when none is named."""
    top = argparse.ArgumentParser(prog=PROG, allow_abbrev=False, formatter_class=_Formatter, description=EPILOG)
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    run_parser(sub.add_parser("run", help="check hosts (the default command)", allow_abbrev=False))
    checks = sub.add_parser("checks", help="list the checks", allow_abbrev=False)
    checks.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    show = sub.add_parser("show", help="a check's reference page", allow_abbrev=False)
    show.add_argument("check_id", metavar="CHECK-ID", help="a check id (`kvm-netcheck checks` lists them)")
    merge = sub.add_parser(
        "merge",
        help="join the reports of --shard runs into one run's reports",
        allow_abbrev=False,
        formatter_class=_Formatter,
        usage=f"{PROG} merge DIR... [--output-dir=DIR] [OPTIONS]",
        description="Join the output directories of `kvm-netcheck --shard=K/N` runs (every slice of one "
        "split, under one policy) into the reports one run over all hosts would have written. Options of a "
        "run (--output-dir, --results-json, --summary-md, --prom-textfile, --baseline...) apply.",
    )
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="the output directory of each --shard run")
    merge.add_argument("--output-dir", metavar="DIR", help="where the joined reports go (default ./reports)")
    sub.add_parser("schema", help="print results.json's JSON schema", allow_abbrev=False)
    comp = sub.add_parser("completion", help="print a shell completion script", allow_abbrev=False)
    comp.add_argument("shell", choices=("bash",), help="bash: source it, or put it in bash-completion's directory")
    sub.add_parser("man", help="print the manual page (roff): kvm-netcheck man | man -l -", allow_abbrev=False)
    return top


COMMANDS = ("run", "checks", "show", "merge", "schema", "completion", "man")
