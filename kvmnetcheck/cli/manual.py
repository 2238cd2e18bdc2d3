"""The manual page and the bash completion of `kvm-netcheck`, made from its argparse parsers
(cli/options.py), so they name exactly the commands and options the command reads.

    kvm-netcheck man | man -l -
    kvm-netcheck completion bash > /etc/bash_completion.d/kvm-netcheck

argparse has no public way to walk a parser; like argparse-manpage and shtab, this reads its
actions (`_actions`, and the sub-parsers' `choices`).
"""

from __future__ import annotations

import argparse

from .options import EPILOG, PROG, command_parser, run_parser


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.help != argparse.SUPPRESS]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return dict(a.choices)
    return {}


def options_of(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string the parser reads (help included)."""
    return [s for a in _actions(parser) for s in a.option_strings]


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line if line.startswith((".", "'")) else line) for line in text.splitlines())


def _option_items(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for a in _actions(parser):
        if a.option_strings:
            head = ", ".join(f"\\fB{_roff(s)}\\fR" for s in a.option_strings)
            if a.nargs != 0:
                meta = a.metavar or (a.choices and "|".join(a.choices)) or a.dest.upper()
                head += f"[=\\fI{_roff(str(meta))}\\fR]" if a.nargs == "?" else f"=\\fI{_roff(str(meta))}\\fR"
        else:
            head = f"\\fI{_roff(str(a.metavar or a.dest))}\\fR"
        out += [".TP", head, _roff(a.help or "")]
    return out


def man_page() -> str:
    """The manual page, section 1, in roff."""
    top, run = command_parser(), run_parser()
    from kvmnetcheck import __version__

    out = [
        f'.TH KVM\\-NETCHECK 1 "" "{PROG} {__version__}" "User Commands"',
        ".SH NAME",
        f"{_roff(PROG)} \\- {_roff(run.description)}",
        ".SH SYNOPSIS",
    ]
    for name, sub in _subparsers(top).items():
        usage = sub.format_usage().replace("usage: ", "").strip() if name != "run" else run.usage
        out += [".br", f"\\fB{_roff(usage)}\\fR"]
    out += [".SH DESCRIPTION", _roff(run.description), ".PP", ".nf", _roff(EPILOG), ".fi", ".SH OPTIONS"]
    for group in run._action_groups:
        items = [a for a in group._group_actions if a.help != argparse.SUPPRESS]
        if not items:
            continue
        out += [".SS " + _roff(group.title or "")]
        holder = argparse.ArgumentParser(add_help=False)
        holder._actions = items
        out += _option_items(holder)
    out += [".SH COMMANDS"]
    for name, sub in _subparsers(top).items():
        if name == "run":
            continue
        out += [".SS " + _roff(name), _roff(sub.description or _help_of(top, name))]
        out += _option_items(sub)
    out += [
        ".SH FILES",
        ".TP",
        "\\fI./kvmnetcheck.yaml\\fR, \\fI/etc/kvm\\-netcheck/policy.yaml\\fR",
        "the policy file a run uses when \\fB\\-\\-policy\\fR names none (the first found)",
        ".SH SEE ALSO",
        "\\fBpytest\\fR(1), \\fBvirsh\\fR(1); \\fBkvm\\-netcheck show CHECK\\-ID\\fR for each check's page",
    ]
    return "\n".join(out) + "\n"


def _help_of(top: argparse.ArgumentParser, name: str) -> str:
    for a in top._actions:
        if isinstance(a, argparse._SubParsersAction):
            for choice in a._choices_actions:
                if choice.dest == name:
                    return choice.help or ""
    return ""


def bash_completion() -> str:
    """A bash completion script: commands, each command's options, their choices, check ids for `show`."""
    from kvmnetcheck.catalog import CHECKS

    top, run = command_parser(), run_parser()
    subs = _subparsers(top)
    cases = []
    for name, sub in subs.items():
        parser = run if name == "run" else sub
        opts = " ".join(options_of(parser))
        words = {"show": " ".join(CHECKS), "completion": "bash"}.get(name, "")
        cases.append(f'        {name}) opts="{opts}"; words="{words}" ;;')
    values = []
    for a in _actions(run):
        if a.choices:
            values.append(
                f'        {"|".join(a.option_strings)}) COMPREPLY=($(compgen -W "{" ".join(a.choices)}" -- "$cur")); return ;;'
            )
        elif a.metavar in ("FILE", "PATH"):
            values.append(f'        {"|".join(a.option_strings)}) COMPREPLY=($(compgen -f -- "$cur")); return ;;')
        elif a.metavar == "DIR":
            values.append(f'        {"|".join(a.option_strings)}) COMPREPLY=($(compgen -d -- "$cur")); return ;;')
        elif {"--check", "--skip-check"} & set(a.option_strings):
            values.append(
                f'        {"|".join(a.option_strings)}) COMPREPLY=($(compgen -W "{" ".join(CHECKS)}" -- "$cur")); return ;;'
            )
    return f"""\
# bash completion for {PROG}, made from its parsers by `{PROG} completion bash`
_kvm_netcheck() {{
    local cur prev cmd opts words i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    # --opt=VALUE: bash splits at '=' (COMP_WORDBREAKS), so the option is one word further back
    if [[ "$prev" == "=" && $COMP_CWORD -ge 2 ]]; then
        prev="${{COMP_WORDS[COMP_CWORD-2]}}"
    elif [[ "$cur" == "=" ]]; then
        prev="${{COMP_WORDS[COMP_CWORD-1]}}"; cur=""
    fi
    case "$prev" in
{chr(10).join(values)}
    esac
    cmd=run
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {"|".join(subs)}) cmd="${{COMP_WORDS[i]}}"; break ;;
        esac
    done
    case "$cmd" in
{chr(10).join(cases)}
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    elif [[ "$cmd" == run && $COMP_CWORD -eq 1 ]]; then
        COMPREPLY=($(compgen -W "{" ".join(subs)} $opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    fi
}}
complete -o default -F _kvm_netcheck {PROG}
"""
