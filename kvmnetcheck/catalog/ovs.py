"""Catalog: Open vSwitch bridges (tests_host/test_ovs.py)."""

from .base import GUIDE, Check, Fix, Step

OVS_STP = (
    "Open vSwitch vswitchd/vswitch.xml (Bridge stp_enable, rstp_enable, other_config:stp-forward-delay, "
    "stp-max-age, stp-hello-time) and vswitchd/bridge.c bridge_configure_stp; lib/stp.c: a new port "
    "listens and learns for a forward delay each, which stp_update_bridge_timers keeps at max-age/2 + 1 s "
    "or more (11 s by default); lib/rstp-state-machines.c: an RSTP port turns edge, and forwards, after the "
    "migrate time (3 s) without a BPDU; seen with Open vSwitch 3.1: 30 s with STP, 3.1-3.2 s with RSTP"
)
LIBVIRT_OVS = (
    "libvirt src/util/virnetdevopenvswitch.c virNetDevOpenvswitchAddPort (<virtualport "
    "type='openvswitch'/>: the guest's tap is added with external-ids attached-mac and vm-id)"
)

CHECKS = [
    Check(
        id="ovs-bridge-stp",
        fails_when="STP holds a new guest port silent past the limit",
        severity="high",
        per="Open vSwitch bridge",
        requirement="An Open vSwitch bridge with guest ports lets a new port forward within the limit.",
        rationale=(
            "With STP on, a new port of an Open vSwitch bridge listens and learns for twice the forward "
            "delay (22 s at least with the default timers, 30 s by default) before it forwards: a guest's "
            "PXE ROM or DHCP client gives up first."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge' (the same delay, in Open vSwitch's own STP)",
            OVS_STP,
            LIBVIRT_OVS,
        ),
        skipped_when=("the bridge has no guest port",),
        verify=(
            "ovs-vsctl --format=json --columns=name,stp_enable,rstp_enable,other_config list Bridge BRIDGE",
            "ovs-appctl stp/show BRIDGE",
        ),
        fixes={
            "stp-off": Fix(
                """\
# {bridge} has no second uplink for STP to guard; turn STP off (the setting is kept in Open vSwitch's database):
ovs-vsctl set Bridge {bridge} stp_enable=false
# if a network config sets it at boot (ifupdown ovs_extra, netplan openvswitch, NetworkManager ovs-bridge),
# change it there too""",
                (
                    Step(
                        "live-bridge",
                        "ovs-vsctl set Bridge {bridge} stp_enable=false",
                        ("ovs-vsctl",),
                        daemons=("ovsdb-server",),
                    ),
                ),
            ),
            "rstp": Fix("""\
# do NOT turn STP off on {bridge}: {loop:raw}
# run RSTP instead, whose guest ports forward after 3 s; the bridge reconverges when it switches, so
# its traffic pauses briefly: do it at a quiet time
ovs-vsctl set Bridge {bridge} rstp_enable=true stp_enable=false"""),
        },
    ),
]
