"""Fix scripts: reports/fix/HOST.sh, run on a real lab host, make the next run pass for every
check and object it covered; their order, comments and guards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest
from gate_lab import shared_gate_lab

from kvmnetcheck.report.fixscripts import host_script, write_fix_scripts
from kvmnetcheck.report.results import Result
from kvmnetcheck.report.stream import HostDigest

STEP = re.compile(
    r"^# (?:--- \d+\. \[\w+\] ([a-z-]+) (\S+)|\[\w+\] ([a-z-]+) (\S+): fixed by the same commands .*)$", re.MULTILINE
)


@pytest.fixture(scope="module")
def nightly(request, tmp_path_factory):
    return shared_gate_lab(request, tmp_path_factory).nightly()


def _covered(script: str) -> set[tuple[str, str]]:
    """(check, object) of each scripted fix: its step header, or 'fixed by the same commands'."""
    head = script.split("# --- Not scripted")[0].split("# --- Waived")[0]
    return {(m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4)) for m in STEP.finditer(head)}


def test_fix_script_run_on_the_host_makes_the_next_run_pass(nightly):
    script = nightly.fix_script
    covered = _covered(script)
    assert covered == {
        ("bridge-forward-delay", "br0"),
        ("bridge-forward-delay", "virbr7"),
        ("libvirt-network-stp-delay", "lan"),
    }, script
    for check, obj in covered:
        assert nightly.first.result(check, "gfix", obj)["outcome"] == "failed"
    assert nightly.fix_run.returncode == 0, nightly.fix_run.stdout + nightly.fix_run.stderr
    assert "kvm-netcheck fixes done" in nightly.fix_run.stdout
    for check, obj in covered:
        r = nightly.second.result(check, "gfix", obj)
        assert r and r["outcome"] == "passed", (check, obj, r)
    assert not [r for r in nightly.second.for_host("gfix") if r["outcome"] in ("failed", "error")]
    assert "gfix" not in nightly.second.results["fix_scripts"]


def test_fix_script_is_commented_ordered_and_never_run_by_the_suite(nightly):
    script = nightly.fix_script
    assert script.startswith("#!/bin/sh\n# kvm-netcheck fix script for gfix")
    assert "set -eu" in script
    # the live bridge settings come before the network's redefinition and restart
    assert script.index("ip link set dev br0 type bridge stp_state 0") < script.index("virsh net-define")
    # no network is restarted (the live bridge is changed in place), and each command is written once
    assert "net-destroy" not in script and "net-start" not in script
    assert script.count("ip link set dev virbr7 type bridge stp_state 0") == 1
    assert (
        "# [high] bridge-forward-delay virbr7: fixed by the same commands as [high] libvirt-network-stp-delay lan"
        in script
    )
    # each fix says what it fixes and why, once, at its first step
    assert "# --- 2. [high] libvirt-network-stp-delay lan\n# network lan: the running bridge virbr7" in script
    assert script.count("# network lan: the running bridge virbr7") == 1
    # the first run only wrote it: gfix was still failing when the first run ended
    assert nightly.first.result("libvirt-network-stp-delay", "gfix", "lan")["outcome"] == "failed"
    assert nightly.first.results["fix_scripts"]["gfix"].endswith("/fix/gfix.sh")


def _r(check, obj, script="", outcome="failed", severity="high", remediation="", waiver=None) -> Result:
    return Result(
        check=check,
        host="kvm01",
        object=obj,
        outcome=outcome,
        severity=severity,
        message=f"{check} fails on {obj}",
        remediation=remediation or f"# fix {obj} by hand\nedit it",
        fix_script=script,
        waiver=waiver,
    )


RESULTS = [
    _r("firewalld-libvirt-conflict", "lan", "firewall-cmd --zone=libvirt --change-interface=virbr7"),
    _r("dhcp-checksum-fixup", "lan", "virsh net-destroy lan && virsh net-start lan"),
    _r("libvirt-network-stp-delay", "lan", "virsh net-destroy lan && virsh net-start lan"),
    _r("bridge-forward-delay", "br0", "ip link set dev br0 type bridge stp_state 0"),
    _r(
        "bridge-persistent-config",
        "br0@/etc/sysconfig/network-scripts/ifcfg-br0",
        "sed -i -e 's/^STP=.*/STP=off/' /etc/sysconfig/network-scripts/ifcfg-br0",
        severity="medium",
    ),
    _r(
        "iptables-checksum-support",
        "kvm01",
        severity="medium",
        remediation="# update iptables\nyum update iptables kernel",
    ),
    _r(
        "bridge-stp-root",
        "br5",
        "ip link set dev br5 type bridge stp_state 0",
        outcome="waived",
        severity="medium",
        waiver={"status": "applied", "expires": "2030-01-01", "where": "w.yaml:2", "reason": "ring"},
    ),
]


def test_safe_order_one_copy_of_each_command_and_the_rest_as_comments():
    s = host_script("kvm01", "kvm01", RESULTS, "a test")
    order = [s.index(x) for x in ("STP=off", "stp_state 0", "net-destroy lan", "firewall-cmd")]
    assert order == sorted(order), s
    assert s.count("virsh net-destroy lan && virsh net-start lan") == 1
    assert "# [high] dhcp-checksum-fixup lan: fixed by the same commands as [high] libvirt-network-stp-delay lan" in s
    manual = s[s.index("# --- Not scripted") :]
    assert "#   yum update iptables kernel" in manual and "\nyum update" not in s
    waived = s[s.index("# --- Waived") :]
    assert "# [medium] bridge-stp-root br5: waived until 2030-01-01 (w.yaml:2): ring" in waived
    assert "dev br5" not in s.split("# --- Waived")[0]
    assert _covered(s) == {
        ("bridge-persistent-config", "br0@/etc/sysconfig/network-scripts/ifcfg-br0"),
        ("bridge-forward-delay", "br0"),
        ("libvirt-network-stp-delay", "lan"),
        ("dhcp-checksum-fixup", "lan"),
        ("firewalld-libvirt-conflict", "lan"),
    }
    assert subprocess.run(["sh", "-n"], input=s, text=True).returncode == 0


def test_script_refuses_to_run_on_another_host(tmp_path):
    marker = tmp_path / "ran"
    s = host_script("kvm01", "no-such-hostname.example", [_r("bridge-forward-delay", "br0", f"touch {marker}")], "t")
    p = subprocess.run(["sh"], input=s, text=True, capture_output=True)
    assert p.returncode == 2 and "this script fixes no-such-hostname.example" in p.stderr
    assert not marker.exists()
    p = subprocess.run(["sh"], input=s, text=True, capture_output=True, env={**os.environ, "KVMNETCHECK_ANY_HOST": "1"})
    assert p.returncode == 0 and marker.exists()


def test_scripts_only_for_hosts_with_failures_and_stale_ones_removed(tmp_path):
    d = tmp_path / "fix"
    d.mkdir()
    (d / "old.sh").write_text(host_script("old", None, [_r("bridge-forward-delay", "br0", "true")], "t"))
    (d / "mine.sh").write_text("#!/bin/sh\necho a script someone else keeps here\n")
    results = [
        _r("bridge-forward-delay", "br0", "ip link set dev br0 type bridge stp_state 0"),
        Result(
            check="host-reachable",
            host="down1",
            object="down1",
            outcome="failed",
            severity="critical",
            message="ssh exited 255",
            remediation="ssh down1 true",
        ),
    ]
    written = write_fix_scripts(
        str(d),
        results,
        [
            HostDigest("kvm01", {"reachable": True}, hostname="kvm01"),
            HostDigest("down1", {"reachable": False, "error": "x"}),
        ],
        "t",
    )
    assert written == {"kvm01": str(d / "kvm01.sh")}
    assert sorted(os.listdir(d)) == ["kvm01.sh", "mine.sh"]


def _nm_result() -> Result:
    """A keyfile's fix: one nmcli step, which a host without nmcli cannot run."""
    return Result(
        check="bridge-persistent-config",
        host="kvm01",
        object="br0@/etc/NetworkManager/x",
        outcome="failed",
        severity="medium",
        message="keyfile brings STP back",
        remediation="nmcli ...",
        fix_script="nmcli connection modify u1 bridge.stp no",
        fix_steps=[["persistent-config", "nmcli connection modify u1 bridge.stp no", ["nmcli"]]],
    )


def test_a_step_needing_a_tool_the_host_lacks_is_left_to_a_person():
    """A fix script never stops half-way at `nmcli: command not found`: a step whose tool the host
    lacks goes to the comments, and every other step still runs."""
    nm = _nm_result()
    live = _r("bridge-forward-delay", "br0", "ip link set dev br0 type bridge stp_state 0")
    live.fix_steps = [["live-bridge", "ip link set dev br0 type bridge stp_state 0", ["ip"]]]
    s = host_script("kvm01", "kvm01", [nm, live], "t", commands=frozenset({"ip"}))
    runnable = s.split("# --- Not scripted")[0]
    assert "\nip link set dev br0 type bridge stp_state 0" in runnable
    assert "\nnmcli" not in runnable
    assert "# [medium] bridge-persistent-config br0@/etc/NetworkManager/x: this host has no nmcli" in s
    assert "#   nmcli connection modify u1 bridge.stp no" in s
    with_nmcli = host_script("kvm01", "kvm01", [nm, live], "t", commands=frozenset({"ip", "nmcli"}))
    assert "\nnmcli connection modify u1 bridge.stp no" in with_nmcli.split("# --- Not scripted")[0]


def test_a_merged_run_knows_which_tools_each_host_has(tmp_path):
    """The host's tools travel in its shard's digest (shard.json), so a merged run's fix script leaves
    a step whose tool the host lacks to a person, as the host's own run would."""
    nm = _nm_result()
    digest = HostDigest("kvm01", {"reachable": True}, hostname="kvm01", tools=frozenset({"ip"}))
    merged = HostDigest.from_json(json.loads(json.dumps(digest.as_json())))
    assert merged.tools == frozenset({"ip"})
    written = write_fix_scripts(str(tmp_path), [nm], [merged], "t")
    script = open(written["kvm01"]).read()
    assert "\nnmcli" not in script.split("# --- Not scripted")[0]
    assert "this host has no nmcli" in script


KEYFILE = "/etc/NetworkManager/system-connections/br0.nmconnection"


def _keyfile_result() -> Result:
    """bridge-persistent-config's real fix of a keyfile bridge, as the check renders it."""
    from kvmnetcheck.catalog import CHECKS, render_fix

    fix = render_fix(
        CHECKS["bridge-persistent-config"],
        "nmconnection",
        path=KEYFILE,
        keyfile_dir=os.path.dirname(KEYFILE),
        bridge="br0",
        connection="u1",
        conn_by="uuid",
        loop="",
    )
    return Result(
        check="bridge-persistent-config",
        host="kvm01",
        object="br0@" + KEYFILE,
        outcome="failed",
        severity="medium",
        message="keyfile brings STP back",
        remediation=fix.text,
        fix_script=fix.script,
        fix_steps=[list(st) for st in fix.steps],
    )


def test_a_step_needing_a_daemon_runs_only_where_it_runs():
    """nmcli connection modify needs NetworkManager running: where it runs, that step; where it is
    known not to run, NetworkManager's offline writer instead; where nobody can tell, neither, and a
    person is told why. Every other step still runs."""
    tools = frozenset({"ip", "nmcli", "sed"})
    live = _r("bridge-forward-delay", "br0", "ip link set dev br0 type bridge stp_state 0")
    live.fix_steps = [["live-bridge", "ip link set dev br0 type bridge stp_state 0", ["ip"]]]
    online = "\nnmcli connection modify uuid u1 bridge.stp no"
    offline = "nmcli --offline connection modify bridge.stp no"

    def script(daemons):
        s = host_script("kvm01", "kvm01", [_keyfile_result(), live], "t", commands=tools, daemons=daemons)
        return s.split("# --- Not scripted")[0], s

    runs, whole = script({"NetworkManager": True})
    assert online in runs and offline not in whole and "# --- Not scripted" not in whole
    runs, whole = script({"NetworkManager": False})
    assert offline in runs and online not in runs and "nmcli connection modify uuid" not in whole
    assert runs.index(offline) < runs.index("\nip link set dev br0 type bridge stp_state 0")
    assert "# --- Not scripted" not in whole
    for daemons in (None, {}):
        runs, whole = script(daemons)
        assert "nmcli" not in runs and "\nip link set dev br0 type bridge stp_state 0" in runs
        assert (
            "# [medium] bridge-persistent-config br0@/etc/NetworkManager/system-connections/br0.nmconnection: "
            "whether NetworkManager runs on this host could not be told (its processes were not read, or not as root); "
            "by other means:" in whole
        )
        assert "#   nmcli connection modify uuid u1 bridge.stp no" in whole


def test_every_daemon_a_step_needs_is_told_by_name():
    """firewall-cmd (even --permanent) needs firewalld, virsh libvirt, ovs-vsctl ovsdb-server: a step
    of theirs on a host where the daemon does not run is left to a person with that reason."""
    from kvmnetcheck.catalog import CHECKS, render_fix

    fw = render_fix(CHECKS["bridge-netfilter-dhcp"], "firewalld", bridge="br0", zone="public")
    r = _r("bridge-netfilter-dhcp", "br0", fw.script)
    r.fix_steps = [list(st) for st in fw.steps]
    s = host_script("kvm01", "kvm01", [r], "t", commands=frozenset({"firewall-cmd"}), daemons={"firewalld": False})
    assert "\nfirewall-cmd" not in s.split("# --- Not scripted")[0]
    assert "# [high] bridge-netfilter-dhcp br0: firewalld is not running on this host; by other means:" in s
    ran = host_script("kvm01", "kvm01", [r], "t", commands=frozenset({"firewall-cmd"}), daemons={"firewalld": True})
    assert "\nfirewall-cmd --permanent --zone=public --add-forward" in ran.split("# --- Not scripted")[0]
    for cid, variant, daemon in (
        ("libvirt-network-stp-delay", "saved", "libvirt"),
        ("guest-nic-dhcp-checksum", "default", "libvirt"),
        ("ovs-bridge-stp", "stp-off", "ovsdb-server"),
        ("firewalld-libvirt-conflict", "zone", "firewalld"),
        ("firewalld-libvirt-conflict", "rules", "systemd"),
    ):
        assert all("running:" + daemon in st.conditions for st in CHECKS[cid].fixes[variant].steps), (cid, variant)


def test_a_merged_run_knows_which_daemons_each_host_runs(tmp_path):
    digest = HostDigest("kvm01", {"reachable": True}, hostname="kvm01", tools=frozenset({"nmcli"}))
    digest.daemons = {"NetworkManager": False, "libvirt": True}
    merged = HostDigest.from_json(json.loads(json.dumps(digest.as_json())))
    assert merged.daemons == {"NetworkManager": False, "libvirt": True}
    written = write_fix_scripts(str(tmp_path), [_keyfile_result()], [merged], "t")
    assert "nmcli --offline connection modify bridge.stp no" in open(written["kvm01"]).read()


def test_fix_script_on_a_host_where_networkmanager_is_enabled_but_not_running(tmp_path):
    """A real lab host with NetworkManager installed and enabled but not running, a keyfile bridge and
    its live bridge with STP on: the script does not stop at `nmcli connection modify` ("Could not
    create NMClient object"); it rewrites the keyfile with NetworkManager's own offline writer and goes
    on to the live fix, and NetworkManager, started afterwards, reads STP off from the file."""
    from gate_lab import LIB
    from support import run_suite

    from lab import Lab

    with Lab(str(tmp_path / "lab")) as lab:
        h = lab.add_host("gnm")
        h.write_file(
            KEYFILE,
            "[connection]\nid=br0\nuuid=0f1e2d3c-4b5a-4697-8877-665544332211\ntype=bridge\n"
            "interface-name=br0\n\n[ipv4]\nmethod=disabled\n",
            mode=0o600,
        )
        h.sh(LIB + "\nenable_unit NetworkManager\nbridge br0 1 1500")
        first = run_suite(str(tmp_path / "run1"), "--hosts=ssh://gnm", f"--ssh-config={lab.ssh_config}")
        assert first.result("bridge-persistent-config", "gnm", "br0@" + KEYFILE)["outcome"] == "failed"
        script = open(first.results["fix_scripts"]["gnm"]).read()
        run = subprocess.run(
            ["ssh", "-F", lab.ssh_config, "gnm", "sh", "-s"], input=script, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0 and "kvm-netcheck fixes done" in run.stdout, (run.stdout, run.stderr, script)
        assert "nmcli connection modify" not in script.split("# --- Not scripted")[0], script
        assert "nmcli --offline connection modify bridge.stp no" in script
        assert h.sh(f"cat {KEYFILE}").stdout.count("stp=false") == 1
        assert h.sh(f"stat -c %a:%u {KEYFILE} && ls -A {os.path.dirname(KEYFILE)}").stdout.split() == [
            "600:0",
            "br0.nmconnection",
        ]
        assert h.sh("cat /sys/class/net/br0/bridge/stp_state").stdout.strip() == "0"
        # NetworkManager itself, started now, reads the profile with STP off
        h.sh(
            "mkdir -p /run/dbus && mount -t tmpfs tmpfs /var/lib/NetworkManager && rm -f /etc/NetworkManager/conf.d/* "
            "&& printf '[main]\\nplugins=keyfile\\n' > /etc/NetworkManager/NetworkManager.conf "
            "&& dbus-daemon --system --fork --nopidfile"
        )
        h.spawn(["NetworkManager", "--no-daemon"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = ""
        for _ in range(100):
            seen = h.sh("nmcli -g bridge.stp connection show br0", check=False).stdout.strip()
            if seen:
                break
            time.sleep(0.2)
        assert seen == "no", seen
        second = run_suite(str(tmp_path / "run2"), "--hosts=ssh://gnm", f"--ssh-config={lab.ssh_config}")
        assert second.result("bridge-persistent-config", "gnm", "br0@" + KEYFILE)["outcome"] == "passed"


def test_daemon_states_trust_what_was_seen():
    """A daemon seen running runs; one not seen is stopped only where the collector ran as root (hidepid
    hides root's processes from others); libvirt also runs where it answered the suite's connection."""
    from dataclasses import replace

    from kvmnetcheck.facts.model import HostFacts, NetStack, Process
    from kvmnetcheck.report.fixscripts import daemon_states

    base = HostFacts(host="kvm01", spec="ssh://kvm01")
    seen = (Process(1, "NetworkManager"), Process(2, "virtqemud"))
    root = replace(base, uid=0, daemons=seen, netstack=NetStack(known=True, systemd=False))
    assert daemon_states(root) == {
        "NetworkManager": True,
        "libvirt": True,
        "firewalld": False,
        "ovsdb-server": False,
        "systemd": False,
    }
    assert daemon_states(replace(root, uid=1000)) == {"NetworkManager": True, "libvirt": True, "systemd": False}
    unread = replace(base, uid=0, daemons=None, libvirt=replace(base.libvirt, source="libvirt-python"))
    assert daemon_states(unread) == {"libvirt": True}
