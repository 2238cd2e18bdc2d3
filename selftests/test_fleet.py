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

import pytest

from support import REPO, run_suite

sys.path.insert(0, os.path.join(REPO, "bench"))
from fleetlab import build_fleet  # noqa: E402

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
    run = run_suite(str(tmp_path_factory.mktemp("serial")), HOSTS_ARG, f"--ssh-config={fleet.ssh_config}",
                    f"--save-facts={saved}")
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
        assert {"guest-nic-bridge-delay", "guest-pxe-boot-file", "guest-port-forwarding"} <= next(iter(per_nic.values()))
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
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=REPO,
                         stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
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
    ssh_config.write_text(open(fleet.ssh_config).read() + "".join(
        f"\nHost {h}\n  BatchMode yes\n  ProxyCommand sh -c 'echo {h} $$ >> {tries}; exec sleep 60'\n"
        for h in ("fl-hung1", "fl-hung2")))
    before = _sessions(fleet)
    report = tmp_path / "report"
    try:
        rc, out = _run_on_a_terminal([
            "--hosts=ssh://fl-hung1,ssh://fl-hung2,ssh://fl-dead," + HOSTS_ARG.split("=", 1)[1],
            f"--ssh-config={ssh_config}", "--gather-workers=2", f"--host-timeout={timeout}",
            f"--results-json={report}/results.json", f"--junitxml={report}/junit.xml", f"--html={report}/r.html"])
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
