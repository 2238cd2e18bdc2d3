"""Ansible inventories against real lab hosts: testinfra's `--ansible-inventory` with
`--hosts=ansible://GROUP`, and gathering the whole group through Ansible itself.

The hosts are reached only through what the inventory says: the ssh_config it names has no user
and no key, its ProxyCommand records the host, port and user of every session, and one host
logs in as an unprivileged user who must become root to read iptables and libvirt. Behind a slow
ProxyCommand the same host shows how long libvirt's connection may take, and what the report says
when it takes longer."""

from __future__ import annotations

import html
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
    reason="needs ansible-core (ansible-inventory) on the control node and sudo for the become host",
)

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
            h.sh(
                LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"\n"
                "guest_define g1 \"<interface type='network'><source network='lan'/>"
                "<model type='virtio'/></interface>\"",
                timeout=240,
            )
        # kvm-c: log in as ops, who may sudo; iptables and libvirt's sockets answer root only
        c = hosts["kvm-c"]
        c.sh(
            "useradd -l -m -d /run/ops -s /bin/sh -p '*' ops && mkdir -p /etc/sudoers.d && "
            "echo 'ops ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/ops && chmod 440 /etc/sudoers.d/ops && "
            "chmod 700 /run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-sock"
        )
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
            f"  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n  ProxyCommand {proxy} %h %p %r\n"
        )
        inventory = d / "inventory.ini"
        inventory.write_text(
            "[fleet]\n"
            + "".join(
                f"{inv} ansible_host={n}" + (" ansible_user=ops ansible_become=true" if inv == "kvm-c" else "") + "\n"
                for inv, n in HOSTS.items()
            )
            + "\n[fleet:vars]\nansible_user=root\n"
            f"ansible_port={PORT}\nansible_ssh_private_key_file={lab.root}/id_ed25519\n"
            f"ansible_ssh_common_args='-F {ssh_config}'\nansible_python_interpreter=/usr/bin/python3\n"
            # outside the fleet: a host nothing answers for (a closed port on the loopback, no
            # proxy), and kvm-c's sshd under a name whose host key is in no known_hosts
            "\n[strangers]\n"
            f"kvm-gone ansible_host=127.0.0.1 ansible_port={_closed_port()} ansible_user=root "
            "ansible_ssh_common_args='-F /dev/null -o BatchMode=yes'\n"
            f"kvm-unknown-key ansible_host={HOSTS['kvm-c']} ansible_port={PORT} ansible_user=root "
            f"ansible_ssh_private_key_file={lab.root}/id_ed25519 "
            f"ansible_ssh_common_args='-F {ssh_config} -o HostKeyAlias=kvm-unknown-key'\n"
        )
        yield {"lab": lab, "dir": d, "log": log, "inventory": str(inventory)}


def _closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        run = run_suite(
            str(tmp_path_factory.mktemp("report")),
            f"--ansible-inventory={fleet['inventory']}",
            "--hosts=ansible://fleet",
            f"--save-facts={facts}",
        )
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


# longer than ssh's former fixed 10 s for libvirt's connection, well within a tenth of the default
# --host-timeout (30 s)
SLOW_SSHD = 15


@pytest.fixture(scope="module")
def slow_libvirt(fleet):
    """An inventory whose kvm-slow is kvm-c (ops, become) behind a ProxyCommand that starts sshd
    SLOW_SSHD seconds late for libvirt's connection (its ssh client runs virt-ssh-helper on the host):
    a loaded host, slow to answer, as far as ssh can tell. The collector's session starts at once."""
    d, lab = fleet["dir"], fleet["lab"]
    slept = d / "slow-sessions.log"
    proxy = d / "slow-proxy"
    proxy.write_text(
        "#!/bin/sh\ncase \"$(tr '\\0' ' ' < /proc/$PPID/cmdline)\" in *virt-ssh-helper*)\n"
        f'    echo "$1" >> {slept}; sleep {SLOW_SSHD} ;;\nesac\nexec {lab.proxy} "$1"\n'
    )
    proxy.chmod(0o755)
    ssh_config = d / "slow_ssh_config"
    ssh_config.write_text(
        (d / "ssh_config").read_text().replace(f"ProxyCommand {d / 'proxy'} ", f"ProxyCommand {proxy} ")
    )
    assert str(proxy) in ssh_config.read_text()
    inventory = d / "slow.ini"
    inventory.write_text(
        f"kvm-slow ansible_host={HOSTS['kvm-c']} ansible_port={PORT} ansible_user=ops ansible_become=true "
        f"ansible_ssh_private_key_file={lab.root}/id_ed25519 ansible_ssh_common_args='-F {ssh_config}' "
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    return {"inventory": str(inventory), "slept": slept}


def _slow_run(slow_libvirt, out_dir, *args):
    slow_libvirt["slept"].unlink(missing_ok=True)
    run = run_suite(
        str(out_dir), f"--ansible-inventory={slow_libvirt['inventory']}", "--hosts=ansible://kvm-slow", *args
    )
    # the connection really waited: libvirt's session, once, and only it
    assert slow_libvirt["slept"].read_text().split() == [HOSTS["kvm-c"]], run.stdout[-3000:]
    host = next(h for h in run.results["hosts"] if h["host"] == "kvm-slow")
    assert host["reachable"], (host, run.stdout[-3000:], run.stderr[-2000:])
    return run, host


def test_libvirt_that_answers_slowly_is_still_read_through_libvirt_python(slow_libvirt, tmp_path):
    """A host whose sshd takes longer than ssh's usual 10 s to answer libvirt's connection is still
    read through libvirt-python: ssh may take a tenth of --host-timeout (30 s by default)."""
    run, host = _slow_run(slow_libvirt, tmp_path)
    assert host["libvirt_source"] == "libvirt-python", host
    assert host["libvirt_fallback"] is None and not [n for n in host["notes"] if "libvirt-python" in n], host
    assert "kvm-slow: libvirt read through" not in run.stdout, run.stdout[-3000:]


def test_a_libvirt_connection_that_times_out_is_named_where_people_look(slow_libvirt, tmp_path):
    """With --host-timeout=100, ssh may take 10 s: the slow host's libvirt is read with virsh on the
    host, and results.json, the terminal and the HTML report say so and why."""
    run, host = _slow_run(slow_libvirt, tmp_path, "--host-timeout=100")
    why = (
        "libvirt-python: connecting to qemu+ssh://ops@an-c:2222/system through ssh timed out after 10 s "
        "(ssh's ConnectTimeout; a longer --host-timeout raises it): "
    )
    assert host["libvirt_source"] == "virsh", host
    assert (host["libvirt_fallback"] or "").startswith(why) and "banner exchange" in host["libvirt_fallback"], host
    assert host["libvirt_fallback"] in host["notes"], host
    assert f"  kvm-slow: libvirt read through virsh ({host['libvirt_fallback']})" in run.stdout, run.stdout[-3000:]
    page = open(run.html_path, encoding="utf-8").read()
    assert 'id="kvm-libvirt-fallback"' in page and html.escape(why, quote=True) in page
    # virsh's view is libvirt's own: the network is still checked
    r = run.result("libvirt-network-stp-delay", "kvm-slow", "lan")
    assert r and r["outcome"] == "failed", r


def test_gathering_through_ansible_is_checked_offline(fleet, inventory_run, tmp_path):
    """ansible_gather runs the collector with Ansible's forks and one multiplexed SSH connection
    per host; the suite then checks the saved facts and finds what the direct run found."""
    import subprocess

    direct, _, _ = inventory_run
    fleet["log"].unlink(missing_ok=True)
    out = tmp_path / "facts"
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "kvmnetcheck.collect.ansible_gather",
            "-i",
            fleet["inventory"],
            "fleet",
            "--out",
            str(out),
            "--forks",
            "3",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 host(s) gathered through ansible" in p.stdout, p.stdout + p.stderr
    per_host = {}
    for name, _port, _user in _sessions(fleet["log"]):
        per_host[name] = per_host.get(name, 0) + 1
    assert per_host == {n: 1 for n in HOSTS.values()}, per_host

    offline = run_suite(str(tmp_path / "report"), f"--facts={out}")
    assert {h["host"]: h["libvirt_source"] for h in offline.results["hosts"]} == {n: "virsh" for n in HOSTS}, (
        offline.results["hosts"]
    )

    def outcomes(run):
        return {(r["check"], r["host"], r["object"]): r["outcome"] for r in run.results["results"]}

    assert outcomes(offline) == outcomes(direct)


def _fake_ansible_dir(tmp_path) -> tuple[str, str]:
    """A directory whose `ansible` records its arguments (one JSON list a line) and runs the real one."""
    real = os.path.join(VENV_BIN, "ansible")
    if not os.access(real, os.X_OK):
        pytest.skip("needs ansible-core installed beside this Python")
    d = tmp_path / "bin"
    d.mkdir()
    log = tmp_path / "ansible-argv.log"
    wrapper = d / "ansible"
    wrapper.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"os.execv({real!r}, [{real!r}] + sys.argv[1:])\n"
    )
    wrapper.chmod(0o755)
    return str(d), str(log)


def test_gathering_runs_ansible_without_deprecated_flags_and_reports_unreachable_hosts(fleet, tmp_path, monkeypatch):
    """ansible-runner drives the `ansible` command (no --tree, no --one-line, no tree files): each
    host's result comes from the run's events, whole even past ansible-runner's default event size.
    A host that cannot be reached, or whose host key is unknown, is an error naming why; the others
    are gathered all the same."""
    from kvmnetcheck import raw as raw_store
    from kvmnetcheck.collect import ansible_gather

    fake, log = _fake_ansible_dir(tmp_path)
    monkeypatch.setattr(ansible_gather, "_bin_dir", lambda: fake)
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    # four netplan files the collector reads 256 KiB of each: over 1 MB of output from kvm-b,
    # where ansible-runner's callback would empty any result over 700,000 characters
    big = fleet["lab"].get(HOSTS["kvm-b"])
    big.sh(
        "mkdir -p /etc/netplan && for i in 1 2 3 4; do yes '# padding' | head -c 300000 "
        "> /etc/netplan/9$i-knc-padding.yaml; done"
    )
    out = tmp_path / "facts"
    try:
        raws = ansible_gather.gather(
            fleet["inventory"], "fleet:strangers", str(out), forks=5, timeout=120, connect_timeout=10
        )
    finally:
        big.sh("rm -f /etc/netplan/9?-knc-padding.yaml")

    calls = [json.loads(ln) for ln in open(log)]
    assert any("--list-hosts" in c for c in calls), calls
    runs = [c for c in calls if "-m" in c]
    assert len(runs) == 1 and runs[0][runs[0].index("-m") + 1] == "script", calls
    for c in calls:
        assert not {"--tree", "-t", "--one-line", "-o"} & set(c), c
        assert not [a for a in c if a.startswith(("--tree=", "--one-line"))], c

    by_host = {r.host: r for r in raws}
    assert set(by_host) == set(HOSTS) | {"kvm-gone", "kvm-unknown-key"}, list(by_host)
    for inv in HOSTS:
        assert by_host[inv].error is None, (inv, by_host[inv].error)
        assert f"@@{by_host[inv].nonce}@@ meta" in by_host[inv].output
        assert by_host[inv].extra == {"gathered_by": "ansible"}
    assert "\nuid=0\n" in by_host["kvm-c"].output  # through become
    assert len(by_host["kvm-b"].output) > 1_000_000, len(by_host["kvm-b"].output)
    gone = by_host["kvm-gone"].error or ""
    assert gone.startswith("cannot reach ansible://kvm-gone: ") and "Connection refused" in gone, gone
    # ansible-runner turns host key checking off unless told otherwise; the gatherer keeps Ansible's own
    unknown = by_host["kvm-unknown-key"].error or ""
    assert (
        unknown.startswith("cannot reach ansible://kvm-unknown-key: ") and "Host key verification failed" in unknown
    ), unknown

    saved = {r.host: r for r in raw_store.load(str(out))}
    assert saved["kvm-gone"].error == gone and saved["kvm-a"].output == by_host["kvm-a"].output


def test_options_after_double_dash_are_ansible_own(fleet, tmp_path):
    """--limit and -e after -- reach Ansible; a relative path among them (-e @vars.yml) means the
    file where the command runs, as it does for the `ansible` command."""
    import subprocess

    work = tmp_path / "here"
    work.mkdir()
    (work / "vars.yml").write_text("knc_unused: 1\n")
    out = tmp_path / "facts"
    env = dict(os.environ, PYTHONPATH=REPO)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "kvmnetcheck.collect.ansible_gather",
            "-i",
            fleet["inventory"],
            "fleet:strangers",
            "--out",
            str(out),
            "--forks",
            "5",
            "--",
            "--limit",
            "!kvm-b:!kvm-unknown-key",
            "-e",
            "@vars.yml",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 host(s) gathered through ansible" in p.stdout and ", 1 unreachable" in p.stdout, p.stdout + p.stderr
    assert "  kvm-gone: cannot reach ansible://kvm-gone: " in p.stderr, p.stderr
    index = json.loads((out / "index.json").read_text())
    assert [e["host"] for e in index["hosts"]] == ["kvm-a", "kvm-c", "kvm-gone"], index


def test_missing_ansible_runner_says_what_to_install(tmp_path):
    import subprocess

    code = (
        "import sys; sys.modules['ansible_runner'] = None\n"
        "from kvmnetcheck.collect.ansible_gather import main\n"
        f"main(['-i', 'nowhere.ini', 'all', '--out', {str(tmp_path / 'facts')!r}])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stdout + p.stderr
    from kvmnetcheck.collect.ansible_gather import INSTALL

    assert p.stderr.strip() == f"ansible-runner is not installed: {INSTALL}", p.stderr
    assert not (tmp_path / "facts").exists()


@pytest.mark.parametrize(
    "extra, env",
    [
        (["-bK"], {}),
        (["--ask-vault-pass"], {}),
        (["--vault-id", "fleet@prompt"], {}),
        ([], {"ANSIBLE_BECOME_ASK_PASS": "true"}),
    ],
)
def test_password_prompts_are_refused_not_waited_for(tmp_path, extra, env):
    """Under ansible-runner Ansible's prompts reach no one: asked for one, by an option after -- or
    by its settings, the gatherer stops at once and names the files to give instead."""
    import subprocess

    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "kvmnetcheck.collect.ansible_gather",
            "-i",
            "nowhere.ini",
            "all",
            "--out",
            str(tmp_path / "facts"),
            "--",
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=REPO, **env),
        stdin=subprocess.DEVNULL,
    )
    assert p.returncode == 1, p.stdout + p.stderr
    assert (
        p.stderr.startswith("ansible_gather cannot answer Ansible's password prompts (")
        and "--become-password-file" in p.stderr
    ), p.stderr
    assert not (tmp_path / "facts").exists()


def test_install_hint_matches_the_ansible_extra():
    tomllib = pytest.importorskip("tomllib")
    from kvmnetcheck.collect.ansible_gather import INSTALL

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["ansible"]
    assert sorted(extra) == sorted(a.strip("'") for a in INSTALL.split(" (")[0].split()[2:]), (extra, INSTALL)


def test_a_result_without_the_collector_output_is_an_error():
    from kvmnetcheck.collect.ansible_gather import raw_from_result

    when = "2026-01-01T00:00:00+00:00"
    assert raw_from_result("h", None, "n", when).error == "ansible gave no result for this host"
    r = raw_from_result("h", ("runner_on_unreachable", {"msg": "ssh:  connect\n refused"}), "n", when)
    assert r.error == "cannot reach ansible://h: ssh: connect refused" and not r.output
    # ansible-runner empties a result past MAX_EVENT_RES
    assert "missing" in raw_from_result("h", ("runner_on_ok", {}), "n", when).error
    r = raw_from_result("h", ("runner_on_failed", {"rc": 127, "stdout": "", "stderr": "sh: not found"}), "n", when)
    assert r.error == "cannot run the collector on ansible://h (exit 127): sh: not found"
    r = raw_from_result("h", ("runner_on_ok", {"rc": 0, "stdout": "x\n@@n@@ meta\t\n"}), "n", when)
    assert r.error is None and r.nonce == "n" and r.extra == {"gathered_by": "ansible"}
