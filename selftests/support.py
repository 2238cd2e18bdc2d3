"""Shared pieces of the project's own tests: paths, and running the suite as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict
    html_path: str
    junit_path: str

    def result(self, check: str, host: str, obj: Optional[str] = None) -> Optional[dict]:
        for r in self.results.get("results", []):
            if r["check"] == check and r["host"] == host and (obj is None or r["object"] == obj):
                return r
        return None

    def for_host(self, host: str) -> list[dict]:
        return [r for r in self.results.get("results", []) if r["host"] == host]


def truth_releases(default: str = "") -> list:
    """The Debian releases a real-program truth test runs on: the machine's own (None) and the others
    KNC_TRUTH_RELEASES names (lab hosts of those releases, their roots built once by lab/releases.py),
    else `default`: KNC_TRUTH_RELEASES=trixie,bullseye, or =none for the machine's only."""
    value = os.environ.get("KNC_TRUTH_RELEASES", default)
    return [None] + [r.strip() for r in value.split(",") if r.strip() and r.strip() != "none"]


def run_suite(out_dir: str, *args: str, timeout: float = 900) -> SuiteRun:
    """Run the compliance suite from the repository root, as `pytest` with the given options."""
    os.makedirs(out_dir, exist_ok=True)
    rj = os.path.join(out_dir, "results.json")
    html = os.path.join(out_dir, "compliance.html")
    junit = os.path.join(out_dir, "junit.xml")
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--results-json={rj}",
        f"--html={html}",
        "--self-contained-html",
        f"--junitxml={junit}",
        *args,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    results = {}
    if os.path.exists(rj):
        with open(rj) as f:
            results = json.load(f)
    return SuiteRun(p.returncode, p.stdout, p.stderr, results, html, junit)


def html_report_data(path: str) -> dict:
    """pytest-html keeps its results as a JSON blob in the page; return it decoded."""
    import html as _html
    import re

    text = open(path).read()
    m = re.search(r'data-jsonblob="([^"]*)"', text)
    assert m, "no data blob in the HTML report"
    return json.loads(_html.unescape(m.group(1)))


# ---------------------------------------------------------------- a lab host's state, for read-only proofs

# what a full run must leave exactly as it was: bridges and their ports, iptables, nft, tc, libvirt
# objects, every file the collector reads (content, mode, times) and the processes
SNAPSHOT = {
    "links": "ip -d -o link show | sed -E -e 's/[a-z_]+_timer +[0-9.]+//g'",
    "bridges": r"""for d in /sys/class/net/*/bridge; do [ -d "$d" ] || continue
        for a in "$d"/*; do case ${a##*/} in *timer*|flush) continue;; esac
            [ -f "$a" ] && printf '%s=%s\n' "$a" "$(cat "$a" 2>&1)"; done
        for p in "${d%/bridge}"/brif/*; do [ -e "$p" ] && printf '%s=%s\n' "$p" "$(cat "$p/state")"; done
    done""",
    # (packet counters left out: traffic on the host moves them, and they are no setting)
    "iptables": "iptables-save | grep -v '^#' | sed -e 's/ \\[[0-9]*:[0-9]*\\]$//'",
    "nft": "nft list ruleset | sed -e 's/counter packets [0-9]* bytes [0-9]*/counter/'",
    "tc": r"""for i in /sys/class/net/*; do i=${i##*/}; printf '%s\n' "$i"
        tc qdisc show dev "$i"; tc filter show dev "$i" egress; tc filter show dev "$i" ingress
        for p in $(tc qdisc show dev "$i" | awk '$3 ~ /:$/ {print $3}'); do tc filter show dev "$i" parent "$p"; done
    done""",
    "libvirt": r"""V='virsh -q -c qemu:///system'; $V net-list --all; $V list --all
        for u in $($V net-list --all --uuid); do $V net-dumpxml "$u"; $V net-dumpxml --inactive "$u"; $V net-info "$u"; done
        for u in $($V list --all --uuid); do $V dumpxml "$u"; $V dumpxml --inactive "$u"; $V dominfo "$u"; done""",
    # every file the collector reads, and libvirt's state: content, size, mode, owner, mtime, ctime
    "files": r"""find /etc/network /etc/sysconfig /etc/NetworkManager /etc/systemd/network /etc/netplan \
        /etc/libvirt /var/lib/libvirt /var/log/libvirt /run/libvirt /run/NetworkManager /run/systemd/network \
        -xdev -printf '%p %y %s %m %U %T@ %C@\n' 2>/dev/null | sort
        find /etc/network /etc/libvirt /var/lib/libvirt /var/log/libvirt /run/libvirt -xdev -type f \
        -exec sha256sum {} + 2>/dev/null | sort""",
    "procs": "ps -eo pid,ppid,user,comm,args --no-headers | awk -v me=$$ '$1 != me && $2 != me' | sort",
    # Open vSwitch's configuration (not its status columns, which STP changes by itself), bridge netfilter
    "ovs": r"""for t in 'Bridge name,stp_enable,rstp_enable,other_config,ports' 'Port name,interfaces,other_config' \
            'Interface name,type,external_ids,options'; do
        ovs-vsctl --timeout=5 --format=csv --columns="${t#* }" list "${t%% *}" 2>&1 | sort; done""",
    "sysctl": "grep -r . /proc/sys/net/bridge/ 2>&1",
}


def snapshot(h) -> dict:
    return {k: h.sh(v, check=False).stdout for k, v in SNAPSHOT.items()}


def wait_sessions_closed(h, timeout: float = 15.0) -> None:
    # the suite's last sshd session on the host may still be exiting when the suite itself has ended
    deadline = time.monotonic() + timeout
    while h.sh("ps -eo comm= | grep -cx sshd", check=False).stdout.strip() not in ("", "0"):
        if time.monotonic() > deadline:
            raise AssertionError(
                "an SSH session to the host stayed open after the run:\n"
                + h.sh("ps -eo pid,ppid,etimes,args", check=False).stdout
            )
        time.sleep(0.2)


def settled_snapshot(h) -> dict:
    # a freshly started network still changes by itself for a moment (carrier, dnsmasq)
    prev = snapshot(h)
    for _ in range(20):
        time.sleep(1)
        cur = snapshot(h)
        if cur == prev:
            return cur
        prev = cur
    raise AssertionError("the host never settled")
