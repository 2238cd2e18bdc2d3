"""Drift against a baseline results.json: new, fixed and still failing findings in the terminal,
the HTML report and the JSON; dated copies of nightly reports."""

from __future__ import annotations

import json
import os

import pytest
from gate_lab import shared_gate_lab
from support import html_report_data, run_suite

from kvmnetcheck.facts.model import HostFacts
from kvmnetcheck.report.drift import BaselineError, compare, load_baseline
from kvmnetcheck.report.results import Result


@pytest.fixture(scope="module")
def nightly(request, tmp_path_factory):
    return shared_gate_lab(request, tmp_path_factory).nightly()


def _keys(items) -> set:
    return {(i["check"], i["host"], i["object"]) for i in items}


def test_baseline_shows_new_fixed_and_still_failing(nightly):
    first, second = nightly.first, nightly.second
    assert first.result("bridge-forward-delay", "gdrift", "br0")["outcome"] == "failed"
    assert first.result("bridge-forward-delay", "gdrift", "br1") is None
    drift = second.results["drift"]
    new, fixed, still = _keys(drift["new"]), _keys(drift["fixed"]), _keys(drift["still_failing"])
    assert ("bridge-forward-delay", "gdrift", "br1") in new
    assert ("bridge-forward-delay", "gdrift", "br0") in fixed
    assert ("libvirt-network-stp-delay", "gfix", "lan") in fixed  # its fix script ran in between
    assert ("host-reachable", "gdown", "gdown") in still
    # waived is still a finding: not fixed
    assert ("bridge-forward-delay", "ghigh", "br0") in still
    assert not new & fixed and not new & still
    assert drift["baseline"].endswith("results.json") and drift["baseline_generated"]

    assert f"since {drift['baseline']}" in second.stdout
    assert "NEW [high] gdrift bridge-forward-delay br1: absent -> failed" in second.stdout
    assert "FIXED [high] gdrift bridge-forward-delay br0: failed -> passed" in second.stdout

    page = open(second.html_path).read()
    assert 'id="kvm-drift"' in page
    section = page[page.index('id="kvm-drift"') :]
    new_part = section[section.index("New (") : section.index("Fixed (")]
    fixed_part = section[section.index("Fixed (") : section.index("Still failing")]
    assert "br1" in new_part and "br0" not in new_part
    assert "gdrift" in fixed_part and "br0" in fixed_part and "gfix" in fixed_part


def test_nightly_run_keeps_a_dated_copy(nightly):
    day = os.path.join(nightly.out2, nightly.day)
    for name in ("results.json", "compliance.html", "junit.xml"):
        assert os.path.getsize(os.path.join(day, name)) > 0, name
    with open(os.path.join(day, "results.json")) as f:
        copy = json.load(f)
    assert copy["results"] == nightly.second.results["results"]
    assert sorted(os.listdir(os.path.join(day, "fix"))) == sorted(
        os.path.basename(p) for p in nightly.second.results["fix_scripts"].values()
    )
    html_report_data(os.path.join(day, "compliance.html"))  # a complete report, not a partial write


def _r(check, host, obj, outcome) -> Result:
    return Result(check=check, host=host, object=obj, outcome=outcome, severity="high", message=f"{obj} {outcome}")


def test_fixed_needs_the_host_checked_again(tmp_path):
    base = {
        "generated": "2026-01-01T00:00:00+00:00",
        "results": [
            {"check": "bridge-forward-delay", "host": "a", "object": "br0", "outcome": "failed"},
            {"check": "bridge-stp-root", "host": "a", "object": "br0", "outcome": "failed"},
            {"check": "bridge-forward-delay", "host": "a", "object": "br9", "outcome": "failed"},
            {"check": "bridge-forward-delay", "host": "b", "object": "br0", "outcome": "failed"},
            {"check": "bridge-forward-delay", "host": "a", "object": "br1", "outcome": "waived"},
            {"check": "bridge-forward-delay", "host": "a", "object": "br2", "outcome": "passed"},
        ],
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(base))
    baseline = load_baseline(str(path))
    now = [
        _r("bridge-forward-delay", "a", "br0", "passed"),
        _r("bridge-stp-root", "a", "br0", "skipped"),  # STP now off: no longer applies
        _r("bridge-forward-delay", "a", "br1", "failed"),  # waiver gone: still the same finding
        _r("bridge-forward-delay", "a", "br2", "failed"),
        _r("host-reachable", "b", "b", "failed"),
    ]
    hosts = [HostFacts(host="a", spec="a"), HostFacts(host="b", spec="b", error="ssh exited 255")]
    findings = [r for r in now if r.outcome in ("failed", "error", "waived")]
    outcomes = {(r.check, r.host, r.object): r.outcome for r in now}
    d = compare(baseline, findings, outcomes, hosts)
    assert _keys(d.new) == {("bridge-forward-delay", "a", "br2"), ("host-reachable", "b", "b")}
    assert _keys(d.fixed) == {
        ("bridge-forward-delay", "a", "br0"),
        ("bridge-stp-root", "a", "br0"),
        ("bridge-forward-delay", "a", "br9"),
    }  # br9 is gone from a checked host
    assert [f["now"] for f in d.fixed if f["object"] == "br9"] == ["absent"]
    assert _keys(d.still_failing) == {("bridge-forward-delay", "a", "br1")}
    assert _keys(d.not_rechecked) == {("bridge-forward-delay", "b", "br0")}  # b was unreachable


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", ":1: not JSON"),
        ('{"hosts": []}', "no 'results' list"),
        ('{"results": [{"check": "x"}]}', "result #1 lacks check, host, object or outcome"),
    ],
)
def test_bad_baseline_is_refused(tmp_path, text, words):
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(BaselineError) as e:
        load_baseline(str(path))
    assert str(e.value).startswith(str(path)) and words in str(e.value)


def test_missing_baseline_is_a_first_run_and_a_bad_one_a_usage_error(tmp_path):
    assert load_baseline(str(tmp_path / "none.json")) is None
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    run = run_suite(str(tmp_path / "out"), "--hosts=ssh://never-reached", f"--baseline={bad}")
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"{bad}: not a kvm-netcheck results.json" in run.stderr
