"""What a run writes, and what a run that checked nothing leaves alone.

One lab host with findings. A real run with --output-dir writes every report there (and the
exit status it returns is results.json's gate.exit_code); a collect-only run, a run that selects
nothing, a usage error, a run cut short and an interrupted run each leave those files
byte-identical. Selection by check id (-k, --check, --skip-check) and severity (-m); results.json
against its shipped JSON Schema; the Markdown summary; the Prometheus textfile parsed back by
prometheus-client's own parser; --list-checks and the reference pages from the same records."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from support import REPO

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
HOST = "out1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("outputs"))) as lab:
        lab.add_host(HOST, libvirt=True).sh(
            LIB
            + """
net_define lan "name='virbr7' stp='on' delay='15'"
guest_define g1 "<interface type='network'><mac address='52:54:00:00:0f:01'/><source network='lan'/><model type='virtio'/></interface>"
""",
            timeout=240,
        )
        yield lab


def suite(lab, *args, timeout=300, cwd=REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--hosts=ssh://{HOST}", f"--ssh-config={lab.ssh_config}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def tree(d: str) -> dict[str, bytes]:
    out = {}
    for p in sorted(glob.glob(os.path.join(d, "**"), recursive=True)):
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


@pytest.fixture(scope="module")
def real_run(lab, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("reports"))
    p = suite(lab, f"--output-dir={d}", f"--summary-md={d}/summary.md", f"--prom-textfile={d}/kvm_netcheck.prom")
    return d, p


def test_a_real_run_writes_every_report_and_returns_its_gate_exit_code(real_run):
    d, p = real_run
    files = set(tree(d))
    assert {
        "compliance.html",
        "junit.xml",
        "results.json",
        f"fix/{HOST}.sh",
        "summary.md",
        "kvm_netcheck.prom",
    } <= files, files
    assert not glob.glob(os.path.join(d, ".kvm-netcheck-*")), "a staging directory was left behind"
    results = json.load(open(os.path.join(d, "results.json")))
    assert p.returncode == results["gate"]["exit_code"] == 1, p.stdout[-2000:]
    assert results["fix_scripts"][HOST] == os.path.join(d, "fix", f"{HOST}.sh")  # the final place, not staging
    assert f"results: {d}/results.json" in p.stdout
    assert f"Generated html report: file://{d}/compliance.html" in p.stdout
    assert {f"{HOST}.html"} <= set(os.listdir(os.path.join(d, "hosts")))  # its findings, each with its fix
    # one count story: pytest's closing line is the gate's, then every result by outcome, then its items
    c = results["counts"]
    last = p.stdout.strip().splitlines()[-1]
    assert "gate FAILED (exit 1)" in last and f"{sum(c.values())} results: {c['failed']} failed" in last, last
    assert "pytest items" in last and "FAILED tests_" not in p.stdout  # no second list of the same findings
    for r in results["results"]:
        if r["outcome"] == "failed":
            assert p.stdout.count(r["remediation"].splitlines()[0]) >= 1  # each finding with its fix


@pytest.mark.parametrize(
    "args, why",
    [
        (["--collect-only"], "a collect-only run checks nothing"),
        (["-k", "no-check-is-called-this"], "no check ran"),
        (["-m", "no_such_marker"], "no check ran"),
        (["--check=no-such-check"], None),  # a usage error: pytest stops before any session
        (["--maxfail=1"], "the run was cut short"),
    ],
)
def test_a_run_that_checks_nothing_leaves_the_reports_byte_identical(lab, real_run, args, why):
    d, _ = real_run
    before = tree(d)
    p = suite(lab, f"--output-dir={d}", f"--summary-md={d}/summary.md", f"--prom-textfile={d}/kvm_netcheck.prom", *args)
    assert tree(d) == before, (args, p.stdout[-2000:])
    assert not glob.glob(os.path.join(d, ".kvm-netcheck-*"))
    if why:
        assert f"reports not written, the previous ones are kept: {why}" in p.stdout, p.stdout[-2000:]
    else:
        assert p.returncode == 4 and "no check matches no-such-check" in p.stderr, p.stderr[-1000:]


def test_an_interrupted_run_leaves_the_reports_byte_identical(lab, real_run, tmp_path):
    """Ctrl-C while a host hangs: exit 2, nothing replaced."""
    d, _ = real_run
    before = tree(d)
    cfg = tmp_path / "ssh_config"
    tries = tmp_path / "hung-tries"  # the pid of each ProxyCommand this test starts
    cfg.write_text(
        open(lab.ssh_config).read() + f"\nHost hangs\n  ProxyCommand sh -c 'echo $$ >> {tries}; exec sleep 60'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            f"--hosts=ssh://{HOST},ssh://hangs",
            f"--ssh-config={cfg}",
            f"--output-dir={d}",
            "--host-timeout=60",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (tries.exists() and tries.read_text().strip()):  # until the run is waiting on the hung host
        assert proc.poll() is None and time.monotonic() < deadline, "the run never tried the hung host"
        time.sleep(0.1)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    for pid in tries.read_text().split():  # its ProxyCommands only, should any still sleep
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    assert proc.returncode == 2, out[-2000:]
    assert tree(d) == before
    assert not glob.glob(os.path.join(d, ".kvm-netcheck-*"))


def _checks(d: str) -> set[str]:
    return {r["check"] for r in json.load(open(os.path.join(d, "results.json")))["results"]}


def test_select_by_check_id_and_severity(lab, tmp_path):
    d = str(tmp_path / "k")
    suite(lab, f"--output-dir={d}", "-k", "bridge-forward-delay")
    assert _checks(d) == {"bridge-forward-delay"}
    junit = open(os.path.join(d, "junit.xml")).read()
    assert "[bridge-forward-delay:out1:virbr7]" in junit  # the test name carries the check id
    d = str(tmp_path / "m")
    suite(lab, f"--output-dir={d}", "-m", "critical")
    from kvmnetcheck.catalog import CHECKS

    got = _checks(d)
    assert got and all(CHECKS[c].severity == "critical" for c in got), got
    d = str(tmp_path / "check")
    p = suite(lab, f"--output-dir={d}", "--check=bridge-forward-delay,libvirt-network-stp-delay")
    assert os.path.exists(os.path.join(d, "results.json")), p.stdout[-3000:] + p.stderr[-2000:]
    assert _checks(d) == {"bridge-forward-delay", "libvirt-network-stp-delay"}
    d = str(tmp_path / "skip")
    suite(lab, f"--output-dir={d}", "--skip-check=bridge-forward-delay", "--skip-check=host-reachable")
    got = _checks(d)
    assert "bridge-forward-delay" not in got and "host-reachable" not in got and "bridge-stp-root" in got


def test_pytest_options_still_act_on_check_items(lab, real_run, tmp_path):
    """Check items run without pytest's per-phase machinery (pytest_adapter.run_item_lean): what a
    user asks of pytest itself still acts on them, and pytest's own phases give the same results."""
    d, _ = real_run
    # -v names each item with its outcome (the suite() command has -q), -rs each skipped item's reason
    out = suite(lab, f"--output-dir={tmp_path / 'v'}", "-vv", "-rs").stdout
    assert "test_bridge_forwards_new_ports_within_limit[bridge-forward-delay:out1] FAILED" in out, out[-3000:]
    assert "test_host_is_reachable_and_readable[host-reachable:out1] PASSED" in out, out[-3000:]
    assert "SKIPPED [1] tests_host/test_ovs.py:9: no ovs bridge on this host" in out, out[-3000:]
    # -x: pytest stops at the first item with a finding, says so, and the run keeps no report
    p = suite(lab, f"--output-dir={tmp_path / 'x'}", "-x")
    assert p.returncode == 1 and "stopping after 1 failures" in p.stdout, p.stdout[-3000:]
    assert "cut short" in p.stdout and not os.path.exists(tmp_path / "x" / "results.json"), p.stdout[-3000:]
    # --setup-show needs pytest's own phases: the items run by them, with the same results
    p = suite(lab, f"--output-dir={tmp_path / 'phases'}", "--setup-show", "--check=bridge-forward-delay,host-*")

    def results(where):
        with open(os.path.join(where, "results.json")) as f:
            return [r for r in json.load(f)["results"] if r["check"] in ("bridge-forward-delay", "host-reachable")]

    assert "test_bridge_forwards_new_ports_within_limit[bridge-forward-delay:out1]" in p.stdout, p.stdout[-3000:]
    assert results(str(tmp_path / "phases")) == results(d) != []


def test_results_json_matches_its_shipped_schema(real_run):
    import jsonschema

    d, _ = real_run
    from kvmnetcheck.report import results as results_mod

    schema = json.load(open(os.path.join(os.path.dirname(results_mod.__file__), "results.schema.json")))
    doc = json.load(open(os.path.join(d, "results.json")))
    jsonschema.validate(doc, schema)
    assert doc["schema_version"] == results_mod.SCHEMA_VERSION == schema["properties"]["schema_version"]["const"]
    # and a results.json that breaks it is refused
    doc["results"][0]["outcome"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_prometheus_textfile_parses_back(real_run):
    from prometheus_client.parser import text_string_to_metric_families

    d, _ = real_run
    results = json.load(open(os.path.join(d, "results.json")))
    fams = {f.name: f for f in text_string_to_metric_families(open(os.path.join(d, "kvm_netcheck.prom")).read())}
    counted = {}
    for s in fams["kvm_netcheck_results"].samples:
        key = (s.labels["host"], s.labels["check"], s.labels["outcome"])
        counted[key] = counted.get(key, 0) + s.value
    want = {}
    for r in results["results"]:
        key = (r["host"], r["check"], r["outcome"])
        want[key] = want.get(key, 0) + 1
    assert counted == want
    assert fams["kvm_netcheck_gate_passed"].samples[0].value == 0
    assert fams["kvm_netcheck_exit_code"].samples[0].value == results["gate"]["exit_code"]
    assert fams["kvm_netcheck_host_reachable"].samples[0].labels == {"host": HOST}


def test_markdown_summary_lists_each_finding_once(real_run):
    d, _ = real_run
    md = open(os.path.join(d, "summary.md")).read()
    results = json.load(open(os.path.join(d, "results.json")))
    assert md.startswith("## kvm-netcheck: gate FAILED (exit 1)")
    bad = [r for r in results["results"] if r["outcome"] in ("failed", "error")]
    rows = [ln for ln in md.splitlines() if ln.startswith(f"| {HOST} |")]
    assert len(rows) == len(bad) > 0
    assert any("bridge\\-forward\\-delay" in ln or "bridge-forward-delay" in ln for ln in rows)


def test_list_checks_and_reference_pages_come_from_the_same_records():
    from kvmnetcheck.catalog import CHECKS
    from kvmnetcheck.catalog.docs import check_record

    p = subprocess.run(
        [sys.executable, "-m", "pytest", "--list-checks=json"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    listed = json.loads(p.stdout)
    assert listed == [check_record(c) for c in CHECKS.values()]
    for rec in listed:
        page = open(os.path.join(REPO, rec["doc"])).read()
        assert page.startswith(f"# {rec['id']}\n")
        for key in ("requirement", "per", "fails_when", "severity"):
            assert rec[key] in page, (rec["id"], key)
        for cmd in CHECKS[rec["id"]].verify:
            assert cmd in page
    text = subprocess.run(
        [sys.executable, "-m", "pytest", "--list-checks"], cwd=REPO, capture_output=True, text=True, timeout=60
    ).stdout
    assert all(f"kvm-netcheck show {rec['id']}" in text and "docs/checks" not in text for rec in listed)
