"""Waivers: a waived finding is shown as waived with its reason and counted apart; an expired
waiver stops applying and says so; an entry that matched nothing is reported; a bad file is
refused with its line."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

import pytest
from gate_lab import WAIVER_LINES, shared_gate_lab
from support import html_report_data, run_suite

from kvmnetcheck.policy import PolicyError, load_waivers


@pytest.fixture(scope="module")
def nightly(request, tmp_path_factory):
    return shared_gate_lab(request, tmp_path_factory).nightly()


def _entry(run, line: int) -> dict:
    entries = [e for e in run.results["waivers"]["entries"] if e["where"].endswith(f":{line}")]
    assert len(entries) == 1, run.results["waivers"]
    return entries[0]


def test_a_waiver_that_applies_reports_the_finding_as_waived(nightly):
    run = nightly.second
    r = run.result("bridge-forward-delay", "ghigh", "br0")
    assert r["outcome"] == "waived", r
    assert r["waiver"]["status"] == "applied"
    assert r["waiver"]["reason"] == "ring topology needs STP here (CHG-1042)"
    assert r["waiver"]["where"] == f"{nightly.waivers}:{WAIVER_LINES['applies']}"
    # the evidence stays with it
    assert r["observed"]["new_port_blocked_s"] == 30 and r["limit"] and r["message"]
    assert _entry(run, WAIVER_LINES["applies"])["status"] == "applied"
    # counted apart: neither failed nor passed, in JSON, the terminal, JUnit and the HTML
    assert run.results["counts"]["waived"] == 1
    assert run.results["gate"]["counts"]["waived"] == 1
    assert "WAIVED [high] ghigh bridge-forward-delay br0: until 2999-12-31" in run.stdout
    final = [ln for ln in run.stdout.splitlines() if re.search(r" in [0-9.]+s", ln)][-1]
    assert re.search(r"\b1 waived\b", final), final
    case = [
        c for c in ET.parse(run.junit_path).getroot().iter("testcase") if c.get("name") == r["test"].split("::")[-1]
    ][0]
    assert case.find("failure") is None
    assert "ring topology needs STP here" in case.find("skipped").get("message")
    data = html_report_data(run.html_path)
    rep = data["tests"][r["test"]][0]
    assert rep["result"] == "XFailed"
    assert any("col-status kvm-st-waived" in c and ">waived<" in c for c in rep["resultsTableRow"])
    assert any("ring topology needs STP here" in e["content"] for e in rep["extras"])
    # nothing to fix on a host whose only finding is waived
    assert "ghigh" not in run.results["fix_scripts"]


def test_an_expired_waiver_stops_applying_and_the_report_says_so(nightly):
    run = nightly.second
    r = run.result("libvirt-checksum-warning", "glow", "glow")
    assert r["outcome"] == "failed", r
    assert r["waiver"]["status"] == "expired" and r["waiver"]["expires"] == "2020-01-01"
    e = _entry(run, WAIVER_LINES["expired"])
    assert e["status"] == "expired" and e["matched"] == 1
    assert f"EXPIRED {nightly.waivers}:{WAIVER_LINES['expired']}" in run.stdout
    data = html_report_data(run.html_path)
    assert any("expired on 2020-01-01" in x["content"] for x in data["tests"][r["test"]][0]["extras"])
    assert any("failed, waiver expired" in c for c in data["tests"][r["test"]][0]["resultsTableRow"])


def test_a_waiver_that_matched_nothing_is_reported(nightly):
    run = nightly.second
    e = _entry(run, WAIVER_LINES["unused"])
    assert e["status"] == "unused" and e["matched"] == 0
    assert f"UNUSED {nightly.waivers}:{WAIVER_LINES['unused']}" in run.stdout
    html = open(run.html_path).read()
    assert "Unused: matched no failing result" in html and f"{nightly.waivers}:{WAIVER_LINES['unused']}" in html


GOOD = """\
waivers:
  - check: bridge-*
    host: kvm0?
    object: br0
    reason: lab ring
    expires: 2030-01-31
  - check: guest-nic-dhcp-checksum
    reason: guests boot with driver qemu after the next window
    expires: "2020-05-01"
"""


def test_waiver_matching_patterns_and_dates():
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(GOOD)
    try:
        ws = load_waivers(f.name)
    finally:
        os.unlink(f.name)
    first, second = ws.entries
    assert (first.line, second.line) == (2, 7)
    assert (second.host, second.object) == ("*", "*") and second.expires == datetime.date(2020, 5, 1)
    day = datetime.date(2030, 1, 31)
    assert ws.match("bridge-stp-root", "kvm01", "br0", day).applied is first  # last day still applies
    assert ws.match("bridge-stp-root", "kvm01", "br0", day + datetime.timedelta(days=1)).expired is first
    assert ws.match("bridge-stp-root", "kvm10", "br0", day) == ws.match("x", "y", "z", day)  # no match
    assert ws.match("bridge-stp-root", "kvm01", "br1", day).applied is None
    m = ws.match("guest-nic-dhcp-checksum", "any", "web1/52:54:00:00:00:01", day)
    assert m.applied is None and m.expired is second


@pytest.mark.parametrize(
    "text, line, words",
    [
        (
            "waivers:\n  - check: no-such-check\n    reason: x\n    expires: 2030-01-01\n",
            2,
            "unknown check id 'no-such-check'",
        ),
        (
            "waivers:\n  - check: nothing-*\n    reason: x\n    expires: 2030-01-01\n",
            2,
            "check pattern 'nothing-*' matches no check id",
        ),
        (
            "waivers:\n  - check: bridge-stp-root\n    reason: x\n    expires: 2030-13-01\n",
            4,
            "'2030-13-01' is not a valid value",
        ),
        (
            "waivers:\n  - check: bridge-stp-root\n    reason: x\n    expires: next week\n",
            4,
            "expires 'next week' is not a date written YYYY-MM-DD",
        ),
        (
            "waivers:\n  - check: bridge-stp-root\n    host: kvm01\n    expires: 2030-01-01\n",
            2,
            "waiver has no 'reason'",
        ),
        ("waivers:\n  - check: bridge-stp-root\n    reason: x\n", 2, "waiver has no 'expires'"),
        ("waivers:\n  - check: bridge-stp-root\n    reason: x\n    expiry: 2030-01-01\n", 4, "unknown key 'expiry'"),
        (
            "waivers:\n  - check: bridge-stp-root\n    reason: x\n    reason: y\n    expires: 2030-01-01\n",
            4,
            "'reason' is given twice (first on line 3)",
        ),
        (
            "waivers:\n  - check: bridge-stp-root\n    host: [a, b]\n    reason: x\n    expires: 2030-01-01\n",
            3,
            "'host' must be text",
        ),
        ("waivers:\n  check: bridge-stp-root\n", 2, "waivers must be a list"),
        ("waiver:\n  - check: bridge-stp-root\n", 1, "unknown key 'waiver'"),
        ("waivers:\n  - check: bridge-stp-root\n   reason: x\n", 3, "not valid YAML"),
    ],
)
def test_bad_waiver_file_names_its_line(tmp_path, text, line, words):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as e:
        load_waivers(str(path))
    assert str(e.value).startswith(f"{path}:{line}: "), str(e.value)
    assert words in str(e.value)


def test_bad_waiver_file_stops_the_run_before_any_host_is_reached(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text("waivers:\n  - check: bridge-stp-rot\n    reason: typo\n    expires: 2030-01-01\n")
    run = run_suite(str(tmp_path / "out"), "--hosts=ssh://never-reached", f"--waivers={path}")
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"ERROR: {path}:2: unknown check id 'bridge-stp-rot'" in run.stderr
    assert "never-reached" not in run.stdout
