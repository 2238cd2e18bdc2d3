"""Fix scripts run for real, against stub commands that only log their arguments.

`run_script(text)` runs a fix script with `sh` (dash on Debian, as `ssh HOST sh -s` would) in an
empty directory whose PATH holds only stubs: each tool a fix step may call writes its argv as one
JSON line and succeeds (`mktemp` also prints a file name, `cat` of the kernel host name prints the
host the script is for). A command that is not a stub is "not found", and stops the script.

`expected_commands(steps)` reads, from the steps the suite meant to run, the commands a shell
would run with these stubs (the first command of each `||`, every command of a `&&` chain and a
pipe, `"$f"` as mktemp's name), so a test can hold what ran to exactly what was meant.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tempfile
from dataclasses import dataclass

from kvmnetcheck.catalog import CHECKS
from kvmnetcheck.report.fixscripts import logical_lines

MKTEMP = "stub-mktemp.xml"  # in the run's own empty working directory
# every tool a fix step declares, and the shell utilities the steps use around them
TOOLS = sorted(
    {t for c in CHECKS.values() for f in c.fixes.values() for s in f.steps for t in s.needs}
    | {"mktemp", "rm", "cat", "grep", "sed", "mv"}
)

# a stub: one record per call, its argv separated by \036 and ended by \035 and a line break
_STUB = """#!/bin/sh
rec=$(printf '%s\\036' "${0##*/}" "$@")  # one write per call: a pipe's commands log side by side
printf '%s\\035\\n' "$rec" >> "$STUB_LOG"
case "${0##*/}" in
    mktemp) printf '%s\\n' "$PWD/stub-mktemp.xml" ;;
    cat) [ "$*" = /proc/sys/kernel/hostname ] && printf '%s\\n' "$STUB_HOSTNAME" ;;
esac
exit 0
"""


@dataclass
class StubRun:
    returncode: int
    stdout: str
    stderr: str
    commands: list[list[str]]  # argv of each stub call, in order
    created: list[str]  # files that appeared in the working directory (a canary, were any)

    def ran(self) -> list[list[str]]:
        """The commands of the fixes: the host-name guard's `cat` left out."""
        return [c for c in self.commands if c != ["cat", "/proc/sys/kernel/hostname"]]


def run_script(script: str, hostname: str = "", timeout: float = 60) -> StubRun:
    with tempfile.TemporaryDirectory(prefix="knc-stub-") as top:
        bindir, work = os.path.join(top, "bin"), os.path.join(top, "work")
        os.mkdir(bindir)
        os.mkdir(work)
        for tool in TOOLS:
            path = os.path.join(bindir, tool)
            with open(path, "w") as f:
                f.write(_STUB)
            os.chmod(path, stat.S_IRWXU)
        log = os.path.join(top, "argv.jsonl")
        open(log, "w").close()
        env = {"PATH": bindir, "STUB_LOG": log, "STUB_HOSTNAME": hostname, "LC_ALL": "C.UTF-8"}
        p = subprocess.run(
            ["/bin/sh", "-s"],
            input=script.encode("utf-8", "surrogateescape"),
            cwd=work,
            env=env,
            capture_output=True,
            timeout=timeout,
        )
        with open(log, encoding="utf-8", errors="surrogateescape") as f:
            records = f.read().split("\035\n")
        commands = [rec.split("\036")[:-1] for rec in records if rec]
        commands = [[MKTEMP if a == os.path.join(work, MKTEMP) else a for a in c] for c in commands]
        return StubRun(
            p.returncode,
            p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"),
            commands,
            sorted(set(os.listdir(work)) - {MKTEMP}),
        )


_OPERATORS = ("&&", "||", ">>", "|", ";", ">", "<")


def _words(line: str) -> list[tuple[str, bool]]:
    """A shell line as (word, is_operator): quotes removed from words, operators only where unquoted,
    a comment dropped. Enough of sh for the fix steps' own lines."""
    out: list[tuple[str, bool]] = []
    word, quoted, i, n = "", False, 0, len(line)

    def end():
        nonlocal word, quoted
        if word or quoted:
            out.append((word, False))
        word, quoted = "", False

    while i < n:
        c = line[i]
        if c == "'":
            j = line.index("'", i + 1)
            word, quoted, i = word + line[i + 1 : j], True, j + 1
        elif c == '"':
            j = i + 1
            while line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            word, quoted, i = word + re.sub(r'\\([$`"\\])', r"\1", line[i + 1 : j]), True, j + 1
        elif c == "\\":
            word, i = word + line[i + 1], i + 2
        elif c in " \t":
            end()
            i += 1
        elif c == "#" and not word and not quoted:
            break
        elif any(line.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if line.startswith(op, i))
            if op in (">", ">>") and word == "2" and not quoted:  # 2>: a descriptor, not a word
                word = ""
            end()
            out.append((op, True))
            i += len(op)
        else:
            word, i = word + c, i + 1
    end()
    return out


_KEYWORDS = ("if", "then", "else", "fi", "!")


def expected_commands(steps: list[str]) -> list[list[str]]:
    """The argv a shell runs for these steps when every command succeeds (what follows `||` never
    runs then; a redirection's target is no argument; `f=$(mktemp)` runs mktemp, and a line
    `f=$(mktemp ARGS)` mktemp with its ARGS;
    "$f" is its file; `if`, `then`, `else`, `fi` are no commands, and `else` is never taken)."""
    out: list[list[str]] = []
    for step in steps:
        in_else = False  # every command succeeds, so an `if` takes its `then` branch
        for line in logical_lines(step):
            cmd: list[str] = []
            skip = redirect = False
            m = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\$\((mktemp(?: .*)?)\)", line.strip())
            if m:  # a line of its own: f=$(mktemp ARGS)
                out.append([w for w, _ in _words(m.group(1))])
                continue
            for word, op in _words(line) + [(";", True)]:
                if op and word in (">", ">>", "<"):
                    redirect = True
                elif op:
                    if cmd and not skip and not in_else:
                        out.append(cmd)
                    skip, cmd = word == "||", []
                elif redirect:
                    redirect = False
                elif not cmd and word in _KEYWORDS:
                    in_else = word == "else" or (in_else and word != "fi")
                elif not cmd and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):
                    if word.endswith("=$(mktemp)") and not skip:
                        out.append(["mktemp"])
                else:
                    cmd.append(MKTEMP if word == "$f" else word)
    return [c for c in out if c[0] not in ("echo", "printf")]


def assert_fix_scripts_run_only_their_steps(results: dict) -> int:
    """Run every fix script a run wrote (results.json's `fix_scripts`) under the stubs, as on the host
    it was made for: it finishes, creates nothing, calls no command that is not a stub, and runs only
    commands of the fix steps of that host's failed results, each no more often than they hold it.
    Returns how many commands ran in all."""
    from collections import Counter

    from kvmnetcheck.report.fixscripts import stays_on_its_lines

    names = {h["host"]: h.get("hostname") or "" for h in results.get("hosts", [])}
    total = 0
    for host, path in results.get("fix_scripts", {}).items():
        with open(path, encoding="utf-8") as f:
            script = f.read()
        run = run_script(script, hostname=names.get(host, ""))
        assert run.returncode == 0 and "not found" not in run.stderr and run.created == [], (host, run)
        steps: list[str] = []
        for r in results["results"]:
            if r["host"] == host and r["outcome"] == "failed":
                steps += [s[1].strip() for s in r.get("fix_steps", []) if stays_on_its_lines(s[1])]
        meant = Counter(tuple(c) for c in expected_commands(list(dict.fromkeys(steps))))
        ran = Counter(tuple(c) for c in run.ran())
        assert not ran - meant, (host, "ran but not meant:", ran - meant)
        assert ("# --- 1. " in script) == bool(ran), (host, script)
        total += sum(ran.values())
    return total
