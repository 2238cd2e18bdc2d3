"""How test_ovs.py's LAB_* samples were made: a lab host (lab.Lab) with libvirtd, Open vSwitch started by
selftests/scenarios/lib.sh's helpers, and a guest that libvirt itself attaches to the OVS bridge.

    sudo .venv/bin/python selftests/unit/samples/ovs/lab_capture.py OUTDIR
"""

import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, REPO)
from lab import Lab  # noqa: E402

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
LISTINGS = (
    ("Bridge", "name,stp_enable,rstp_enable,other_config,ports"),
    ("Port", "_uuid,name,interfaces,other_config,status,rstp_status"),
    ("Interface", "_uuid,name,type,external_ids,link_state"),
)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with Lab(tempfile.mkdtemp(prefix="knc-ovs-lab-", dir="/tmp")) as lab:
    h = lab.add_host("ovs1", libvirt=True)
    h.sh(
        LIB + "\novs_start\novs_bridge ovsbr0 true\novs_guest_tap ovsbr0 vnet9 52:54:00:00:08:02\n"
        "guest_define ovsg \"<interface type='bridge'><mac address='52:54:00:00:08:01'/><source bridge='ovsbr0'/>"
        "<virtualport type='openvswitch'/><model type='virtio'/></interface>\"\n"
        "$V start ovsg >/dev/null\n",
        timeout=180,
    )
    for table, columns in LISTINGS:
        p = h.sh(f"ovs-vsctl --format=json --columns={columns} list {table}", check=False)
        with open(os.path.join(out, table), "w") as f:
            f.write(p.stdout)
        with open(os.path.join(out, table + ".rc"), "w") as f:
            f.write(f"{p.returncode}\n")
    with open(os.path.join(out, "domuuid"), "w") as f:
        f.write(h.sh("virsh -q -c qemu:///system domuuid ovsg").stdout)
