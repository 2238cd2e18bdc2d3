"""Catalog: each guest NIC (tests_guest/test_guest_nics.py)."""
from .base import GUIDE, Check, Fix, Step
from .bridges import LIVE_STP_OFF_STEP
from .networks import NET_RESTART, NET_STP_OFF_DEFINE

CHECKS = [
    Check(
        id="guest-nic-bridge-delay",
        fails_when='its bridge blocks a new port past the limit (PXE-booting guests named as such)',
        severity="high",
        per="guest NIC on a bridge or libvirt network",
        requirement="The bridge a guest NIC plugs into lets a new port forward within the limit.",
        rationale=("The guest's port on the bridge forwards nothing for twice the forward delay after the guest "
                   "starts; its PXE ROM or DHCP client sends its requests into that silence and gives up."),
        sources=(GUIDE + ", 'Long forward delay time on bridge'",),
        skipped_when=("the NIC plugs into no host bridge (direct, user, hostdev), or its network is undefined",
                      "its bridge runs user-space STP", "its bridge does not exist on the host"),
        fixes={
            "network": Fix("""\
# the NIC is on libvirt network {network} (bridge {bridge}); fix the network:
virsh net-edit {network}
#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')
virsh net-destroy {network} && virsh net-start {network}
# at once, on the live bridge:
ip link set dev {bridge} type bridge stp_state 0""", (NET_STP_OFF_DEFINE, NET_RESTART)),
            "bridge": Fix("""\
# the NIC is on host bridge {bridge}; at once:
ip link set dev {bridge} type bridge stp_state 0
# and make it last where the bridge is defined{where:raw}""", (LIVE_STP_OFF_STEP,)),
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
        sources=(GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",),
        skipped_when=("the NIC plugs into no host bridge, or its network is undefined",),
        fixes={
            "default": Fix("""\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, add:
#     <driver name='qemu'/>
# it applies at the next cold start:
virsh shutdown {guest}    # wait until it is shut off, then:
virsh start {guest}
# or restore the fix-up for the whole network (see dhcp-checksum-fixup for {network})""",
                           (Step("guest-definition", """\
f=$(mktemp) && virsh dumpxml --inactive {guest} \\
  | sed -e "/<mac address='{mac:raw}'\\/>/a <driver name='qemu'/>" > "$f" \\
  && virsh define "$f" && rm -f "$f"
# takes effect at the guest's next cold start: virsh shutdown {guest}, then virsh start {guest}"""),)),
            "manual": Fix("""\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, add:
#     <driver name='qemu'/>
# it applies at the next cold start:
virsh shutdown {guest}    # wait until it is shut off, then:
virsh start {guest}
# or restore the fix-up for the whole network (see dhcp-checksum-fixup for {network})"""),
        },
    ),
]
