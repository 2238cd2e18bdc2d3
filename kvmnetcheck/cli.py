"""`kvm-netcheck`: the suite as one command, with its reports.

    kvm-netcheck --hosts=ssh://kvm01,ssh://kvm02 --output-dir=DIR
    kvm-netcheck --list-checks
    kvm-netcheck --check=bridge-forward-delay --hosts=...
    kvm-netcheck --shard=1/4 --hosts=... --output-dir=out/1     # one slice of a fleet
    kvm-netcheck merge out/1 out/2 out/3 out/4 --output-dir=out  # their one report

Every pytest and pytest-testinfra option passes through. It runs pytest on the installed checks
(or a clone's tests_host/ and tests_guest/) with the suite's own ini, wherever it is started from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

PACKAGE = Path(__file__).resolve().parent
SUITE = PACKAGE / "suite"


def suite_dirs() -> list[Path]:
    """The check directories: mapped into the package when installed, at the top of a clone otherwise."""
    installed = [SUITE / "tests_host", SUITE / "tests_guest"]
    if all(d.is_dir() for d in installed):
        return installed
    clone = [PACKAGE.parent / "tests_host", PACKAGE.parent / "tests_guest"]
    if all(d.is_dir() for d in clone):
        return clone
    raise SystemExit(
        "kvm-netcheck: the checks are missing from this installation (no tests_host/ and "
        f"tests_guest/ under {SUITE} or {PACKAGE.parent})"
    )


def pytest_args(argv: list[str]) -> list[str]:
    dirs = suite_dirs()
    root = os.path.commonpath([str(d) for d in dirs])
    # (this module imported kvmnetcheck before pytest could rewrite its asserts; the checks use none)
    return [
        "-c",
        str(SUITE / "pytest.ini"),
        f"--rootdir={root}",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        *argv,
        *map(str, dirs),
    ]


# options of a run that take a value, as `--opt VALUE` or `--opt=VALUE`
VALUE_OPTIONS = {
    "--output-dir",
    "--policy",
    "--waivers",
    "--fail-on",
    "--baseline",
    "--fix-scripts",
    "--summary-md",
    "--prom-textfile",
    "--results-json",
    "--html",
    "--max-port-block",
    "-c",
    "-p",
    "-W",
    "-o",
}


def merge_args(argv: list[str]) -> list[str]:
    """`merge DIR... [options]`: the shards' directories, and any option of a run (--output-dir...)."""
    dirs, opts, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            opts.append(a)
            if a in VALUE_OPTIONS and i + 1 < len(argv):
                opts.append(argv[i + 1])
                i += 1
        else:
            dirs.append(a)
        i += 1
    if not dirs:
        raise SystemExit("kvm-netcheck merge: name the output directories of the --shard runs")
    return [
        "-c",
        str(SUITE / "pytest.ini"),
        f"--rootdir={SUITE}",
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        f"--merge={','.join(dirs)}",
        *opts,
    ]


def main(argv: Optional[list[str]] = None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return int(pytest.main(merge_args(argv[1:])))
    return int(pytest.main(pytest_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
