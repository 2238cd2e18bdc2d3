"""A fleet of lab hosts shaped like real hypervisors: a libvirt network, a host bridge, many guests.

Used by the benchmark (fleet_bench.py) at 50 hosts and by selftests/test_fleet*.py at a few.
Guests are defined, not started: the checks read their XML, and 1,000 running guests would
only measure QEMU.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

# Lab hosts share the real /tmp: every file goes to a directory of the host's own.
SETUP = r"""set -eu
V="virsh -q -c qemu:///system"
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cat > "$D/net.xml" <<XML
<network>
  <name>lan</name>
  <forward mode='nat'/>
  <bridge name='virbr1' stp='on' delay='DELAY'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    <dhcp><range start='10.98.7.10' end='10.98.7.250'/></dhcp>
  </ip>
</network>
XML
$V net-define "$D/net.xml" >/dev/null
$V net-start lan >/dev/null
ip link add br0 type bridge
ip link set dev br0 type bridge forward_delay 200
ip link set dev br0 type bridge stp_state 1
ip link set dev br0 up
guest() {
    cat > "$D/$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <devices>$2</devices>
</domain>
XML
    $V define "$D/$1.xml" >/dev/null
}
"""
NIC_NET = "<interface type='network'><source network='lan'/><model type='virtio'/></interface>"
NIC_BRIDGE = "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>"


def host_script(index: int, guests: int) -> str:
    """Shell that sets one fleet host up; every fifth host has a network that blocks PXE."""
    delay = 15 if index % 5 == 4 else 0
    lines = [SETUP.replace("DELAY", str(delay))]
    for g in range(guests):
        lines.append(f'guest g{g:02d} "{NIC_BRIDGE if g % 2 else NIC_NET}"')
    return "\n".join(lines)


def build_fleet(lab, names: list[str], guests: int, workers: int = 8) -> list:
    """Build hosts concurrently (libvirtd start-up and its first QEMU probe dominate)."""
    def one(item):
        i, name = item
        h = lab.add_host(name, libvirt=True)
        h.sh(host_script(i, guests), timeout=600)
        return h

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        return list(pool.map(one, enumerate(names)))
