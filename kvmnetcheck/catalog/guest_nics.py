"""Catalog: each guest NIC (tests_guest/test_guest_nics.py)."""

from .base import GUIDE, Check, Fix, Step
from .bridges import KERNEL_STP
from .checksum import LIBVIRT_IPTABLES_CHECKSUM, LIBVIRT_NFTABLES_CHECKSUM, QEMU_WORKAROUND
from .shared import (
    COLD_START,
    DNSMASQ_INTERFACES,
    DNSMASQ_OPTIONS,
    LIVE_STP_OFF,
    NET_STP_OFF_DEFINE,
    NET_STP_OFF_XML,
    RESTART_NOTE,
)

_DRIVER_QEMU_TEXT = (
    """\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, add:
#     <driver name='qemu'/>
"""
    + COLD_START
    + """
# or restore the fix-up for the whole network (see dhcp-checksum-fixup for {network})"""
)

CHECKS = [
    Check(
        id="guest-nic-bridge-delay",
        fails_when="its bridge blocks a new port past the limit (PXE-booting guests named as such)",
        severity="high",
        per="guest NIC on a bridge or libvirt network",
        requirement="The bridge a guest NIC plugs into lets a new port forward within the limit.",
        rationale=(
            "The guest's port on the bridge forwards nothing for twice the forward delay after the guest "
            "starts; its PXE ROM or DHCP client sends its requests into that silence and gives up."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge'",
            KERNEL_STP,
            "libvirt docs/formatdomain.rst <boot dev='network'/>, <boot order=> on an interface; "
            "<virtualport type='openvswitch'/> (src/util/virnetdevtap.c virNetDevTapAttachBridge)",
        ),
        skipped_when=(
            "the NIC plugs into no host bridge (direct, user, hostdev), or its network is undefined",
            "its bridge is an Open vSwitch bridge or runs user-space STP",
            "its bridge does not exist on the host",
        ),
        verify=(
            "virsh --readonly dumpxml GUEST | grep -A6 '<interface'",
            "cat /sys/class/net/BRIDGE/bridge/stp_state /sys/class/net/BRIDGE/bridge/forward_delay",
        ),
        fixes={
            "network": Fix(
                """\
# the NIC is on libvirt network {network} (bridge {bridge}); fix the network's saved definition:
virsh net-edit {network}
"""
                + NET_STP_OFF_XML
                + """
# and the running bridge at once, without a restart:
"""
                + LIVE_STP_OFF.script
                + "\n"
                + RESTART_NOTE
                + """
# ({guest}'s NIC is {tap:raw} there:  ip link set dev {tap:raw} master {bridge})""",
                (NET_STP_OFF_DEFINE, LIVE_STP_OFF),
            ),
            "bridge": Fix(
                """\
# the NIC is on host bridge {bridge}; at once:
"""
                + LIVE_STP_OFF.script
                + """
# and make it last where the bridge is defined{where:raw}""",
                (LIVE_STP_OFF,),
            ),
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
        requirement=(
            "A virtio guest NIC on vhost-net that gets DHCP from this host has its replies' checksums "
            "filled in (a fix-up on the bridge, or <driver name='qemu'/>)."
        ),
        rationale=(
            "All four conditions hold: virtio model, vhost-net on the host, DHCP served by the host, and no "
            "checksum fix-up; the guest's DHCP client drops the replies and gets no address."
        ),
        sources=(
            GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
            "libvirt src/conf/domain_conf.c virDomainNetIsVirtioModel (virtio, virtio-transitional, "
            "virtio-non-transitional; libvirt 5.2.0) and src/qemu/qemu_interface.c qemuInterfaceOpenVhostNet "
            "(vhost only for KVM domains, not with <driver name='qemu'/>, silent fallback)",
            "which QEMU process is the guest's: the pid libvirt keeps (src/qemu/qemu_process.c, "
            "/run/libvirt/qemu/GUEST.pid), else one named after it (-name guest=) that runs as the user "
            'libvirt runs QEMU as: the DAC label of the live XML (src/security/security_dac.c, "+UID:+GID"), '
            "else qemu.conf user= (src/qemu/qemu_conf.c; src/util/virconf.c takes its first entry), else the "
            "build's default (meson.build qemu_user: qemu, libvirt-qemu or root)",
            LIBVIRT_IPTABLES_CHECKSUM,
            LIBVIRT_NFTABLES_CHECKSUM,
            QEMU_WORKAROUND,
        ),
        skipped_when=(
            "the NIC plugs into no host bridge, or its network is undefined (a network whose XML was "
            "refused makes it unknown: an error)",
        ),
        verify=("virsh --readonly dumpxml GUEST | grep -A6 '<interface'", "ls -l /proc/QEMU_PID/fd | grep vhost-net"),
        fixes={
            "default": Fix(
                _DRIVER_QEMU_TEXT,
                (
                    Step(
                        "guest-definition",
                        """\
f=$(mktemp) && virsh dumpxml --inactive -- {guest} \\
  | sed -e "/<mac address='{mac:raw}'\\/>/a <driver name='qemu'/>" > "$f" \\
  && virsh define "$f" && rm -f "$f"
# takes effect at the guest's next cold start: virsh shutdown {guest}, then virsh start {guest}""",
                        ("virsh", "sed"),
                        daemons=("libvirt",),
                    ),
                ),
            ),
            "manual": Fix(_DRIVER_QEMU_TEXT),
        },
    ),
    Check(
        id="guest-port-forwarding",
        fails_when="its link is down, its tap is off its bridge, its port is disabled or blocking, or its VLAN "
        "goes nowhere",
        severity="high",
        per="running guest NIC on a Linux bridge",
        requirement=(
            "A running guest NIC has its link up and its tap forwarding on the bridge it is defined on, "
            "in a VLAN that leaves the guest's port."
        ),
        rationale=(
            "A guest's DHCP and PXE requests leave through its tap's bridge port: a link set down, a tap "
            "taken off the bridge (a network restarted under running guests), a port STP blocks or that "
            "is down, or a VLAN no other port carries drops them all before any server sees them."
        ),
        sources=(
            KERNEL_STP + "; include/uapi/linux/if_bridge.h BR_STATE_DISABLED..BR_STATE_BLOCKING "
            "(/sys/class/net/BRIDGE/brif/PORT/state)",
            "libvirt docs/formatdomain.rst <link state='down'/> (virsh domif-setlink) and "
            "src/util/virnetdevtap.c virNetDevTapReattachBridge (a running guest's tap is put back on "
            "its bridge only when libvirt's daemon starts)",
            "Linux net/bridge/br_vlan.c: with vlan_filtering, a port passes only the VLANs it is a member of "
            "and gives untagged frames its PVID; iproute2 bridge/vlan.c (`bridge -j vlan show`)",
        ),
        skipped_when=("the guest is not running", "the NIC is not on a Linux bridge (Open vSwitch, macvtap, user)"),
        verify=(
            "virsh --readonly domiflist GUEST",
            "virsh --readonly dumpxml GUEST | grep -A8 '<interface'",
            "cat /sys/class/net/BRIDGE/brif/TAP/state",
            "bridge vlan show",
        ),
        fixes={
            "link-up": Fix("""# {guest}'s NIC {mac:raw} has its link set down (<link state='down'/>); if nobody meant it:
virsh domif-setlink {guest} {tap} up"""),
            "reattach": Fix(
                """# {guest}'s tap {tap} is not on {bridge} (e.g. its network was restarted under it); put it back, as
# libvirt does when its daemon starts:
ip link set dev {tap} master {bridge}""",
                (Step("live-bridge", "ip link set dev {tap} master {bridge}", ("ip",)),),
            ),
            "tap-down": Fix("""# {guest}'s tap {tap} is down, so its port on {bridge} is disabled:
ip link set dev {tap} up
# still disabled? the tap has no carrier: its QEMU is not attached to it (virsh domiflist {guest})"""),
            "blocking": Fix("""# STP blocks {guest}'s port {tap} on {bridge}: the guest bridges two of its NICs, or sends BPDUs, and
# looks like a loop to the bridge. Do NOT turn STP off: find what the guest bridges
#   virsh domiflist {guest}
# and stop the guest from bridging them (or put only one of its NICs on this bridge)"""),
            "vlan": Fix("""# {guest}'s port {tap} on VLAN-filtering bridge {bridge} sends its untagged frames in VLAN {vid}, which
# no other port of {bridge} carries; let the uplink carry it (and add it to your network config):
#   bridge vlan add dev UPLINK vid {vid}
# or put the guest's port in a VLAN the uplink carries:
#   bridge vlan add dev {tap} vid VLAN pvid untagged"""),
            "no-pvid": Fix("""# {guest}'s port {tap} on VLAN-filtering bridge {bridge} has no PVID: the bridge drops the guest's
# untagged frames; give it the VLAN its DHCP server is in:
#   bridge vlan add dev {tap} vid VLAN pvid untagged"""),
        },
    ),
    Check(
        id="guest-macvtap-host-dhcp",
        fails_when="a macvtap NIC's DHCP server runs on the same host and device",
        severity="high",
        per="guest NIC of type='direct' (macvtap)",
        requirement="A macvtap guest NIC does not depend on a DHCP server on its own host's lower device.",
        rationale=(
            "macvtap passes frames between the guest and the wire, never between the guest and its host: a "
            "DHCP server listening on the lower device of the host itself never sees the guest's requests "
            "(unless the switch reflects them back, 802.1Qbg reflective relay, for mode='vepa')."
        ),
        sources=(
            "libvirt docs/formatdomain.rst 'Direct attachment to physical interface' (modes vepa, bridge, "
            "private, passthrough)",
            "Linux drivers/net/macvlan.c macvlan_queue_xmit: a macvlan's frames go to its sibling macvlans "
            "(bridge mode) or out of the lower device, never up its host's stack",
            "iproute2 misc/ss.c (the device a socket is bound to)",
            DNSMASQ_INTERFACES,
            DNSMASQ_OPTIONS,
        ),
        skipped_when=("the NIC is not type='direct'",),
        verify=("virsh --readonly dumpxml GUEST | grep -A4 \"type='direct'\"", "ss -u -a -n -p 'sport = :67'"),
        fixes={
            "use-a-bridge": Fix("""# {guest}'s NIC {mac:raw} is a macvtap on {dev}, where {server} serves DHCP on this host: the two never
# meet. Either attach the guest where the server can hear it, e.g. a libvirt network:
#   virsh edit {guest}: <interface type='network'><source network='NETWORK'/>... (cold start)
# or serve its DHCP from another host on {dev}'s LAN. (Moving {dev} into a bridge also works, but moves
# the host's own address: do that from a console, never over a session through {dev}.)"""),
        },
    ),
]
