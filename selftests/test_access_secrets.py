"""Access failures and secrets: an unreachable host, a refused key, a changed host key, a user who is
not root, `--sudo` without sudo, a libvirt socket that refuses the user, a host without libvirt and a
host whose command hangs in one run with --host-timeout=10; every password, token and key given
to that run must stay out of every report. Real SSH to lab hosts throughout.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass

import pytest
from support import SuiteRun, html_report_data, run_suite

LIB = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "lib.sh")).read()
HOST_TIMEOUT = 10
RUN_LIMIT = 60  # a run with one hung host must end well within this

SECRETS = {
    "env": "s3cr3t-env-7d41c9",
    "ci-url": "s3cr3t-ci-0b8e22",
    "ssh-args": "s3cr3t-arg-93fa10",
    "password": "s3cr3t-pw-55e1a7",
    "inventory": "s3cr3t-inv-c4d602",
}


def _hang_virsh() -> str:
    # a virsh stuck in the kernel: it ignores TERM and HUP, so the host's `timeout` cannot end it,
    # and it holds the collector's output open
    return """#!/bin/sh
case "$*" in *net-list*) trap '' TERM HUP INT; sleep 600;; esac
exec /etc/knc-hostile/virsh.real "$@"
"""


def _grant_user_login(lab, h, user: str) -> None:
    """Let USER log in to lab host H with the lab's key.

    The lab's sshd reads ROOT/authorized_keys as the user logging in, and ROOT sits in a pytest
    directory only root may enter. Inside H's own mount namespace (nothing outside changes), the
    closed ancestor is covered by a tmpfs holding just the path down to ROOT.
    """
    root = lab.root
    parts = root.strip("/").split("/")
    closed = None
    for i in range(1, len(parts)):
        d = "/" + "/".join(parts[:i])
        if not os.stat(d).st_mode & 0o001:
            closed = d
            break
    os.chmod(root, 0o755)
    os.chmod(os.path.join(root, "authorized_keys"), 0o644)
    h.sh(f"""set -e
useradd -M -d /run/{user} -s /bin/sh {user}
usermod -p '*' {user}
mkdir -p /run/{user} && chown {user} /run/{user}
""")
    if closed:
        q = shlex.quote
        h.sh(f"""set -e
mkdir -p /run/knc-labroot && mount --bind {q(root)} /run/knc-labroot
mount -t tmpfs -o mode=0755 knc-view {q(closed)}
mkdir -p {q(root)}
mount --bind /run/knc-labroot {q(root)}
""")


def _extra_ssh_config(lab, path: str, tmp: str) -> None:
    """Aliases for the failures: a closed port, a key the host refuses, a host key that changed."""
    root = lab.root
    for key in ("other_key", "other_hostkey"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", os.path.join(tmp, key)], check=True
        )
    with open(os.path.join(tmp, "other_hostkey.pub")) as f:
        other = " ".join(f.read().split()[:2])
    with open(os.path.join(tmp, "changed_known_hosts"), "w") as f:
        f.write(f"acc {other}\n")
    common = """  User root
  IdentitiesOnly yes
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
"""
    extra = f"""
Host noroute
  HostName 127.0.0.1
  Port 1
  IdentityFile {root}/id_ed25519
  UserKnownHostsFile {root}/known_hosts
{common}
Host badkey
  HostKeyAlias acc
  IdentityFile {tmp}/other_key
  UserKnownHostsFile {root}/known_hosts
  ProxyCommand {lab.proxy} acc
{common}
Host badhostkey
  HostKeyAlias acc
  IdentityFile {root}/id_ed25519
  UserKnownHostsFile {tmp}/changed_known_hosts
  ProxyCommand {lab.proxy} acc
{common}
Host pw
  HostKeyAlias acc
  IdentityFile {root}/id_ed25519
  UserKnownHostsFile {root}/known_hosts
  ProxyCommand {lab.proxy} acc
{common}"""
    with open(lab.ssh_config) as f:
        base = f.read()
    with open(path, "w") as f:
        f.write(base + extra)


def _bounded_run(out_dir: str, *args: str) -> tuple[SuiteRun, bool]:
    """run_suite, killed after RUN_LIMIT s; the reports a killed run already wrote are still read."""
    try:
        return run_suite(out_dir, *args, timeout=RUN_LIMIT), False
    except subprocess.TimeoutExpired as e:

        def text(b):
            return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")

        rj = os.path.join(out_dir, "results.json")
        results = json.load(open(rj)) if os.path.exists(rj) else {}
        return SuiteRun(
            -9,
            text(e.stdout),
            text(e.stderr),
            results,
            os.path.join(out_dir, "compliance.html"),
            os.path.join(out_dir, "junit.xml"),
        ), True


@dataclass
class AccessRun:
    run: object
    sudo_run: object
    lab: object
    seconds: float
    killed: bool
    out_dir: str
    key_lines: list
    lingering: list

    def one(self, host: str, check: str, run=None) -> dict:
        run = run or self.run
        found = [r for r in run.results["results"] if r["host"] == host and r["check"] == check]
        assert len(found) == 1, (host, check, [(r["host"], r["check"], r["outcome"]) for r in run.results["results"]])
        return found[0]


def _ssh_clients_for(alias: str, config: str) -> list[str]:
    """ssh clients (or testinfra's `sh -c "ssh ..."`) of this machine still talking to ALIAS through CONFIG."""
    out = []
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if not argv:
            continue
        ssh = os.path.basename(argv[0]) in ("ssh", "sshpass") or (
            argv[:2] == ["/bin/sh", "-c"] and len(argv) > 2 and argv[2].split()[:1] in (["ssh"], ["sshpass"])
        )
        words = " ".join(argv).split()
        if ssh and alias in words and config in words:
            out.append(" ".join(argv)[:300])
    return out


@pytest.fixture(scope="module")
def access(tmp_path_factory):
    from lab import Lab

    root = str(tmp_path_factory.mktemp("access-lab"))
    tmp = str(tmp_path_factory.mktemp("access-keys"))
    out_dir = str(tmp_path_factory.mktemp("access-report"))
    with Lab(root) as lab:
        ok = lab.add_host("ok")
        ok.sh(LIB + "\nbridge br0 1 1500")
        acc = lab.add_host("acc", libvirt=True)
        _grant_user_login(lab, acc, "knc")
        # a site that closed libvirt's sockets to everyone but root
        acc.sh("chmod 0700 /run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-sock")
        # a running KVM guest whose QEMU runs as libvirt-qemu: its open files (is /dev/vhost-net among
        # them?) are listed for root only, so an ordinary user cannot know whether it uses vhost-net
        vhu = lab.add_host("vhu")
        # read-only libvirt for an ordinary user without polkit (this host has no system D-Bus)
        vhu.sh("echo 'auth_unix_ro = \"none\"' >> /etc/libvirt/libvirtd.conf")
        vhu.start_libvirt()
        vhu.add_vhost_net_standin()
        _grant_user_login(lab, vhu, "knc")
        vhu.sh(
            LIB
            + """
net_define lan "name='virbr7'"
iptables -t mangle -D LIBVIRT_PRT -o virbr7 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
guest_define g1 "<interface type='network'><mac address='52:54:00:00:09:01'/><source network='lan'/><model type='virtio'/></interface>" "<boot dev='network'/>" kvm
$V start g1 >/dev/null""",
            timeout=120,
        )
        nolv = lab.add_host("nolibvirt")
        nolv.sh("""set -e
mkdir -p /etc/knc-hostile && : > /etc/knc-hostile/absent && chmod 0644 /etc/knc-hostile/absent
for b in /usr/bin/virsh /usr/sbin/libvirtd /usr/bin/virt-ssh-helper /usr/sbin/virtnetworkd; do
    [ -e "$b" ] && mount --bind /etc/knc-hostile/absent "$b"
done
true""")
        hang = lab.add_host("hang")
        hang.write_file("/etc/knc-hostile/virsh", _hang_virsh(), mode=0o755)
        hang.sh("cp /usr/bin/virsh /etc/knc-hostile/virsh.real && mount --bind /etc/knc-hostile/virsh /usr/bin/virsh")
        cfg = os.path.join(tmp, "ssh_config")
        _extra_ssh_config(lab, cfg, tmp)
        inventory = os.path.join(tmp, "inventory.ini")
        with open(inventory, "w") as f:
            f.write(
                f"[kvm]\ninvhost ansible_host=ok ansible_user=root ansible_password={SECRETS['inventory']} "
                f"ansible_become_pass={SECRETS['inventory']} ansible_ssh_common_args='-F {cfg}'\n"
            )
        with open(os.path.join(root, "id_ed25519")) as f:
            key_lines = [ln for ln in f.read().splitlines() if ln and not ln.startswith("-----")]

        env = {
            "KVMNETCHECK_TEST_TOKEN": SECRETS["env"],
            "GIT_URL": f"https://ci:{SECRETS['ci-url']}@git.example.org/infra/kvm.git",
            "JENKINS_URL": f"https://ci:{SECRETS['ci-url']}@ci.example.org/",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            hosts = [
                "ssh://ok",
                "ssh://knc@acc",
                "ssh://knc@vhu",
                "ssh://nolibvirt",
                "ssh://hang",
                "ssh://noroute",
                "ssh://badkey",
                "ssh://badhostkey",
                f"ssh://root:{SECRETS['password']}@pw",
                "ansible://invhost",
            ]
            started = time.monotonic()
            run, killed = _bounded_run(
                out_dir,
                "--hosts=" + ",".join(hosts),
                f"--ssh-config={cfg}",
                f"--ssh-extra-args=-o IdentityAgent=none -o SetEnv=KNC_TOKEN={SECRETS['ssh-args']}",
                f"--ansible-inventory={inventory}",
                "--libvirt-uri=hang=none",
                f"--host-timeout={HOST_TIMEOUT}",
                "--metadata",
                "Owner",
                "netops",
            )
            seconds = time.monotonic() - started
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        lingering = []
        for _ in range(25):  # the ssh client of the hung host must be gone soon after the run
            lingering = _ssh_clients_for("hang", cfg)
            if not lingering:
                break
            time.sleep(0.2)
        sudo_run = run_suite(
            os.path.join(out_dir, "sudo"), "--hosts=ssh://knc@acc", f"--ssh-config={cfg}", "--sudo", timeout=120
        )
        yield AccessRun(run, sudo_run, lab, seconds, killed, out_dir, key_lines, lingering)


# ---------------------------------------------------------------- access


def test_unreachable_host_is_one_clear_failure(access):
    """A closed port: host-reachable fails with ssh's reason and says how to check."""
    r = access.one("noroute", "host-reachable")
    assert r["outcome"] == "failed" and "Connection refused" in r["message"], r
    assert re.search(r"^ssh -F \S+ noroute true$", r["remediation"], re.MULTILINE), r["remediation"]
    assert [x["check"] for x in access.run.results["results"] if x["host"] == "noroute"] == ["host-reachable"]


def test_refused_key_and_changed_host_key_are_clear_failures(access):
    """A key the host does not accept, and a host key that is not the known one, each fail
    host-reachable with ssh's own words; nothing else is reported for them."""
    r = access.one("badkey", "host-reachable")
    assert r["outcome"] == "failed" and "Permission denied (publickey)" in r["message"], r
    r = access.one("badhostkey", "host-reachable")
    assert r["outcome"] == "failed" and "Host key verification failed" in r["message"], r
    for host in ("badkey", "badhostkey"):
        assert [x["check"] for x in access.run.results["results"] if x["host"] == host] == ["host-reachable"]


def test_user_who_is_not_root_is_told_to_use_root_or_sudo(access):
    """Reached as an ordinary user: the run says which uid it had and what it could not read."""
    r = access.one("acc", "host-reachable")
    assert r["outcome"] == "failed", r
    uid = access.lab.get("acc").sh("id -u knc").stdout.strip()
    assert f"as uid {uid}" in r["message"] and "iptables" in r["message"], r
    assert "--sudo" in r["remediation"] and "root" in r["remediation"]


def test_vhost_use_that_cannot_be_read_is_an_error_never_a_pass(access):
    """A running guest's QEMU belongs to libvirt-qemu: an ordinary user cannot list its files, so whether
    it uses vhost-net is unknown, and the checksum check for its NIC says so instead of passing."""
    r = access.one("vhu", "guest-nic-dhcp-checksum")
    assert r["outcome"] == "error", r
    assert "uses vhost-net could not be read" in r["message"] and "--sudo" in r["message"], r


def test_libvirt_socket_that_refuses_the_user(access):
    """libvirt's sockets closed to the user: libvirt-readable fails with the refusal and the socket to check."""
    r = access.one("acc", "libvirt-readable")
    assert r["outcome"] == "failed", r
    assert "Permission denied" in r["message"] and "libvirt-sock" in r["message"], r
    assert "ls -l /run/libvirt/libvirt-sock-ro" in r["remediation"]
    summary = next(h for h in access.run.results["hosts"] if h["host"] == "acc")
    assert summary["reachable"] and summary["libvirt_source"] == "none"


def test_sudo_without_sudo_is_one_clear_failure(access):
    """--sudo for a user who has no sudo: one failure naming sudo, with the fix."""
    run = access.sudo_run
    assert [r["check"] for r in run.results["results"] if r["host"] == "acc"] == ["host-reachable"], run.stdout[-2000:]
    r = access.one("acc", "host-reachable", run)
    assert r["outcome"] == "failed" and "sudo" in r["message"], r
    assert "sudo rule" in r["remediation"]


def test_host_without_libvirt_skips_libvirt_checks(access):
    """No libvirt binaries and no socket: libvirt-readable is skipped with the reason, the rest runs."""
    r = access.one("nolibvirt", "libvirt-readable")
    assert r["outcome"] == "skipped" and "no libvirt on this host" in r["message"], r
    assert access.one("nolibvirt", "host-reachable")["outcome"] == "passed"


def test_hung_host_is_one_failure_within_the_timeout(access):
    """A command on one host that nothing can stop: that host fails at --host-timeout, every other
    host has its results, and the whole run ends soon after the timeout, leaving no ssh behind."""
    r = access.one("hang", "host-reachable")
    assert r["outcome"] == "failed" and f"no answer within {HOST_TIMEOUT} s" in r["message"], r
    assert [x["check"] for x in access.run.results["results"] if x["host"] == "hang"] == ["host-reachable"]
    assert access.one("ok", "host-reachable")["outcome"] == "passed"
    br = [x for x in access.run.results["results"] if x["host"] == "ok" and x["check"] == "bridge-forward-delay"]
    assert [x["outcome"] for x in br] == ["failed"]
    assert not access.killed, f"the run was still going after {RUN_LIMIT} s"
    assert access.seconds < HOST_TIMEOUT + 35, f"the run took {access.seconds:.1f} s"
    assert access.lingering == [], access.lingering


def test_every_host_named_has_exactly_one_host_result(access):
    """Ten hosts in, ten host-reachable results out, whatever went wrong with each."""
    hosts = {r["host"] for r in access.run.results["results"] if r["check"] == "host-reachable"}
    assert hosts == {"ok", "acc", "vhu", "nolibvirt", "hang", "noroute", "badkey", "badhostkey", "pw", "invhost"}, hosts
    assert len(access.run.results["hosts"]) == 10
    for h in access.run.results["hosts"]:
        assert h["reachable"] or h["error"], h
    assert access.one("invhost", "host-reachable")["outcome"] in ("passed", "failed")
    assert access.one("pw", "host-reachable")["outcome"] in ("passed", "failed")


# ---------------------------------------------------------------- secrets


def _all_report_text(access) -> dict[str, str]:
    texts = {
        "stdout": access.run.stdout,
        "stderr": access.run.stderr,
        "html data": json.dumps(html_report_data(access.run.html_path), ensure_ascii=False),
    }
    for path in glob.glob(os.path.join(access.out_dir, "**", "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts[os.path.relpath(path, access.out_dir)] = f.read()
    return texts


def test_no_secret_reaches_any_report(access):
    """Tokens in the environment (CI URLs included), on the command line, in a host spec's password
    and in the inventory, and the private key, appear in no report, not even the HTML environment table."""
    texts = _all_report_text(access)
    assert {"results.json", "junit.xml", "compliance.html"} <= set(texts), sorted(texts)
    for what, secret in SECRETS.items():
        for name, text in texts.items():
            assert secret not in text, f"the {what} secret is in {name}"
    for name, text in texts.items():
        for line in access.key_lines:
            assert line not in text, f"a line of the private key is in {name}"


def test_html_environment_keeps_only_what_describes_the_run(access):
    """pytest-html's environment table: Python, platform, packages, plugins, the suite's policy and what
    the user passed with --metadata; no CI variable."""
    env = html_report_data(access.run.html_path)["environment"]
    assert {"Python", "Platform", "Plugins", "Owner"} <= set(env), env
    assert env["Owner"] == "netops"
    assert not {"GIT_URL", "JENKINS_URL", "KVMNETCHECK_TEST_TOKEN"} & set(env), env


def test_ssh_wrapper_with_the_arguments_is_gone(access):
    """The temporary ssh wrapper that carried --ssh-extra-args for libvirt is removed after the run."""
    for path in glob.glob("/tmp/kvmnetcheck-ssh-*/*"):
        try:
            with open(path) as f:
                assert SECRETS["ssh-args"] not in f.read(), path
        except OSError:
            pass
