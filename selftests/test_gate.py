"""The gate's exit code contract, against real lab hosts over SSH: --fail-on, unreachable hosts,
and a policy file kept beside the inventory."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from gate_lab import shared_gate_lab
from support import html_report_data, run_suite


@pytest.fixture(scope="module")
def glab(request, tmp_path_factory):
    return shared_gate_lab(request, tmp_path_factory)


def _tail(run) -> str:
    return run.stdout[-3000:] + run.stderr[-2000:]


def _status_cells(run) -> dict[str, str]:
    """test id -> the Status cell pytest-html shows for it."""
    data = html_report_data(run.html_path)
    out = {}
    for test_id, reps in data["tests"].items():
        for rep in reps:
            for cell in rep["resultsTableRow"]:
                m = re.match(r'<td class="col-status[^"]*"[^>]*>(.*)</td>', cell)
                if m:
                    out[test_id] = m.group(1)
    return out


def _junit_failures(run) -> dict[str, str]:
    """testcase name -> 'failure' | 'skipped' | 'passed'."""
    out = {}
    for case in ET.parse(run.junit_path).getroot().iter("testcase"):
        kind = (
            "failure"
            if case.find("failure") is not None
            else ("skipped" if case.find("skipped") is not None else "passed")
        )
        out[case.get("name")] = kind
    return out


def test_only_low_findings_fail_by_default_and_pass_a_medium_gate(glab):
    strict = glab.run("low-default", ["glow"])
    r = strict.result("libvirt-checksum-warning", "glow", "glow")
    assert r and r["outcome"] == "failed" and r["severity"] == "low", r
    assert strict.returncode == 1, _tail(strict)
    assert strict.results["gate"]["fail_on"] == "low"

    gated = glab.run("low-medium", ["glow"], "--fail-on=medium")
    assert gated.returncode == 0, _tail(gated)
    assert "gate PASSED (exit 0)" in gated.stdout
    # below the gate, still in every report
    r = gated.result("libvirt-checksum-warning", "glow", "glow")
    assert r and r["outcome"] == "failed" and r["observed"] and r["remediation"], r
    assert gated.results["gate"]["verdict"] == "passed"
    assert gated.results["gate"]["counts"]["below_fail_on"] == 1
    assert gated.results["gate"]["counts"]["failing"] == 0
    assert _status_cells(gated)[r["test"]] == "failed, below fail-on"
    assert _junit_failures(gated)[r["test"].split("::")[-1]] == "failure"
    assert "FAIL [low] libvirt-checksum-warning" in gated.stdout


def test_a_high_finding_fails_a_medium_gate(glab):
    run = glab.run("high-medium", ["glow", "ghigh"], "--fail-on=medium")
    assert run.returncode == 1, _tail(run)
    r = run.result("bridge-forward-delay", "ghigh", "br0")
    assert r and r["outcome"] == "failed" and r["severity"] == "high", r
    gate = run.results["gate"]
    assert gate["verdict"] == "failed" and gate["counts"]["failing"] == 1 and gate["counts"]["below_fail_on"] == 1
    assert "gate FAILED (exit 1)" in run.stdout
    props = {p.get("name"): p.get("value") for p in ET.parse(run.junit_path).getroot().iter("property")}
    assert props["kvm-netcheck-gate"] == "failed" and props["kvm-netcheck-exit-code"] == "1"


def test_an_unreachable_host_fails_the_gate_unless_allowed(glab):
    run = glab.run("unreachable", ["glow", "gdown"], "--fail-on=medium")
    assert run.returncode == 6, _tail(run)
    assert run.results["gate"]["verdict"] == "incomplete"
    assert run.result("host-reachable", "gdown")["outcome"] == "failed"

    allowed = glab.run("unreachable-allowed", ["glow", "gdown"], "--fail-on=medium", "--allow-unreachable")
    assert allowed.returncode == 0, _tail(allowed)
    # allowed, not hidden
    assert allowed.result("host-reachable", "gdown")["outcome"] == "failed"
    assert allowed.results["gate"]["counts"]["unchecked"] == 1


POLICY = """\
# kvm-netcheck policy of the lab team
fail_on: high
allow_unreachable: true
max_port_block_s: 40
severities:
  libvirt-checksum-warning: high
"""


def test_policy_file_beside_the_ssh_config_is_the_default_and_options_override_it(glab, tmp_path):
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    shutil.copy(glab.lab.ssh_config, inventory / "ssh_config")
    (inventory / "kvmnetcheck.yaml").write_text(POLICY)
    hosts = "--hosts=ssh://glow,ssh://ghigh,ssh://gdown"

    run = run_suite(str(tmp_path / "by-policy"), hosts, f"--ssh-config={inventory / 'ssh_config'}")
    assert run.results["gate"]["policy_file"] == str(inventory / "kvmnetcheck.yaml")
    assert run.results["policy"]["max_port_block_s"] == 40
    # 30 s blocked is within the team's 40 s
    assert run.result("bridge-forward-delay", "ghigh", "br0")["outcome"] == "passed"
    # re-rated to high, so it fails a high gate; the unreachable host is allowed
    warn = run.result("libvirt-checksum-warning", "glow", "glow")
    assert warn["outcome"] == "failed" and warn["severity"] == "high", warn
    junit = open(run.junit_path).read()
    assert 'name="severity" value="high"' in junit and 'name="severity" value="low"' not in junit
    assert run.returncode == 1, _tail(run)

    override = run_suite(
        str(tmp_path / "overridden"),
        hosts,
        f"--ssh-config={inventory / 'ssh_config'}",
        "--fail-on=critical",
        "--max-port-block=4",
    )
    assert override.results["policy"]["max_port_block_s"] == 4
    assert override.result("bridge-forward-delay", "ghigh", "br0")["outcome"] == "failed"
    assert override.results["gate"]["fail_on"] == "critical"
    assert override.returncode == 0, _tail(override)


@pytest.mark.parametrize(
    "policy, line, words",
    [
        ("fail_on: urgent\n", 1, "severity 'urgent' is not one of critical, high, medium, low"),
        ("fail_on: high\nseverities:\n  bridge-stp-root: severe\n", 3, "severity 'severe'"),
        ("fail_on: high\nseverities:\n  no-such-check: low\n", 3, "unknown check id 'no-such-check'"),
        ("fail_on: high\nmax_port_block: 4\n", 2, "unknown key 'max_port_block'"),
        ("allow_unreachable: sometimes\n", 1, "allow_unreachable must be true or false"),
        ("max_port_block_s: -1\n", 1, "max_port_block_s must be a number"),
        ("fail_on: high\n  extra: x\n", 2, "not valid YAML: mapping values are not allowed here"),
    ],
)
def test_bad_policy_file_names_its_line(tmp_path, policy, line, words):
    from kvmnetcheck.policy import PolicyError, load_policy

    path = tmp_path / "kvmnetcheck.yaml"
    path.write_text(policy)
    with pytest.raises(PolicyError) as e:
        load_policy(str(path))
    assert str(e.value).startswith(f"{path}:{line}: "), str(e.value)
    assert words in str(e.value)


def test_bad_policy_file_stops_the_run_as_a_usage_error(tmp_path):
    path = tmp_path / "kvmnetcheck.yaml"
    path.write_text("fail_on: high\nseverities:\n  bridge-stp-root: urgent\n")
    run = run_suite(str(tmp_path / "out"), "--hosts=ssh://never-reached", f"--policy={path}")
    assert run.returncode == 4, _tail(run)
    assert f"{path}:3: severity 'urgent'" in run.stderr
    assert not os.path.exists(os.path.join(tmp_path, "out", "results.json"))
