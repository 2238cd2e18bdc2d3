"""Several real hosts in one run: STP root election across hosts, read-only proof, the local host."""

from __future__ import annotations

import os
import time

import pytest
from support import REPO, run_suite, settled_snapshot, snapshot, wait_sessions_closed

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("lab2"))) as lab:
        yield lab


def _wait_root_election(h, bridge, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if h.read_file(f"/sys/class/net/{bridge}/bridge/root_port").strip() != "0":
            return
        time.sleep(0.2)
    raise AssertionError(f"{h.name}:{bridge} never saw another root")


def test_stp_root_election_between_two_hosts(lab, tmp_path):
    """Two hosts' bridges joined by a veth pair: the kernel elects the lower priority as root,
    and the suite fails bridge-stp-root only on the other one."""
    a = lab.add_host("roota")
    b = lab.add_host("rootb")
    a.sh(LIB + "\nbridge br0 1 200 4096")
    b.sh(LIB + "\nbridge br0 1 200 32768")
    lab.link(a, "br0", b, "br0")
    _wait_root_election(b, "br0")
    run = run_suite(str(tmp_path), "--hosts=ssh://roota,ssh://rootb", f"--ssh-config={lab.ssh_config}")
    ra = run.result("bridge-stp-root", "roota", "br0")
    rb = run.result("bridge-stp-root", "rootb", "br0")
    assert ra and ra["outcome"] == "passed", ra
    assert rb and rb["outcome"] == "failed", rb
    root_id = a.read_file("/sys/class/net/br0/bridge/bridge_id").strip()
    assert root_id in rb["message"]
    assert "stp_state 0" in rb["remediation"]


def test_suite_changes_nothing_on_the_host(lab, tmp_path):
    """A full run over SSH leaves bridges, rules, libvirt objects, files and processes as they were."""
    h = lab.add_host("ro1", libvirt=True)
    h.add_vhost_net_standin()
    h.sh(
        LIB
        + """
net_define lan "name='virbr7' stp='on' delay='15'"
bridge br0 1 1500
mkdir -p /etc/sysconfig/network-scripts
printf 'DEVICE=br0\\nTYPE=Bridge\\nSTP=on\\n' > /etc/sysconfig/network-scripts/ifcfg-br0
guest_define g1 "<interface type='network'><source network='lan'/><model type='virtio'/></interface>"
""",
        timeout=240,
    )
    before = settled_snapshot(h)
    run = run_suite(str(tmp_path), "--hosts=ssh://ro1", f"--ssh-config={lab.ssh_config}")
    assert run.results["hosts"][0]["libvirt_source"] == "libvirt-python"
    assert any(r["outcome"] == "failed" for r in run.results["results"])
    wait_sessions_closed(h)
    after = snapshot(h)
    for key in before:
        assert before[key] == after[key], f"{key} changed:\n--- before\n{before[key]}\n--- after\n{after[key]}"


def test_virsh_fallback_is_used_and_named(lab, tmp_path):
    """With the libvirt connection refused (URI 'none'), the collector's virsh --readonly output is used."""
    h = lab.add_host("fb1", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"")
    run = run_suite(str(tmp_path), "--hosts=ssh://fb1", f"--ssh-config={lab.ssh_config}", "--libvirt-uri=fb1=none")
    host = run.results["hosts"][0]
    assert host["libvirt_source"] == "virsh", host
    r = run.result("libvirt-network-stp-delay", "fb1", "lan")
    assert r and r["outcome"] == "failed", r
    assert "virsh read" in run.stdout or "libvirt read through virsh" in run.stdout


def test_local_host_report(tmp_path):
    """No --hosts: the suite checks this machine (local://) and writes all three reports."""
    run = run_suite(str(tmp_path))
    assert run.returncode in (0, 1), run.stdout[-2000:] + run.stderr[-2000:]
    assert [h["host"] for h in run.results["hosts"]] == ["localhost"]
    r = run.result("host-reachable", "localhost")
    assert r and r["outcome"] == "passed", r
    assert os.path.getsize(run.html_path) > 10000 and os.path.getsize(run.junit_path) > 0
    # a check whose objects this machine lacks (no guests, perhaps no bridges) gives no row at all:
    # never one about no host, never pytest's NOTSET
    for r in run.results["results"]:
        assert r["host"] == "localhost" and r["object"] and "NOTSET" not in r["test"], r
    assert "NOTSET" not in open(run.junit_path).read() and "NOTSET" not in open(run.html_path).read()


@pytest.fixture
def user_space_stp_bridge():
    """A bridge whose STP runs in user space: only possible in the initial network namespace, where
    the kernel calls /sbin/bridge-stp (here a helper that accepts), so it lives on this machine."""
    import subprocess

    helper = "/sbin/bridge-stp"
    had_helper = os.path.exists(helper)
    name = f"kncustp{os.getpid() % 10000}"
    if not had_helper:
        with open(helper, "w") as f:
            f.write("#!/bin/sh\n# accepts user-space STP for the kvm-netcheck self-test\nexit 0\n")
        os.chmod(helper, 0o755)
    try:
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
        subprocess.run(["ip", "link", "set", name, "type", "bridge", "stp_state", "1"], check=True)
        state = open(f"/sys/class/net/{name}/bridge/stp_state").read().strip()
        if state != "2":
            pytest.skip(f"the kernel did not hand STP to user space (stp_state {state})")
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)
        if not had_helper:
            os.unlink(helper)


def test_user_space_stp_is_reported_apart(user_space_stp_bridge, tmp_path):
    """stp_state 2: the kernel does not time the ports, so neither a pass nor a kernel-rule failure."""
    run = run_suite(str(tmp_path))
    for check in ("bridge-forward-delay", "bridge-stp-root"):
        r = run.result(check, "localhost", user_space_stp_bridge)
        assert r and r["outcome"] == "skipped", r
        assert "user-space STP" in r["message"]
