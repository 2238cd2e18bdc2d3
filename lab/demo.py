"""`make demo`: a small lab of broken hypervisors, checked by the suite over real SSH.

Four hosts, each its own namespaces with a real libvirtd, bridges and iptables:
  kvm-good   a default NAT-style network and a guest on it: everything passes
  kvm-stp    a PXE network (boot file and TFTP root) with <bridge stp='on' delay='15'/> and a PXE guest on it, plus a host
             bridge br0 with kernel STP and its ifcfg file (applied by initscripts, a stand-in)
             that brings the 15 s back
  kvm-csum   vhost-net (a stand-in device node), a DHCP network whose CHECKSUM rule is gone,
             and a virtio KVM guest that will drop its DHCP replies
  kvm-gone   a host that is down: one clear failure, every other host still checked
The report lands in reports/demo/ and the lab is torn down afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from .lab import Lab

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
NIC = "<interface type='network'><mac address='{mac}'/><source network='{net}'/><model type='virtio'/></interface>"

SETUP = {
    "kvm-good": f"""
net_define default "name='virbr0'"
guest_define web1 "{NIC.format(mac="52:54:00:10:00:01", net="default")}" "<boot dev='hd'/>"
""",
    "kvm-stp": f"""
mkdir -p /var/lib/libvirt/tftp && : > /var/lib/libvirt/tftp/pxelinux.0
net_define pxe "name='virbr1' stp='on' delay='15'" "" "<tftp root='/var/lib/libvirt/tftp'/>" "<bootp file='pxelinux.0'/>"
guest_define installer "{NIC.format(mac="52:54:00:20:00:01", net="pxe")}"
bridge br0 1 1500
mkdir -p /etc/sysconfig/network-scripts
printf 'DEVICE=br0\\nTYPE=Bridge\\nONBOOT=yes\\nSTP=on\\n' > /etc/sysconfig/network-scripts/ifcfg-br0
initscripts_standin ip
""",
    "kvm-csum": f"""
net_define default "name='virbr0'"
iptables -t mangle -D LIBVIRT_PRT -o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
guest_define legacy-el6 "{NIC.format(mac="52:54:00:30:00:01", net="default")}" "<boot dev='hd'/>" kvm
""",
    "kvm-gone": "",
}


def main() -> int:
    out_dir = os.path.join(REPO, "reports", "demo")
    os.makedirs(out_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="knc-demo-")
    print(f"building the demo lab in {root} ...", flush=True)
    with Lab(root) as lab:
        for name, script in SETUP.items():
            h = lab.add_host(name, libvirt=bool(script))
            if name == "kvm-csum":
                h.add_vhost_net_standin()
            if script:
                h.sh(LIB + script, timeout=240)
        os.kill(lab.get("kvm-gone").pid, 9)  # the host goes down; its ssh_config entry stays
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--tb=no",
            "--hosts=" + ",".join(f"ssh://{n}" for n in SETUP),
            f"--ssh-config={lab.ssh_config}",
            f"--html={out_dir}/compliance.html",
            "--self-contained-html",
            f"--junitxml={out_dir}/junit.xml",
            f"--results-json={out_dir}/results.json",
        ]
        print(
            "$ pytest --hosts=" + ",".join(f"ssh://{n}" for n in SETUP) + " --ssh-config=LAB/ssh_config\n", flush=True
        )
        rc = subprocess.run(cmd, cwd=REPO).returncode
    print(f"\nreport: {out_dir}/compliance.html (exit status {rc}: findings, as expected)")
    return 0 if rc in (0, 1) else rc


if __name__ == "__main__":
    sys.exit(main())
