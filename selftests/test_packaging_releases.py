"""The control node on other Pythons: on bullseye's Python 3.9 and trixie's 3.13, each in its own
release's root, the wheel installs into a fresh venv with its dependencies from the registry
(libvirt-python built from its source against that release's libvirt), and the installed command
answers `--version` and `checks`, and judges a lab host's saved facts as the clone does.

pyproject declares exactly these Pythons (and the machine's own, which test_packaging.py runs on)."""

from __future__ import annotations

import json
import os
import re
import sys

import pytest
from support import REPO, run_suite

from lab import releases

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
PYTHONS = {"bullseye": "3.9", "trixie": "3.13"}


def test_pyproject_declares_the_tested_pythons():
    text = open(os.path.join(REPO, "pyproject.toml")).read()
    tested = sorted({*PYTHONS.values(), "%d.%d" % sys.version_info[:2]}, key=lambda v: tuple(map(int, v.split("."))))
    declared = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', text)
    assert declared == tested, declared
    lo, hi = tested[0], tested[-1].split(".")
    assert 'requires-python = ">=%s,<3.%d"' % (lo, int(hi[1]) + 1) in text


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    """A lab host's facts, saved by the clone, and the clone's results on them."""
    from lab import Lab

    saved = tmp_path_factory.mktemp("facts")
    with Lab(str(tmp_path_factory.mktemp("pkrlab"))) as lab:
        lab.add_host("pkr1", libvirt=True).sh(
            LIB
            + """
net_define lan "name='virbr7' stp='on' delay='15'"
guest_define g1 "<interface type='network'><mac address='52:54:00:00:11:01'/><source network='lan'/><model type='virtio'/></interface>"
""",
            timeout=240,
        )
        run = run_suite(
            str(tmp_path_factory.mktemp("save")),
            "--hosts=ssh://pkr1",
            f"--ssh-config={lab.ssh_config}",
            f"--save-facts={saved}",
        )
    assert run.returncode == 1 and run.results["results"], run.stdout[-3000:]
    clone = run_suite(str(tmp_path_factory.mktemp("clone")), f"--facts={saved}")
    assert clone.returncode == 1, clone.stdout[-3000:]
    return saved, clone.results


def outcomes(doc):
    return sorted((r["check"], r["host"], r["object"], r["outcome"], r["test"]) for r in doc["results"])


@pytest.mark.parametrize("release", sorted(PYTHONS))
def test_wheel_installs_and_runs_on_the_releases_python(release, wheel, facts, tmp_path):
    from kvmnetcheck import __version__
    from kvmnetcheck.catalog import CHECKS

    root = releases.ensure_root(release, packages=releases.CONTROL_NODE)
    saved, clone = facts
    out = tmp_path / "out"
    out.mkdir()
    script = """set -e
cd /tmp
python3 -m venv /venv
/venv/bin/pip install -q --disable-pip-version-check /w/{whl}
/venv/bin/python -c 'import sys; print("python", sys.version.split()[0])'
/venv/bin/kvm-netcheck --version
/venv/bin/kvm-netcheck checks --format=json > /out/checks.json
set +e
/venv/bin/kvm-netcheck --facts=/facts --output-dir=/out/run > /out/run.log 2>&1
echo "exit $?"
""".format(whl=wheel.name)
    p = releases.overlay_run(
        root,
        str(tmp_path / "overlay"),
        script,
        binds=((str(wheel.parent), "/w"), (str(saved), "/facts"), (str(out), "/out")),
        timeout=1500,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    assert "python %s." % PYTHONS[release] in p.stdout, p.stdout
    version = re.search(r"^kvm-netcheck %s \(pytest .*$" % re.escape(__version__), p.stdout, re.M)
    assert version and "pytest-testinfra " in version.group(0) and "libvirt-python " in version.group(0), p.stdout
    assert [c["id"] for c in json.loads((out / "checks.json").read_text())] == list(CHECKS)
    assert p.stdout.rstrip().endswith("exit 1"), (out / "run.log").read_text()[-3000:]
    installed = json.loads((out / "run" / "results.json").read_text())
    assert outcomes(installed) == outcomes(clone)
    assert len(installed["results"]) > 10
