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
# The shape of a hypervisor in a fleet: two libvirt networks (NAT with DHCP, and an isolated one),
# four bridges (virbr1 and virbr2 of the networks, the host bridges br0 and br1), guests
# that network-boot (iPXE fetches the URL the NAT network names) half on the NAT network and half on
# br0, and one finding: br1 holds a new port for 30 s (STP on, forward delay 15 s).
SETUP = r"""set -eu
V="virsh -q -c qemu:///system"
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
cat > "$D/lan.xml" <<XML
<network>
  <name>lan</name>
  <forward mode='nat'/>
  <bridge name='virbr1' stp='on' delay='0'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.98.7.10' end='10.98.7.250'/>
      <bootp file='http://10.98.7.1/boot.ipxe'/>
    </dhcp>
  </ip>
</network>
XML
cat > "$D/store.xml" <<XML
<network>
  <name>store</name>
  <bridge name='virbr2' stp='on' delay='0'/>
  <ip address='10.98.8.1' netmask='255.255.255.0'/>
</network>
XML
for n in lan store; do $V net-define "$D/$n.xml" >/dev/null; $V net-start $n >/dev/null; done
ip link add br0 type bridge
ip link set dev br0 type bridge forward_delay 200
ip link set dev br0 type bridge stp_state 1
ip link set dev br0 up
ip link add br1 type bridge
ip link set dev br1 type bridge forward_delay 1500
ip link set dev br1 type bridge stp_state 1
ip link set dev br1 up
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
NIC_NET = "<interface type='network'><source network='lan'/><model type='virtio'/>{rom}</interface>"
NIC_BRIDGE = "<interface type='bridge'><source bridge='br0'/><model type='virtio'/>{rom}</interface>"
# Denser shapes, as a first run on a real fleet finds (a default most hosts share):
# - 25 findings with 24 guests: every guest's NIC has its boot ROM off (<rom bar='off'/>), which
#   SeaBIOS then cannot PXE boot from: guest-pxe-boot-rom on each NIC, and br1;
# - 50: also br0 and the lan network's bridge hold a new port for 30 s (forward delay 15 s): each
#   guest NIC's guest-nic-bridge-delay, both bridges' bridge-forward-delay, the network's
#   libvirt-network-stp-delay.
SHAPES = (1, 25, 50)


def host_script(guests: int, findings: int = 1) -> str:
    """Shell that sets one fleet host up, in the shape with about `findings` findings (SHAPES)."""
    setup = SETUP
    if findings >= 50:
        setup = setup.replace(
            "stp='on' delay='0'/>\n  <ip address='10.98.7.1'", "stp='on' delay='15'/>\n  <ip address='10.98.7.1'"
        )
        setup = setup.replace("br0 type bridge forward_delay 200", "br0 type bridge forward_delay 1500")
    rom = "<rom bar='off'/>" if findings >= 25 else ""
    lines = [setup]
    for g in range(guests):
        nic = (NIC_BRIDGE if g % 2 else NIC_NET).format(rom=rom)
        lines.append(f'guest g{g:02d} "{nic}"')
    return "\n".join(lines)


def build_fleet(lab, names: list[str], guests: int, workers: int = 8, findings: int = 1) -> list:
    """Build hosts concurrently (libvirtd start-up and its first QEMU probe dominate)."""

    def one(item):
        i, name = item
        h = lab.add_host(name, libvirt=True)
        h.sh(host_script(guests, findings), timeout=600)
        return h

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
        return list(pool.map(one, enumerate(names)))
