"""`kvm-netcheck`: the suite as one command, with its reports.

    kvm-netcheck --hosts=ssh://kvm01,ssh://kvm02 --output-dir=DIR
    kvm-netcheck checks                       # the checks; `show CHECK-ID` for one's reference page
    kvm-netcheck --check='bridge-*' --hosts=...
    kvm-netcheck --shard=1/4 --hosts=... --output-dir=out/1     # one slice of a fleet
    kvm-netcheck merge out/1 out/2 out/3 out/4 --output-dir=out  # their one report

The commands and options are argparse parsers (cli/options.py). `run` hands pytest the options it
knows as `--opt=VALUE`, then every other argument as it was given: pytest's and testinfra's options
pass through. pytest runs on the installed checks (or a clone's tests_host/ and tests_guest/) with
the suite's own ini, wherever it is started from; the checks' directories come first, so no option
of the user's can take one for its value.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Optional

from .options import COMMANDS, PROG, command_parser, run_parser, to_pytest

PACKAGE = Path(__file__).resolve().parent.parent
SUITE = PACKAGE / "suite"
SCHEMA = PACKAGE / "report" / "results.schema.json"


def suite_dirs() -> list[Path]:
    """The check directories: mapped into the package when installed, at the top of a clone otherwise."""
    installed = [SUITE / "tests_host", SUITE / "tests_guest"]
    if all(d.is_dir() for d in installed):
        return installed
    clone = [PACKAGE.parent / "tests_host", PACKAGE.parent / "tests_guest"]
    if all(d.is_dir() for d in clone):
        return clone
    raise SystemExit(
        f"{PROG}: the checks are missing from this installation (no tests_host/ and "
        f"tests_guest/ under {SUITE} or {PACKAGE.parent})"
    )


def _pytest_base(rootdir: str) -> list[str]:
    # (this module imported kvmnetcheck before pytest could rewrite its asserts; the checks use none)
    return ["-c", str(SUITE / "pytest.ini"), f"--rootdir={rootdir}", "-W", "ignore::pytest.PytestAssertRewriteWarning"]


def pytest_args(argv: list[str]) -> list[str]:
    """pytest's arguments for `run ARGV`: the suite's ini and directories first, then the options."""
    dirs = suite_dirs()
    root = os.path.commonpath([str(d) for d in dirs])
    return [*_pytest_base(root), *map(str, dirs), *_run_options(argv)]


def _split(argv: list[str]) -> tuple[list[str], list[str]]:
    """ARGV before `--`, and after it (pytest's, verbatim)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def _run_options(argv: list[str]) -> list[str]:
    mine, verbatim = _split(argv)
    ns, passed_on = run_parser().parse_known_args(mine)
    return [*to_pytest(ns), *passed_on, *verbatim]


def merge_args(argv: list[str]) -> list[str]:
    """`merge DIR... [options]`: the shards' directories, and any option of a run (--output-dir...)."""
    mine, verbatim = _split(argv)
    parser = command_parser()
    ns, rest = parser.parse_known_args(["merge", *mine])
    extra = [f"--output-dir={ns.output_dir}"] if ns.output_dir else []
    return [
        *_pytest_base(str(SUITE)),
        f"--merge={','.join(ns.dirs)}",
        *extra,
        *_run_options([*rest, "--", *verbatim]),
    ]


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from kvmnetcheck import __version__

    parts = []
    for dist in ("pytest", "pytest-testinfra", "libvirt-python"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} (not installed)")
    return f"{PROG} {__version__} ({', '.join(parts)}; Python {sys.version.split()[0]})"


def _checks(fmt: str) -> int:
    from kvmnetcheck.catalog.docs import list_checks

    sys.stdout.write(list_checks(fmt))
    return 0


def _show(check_id: str) -> int:
    from kvmnetcheck.catalog import CHECKS
    from kvmnetcheck.catalog.docs import check_page, doc_file, no_such_check

    if check_id not in CHECKS:
        print(f"{PROG} show: {no_such_check(check_id)}", file=sys.stderr)
        return 2
    page = doc_file(check_id)  # the installed page (kvmnetcheck.checkdocs); the catalog makes the same
    sys.stdout.write(Path(page).read_text(encoding="utf-8") if page else check_page(CHECKS[check_id]))
    return 0


def _run(pytest_argv: list[str], results_to_stdout: bool) -> int:
    import pytest

    if not results_to_stdout:
        return int(pytest.main(pytest_argv))
    # --results-json=-: standard output carries results.json alone, the run's lines go to stderr
    with contextlib.redirect_stdout(sys.stderr):
        return int(pytest.main(pytest_argv))


def _wants_stdout(pytest_argv: list[str]) -> bool:
    return "--results-json=-" in pytest_argv


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    head = _split(argv)[0]
    if not head or head[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["run", *argv]
    elif head[0] in ("-h", "--help"):
        run_parser().print_help()
        return 0
    command = argv[0]
    if command == "run":
        mine = _split(argv[1:])[0]
        ns, _ = run_parser().parse_known_args(mine)
        if ns.version:
            print(versions())
            return 0
        if ns.help_pytest:
            import pytest

            return int(pytest.main([*_pytest_base(str(SUITE)), "--help"]))
        if ns.list_checks:
            return _checks(ns.list_checks)
        args = pytest_args(argv[1:])
        return _run(args, _wants_stdout(args))
    if command == "merge":
        args = merge_args(argv[1:])
        return _run(args, _wants_stdout(args))
    ns = command_parser().parse_args(argv)
    if command == "checks":
        return _checks(ns.format)
    if command == "show":
        return _show(ns.check_id)
    if command == "schema":
        sys.stdout.write(SCHEMA.read_text(encoding="utf-8"))
        return 0
    from . import manual

    if command == "completion":
        sys.stdout.write(manual.bash_completion())
        return 0
    sys.stdout.write(manual.man_page())
    return 0
