"""Names no format can carry as they are: a real run over saved facts whose host and bridge names
hold terminal escapes, bidi overrides, line separators, noncharacters and bytes that are no UTF-8.
Every writer (terminal, JUnit, HTML, results.json, Markdown, Prometheus, fix scripts) finishes, keeps
its file well-formed, and shows each such character escaped instead of crashing or dropping it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from stubrun import expected_commands, run_script
from support import REPO, run_suite

from kvmnetcheck.raw import RawHost, RawLibvirt, save
from kvmnetcheck.report.fixscripts import stays_on_its_lines

SAMPLE = os.path.join(REPO, "selftests", "unit", "samples", "collector_debian12.txt")
HOST = "k\x1b]0;owned\x07\udc81\u202e\u2028x"  # a title-setting escape, a byte that was no UTF-8, bidi, U+2028
BRIDGE = "b\ufffe\x1b[31m\udc80"  # a noncharacter, a colour escape, a byte that was no UTF-8
HOSTNAME = 'k";touch PWNED;"'
UNSAFE_IN_FILE = ["\x1b", "\x07", "\ufffe", "\u202e", "\u2028"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    facts = str(tmp_path_factory.mktemp("facts"))
    text = open(SAMPLE, encoding="utf-8").read().replace("bridge\tbr0", f"bridge\t{BRIDGE}")
    text = text.replace("hostname=kvm01", f"hostname={HOSTNAME}")
    nonce = text.split("@@", 2)[1]
    save(
        facts,
        [
            RawHost(
                host=HOST,
                spec=f"ssh://{HOST}",
                nonce=nonce,
                output=text,
                libvirt=RawLibvirt(source="none", uri=None, error="not read"),
            )
        ],
        "test",
    )
    out = str(tmp_path_factory.mktemp("out"))
    r = run_suite(
        out,
        f"--facts={facts}",
        f"--output-dir={out}",
        f"--summary-md={out}/summary.md",
        f"--prom-textfile={out}/kvm.prom",
    )
    return r, out


def test_the_run_finishes_and_judges_the_hostile_bridge(run):
    r, out = run
    assert "Traceback" not in r.stdout + r.stderr and "INTERNALERROR" not in r.stdout + r.stderr, r.stderr[-3000:]
    assert r.returncode == 1, r.stdout[-3000:]
    res = r.result("bridge-forward-delay", HOST, BRIDGE)
    assert res and res["outcome"] == "failed", [x["object"] for x in r.results["results"]]


def test_terminal_shows_each_unsafe_character_escaped(run):
    r, _ = run
    for ch in UNSAFE_IN_FILE + ["\udc80", "\udc81"]:
        assert ch not in r.stdout and ch not in r.stderr, repr(ch)
    assert "b\\ufffe\\x1b[31m\\udc80" in r.stdout


def test_every_file_is_well_formed_and_shows_the_names_escaped(run):
    r, out = run
    ET.parse(os.path.join(out, "junit.xml"))  # well-formed, with U+FFFE and a lone surrogate in names
    junit = open(os.path.join(out, "junit.xml"), encoding="utf-8").read()
    assert "b\\ufffe\x1b" not in junit and "b\\ufffe\\x1b[31m\\udc80" in junit
    page = open(os.path.join(out, "compliance.html"), encoding="utf-8").read()
    for ch in UNSAFE_IN_FILE:
        assert ch not in page, repr(ch)
    assert "b\\ufffe\\x1b[31m\\udc80" in page
    # results.json keeps each name exactly (JSON escapes carry every character, a lone surrogate too)
    with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
        data = json.load(f)
    assert BRIDGE in {x["object"] for x in data["results"]}
    md = open(os.path.join(out, "summary.md"), encoding="utf-8").read()
    prom = open(os.path.join(out, "kvm.prom"), encoding="utf-8").read()
    for ch in UNSAFE_IN_FILE:
        assert ch not in md and ch not in prom, repr(ch)
    assert "\\x1b" in prom


def test_the_fix_script_runs_only_its_fixes(run):
    r, out = run
    scripts = r.results["fix_scripts"]
    assert list(scripts) == [HOST], scripts
    path = scripts[HOST]
    assert os.path.dirname(path) == os.path.join(out, "fix") and os.path.basename(path).endswith(".sh")
    script = open(path, encoding="utf-8").read()
    for ch in UNSAFE_IN_FILE:
        assert ch not in script, repr(ch)
    assert subprocess.run(["sh", "-n", path]).returncode == 0
    wrong = run_script(script, hostname="other")
    assert wrong.returncode == 2 and wrong.ran() == [] and wrong.created == [], wrong
    right = run_script(script, hostname=HOSTNAME)
    assert right.returncode == 0 and right.created == [] and "not found" not in right.stderr, right
    # the hostile bridge's fix is left to a person; every other step ran once, exactly as written
    assert not [c for c in right.ran() if any("\x1b" in a or "\ufffe" in a for a in c)], right.ran()
    steps = []
    for res in r.for_host(HOST):
        for step in res["fix_steps"] if res["outcome"] == "failed" else ():
            if stays_on_its_lines(step[1]) and step[1].strip() not in steps:
                steps.append(step[1].strip())
    assert steps and sorted(right.ran()) == sorted(expected_commands(steps)), (right.ran(), steps)
    bridge = r.result("bridge-forward-delay", HOST, BRIDGE)
    assert bridge["fix_steps"] == [] and "not scripted" in bridge["remediation"], bridge


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
