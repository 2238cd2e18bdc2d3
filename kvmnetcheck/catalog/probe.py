"""Catalog: what the probe (`--probe`) saw on each bridge, and where it disagrees with the suite's own
reading of the same bridge (tests_host/test_probe.py)."""

from .base import GUIDE, Check, Fix

IPXE_SCHEDULE = (
    "iPXE src/config/dhcp.h DHCP_DISC_START_TIMEOUT_SEC 1 and DHCP_DISC_END_TIMEOUT_SEC 10, src/net/retry.c "
    "timer_expired: DISCOVERs at 0, 1, 3 and 7 s, given up at 15 s"
)
PROBE = "kvm-netcheck kvmnetcheck/collect/probe.py: a veth port joins the bridge, its clock starts at link-up"
AUXDATA = (
    "Linux include/uapi/linux/if_packet.h tpacket_auxdata, TP_STATUS_CSUMNOTREADY and TP_STATUS_CSUM_VALID; "
    "net/packet/af_packet.c packet_recvmsg (PACKET_AUXDATA)"
)
BRIDGE_STATE = (
    "Linux net/bridge/br_sysfs_if.c (brport/state) and br_stp.c br_make_forwarding: listening and learning, "
    "one forward delay each"
)
NOT_PROBED = (
    "the run was made without --probe",
    "the facts were read from a directory (--facts, such as kvmnetcheck.collect.ansible_gather writes) that holds "
    "no probe: the probe runs only over the suite's own connection to the host",
    "no active libvirt network serves IPv4 DHCP on the bridge and no guest NIC uses it",
)

_BY_HAND = """\
#   ip -d link show {bridge}
#   cat /sys/class/net/{bridge}/bridge/stp_state /sys/class/net/{bridge}/bridge/forward_delay
#   tcpdump -ni {bridge} port 67 or port 68"""

CHECKS = [
    Check(
        id="probe-dhcp-offer",
        fails_when="a PXE-style DISCOVER got no OFFER within iPXE's 15 s, more than one server answered, or "
        "the OFFER's checksum was not filled in where vhost-net guests use the bridge",
        severity="high",
        per="Linux bridge a libvirt network serves DHCP on or guests use (with --probe)",
        requirement="A new port on the bridge gets one DHCP OFFER within iPXE's timeout, "
        "with its UDP checksum filled in where vhost-net guests use the bridge.",
        rationale=(
            "This is measured, not inferred: a throwaway port joins the bridge as a guest's tap would and asks "
            "as QEMU's iPXE ROM asks. No OFFER within 15 s is a PXE boot that fails, whatever the cause; two "
            "servers answering hand out conflicting addresses and boot files; an OFFER whose checksum the "
            "kernel left unfilled (TP_STATUS_CSUMNOTREADY) reaches a vhost-net guest as a packet its DHCP "
            "client drops."
        ),
        sources=(
            GUIDE + ", 'PXE boot (or DHCP) on guest failed'",
            PROBE,
            IPXE_SCHEDULE,
            BRIDGE_STATE,
            AUXDATA,
            "dnsmasq src/dhcp.c address_allocate and do_icmp_ping: an address is pinged before it is offered (about 3 s)",
            "QEMU hw/net/virtio-net.c work_around_broken_dhclient: only QEMU's own path fills the checksum",
        ),
        skipped_when=NOT_PROBED,
        verify=("kvm-netcheck --probe --check probe-dhcp-offer",),
        fixes={
            "no-offer": Fix(
                """\
# a new port on {bridge} got no DHCP OFFER in the {limit:raw} s iPXE waits (port forwarding after
# {forwarding:raw}); the cause is among this host's other findings for {bridge} (port blocked by STP,
# a firewall dropping bridged DHCP, no DHCP server); to look by hand:
"""
                + _BY_HAND
            ),
            "servers": Fix(
                """\
# more than one DHCP server answers on {bridge}: keep one, and stop or fence the others;
# those that answered: {servers}"""
            ),
            "checksum": Fix(
                """\
# DHCP replies on {bridge} leave their UDP checksum unfilled, and vhost-net guests use it: fill
# them in on the bridge as libvirt does (see dhcp-checksum-fixup's fix), e.g.
#   iptables -t mangle -A POSTROUTING -o {bridge} -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
# or give each such guest <driver name='qemu'/> in its <interface> (takes effect at its next cold start)"""
            ),
        },
    ),
    Check(
        id="probe-pxe-boot-file",
        fails_when="the boot file the OFFER names could not be read over TFTP from the server it names",
        severity="high",
        per="Linux bridge whose DHCP OFFER names a boot file (with --probe)",
        requirement="The boot file the bridge's DHCP OFFER names is served over TFTP by the server it names.",
        rationale=(
            "A PXE ROM fetches the file the OFFER names from the server it names (siaddr or option 66); "
            "when that server does not serve it, the boot stops right after the address was given. The probe "
            "reads the first block and aborts the transfer; an HTTP or iPXE URL is fetched by iPXE itself and "
            "is not fetched by the probe."
        ),
        sources=(
            GUIDE + ", 'PXE boot (or DHCP) on guest failed'",
            PROBE,
            "RFC 1350 (TFTP): RRQ, DATA block 1, ERROR to abort",
            "RFC 2132 options 66 and 67; RFC 2131 siaddr and file",
            "iPXE src/usr/autoboot.c netboot (filename, next-server)",
        ),
        skipped_when=NOT_PROBED + ("no OFFER came, or it names no boot file",),
        verify=("kvm-netcheck --probe --check probe-pxe-boot-file",),
        fixes={
            "missing": Fix(
                """\
# the OFFER on {bridge} names boot file {file}, and TFTP server {server} did not serve it ({detail});
# put the file in that server's TFTP root (libvirt: the network's <tftp root=.../>), or correct the
# network's <bootp file=.../> (virsh net-edit NETWORK; the change applies at the network's next start)"""
            ),
        },
    ),
    Check(
        id="probe-inference-agrees",
        fails_when="the probe's port-forwarding time contradicts sysfs, or it got an OFFER in time where the suite "
        "infers none (or none where the suite infers one)",
        severity="medium",
        per="Linux bridge the probe measured (with --probe)",
        requirement="The probe's measured port-forwarding time and OFFER agree with what the suite infers for a "
        "guest on the bridge.",
        rationale=(
            "The suite's other checks infer whether a guest on the bridge gets an address in time: how long a new "
            "port stays blocked (2 x forward_delay with kernel STP; iPXE's last DISCOVER is at 7 s), whether a "
            "DHCP server answers there (the one on the host, or, on a libvirt network's bridge, none at all), "
            "and whether the host firewall drops DHCP on its path. Where the probe measures something else, an "
            "OFFER where the suite infers none or none where it infers one, one of the two is wrong: a defect "
            "of the suite, or a cause it does not know yet (a server it does not see, a filter it does not "
            "model). Both stories are kept in the result; where the suite cannot tell, no agreement is claimed."
        ),
        sources=(
            PROBE,
            BRIDGE_STATE,
            IPXE_SCHEDULE,
            "kvm-netcheck kvmnetcheck/facts/conclusions/probe.py inferred_dhcp, from conclusions/servers.py "
            "dhcp_answering and conclusions/dhcp_path.py dhcp_path (the verdicts of network-dhcp-running and "
            "bridge-netfilter-dhcp)",
        ),
        skipped_when=NOT_PROBED
        + (
            "the probe could not run on the bridge",
            "the suite cannot tell whether a guest on the bridge gets an OFFER in time (a server beyond its "
            "ports, unread facts), and the forwarding time agrees",
        ),
        verify=("kvm-netcheck --probe --check probe-inference-agrees",),
        fixes={
            "disagree": Fix(
                """\
# the suite's reading of {bridge} and the probe's measurement disagree; nothing on the host is
# changed for this: keep both stories (results.json, observed) and report them to the suite's
# maintainers. By hand:
"""
                + _BY_HAND
            ),
        },
    ),
]
