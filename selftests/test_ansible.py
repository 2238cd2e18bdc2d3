"""Ansible inventories against real lab hosts: testinfra's `--ansible-inventory` with
`--hosts=ansible://GROUP`, and gathering the whole group through Ansible itself.

The hosts are reached only through what the inventory says: the ssh_config it names has no user
and no key, its ProxyCommand records the host, port and user of every session, and one host
logs in as an unprivileged user who must become root to read iptables and libvirt."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from support import REPO, run_suite

VENV_BIN = os.path.dirname(sys.executable)
pytestmark = pytest.mark.skipif(
    shutil.which("ansible-inventory", path=VENV_BIN + os.pathsep + os.environ.get("PATH", "")) is None
    or shutil.which("sudo") is None,
    reason="needs ansible-core (ansible-inventory) on the control node and sudo for the become host")

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
# inventory name -> lab host name
HOSTS = {"kvm-a": "an-a", "kvm-b": "an-b", "kvm-c": "an-c"}
PORT = "2222"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from lab import Lab

    d = tmp_path_factory.mktemp("ansible")
    with Lab(str(d / "lab")) as lab:
        hosts = {}
        for inv, name in HOSTS.items():
            h = hosts[inv] = lab.add_host(name, libvirt=True)
            h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"\n"
                 "guest_define g1 \"<interface type='network'><source network='lan'/>"
                 "<model type='virtio'/></interface>\"", timeout=240)
        # kvm-c: log in as ops, who may sudo; iptables and libvirt's sockets answer root only
        c = hosts["kvm-c"]
        c.sh("useradd -l -m -d /run/ops -s /bin/sh -p '*' ops && mkdir -p /etc/sudoers.d && "
             "echo 'ops ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/ops && chmod 440 /etc/sudoers.d/ops && "
             "chmod 700 /run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-sock")
        c.write_file("/etc/ssh/ops_keys", open(os.path.join(lab.root, "id_ed25519.pub")).read())
        with open(os.path.join(c.dir, "sshd_config"), "a") as f:
            f.write("Match User ops\n  AuthorizedKeysFile /etc/ssh/ops_keys\n")

        log = d / "sessions.log"
        proxy = d / "proxy"
        proxy.write_text(f'#!/bin/sh\necho "$1 $2 $3" >> {log}\nexec {lab.proxy} "$1"\n')
        proxy.chmod(0o755)
        key = open(os.path.join(lab.root, "ssh_host_ed25519_key.pub")).read().split()[:2]
        known = d / "known_hosts"
        known.write_text("".join(f"[{n}]:{PORT} {' '.join(key)}\n" for n in HOSTS.values()))
        ssh_config = d / "ssh_config"
        ssh_config.write_text(  # no User, no IdentityFile: those come from the inventory only
            f"Host *\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n"
            f"  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n  ProxyCommand {proxy} %h %p %r\n")
        inventory = d / "inventory.ini"
        inventory.write_text(
            "[fleet]\n"
            + "".join(f"{inv} ansible_host={n}" + (" ansible_user=ops ansible_become=true" if inv == "kvm-c" else "")
                      + "\n" for inv, n in HOSTS.items())
            + "\n[fleet:vars]\nansible_user=root\n"
            f"ansible_port={PORT}\nansible_ssh_private_key_file={lab.root}/id_ed25519\n"
            f"ansible_ssh_common_args='-F {ssh_config}'\nansible_python_interpreter=/usr/bin/python3\n")
        yield {"lab": lab, "dir": d, "log": log, "inventory": str(inventory)}


def _sessions(log) -> list[tuple[str, str, str]]:
    if not log.exists():
        return []
    return [tuple(ln.split()) for ln in log.read_text().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def inventory_run(fleet, tmp_path_factory):
    fleet["log"].unlink(missing_ok=True)
    # PATH without the venv, as for `.venv/bin/pytest` in a shell: the suite still finds the
    # ansible-inventory installed beside it, which testinfra needs to read the inventory
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    old = os.environ.get("PATH")
    os.environ["PATH"] = path
    try:
        facts = tmp_path_factory.mktemp("saved")
        run = run_suite(str(tmp_path_factory.mktemp("report")), f"--ansible-inventory={fleet['inventory']}",
                        "--hosts=ansible://fleet", f"--save-facts={facts}")
    finally:
        os.environ["PATH"] = old or ""
    return run, _sessions(fleet["log"]), facts


def test_inventory_hosts_are_checked_under_their_inventory_names(inventory_run):
    run, _, _ = inventory_run
    hosts = {h["host"]: h for h in run.results["hosts"]}
    assert set(hosts) == set(HOSTS), run.stdout[-3000:] + run.stderr[-2000:]
    for name, h in hosts.items():
        assert h["reachable"], (name, h["error"])
        assert h["spec"] == f"ansible://{name}"
    r = run.result("libvirt-network-stp-delay", "kvm-a", "lan")
    assert r and r["outcome"] == "failed", r


def test_host_port_user_and_key_come_from_the_inventory(inventory_run):
    """Every session went to the inventory's ansible_host, on its port, as its user, with the key
    only the inventory names; one collector session and one libvirt connection per host."""
    run, sessions, _ = inventory_run
    for inv, name in HOSTS.items():
        mine = [s for s in sessions if s[0] == name]
        user = "ops" if inv == "kvm-c" else "root"
        assert mine == [(name, PORT, user)] * 2, (inv, sessions)


def test_libvirt_connection_uses_the_inventory_too(inventory_run):
    run, _, _ = inventory_run
    hosts = {h["host"]: h for h in run.results["hosts"]}
    for inv, name in HOSTS.items():
        user = "ops" if inv == "kvm-c" else "root"
        assert hosts[inv]["libvirt_source"] == "libvirt-python", hosts[inv]
        assert hosts[inv]["libvirt_uri"] == f"qemu+ssh://{user}@{name}:{PORT}/system", hosts[inv]


def test_become_runs_the_collector_and_libvirt_as_root(inventory_run):
    """kvm-c logs in as ops; with ansible_become the collector runs as root and libvirt's
    root-only socket still answers (through sudo on the host)."""
    run, _, facts = inventory_run
    index = json.loads((facts / "index.json").read_text())
    files = {e["host"]: e["file"] for e in index["hosts"]}
    saved = json.loads((facts / files["kvm-c"]).read_text())
    assert "\nuid=0\n" in saved["output"]
    assert saved["libvirt"]["source"] == "libvirt-python", saved["libvirt"]
    assert [n["xml"] for n in saved["libvirt"]["networks"] if "<name>lan</name>" in n["xml"]]


def test_gathering_through_ansible_is_checked_offline(fleet, inventory_run, tmp_path):
    """ansible_gather runs the collector with Ansible's forks and one multiplexed SSH connection
    per host; the suite then checks the saved facts and finds what the direct run found."""
    import subprocess

    direct, _, _ = inventory_run
    fleet["log"].unlink(missing_ok=True)
    out = tmp_path / "facts"
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run([sys.executable, "-m", "kvmnetcheck.collect.ansible_gather", "-i", fleet["inventory"],
                        "fleet", "--out", str(out), "--forks", "3"],
                       cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 host(s) gathered through ansible" in p.stdout, p.stdout + p.stderr
    per_host = {}
    for name, _port, _user in _sessions(fleet["log"]):
        per_host[name] = per_host.get(name, 0) + 1
    assert per_host == {n: 1 for n in HOSTS.values()}, per_host

    offline = run_suite(str(tmp_path / "report"), f"--facts={out}")
    assert {h["host"]: h["libvirt_source"] for h in offline.results["hosts"]} == {n: "virsh" for n in HOSTS}, \
        offline.results["hosts"]

    def outcomes(run):
        return {(r["check"], r["host"], r["object"]): r["outcome"] for r in run.results["results"]}

    assert outcomes(offline) == outcomes(direct)
