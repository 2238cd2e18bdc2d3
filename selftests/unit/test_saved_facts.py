"""Saved facts (--save-facts / --facts): a directory saved in format 1 is read, one in a format this
version cannot read is refused in one line.

samples/facts_format1/ is laid out as `raw.save` of the first format-1 version wrote it: index.json
naming each host's file, one JSON per host; kvm01 gathered by collector format 1 (the Debian 12
sample, with the section kinds that collector printed) and read through libvirt-python (no `note`
in its libvirt view, which later versions add), kvm02 unreachable.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from kvmnetcheck import raw as raw_store
from kvmnetcheck.facts.host import facts_from_raw

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMAT1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "facts_format1")


def test_format_1_is_among_the_formats_read():
    assert 1 in raw_store.READABLE_FORMATS
    assert raw_store.FORMAT in raw_store.READABLE_FORMATS


def test_a_directory_saved_in_format_1_is_read():
    raws = raw_store.load(FORMAT1)
    assert [r.host for r in raws] == ["kvm01.example.com", "kvm02.example.com"]
    kvm01, kvm02 = raws
    assert kvm01.error is None and kvm01.nonce == "9c1e5b7a03d24f68" and "collector=1" in kvm01.output
    assert kvm01.libvirt.source == "libvirt-python" and kvm01.libvirt.note is None
    assert kvm01.libvirt.lib_version == (9, 0, 0)
    assert len(kvm01.libvirt.networks) == 2 and all(n.xml for n in kvm01.libvirt.networks)
    assert [active for active, _ in kvm01.libvirt.domains] == [True, True, False]
    assert kvm02.error.endswith("Connection refused") and kvm02.libvirt is None


def test_facts_saved_in_format_1_are_parsed_by_this_version():
    kvm01, kvm02 = (facts_from_raw(r) for r in raw_store.load(FORMAT1))
    assert kvm01.reachable and kvm01.error is None, kvm01.error
    assert kvm01.hostname == "kvm01"
    assert {b.name for b in kvm01.bridges} == {"br0", "virbr0"}
    assert kvm01.libvirt.source == "libvirt-python"
    assert {n.name for n in kvm01.libvirt.networks} == {"default", "isolated"}
    assert len(kvm01.libvirt.guests) == 3
    # what collector format 1 did not gather is unknown, not a default
    assert kvm01.br_netfilter is None
    assert not kvm02.reachable and "Connection refused" in kvm02.error


def test_the_format_is_read_from_the_index_as_written_by_hand(tmp_path):
    saved = tmp_path / "facts"
    shutil.copytree(FORMAT1, saved)
    index = json.loads((saved / "index.json").read_text())
    index["format"] = "1"
    (saved / "index.json").write_text(json.dumps(index))
    assert [r.host for r in raw_store.load(str(saved))] == ["kvm01.example.com", "kvm02.example.com"]


def _newer(tmp_path) -> str:
    newer = tmp_path / "newer"
    shutil.copytree(FORMAT1, newer)
    index = json.loads((newer / "index.json").read_text())
    index["format"] = 99
    index["tool"] = "kvm-netcheck 9.0"
    (newer / "index.json").write_text(json.dumps(index))
    return str(newer)


def test_a_format_this_version_cannot_read_is_refused_in_one_line(tmp_path):
    newer = _newer(tmp_path)
    with pytest.raises(raw_store.FactsFormatError) as e:
        raw_store.load(newer)
    assert str(e.value) == f"{newer} was saved by kvm-netcheck 9.0 in format 99; this version reads format 1"


def test_a_host_file_in_a_format_this_version_cannot_read_is_refused(tmp_path):
    saved = tmp_path / "facts"
    shutil.copytree(FORMAT1, saved)
    host = json.loads((saved / "kvm01.example.com.json").read_text())
    host["format"] = 99
    (saved / "kvm01.example.com.json").write_text(json.dumps(host))
    with pytest.raises(raw_store.FactsFormatError, match="saved facts format 99; this version reads format 1"):
        raw_store.load(str(saved))


def _suite(tmp_path, facts: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out = tmp_path / "report"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--facts={facts}",
         f"--results-json={out}/results.json", f"--junitxml={out}/junit.xml", f"--html={out}/compliance.html",
         "--self-contained-html"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_suite_checks_facts_saved_in_format_1(tmp_path):
    run = _suite(tmp_path, FORMAT1)
    assert run.returncode in (0, 1), run.stdout[-2000:] + run.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [h["host"] for h in results["hosts"]] == ["kvm01.example.com", "kvm02.example.com"]
    assert {r["host"] for r in results["results"]} == {"kvm01.example.com", "kvm02.example.com"}
    assert "loaded from" in run.stdout
    # what collector format 1 did not gather ends as an error that says so, never as a pass
    outcome = {(r["check"], r["object"]): r for r in results["results"] if r["host"] == "kvm01.example.com"}
    for key in (("bridge-netfilter-dhcp", "br0"), ("network-dhcp-server", "default")):
        assert outcome[key]["outcome"] == "error" and "older version" in outcome[key]["message"], outcome[key]


def test_the_suite_refuses_a_format_it_cannot_read_in_one_line(tmp_path):
    run = _suite(tmp_path, _newer(tmp_path))
    assert run.returncode == 4, run.stdout[-1000:] + run.stderr[-1000:]
    lines = [ln for ln in run.stderr.splitlines() if "format 99" in ln]
    assert lines == [f"ERROR: {tmp_path / 'newer'} was saved by kvm-netcheck 9.0 in format 99; "
                     "this version reads format 1"], run.stderr
