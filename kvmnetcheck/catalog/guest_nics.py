"""Catalog: each guest NIC (tests_guest/test_guest_nics.py)."""
from .base import GUIDE, Check, Fix, Step
from .bridges import KERNEL_STP, LIVE_STP_OFF_STEP
from .checksum import LIBVIRT_IPTABLES_CHECKSUM, LIBVIRT_NFTABLES_CHECKSUM, QEMU_WORKAROUND
from .networks import LIVE_STP_OFF, NET_STP_OFF_DEFINE, RESTART_NOTE

_DRIVER_QEMU_TEXT = """\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, add:
#     <driver name='qemu'/>
# it applies at the next cold start:
virsh shutdown {guest}    # wait until it is shut off, then:
virsh start {guest}
# or restore the fix-up for the whole network (see dhcp-checksum-fixup for {network})"""

CHECKS = [
    Check(
        id="guest-nic-bridge-delay",
        fails_when='its bridge blocks a new port past the limit (PXE-booting guests named as such)',
        severity="high",
        per="guest NIC on a bridge or libvirt network",
        requirement="The bridge a guest NIC plugs into lets a new port forward within the limit.",
        rationale=("The guest's port on the bridge forwards nothing for twice the forward delay after the guest "
                   "starts; its PXE ROM or DHCP client sends its requests into that silence and gives up."),
        sources=(GUIDE + ", 'Long forward delay time on bridge'", KERNEL_STP,
                 "libvirt docs/formatdomain.rst <boot dev='network'/>, <boot order=> on an interface; "
                 "<virtualport type='openvswitch'/> (src/util/virnetdevtap.c virNetDevTapAttachBridge)"),
        skipped_when=("the NIC plugs into no host bridge (direct, user, hostdev), or its network is undefined",
                      "its bridge is an Open vSwitch bridge or runs user-space STP",
                      "its bridge does not exist on the host"),
        verify=("virsh --readonly dumpxml GUEST | grep -A6 '<interface'",
                "cat /sys/class/net/BRIDGE/bridge/stp_state /sys/class/net/BRIDGE/bridge/forward_delay"),
        fixes={
            "network": Fix("""\
# the NIC is on libvirt network {network} (bridge {bridge}); fix the network's saved definition:
virsh net-edit {network}
#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')
# and the running bridge at once, without a restart:
ip link set dev {bridge} type bridge stp_state 0
""" + RESTART_NOTE + """
# ({guest}'s NIC is {tap:raw} there:  ip link set dev {tap:raw} master {bridge})""", (NET_STP_OFF_DEFINE, LIVE_STP_OFF)),
            "bridge": Fix("""\
# the NIC is on host bridge {bridge}; at once:
ip link set dev {bridge} type bridge stp_state 0
# and make it last where the bridge is defined{where:raw}""", (LIVE_STP_OFF_STEP,)),
            "keep-stp": Fix("""\
# do NOT turn STP off on {bridge}: {loop:raw}
# instead, one of:
#  - shorten the delay on the STP root bridge of that network (2 s is the kernel's minimum)
#  - attach {guest} to a bridge without uplinks (a libvirt NAT or route network)
#  - run RSTP (mstpd) on {bridge}, whose edge ports forward at once"""),
        },
    ),
    Check(
        id="guest-nic-dhcp-checksum",
        fails_when="virtio + vhost-net in use + DHCP from this host + no fix-up, without `<driver name='qemu'/>`",
        severity="high",
        per="guest NIC",
        requirement=("A virtio guest NIC on vhost-net that gets DHCP from this host has its replies' checksums "
                     "filled in (a fix-up on the bridge, or <driver name='qemu'/>)."),
        rationale=("All four conditions hold: virtio model, vhost-net on the host, DHCP served by the host, and no "
                   "checksum fix-up; the guest's DHCP client drops the replies and gets no address."),
        sources=(GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
                 "libvirt src/conf/domain_conf.c virDomainNetIsVirtioModel (virtio, virtio-transitional, "
                 "virtio-non-transitional; libvirt 5.2.0) and src/qemu/qemu_interface.c qemuInterfaceOpenVhostNet "
                 "(vhost only for KVM domains, not with <driver name='qemu'/>, silent fallback)",
                 LIBVIRT_IPTABLES_CHECKSUM, LIBVIRT_NFTABLES_CHECKSUM, QEMU_WORKAROUND),
        skipped_when=("the NIC plugs into no host bridge, or its network is undefined",),
        verify=("virsh --readonly dumpxml GUEST | grep -A6 '<interface'", "ls -l /proc/QEMU_PID/fd | grep vhost-net"),
        fixes={
            "default": Fix(_DRIVER_QEMU_TEXT, (Step("guest-definition", """\
f=$(mktemp) && virsh dumpxml --inactive {guest} \\
  | sed -e "/<mac address='{mac:raw}'\\/>/a <driver name='qemu'/>" > "$f" \\
  && virsh define "$f" && rm -f "$f"
# takes effect at the guest's next cold start: virsh shutdown {guest}, then virsh start {guest}""",
                                                    ("virsh", "sed")),)),
            "manual": Fix(_DRIVER_QEMU_TEXT),
        },
    ),
]
