"""Catalog: DHCP reply checksums (tests_host/test_checksum.py)."""

from .base import GUIDE, Check, Fix, Step
from .shared import DAEMON_RESTART

_SECTION = GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'"

LIBVIRT_IPTABLES_CHECKSUM = (
    "libvirt src/network/network_iptables.c iptablesAddOutputFixUdpChecksum (before 10.x: src/util/viriptables.c): "
    "a CHECKSUM --checksum-fill rule for udp dport 68 on the bridge, in mangle POSTROUTING (0.8.3) or LIBVIRT_PRT "
    "(5.1.0), only for an IPv4 <dhcp> with a range or host; failures ignored"
)
LIBVIRT_NFTABLES_CHECKSUM = (
    "libvirt src/network/network_nftables.c (nftables backend from 10.4.0; 10.4.0 adds no checksum fix-up; 11.3.0 "
    "adds a tc filter 'u32 match ip dport 68 action csum ip and udp' on the bridge for every network but mode='open'; "
    "the first release with it is not known here)"
)
QEMU_WORKAROUND = (
    "QEMU hw/net/virtio-net.c work_around_broken_dhclient: QEMU fills the checksum itself when it "
    "copies the packet, i.e. without vhost (<driver name='qemu'/>)"
)

_PER_GUEST = """\
# meanwhile, per guest: virsh edit GUEST, <driver name='qemu'/> in each virtio <interface>,
# then shut the guest down and start it (see guest-nic-dhcp-checksum)"""

CHECKS = [
    Check(
        id="iptables-checksum-support",
        fails_when="iptables < 1.4.10 or no CHECKSUM extension",
        severity="medium",
        per="host using libvirt's iptables backend",
        requirement="iptables is 1.4.10 or newer and its CHECKSUM extension loads.",
        rationale=(
            "libvirt fills in DHCP reply checksums with an iptables CHECKSUM rule; without the extension, "
            "guests using vhost-net get DHCP replies with unfilled checksums and drop them."
        ),
        sources=(
            _SECTION,
            "iptables extensions/libxt_CHECKSUM.c (first in iptables 1.4.10)",
            LIBVIRT_IPTABLES_CHECKSUM,
        ),
        skipped_when=("no libvirt on the host", "libvirt uses its nftables backend"),
        verify=("iptables --version", "iptables -j CHECKSUM -h | grep 'CHECKSUM target options'"),
        fixes={
            "default": Fix("""\
# update iptables (1.4.10 or newer ships libxt_CHECKSUM) and a kernel with xt_CHECKSUM, e.g.:
yum update iptables kernel      # or: apt-get install --only-upgrade iptables
iptables -j CHECKSUM -h | grep 'CHECKSUM target options'
# then restart libvirt's network daemon (libvirtd or virtnetworkd) so it adds its rules again"""),
        },
    ),
    Check(
        id="dhcp-checksum-fixup",
        fails_when="no checksum fix-up (CHECKSUM rule or tc csum filter) on its bridge",
        severity="high",
        per="active libvirt network serving IPv4 DHCP on a host with vhost-net",
        requirement="The network's bridge has a checksum fix-up for DHCP replies (CHECKSUM rule or tc csum filter).",
        rationale=(
            "With vhost-net, packets from the host to a virtio guest can leave with unfilled UDP checksums; "
            "without a fix-up on the bridge, the guest's DHCP client drops every reply."
        ),
        sources=(
            _SECTION,
            LIBVIRT_IPTABLES_CHECKSUM,
            LIBVIRT_NFTABLES_CHECKSUM,
            QEMU_WORKAROUND,
            "libvirt NEWS 10.4.0 (nftables backend; 'doesn't add any rules to fix up the checksum')",
        ),
        skipped_when=(
            "the network serves no IPv4 DHCP (the fix-up and the problem are DHCPv4's), makes no bridge "
            "of its own, or is not running",
            "the host has no /dev/vhost-net",
        ),
        verify=(
            "iptables-save -t mangle | grep CHECKSUM",
            "tc filter show dev BRIDGE",
            "cat /etc/libvirt/network.conf",
        ),
        fixes={
            "iptables": Fix(
                """\
# libvirt's CHECKSUM rule for {bridge} is missing; add it back where libvirt keeps it:
iptables -t mangle -A {chain:raw} -o {bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
# (libvirt adds it itself whenever its network daemon starts or the network starts)
"""
                + _PER_GUEST,
                (
                    Step(
                        "firewall",
                        "iptables -t mangle -A {chain:raw} -o {bridge} -p udp -m udp --dport 68 "
                        "-j CHECKSUM --checksum-fill",
                        ("iptables",),
                    ),
                ),
            ),
            "nftables-none": Fix(
                """\
# libvirt {version:raw} uses its nftables backend, which adds no checksum fix-up for DHCP replies
# in this release (10.4.0 had none; 11.3.0 adds a tc csum filter). Choose one:
#  - set  firewall_backend = "iptables"  in /etc/libvirt/network.conf and restart libvirt's
#    network daemon (libvirtd or virtnetworkd): it re-creates its rules with the CHECKSUM rule
#  - upgrade libvirt to 11.3.0 or newer, then restart that daemon
"""
                + _PER_GUEST
            ),
            "nftables-tc": Fix(
                """\
# libvirt {version:raw} puts a tc csum filter on {bridge} under its nftables backend, and it is
# gone; restarting libvirt's network daemon re-creates its rules and filters (guests keep their links):
"""
                + DAEMON_RESTART.script
                + "\n"
                + _PER_GUEST,
                (DAEMON_RESTART,),
            ),
            "open": Fix("""\
# a mode='open' network gets no firewall rules and no checksum fix-up from libvirt, by design.
# Per guest: virsh edit GUEST, <driver name='qemu'/> in each virtio <interface>, then shut the
# guest down and start it; or add the rule yourself and keep it in your firewall's own config:
#   iptables -t mangle -A POSTROUTING -o {bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill"""),
        },
    ),
    Check(
        id="libvirt-checksum-warning",
        fails_when="libvirtd logged that it could not add the checksum rule",
        severity="low",
        per="host",
        requirement="libvirtd's log has no warning that it could not add the DHCP checksum rule.",
        rationale=(
            "The warning means some network got no checksum fix-up; it matters when a guest also uses "
            "virtio, vhost-net and DHCP from this host (see guest-nic-dhcp-checksum)."
        ),
        sources=(
            _SECTION,
            "libvirt before 1.x: networkAddGeneralIptablesRules logged 'Could not add rule to fixup "
            "DHCP response checksums on network'; newer releases ignore the failure silently",
        ),
        skipped_when=("no libvirt on the host", "no libvirtd log could be read (no log file, no journal)"),
        verify=(
            "grep -F 'fixup DHCP response checksums' /var/log/libvirt/libvirtd.log",
            "journalctl -t libvirtd | grep -F 'fixup DHCP response checksums'",
        ),
        fixes={
            "default": Fix("""\
# update iptables (>= 1.4.10) and the kernel, then restart libvirt's network daemon so it adds
# the rule for every network (guests keep their links)
# affected guests can use <driver name='qemu'/> in their virtio <interface> meanwhile"""),
        },
    ),
]
