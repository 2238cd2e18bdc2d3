"""`make demo` builds its lab, shows real failures with their fixes, and leaves nothing behind."""

import json
import os
import subprocess
import sys

from support import REPO


def test_demo_reports_each_broken_host():
    p = subprocess.run([sys.executable, "-m", "lab.demo"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(os.path.join(REPO, "reports", "demo", "results.json")) as f:
        results = json.load(f)
    outcome = {(r["check"], r["host"], r["object"]): r["outcome"] for r in results["results"]}
    assert outcome[("host-reachable", "kvm-gone", "kvm-gone")] == "failed"
    assert outcome[("libvirt-network-stp-delay", "kvm-stp", "pxe")] == "failed"
    assert outcome[("bridge-persistent-config", "kvm-stp", "br0@/etc/sysconfig/network-scripts/ifcfg-br0")] == "failed"
    assert outcome[("guest-nic-dhcp-checksum", "kvm-csum", "legacy-el6/52:54:00:30:00:01")] == "failed"
    assert not [k for k, v in outcome.items() if k[1] == "kvm-good" and v == "failed"]
    assert "virsh net-edit pxe" in p.stdout
    leftovers = subprocess.run(["pgrep", "-f", "knc-demo-"], capture_output=True, text=True).stdout
    assert not leftovers.strip(), leftovers
