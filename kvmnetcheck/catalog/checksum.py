"""Catalog: DHCP reply checksums (tests_host/test_checksum.py)."""
from .base import GUIDE, Check, Fix, Step

_SECTION = GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'"
NET_RESTART_STEP = Step("network-restart", "virsh net-destroy {network} && virsh net-start {network}")

CHECKS = [
    Check(
        id="iptables-checksum-support",
        fails_when='iptables < 1.4.10 or no CHECKSUM extension',
        severity="medium",
        per="host using libvirt's iptables backend",
        requirement="iptables is 1.4.10 or newer and its CHECKSUM extension loads.",
        rationale=("libvirt fills in DHCP reply checksums with an iptables CHECKSUM rule; without the extension, "
                   "guests using vhost-net get DHCP replies with unfilled checksums and drop them."),
        sources=(_SECTION,),
        skipped_when=("no libvirt on the host", "libvirt uses its nftables backend"),
        fixes={
            "default": Fix("""\
# update iptables (1.4.10 or newer ships libxt_CHECKSUM) and a kernel with xt_CHECKSUM, e.g.:
yum update iptables kernel      # or: apt-get install --only-upgrade iptables
iptables -j CHECKSUM -h | grep 'CHECKSUM target options'
# then restart libvirt's networks so it adds its rules:  virsh net-destroy NET && virsh net-start NET"""),
        },
    ),
    Check(
        id="dhcp-checksum-fixup",
        fails_when='no CHECKSUM rule and no tc csum filter for its bridge',
        severity="high",
        per="active libvirt network serving DHCP on a host with vhost-net",
        requirement="The network's bridge has a checksum fix-up for DHCP replies (CHECKSUM rule or tc csum filter).",
        rationale=("With vhost-net, packets from the host to a virtio guest can leave with unfilled UDP checksums; "
                   "without a fix-up on the bridge, the guest's DHCP client drops every reply."),
        sources=(_SECTION,),
        skipped_when=("the network serves no DHCP, makes no bridge of its own, or is not running",
                      "the host has no /dev/vhost-net"),
        fixes={
            "iptables": Fix("""\
# libvirt adds the rule when the network starts; restart it to get it back:
virsh net-destroy {network} && virsh net-start {network}
iptables-save -t mangle | grep -e {rule_match}
# if it is still missing, see iptables-checksum-support; meanwhile, per guest: virsh edit GUEST,
#   <driver name='qemu'/> in each virtio <interface>, then shut the guest down and start it""",
                            (NET_RESTART_STEP,)),
            "nftables": Fix("""\
# libvirt's nftables backend fixes checksums with a tc csum filter on {bridge} (newer libvirt);
# restart the network so libvirt adds it, or upgrade libvirt:
virsh net-destroy {network} && virsh net-start {network}
tc filter show dev {bridge} egress
# meanwhile, per guest: virsh edit GUEST, <driver name='qemu'/> in each virtio <interface>""",
                            (NET_RESTART_STEP,)),
        },
    ),
    Check(
        id="libvirt-checksum-warning",
        fails_when='libvirtd logged that it could not add the checksum rule',
        severity="low",
        per="host",
        requirement="libvirtd's log has no warning that it could not add the DHCP checksum rule.",
        rationale=("The warning means some network got no checksum fix-up; it matters when a guest also uses "
                   "virtio, vhost-net and DHCP from this host (see guest-nic-dhcp-checksum)."),
        sources=(_SECTION,),
        skipped_when=("no libvirt on the host", "no libvirtd log could be read (no log file, no journal)"),
        fixes={
            "default": Fix("""\
# update iptables (>= 1.4.10) and the kernel, then restart the networks named in the warning:
#   virsh net-destroy NET && virsh net-start NET
# affected guests can use <driver name='qemu'/> in their virtio <interface> meanwhile"""),
        },
    ),
]
