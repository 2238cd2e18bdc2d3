"""The suite as a team installs it: the wheel carries the checks, their fixtures, reference pages and
schema inside the package (no top-level `tests_*` or `fixtures` package), and `kvm-netcheck` from a
fresh venv outside the repository checks a lab host over SSH with the same results as a clone."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import zipfile

import pytest
from support import REPO, run_suite

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
HOST = "pk1"


def test_installed_ini_is_the_clones():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    clone = tomllib.load(open(os.path.join(REPO, "pyproject.toml"), "rb"))["tool"]["pytest"]["ini_options"]
    ini = configparser.ConfigParser()
    ini.read(os.path.join(REPO, "kvmnetcheck", "suite", "pytest.ini"))
    installed = dict(ini["pytest"])
    clone = {k: str(v) for k, v in clone.items() if k != "testpaths"}  # the installed run names its paths itself
    assert installed == clone


def test_wheel_carries_the_checks_inside_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"kvmnetcheck", next(t for t in tops if t.endswith(".dist-info"))}, tops
    for want in (
        "kvmnetcheck/suite/pytest.ini",
        "kvmnetcheck/suite/tests_host/test_bridges.py",
        "kvmnetcheck/suite/tests_guest/test_guest_nics.py",
        "kvmnetcheck/suite/fixtures/objects.py",
        "kvmnetcheck/checkdocs/bridge-forward-delay.md",
        "kvmnetcheck/report/results.schema.json",
        "kvmnetcheck/collect/collector.sh",
        "kvmnetcheck/cli/__init__.py",
        "kvmnetcheck/cli/manual.py",
    ):
        assert want in names, want
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "kvm-netcheck = kvmnetcheck.cli:main" in entry_points
    assert "kvmnetcheck = kvmnetcheck.plugin" in entry_points


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    d = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(d)], check=True, timeout=300)
    p = subprocess.run([str(d / "bin" / "pip"), "install", "-q", wheel], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    return d


def test_installed_suite_checks_a_host_as_the_clone_does(venv, tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("pkglab"))) as lab:
        lab.add_host(HOST, libvirt=True).sh(
            LIB
            + """
net_define lan "name='virbr7' stp='on' delay='15'"
guest_define g1 "<interface type='network'><mac address='52:54:00:00:11:01'/><source network='lan'/><model type='virtio'/></interface>"
""",
            timeout=240,
        )
        cwd = tmp_path_factory.mktemp("elsewhere")  # no repository around: only what was installed
        out = cwd / "out"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
        p = subprocess.run(
            [
                str(venv / "bin" / "kvm-netcheck"),
                f"--hosts=ssh://{HOST}",
                f"--ssh-config={lab.ssh_config}",
                f"--output-dir={out}",
            ],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        installed = json.load(open(out / "results.json"))
        clone = run_suite(
            str(tmp_path_factory.mktemp("clone")), f"--hosts=ssh://{HOST}", f"--ssh-config={lab.ssh_config}"
        )
    assert p.returncode == installed["gate"]["exit_code"] == clone.returncode == 1, p.stdout[-3000:] + p.stderr

    def outcomes(doc):
        return sorted((r["check"], r["host"], r["object"], r["outcome"], r["test"]) for r in doc["results"])

    assert outcomes(installed) == outcomes(clone.results)
    assert len(installed["results"]) > 10
    assert (
        (out / "compliance.html").is_file() and (out / "junit.xml").is_file() and (out / "fix" / f"{HOST}.sh").is_file()
    )
    # progress lines name the checks from the suite, not from site-packages; the end names every file
    progress = [line for line in p.stdout.splitlines() if line.rstrip().endswith("%]")]
    assert progress and all(line.startswith("tests_") for line in progress), progress
    assert f"written: {out}/results.json, {out}/compliance.html, {out}/junit.xml, {out}/fix" in p.stdout
    html = (out / "compliance.html").read_text()
    assert "site-packages" not in html and "file://" not in html  # its links work wherever it is read
    assert "#kvm-doc-libvirt-network-stp-delay" in html and "id='kvm-doc-libvirt-network-stp-delay'" in html
    # the installed checks ran, not a clone's: nothing of the repository was importable there
    listed = subprocess.run(
        [str(venv / "bin" / "kvm-netcheck"), "--list-checks=json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    from kvmnetcheck.catalog import CHECKS

    assert [c["id"] for c in json.loads(listed.stdout)] == list(CHECKS)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import kvmnetcheck.cli as c; print(c.suite_dirs())"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    ).stdout
    assert str(venv) in where and REPO not in where, where


def _cmd(venv, *args, cwd, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
    return subprocess.run(
        [str(venv / "bin" / "kvm-netcheck"), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_installed_command_and_its_subcommands(venv, tmp_path):
    """The command as a new user meets it, from a fresh venv outside the repository."""
    from kvmnetcheck import __version__
    from kvmnetcheck.catalog import CHECKS

    h = _cmd(venv, "--help", cwd=tmp_path)
    assert h.returncode == 0 and h.stdout.startswith("usage: kvm-netcheck [run] [OPTIONS] [-- PYTEST-ARGS]"), h.stdout
    assert len(h.stdout.splitlines()) <= 48, len(h.stdout.splitlines())  # fits a screen
    for opt in ("--hosts", "--ssh-config", "--sudo", "--ansible-inventory", "--check", "--fail-on", "--output-dir"):
        assert f"  {opt} " in h.stdout, opt
    assert "pytest.main()" not in h.stdout and "passes on as given" in h.stdout

    v = _cmd(venv, "--version", cwd=tmp_path)
    assert v.returncode == 0 and v.stdout.startswith(f"kvm-netcheck {__version__} (pytest "), v.stdout
    assert "pytest-testinfra " in v.stdout and "libvirt-python " in v.stdout

    text = _cmd(venv, "checks", cwd=tmp_path)
    assert text.returncode == 0 and "kvm-netcheck show bridge-forward-delay" in text.stdout
    assert "docs/checks" not in text.stdout and str(venv) not in text.stdout
    js = _cmd(venv, "checks", "--format=json", cwd=tmp_path)
    assert [c["id"] for c in json.loads(js.stdout)] == list(CHECKS)
    # the README's and the old spelling: no suite directory is taken for its value (exit 4 before)
    old = _cmd(venv, "--list-checks", cwd=tmp_path)
    assert old.returncode == 0 and old.stdout == text.stdout, old.stderr[-2000:]

    page = _cmd(venv, "show", "bridge-forward-delay", cwd=tmp_path)
    assert page.returncode == 0 and page.stdout.startswith("# bridge-forward-delay\n") and "## Fixes" in page.stdout
    typo = _cmd(venv, "show", "bridge-forward-dealy", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean bridge-forward-delay" in typo.stderr, typo.stderr

    m = _cmd(venv, "merge", "--help", cwd=tmp_path)
    assert m.returncode == 0 and m.stdout.startswith("usage: kvm-netcheck merge DIR..."), m.stdout + m.stderr
    bare = _cmd(venv, "merge", cwd=tmp_path)
    assert bare.returncode == 2 and "usage: kvm-netcheck merge" in bare.stderr, bare.stderr

    schema = json.loads(_cmd(venv, "schema", cwd=tmp_path).stdout)
    assert schema["$id"] == "kvm-netcheck/results.schema.json"

    comp = _cmd(venv, "completion", "bash", cwd=tmp_path).stdout
    assert "complete -o default -F _kvm_netcheck kvm-netcheck" in comp and "bridge-forward-delay" in comp
    listed = subprocess.run(
        [
            "bash",
            "-c",
            comp + '\nCOMP_WORDS=(kvm-netcheck show bridge-f); COMP_CWORD=2; _kvm_netcheck; echo "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.stdout.split() == ["bridge-forward-delay"], listed.stdout + listed.stderr

    man = _cmd(venv, "man", cwd=tmp_path).stdout
    assert man.startswith(".TH KVM\\-NETCHECK 1") and "\\-\\-ssh\\-config" in man
    rendered = subprocess.run(
        ["man", "-l", "-"],
        input=man,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MANWIDTH": "100", "PAGER": "cat"},
    )
    if rendered.returncode == 0:
        assert "--ssh-config" in rendered.stdout.replace("‐", "-")
