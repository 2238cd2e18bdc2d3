"""Catalog: Linux bridges, live and in persistent config (tests_host/test_bridges.py)."""
from .base import GUIDE, Check, Fix, Step

_LIVE_STP_OFF = """\
# takes effect at once; ports already forwarding are not disturbed
ip link set dev {bridge} type bridge stp_state 0
"""
LIVE_STP_OFF_STEP = Step("live-bridge", "ip link set dev {bridge} type bridge stp_state 0")

CHECKS = [
    Check(
        id="bridge-forward-delay",
        fails_when='kernel STP is on and 2 x forward_delay is past the limit',
        severity="high",
        per="Linux bridge",
        requirement="A bridge with kernel STP on blocks a new port for no longer than the limit (2 x forward_delay).",
        rationale=("A new port stays in listening and learning for twice the forward delay; DHCP and PXE "
                   "requests sent meanwhile are dropped, and iPXE gives up after about 15 s."),
        sources=(GUIDE + ", 'Long forward delay time on bridge'",),
        skipped_when=("the bridge runs user-space STP (stp_state 2): a daemon, not the kernel, times its ports",),
        fixes={
            "libvirt": Fix(_LIVE_STP_OFF + """\
# make it last: the bridge belongs to libvirt network {network}
virsh net-edit {network}
#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')""", (LIVE_STP_OFF_STEP,)),
            "config": Fix(_LIVE_STP_OFF + """\
# make it last: the bridge is defined in {path}
# {config_hint:raw}""", (LIVE_STP_OFF_STEP,)),
            "unmanaged": Fix(_LIVE_STP_OFF + """\
# make it last in whatever creates {bridge} at boot (no ifcfg, NetworkManager, ifupdown,
# networkd or netplan definition of it was found on this host)""", (LIVE_STP_OFF_STEP,)),
        },
    ),
    Check(
        id="bridge-stp-root",
        fails_when="it is not the STP root (its delay is the root's)",
        severity="medium",
        per="Linux bridge with kernel STP on",
        requirement="A bridge with kernel STP on is the root of its spanning tree, or has STP off.",
        rationale=("A bridge that is not the STP root takes its forward delay from the root's BPDUs: its own "
                   "setting is overridden, so the only dependable fix is to turn STP off on it."),
        sources=(GUIDE + ", 'Long forward delay time on bridge' (note on the root bridge)",),
        skipped_when=("STP is off on the bridge: it takes part in no root election",
                      "the bridge runs user-space STP (stp_state 2)"),
        fixes={
            "default": Fix("""\
ip link set dev {bridge} type bridge stp_state 0
# then make it last where the bridge is defined{where:raw}""", (LIVE_STP_OFF_STEP,)),
        },
    ),
    Check(
        id="bridge-persistent-config",
        fails_when='the file brings STP back with a long delay at the next ifup (also `DELAY=0.0`)',
        severity="medium",
        per="host bridge defined in persistent network config",
        requirement="The bridge's persistent config turns STP off, or on with a zero forward delay.",
        rationale=("Fixing only the live bridge is undone at the next ifup or reboot: the file brings STP and the "
                   "long forward delay back."),
        sources=(GUIDE + ", 'Long forward delay time on bridge' (ifcfg)",),
        skipped_when=(),
        fixes={
            "ifcfg": Fix("""\
# in {path}: turn STP off ...
#   STP=off
# ... or keep it on with no delay (a whole number: DELAY=0.0 is refused by ip link)
#   STP=on
#   DELAY=0
# then re-read the file:
ifdown {bridge} && ifup {bridge}
# (with NetworkManager reading ifcfg files: nmcli connection reload && nmcli connection up {bridge})""",
                         (Step("persistent-config", """\
sed -i -e 's/^STP=.*/STP=off/' -e 's/^BRIDGE_STP=.*/BRIDGE_STP=off/' {path}
grep -q -e '^STP=' -e '^BRIDGE_STP=' {path} || echo STP=off >> {path}"""),)),
            "nmconnection": Fix("""\
nmcli connection modify {connection} bridge.stp no
# or keep STP with the minimum delay:  nmcli connection modify {connection} bridge.stp yes bridge.forward-delay 2
nmcli connection up {connection}""", (Step("persistent-config", "nmcli connection modify {connection} bridge.stp no"),)),
            "ifupdown": Fix("""\
# in {path}, in the "iface {bridge:raw}" stanza:
#   bridge_stp off
#   bridge_fd 0
ifdown {bridge} && ifup {bridge}"""),
            "networkd": Fix("""\
# in {path}, section [Bridge]:
#   STP=no
#   ForwardDelaySec=0
networkctl reload && networkctl reconfigure {bridge}""", (Step("persistent-config", "sed -i -e 's/^STP=.*/STP=no/' {path}"),)),
            "netplan": Fix("""\
# in {path}, under network.bridges.{bridge:raw}.parameters:
#   stp: false
#   forward-delay: 0
netplan apply"""),
        },
    ),
]
