"""The project's own tests: make the repository and selftests/support.py importable, and keep each
module's tests on one pytest-xdist worker (`make test` runs them with -n 2 --dist loadgroup)."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    """The project's wheel, built once for the packaging tests (selftests/test_packaging*.py)."""
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), os.path.dirname(HERE)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    (path,) = out.glob("kvm_netcheck-*.whl")
    return path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Under --dist loadgroup a group runs on one worker, so what a module's tests share (a lab of hosts,
    one suite run over all scenarios) is made once: a module is a group. Modules that share more are one
    group: those on the gate lab (selftests/gate_lab.py), those on the wheel (built in the source tree).
    A module whose tests each build their own hosts spreads them (XDIST_SPREAD = True); one with a
    module fixture per parameter names it (XDIST_GROUP_BY = "applied") and is a group per value."""
    for item in items:
        module = item.module
        if getattr(module, "XDIST_SPREAD", False) or item.get_closest_marker("xdist_group"):
            continue
        if hasattr(module, "shared_gate_lab"):
            group = "gate_lab"
        elif "wheel" in item.fixturenames:
            group = "wheel"
        else:
            group = item.nodeid.split("::", 1)[0]
        by = getattr(module, "XDIST_GROUP_BY", None)
        callspec = getattr(item, "callspec", None)
        if by and callspec is not None and by in callspec.params:
            group += "::" + str(callspec.params[by])
        item.add_marker(pytest.mark.xdist_group(group))
