"""`kvm-netcheck`: the suite as one command, with its reports.

    kvm-netcheck --hosts=ssh://kvm01,ssh://kvm02 --output-dir=DIR
    kvm-netcheck --list-checks
    kvm-netcheck --check=bridge-forward-delay --hosts=...

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
    raise SystemExit("kvm-netcheck: the checks are missing from this installation (no tests_host/ and "
                     f"tests_guest/ under {SUITE} or {PACKAGE.parent})")


def pytest_args(argv: list[str]) -> list[str]:
    dirs = suite_dirs()
    root = os.path.commonpath([str(d) for d in dirs])
    # (this module imported kvmnetcheck before pytest could rewrite its asserts; the checks use none)
    return ["-c", str(SUITE / "pytest.ini"), f"--rootdir={root}", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            *argv, *map(str, dirs)]


def main(argv: Optional[list[str]] = None) -> int:
    import pytest

    argv = list(sys.argv[1:] if argv is None else argv)
    return int(pytest.main(pytest_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
