"""Fleet behaviour against real lab hosts shaped like hypervisors (a libvirt network, a host
bridge, 20 defined guests each): constant SSH cost per host, hosts gathered in parallel with a
dead and two hung hosts among them, `pytest -n 2`, and saved facts checked with no host reachable."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, html_report_data, run_suite

sys.path.insert(0, os.path.join(REPO, "bench"))
from fleetlab import build_fleet

LIVE = ["fl-a", "fl-b", "fl-c"]
GUESTS = 20


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("fleet"))) as lab:
        build_fleet(lab, LIVE, GUESTS, workers=3)
        yield lab


def _sessions(lab) -> dict[str, int]:
    return {n: lab.get(n).ssh_sessions() for n in LIVE}


def _outcomes(results: dict) -> dict[tuple[str, str, str], str]:
    return {(r["check"], r["host"], r["object"]): r["outcome"] for r in results["results"]}


def _gather_seconds(text: str) -> float:
    m = re.search(r"kvm-netcheck: \d+ host\(s\) gathered in ([0-9.]+) s", text)
    assert m, "no gathering line in the output:\n" + text[-3000:]
    return float(m.group(1))


HOSTS_ARG = "--hosts=" + ",".join(f"ssh://{n}" for n in LIVE)


@pytest.fixture(scope="module")
def serial_run(fleet, tmp_path_factory):
    before = _sessions(fleet)
    saved = tmp_path_factory.mktemp("saved") / "facts"
    run = run_suite(
        str(tmp_path_factory.mktemp("serial")), HOSTS_ARG, f"--ssh-config={fleet.ssh_config}", f"--save-facts={saved}"
    )
    after = _sessions(fleet)
    return run, {n: after[n] - before[n] for n in LIVE}, saved


def test_a_full_run_costs_one_collector_session_and_one_libvirt_connection_per_host(serial_run):
    """20 guests, a network and two bridges per host still cost two SSH sessions: the collector
    and the read-only libvirt connection."""
    run, used, _ = serial_run
    hosts = {h["host"]: h for h in run.results["hosts"]}
    assert set(hosts) == set(LIVE), run.stdout[-3000:] + run.stderr[-2000:]
    for n in LIVE:
        assert hosts[n]["reachable"], hosts[n]
        assert hosts[n]["libvirt_source"] == "libvirt-python", hosts[n]
        assert hosts[n]["counts"]["guests"] == GUESTS and hosts[n]["counts"]["nics"] == GUESTS, hosts[n]
        # every guest NIC gets one result from each guest-NIC check, the same checks for all
        per_nic: dict[str, set] = {}
        for r in run.for_host(n):
            if r["object"].startswith("g"):
                per_nic.setdefault(r["object"], set()).add(r["check"])
        assert len(per_nic) == GUESTS, sorted(per_nic)
        assert len({frozenset(c) for c in per_nic.values()}) == 1, per_nic
        assert {"guest-nic-bridge-delay", "guest-pxe-boot-file", "guest-port-forwarding"} <= next(
            iter(per_nic.values())
        )
    assert used == {n: 2 for n in LIVE}, used


def test_xdist_workers_check_the_facts_gathered_once(fleet, serial_run, tmp_path):
    """`pytest -n 2`: the controller gathers each host once and both workers check those facts."""
    serial, _, _ = serial_run
    before = _sessions(fleet)
    run = run_suite(str(tmp_path), HOSTS_ARG, f"--ssh-config={fleet.ssh_config}", "-n", "2")
    after = _sessions(fleet)
    assert {n: after[n] - before[n] for n in LIVE} == {n: 2 for n in LIVE}
    assert "bringing up nodes" in run.stdout, run.stdout[-2000:]
    assert _outcomes(run.results) == _outcomes(serial.results)
    assert len(run.results["results"]) == len(serial.results["results"])


def test_saved_facts_are_checked_with_no_host_reached(fleet, serial_run, tmp_path):
    """--save-facts then --facts: the same results, and not one SSH session."""
    serial, _, saved = serial_run
    before = _sessions(fleet)
    run = run_suite(str(tmp_path), f"--facts={saved}")
    assert _sessions(fleet) == before
    assert run.returncode == serial.returncode
    assert _outcomes(run.results) == _outcomes(serial.results)
    assert [h["host"] for h in run.results["hosts"]] == LIVE
    assert "loaded from" in run.stdout


def test_facts_saved_in_another_format_are_refused_clearly(serial_run, tmp_path):
    _, _, saved = serial_run
    newer = tmp_path / "newer"
    shutil.copytree(saved, newer)
    index = json.loads((newer / "index.json").read_text())
    index["format"] = 99
    index["tool"] = "kvm-netcheck 9.0"
    (newer / "index.json").write_text(json.dumps(index))
    run = run_suite(str(tmp_path / "report"), f"--facts={newer}")
    assert run.returncode == 4, run.stdout[-1000:] + run.stderr[-1000:]
    assert "saved by kvm-netcheck 9.0 in format 99; this version reads format 1" in run.stderr


def _run_on_a_terminal(args: list[str], timeout: float = 300) -> tuple[int, str]:
    """The suite with its output on a pseudo-terminal, as a user at a shell sees it."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    p = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")


def test_dead_and_hung_hosts_cost_their_timeout_once_and_never_stall_the_others(fleet, serial_run, tmp_path):
    """Two gathering workers, two hosts that never answer SSH and one that is down, ahead of the
    live ones: each hung host is given up after --host-timeout, once, and the live hosts are
    gathered meanwhile by the workers that take the hung ones' places."""
    serial, _, _ = serial_run
    timeout = 4
    dead = "fl-dead"
    fleet.add_host(dead)
    os.kill(fleet.get(dead).pid, signal.SIGKILL)
    tries = tmp_path / "hung-tries"
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        open(fleet.ssh_config).read()
        + "".join(
            f"\nHost {h}\n  BatchMode yes\n  ProxyCommand sh -c 'echo {h} $$ >> {tries}; exec sleep 60'\n"
            for h in ("fl-hung1", "fl-hung2")
        )
    )
    before = _sessions(fleet)
    report = tmp_path / "report"
    try:
        rc, out = _run_on_a_terminal(
            [
                "--hosts=ssh://fl-hung1,ssh://fl-hung2,ssh://fl-dead," + HOSTS_ARG.split("=", 1)[1],
                f"--ssh-config={ssh_config}",
                "--gather-workers=2",
                f"--host-timeout={timeout}",
                f"--results-json={report}/results.json",
                f"--junitxml={report}/junit.xml",
                f"--html={report}/r.html",
            ]
        )
    finally:
        lines = tries.read_text().split("\n") if tries.exists() else []
        for ln in lines:  # the ProxyCommands this test started, should any still sleep
            if ln.strip():
                try:
                    os.kill(int(ln.split()[1]), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
    results = json.loads((report / "results.json").read_text())
    hosts = {h["host"]: h for h in results["hosts"]}
    for h in ("fl-hung1", "fl-hung2"):
        assert not hosts[h]["reachable"] and hosts[h]["error"] == f"no answer within {timeout} s", hosts[h]
        assert sum(1 for ln in lines if ln.split()[:1] == [h]) == 1, lines  # one try, no retry
    assert not hosts[dead]["reachable"] and "timeout" not in hosts[dead]["error"], hosts[dead]
    assert "host fl-dead is down" in hosts[dead]["error"], hosts[dead]
    for n in LIVE:
        assert hosts[n]["reachable"], hosts[n]
    after = _sessions(fleet)
    assert {n: after[n] - before[n] for n in LIVE} == {n: 2 for n in LIVE}

    def live(o):
        return {k: v for k, v in o.items() if k[1] in LIVE}

    assert live(_outcomes(results)) == live(_outcomes(serial.results))
    assert rc != 0  # unreachable hosts never pass a run
    # the hung hosts hold both workers for `timeout` s, then two workers gather the live hosts
    # (the serial run had one worker per host); waiting on ssh's own 10 s timeouts instead, or a
    # deadline for the whole run, would leave the live hosts unreachable above
    assert _gather_seconds(out) < timeout + 3 * _gather_seconds(serial.stdout) + 5, out[-3000:]
    assert f"gathering facts: {len(LIVE) + 3}/{len(LIVE) + 3} hosts" in out, out[-3000:]


# ---------------------------------------------------------------- shards and their merge


def _ssh_words(text: str) -> str:
    return re.sub(r"ssh exited (\d+)(:|\s*\|)[^\"<|]*(\|[^\"<]*)?", r"ssh exited \1", text)


def _normalized_results(results: dict) -> dict:
    """results.json without what differs between two runs of the same hosts: when they ran, the
    shard/merge bookkeeping, and ssh's own words for a connection that failed (which of its
    messages ssh prints depends on when the ProxyCommand ended)."""
    out = json.loads(_ssh_words(json.dumps(results)))
    out.pop("generated", None)
    out.pop("merged", None)
    out.pop("shard", None)
    out["fix_scripts"] = {h: os.path.basename(p) for h, p in out["fix_scripts"].items()}
    return out


def _merge(dirs: list[str], out_dir) -> subprocess.CompletedProcess:
    """`kvm-netcheck merge DIR... --output-dir=OUT`, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "kvmnetcheck.cli", "merge", *dirs, f"--output-dir={out_dir}", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _differences(a: dict, b: dict) -> list:
    """What differs between two normalized results.json documents, entry by entry (for the message)."""
    out = [
        (k, a.get(k), b.get(k))
        for k in sorted(set(a) | set(b))
        if k not in ("hosts", "results") and a.get(k) != b.get(k)
    ]
    for part in ("hosts", "results"):
        pa, pb = a.get(part, []), b.get(part, [])
        out += [(part, x, y) for x, y in zip(pa, pb) if x != y][:3]
        if len(pa) != len(pb):
            out.append((part, len(pa), len(pb)))
    return out


def _junit_cases(path) -> tuple[dict, list]:
    import xml.etree.ElementTree as ET

    suite = ET.parse(path).getroot().find("testsuite")
    attrs = {k: v for k, v in suite.attrib.items() if k not in ("time", "timestamp")}
    props = [(p.get("name"), p.get("value")) for p in suite.find("properties")]
    cases = [_ssh_words(ET.tostring(c, encoding="unicode")) for c in suite.findall("testcase")]
    return {"suite": attrs, "properties": props}, cases


def _fix_scripts(directory) -> dict[str, list[str]]:
    """Each fix script without its second line (which run made it, and when)."""
    return {
        p.name: [ln for i, ln in enumerate(p.read_text().splitlines()) if i != 1]
        for p in sorted(directory.glob("*.sh"))
    }


def test_merged_shards_equal_one_whole_run(fleet, tmp_path):
    """The lab's hosts and one unreachable host, checked once whole and once as two --shard runs
    merged by `kvm-netcheck merge`: the same results in the same order, the same JUnit, gate, exit
    code, fix scripts and HTML findings."""
    from kvmnetcheck.raw import in_shard

    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(open(fleet.ssh_config).read() + "\nHost fl-gone\n  BatchMode yes\n  ProxyCommand false\n")
    names = ["fl-gone", *LIVE]
    slices = {k: [n for n in names if in_shard(n, (k, 2))] for k in (1, 2)}
    assert all(slices.values()), slices  # each shard has hosts of its own (the names are fixed)
    hosts = "--hosts=" + ",".join(f"ssh://{n}" for n in names)
    whole = run_suite(str(tmp_path / "whole"), hosts, f"--ssh-config={ssh_config}")
    assert whole.results["hosts"], whole.stdout[-3000:] + whole.stderr[-2000:]
    shards = []
    for k in (1, 2):
        part = run_suite(str(tmp_path / f"shard{k}"), hosts, f"--ssh-config={ssh_config}", f"--shard={k}/2")
        assert [h["host"] for h in part.results["hosts"]] == slices[k], part.stdout[-3000:]
        assert (tmp_path / f"shard{k}" / "shard.json").is_file()
        shards.append(str(tmp_path / f"shard{k}"))
    merged_dir = tmp_path / "merged"
    merge = _merge(list(reversed(shards)), merged_dir)
    merged = json.loads((merged_dir / "results.json").read_text())

    assert merge.returncode == whole.returncode == 1, merge.stdout[-3000:] + merge.stderr[-2000:]
    assert merged["merged"]["shards"] == 2 and merged["merged"]["hosts"] == len(names)
    assert not _differences(_normalized_results(merged), _normalized_results(whole.results)), _differences(
        _normalized_results(merged), _normalized_results(whole.results)
    )
    assert [h["host"] for h in merged["hosts"]] == names
    outcomes = {(r["check"], r["host"], r["object"]): r["outcome"] for r in merged["results"]}
    assert outcomes[("host-reachable", "fl-gone", "fl-gone")] == "failed"
    assert all(outcomes[("bridge-forward-delay", n, "br1")] == "failed" for n in LIVE)

    assert _junit_cases(merged_dir / "junit.xml") == _junit_cases(whole.junit_path)
    assert _fix_scripts(merged_dir / "fix") == _fix_scripts(tmp_path / "whole" / "fix")
    assert set(_fix_scripts(merged_dir / "fix")) == {f"{n}.sh" for n in LIVE}

    def findings(path):
        data = html_report_data(path)
        rows = re.findall(r"<tr class='kvm-static-finding kvm-group'.*?</tr>", open(path).read(), re.S)
        pages = {
            name: _ssh_words((path.parent / "hosts" / name).read_text().split("<h1>", 1)[1])
            for name in os.listdir(path.parent / "hosts")
        }
        return sorted(data["tests"]), [_ssh_words(row) for row in rows], pages

    whole_findings = findings(Path(whole.html_path))
    assert whole_findings[1] and whole_findings[2]
    assert findings(merged_dir / "compliance.html") == whole_findings
    assert "gate FAILED (exit 1)" in merge.stdout


def test_a_merge_refuses_an_incomplete_set_of_shards(fleet, tmp_path):
    """A shard missing (a CI job that failed) is named; nothing is written."""
    part = run_suite(str(tmp_path / "shard1"), HOSTS_ARG, f"--ssh-config={fleet.ssh_config}", "--shard=1/3")
    assert (tmp_path / "shard1" / "shard.json").is_file(), part.stdout[-2000:]
    merge = _merge([str(tmp_path / "shard1")], tmp_path / "merged")
    assert merge.returncode == 4, merge.stdout[-2000:] + merge.stderr[-2000:]
    assert "shards missing: 2/3, 3/3" in merge.stderr
    assert not (tmp_path / "merged" / "results.json").exists()


def test_slices_of_saved_facts_merge_to_the_whole_run_empty_slices_included(serial_run, tmp_path):
    """Three saved hosts split five ways: the empty slices are complete shards too (exit 0, a
    shard.json with no host), and the five merge into what one --facts run writes."""
    from kvmnetcheck.raw import in_shard

    _, _, saved = serial_run
    n = 5
    slices = {k: [h for h in LIVE if in_shard(h, (k, n))] for k in range(1, n + 1)}
    assert sum(1 for v in slices.values() if not v) >= 2
    whole = run_suite(str(tmp_path / "whole"), f"--facts={saved}")
    dirs = []
    for k in range(1, n + 1):
        part = run_suite(str(tmp_path / f"s{k}"), f"--facts={saved}", f"--shard={k}/{n}")
        meta = json.loads((tmp_path / f"s{k}" / "shard.json").read_text())
        assert [h["host"] for h in meta["hosts"]] == slices[k]
        if not slices[k]:
            assert part.returncode == 0, part.stdout[-2000:] + part.stderr[-2000:]
            assert part.results["results"] == [] and part.results["gate"]["verdict"] == "passed"
        dirs.append(str(tmp_path / f"s{k}"))
    merge = _merge(dirs, tmp_path / "merged")
    assert merge.returncode == whole.returncode, merge.stdout[-3000:] + merge.stderr[-2000:]
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert _normalized_results(merged) == _normalized_results(whole.results)


# Runs a command and prints its peak RSS (the largest process it waited for), in KiB.
PEAK = r"""
import json, resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
print(json.dumps({"rc": rc, "peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@pytest.fixture(scope="module")
def dense_facts(fleet, tmp_path_factory):
    """A lab host as a first run on a real fleet finds it (bench/fleetlab.py, shape 50): 24 guests,
    about 50 findings, saved."""
    build_fleet(fleet, ["fl-dense"], 24, workers=1, findings=50)
    saved = tmp_path_factory.mktemp("dense") / "facts"
    run = run_suite(
        str(tmp_path_factory.mktemp("dense-run")),
        "--hosts=ssh://fl-dense",
        f"--ssh-config={fleet.ssh_config}",
        f"--save-facts={saved}",
    )
    bad = [r for r in run.results["results"] if r["outcome"] == "failed"]
    assert len(bad) >= 50, run.stdout[-3000:]
    return saved, len(bad)


def test_memory_stays_flat_when_the_saved_hosts_double(dense_facts, tmp_path):
    """A host with about 50 findings cloned to 100 and then 200 hosts (24 guests each, every report
    written): the second run's peak RSS stays within 1.3 times the first's. Results and findings
    stream to disk, items are let go once they ran, and a host's guests keep only which findings
    are theirs; a run that kept every finding (as this suite once did) grows with each."""
    from clone_facts import clone_facts

    saved, per_host = dense_facts
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    peaks, counts = {}, {}
    for n in (100, 200):
        facts, out = tmp_path / f"facts{n}", tmp_path / f"out{n}"
        clone_facts(str(saved), str(facts), n)
        p = subprocess.run(
            [
                sys.executable,
                "-c",
                PEAK,
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--facts={facts}",
                f"--output-dir={out}",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        measured = json.loads(p.stdout)
        assert measured["rc"] == 1, p.stdout + p.stderr
        results = json.loads((out / "results.json").read_text())
        assert len(results["hosts"]) == n and (out / "compliance.html").stat().st_size > 0
        failed = sum(1 for r in results["results"] if r["outcome"] == "failed")
        assert failed == n * per_host
        assert len(os.listdir(out / "hosts")) == n  # every host's findings on its page
        peaks[n], counts[n] = measured["peak_kib"], len(results["results"])
    assert counts[200] == 2 * counts[100]
    assert peaks[200] < 1.3 * peaks[100], {n: f"{kib / 1024:.0f} MiB" for n, kib in peaks.items()}
