"""Fix steps and fix text that more than one check renders, each defined once.

A step's script is also the command its fix text shows a person (`LIVE_STP_OFF.script`), so the two
never drift apart.
"""

from .base import Step

# a Linux bridge's STP off, at once; ports already forwarding are not disturbed
LIVE_STP_OFF = Step("live-bridge", "ip link set dev {bridge} type bridge stp_state 0", ("ip",))

# libvirt's network daemon (libvirtd or virtnetworkd, as the check found it) re-adds its rules,
# filters and dnsmasq when it starts; running guests keep their links
DAEMON_RESTART = Step("daemon-restart", "systemctl restart {daemon}", ("systemctl",), daemons=("systemd",))

# a libvirt network's saved definition with STP off, without an editor; changes nothing that runs
NET_STP_OFF_DEFINE = Step(
    "libvirt-definition",
    """\
f=$(mktemp) && virsh net-dumpxml --inactive -- {network} \\
  | sed -e "/<bridge /{{s/ stp='[^']*'//; s/ delay='[^']*'//; s/<bridge /<bridge stp='off' /}}" > "$f" \\
  && virsh net-define "$f" && rm -f "$f\"""",
    ("virsh", "sed"),
    daemons=("libvirt",),
)

# what to write in a libvirt network's definition (virsh net-edit) to turn its bridge's STP off
NET_STP_OFF_XML = "#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')"

# Restarting a network is never scripted: net-destroy takes the bridge away, and net-start does not
# put running guests' taps back on the new one (only a restart of libvirtd or virtqemud does,
# libvirt >= 3.2.0, qemuProcessNotifyNets); the live change above needs no restart at all.
RESTART_NOTE = """\
# no restart is needed; should you restart it anyway (virsh net-destroy {network}; virsh net-start {network}),
# running guests' NICs stay off the new bridge until libvirtd (or virtqemud) restarts, or until
# each is put back by hand:  ip link set dev vnetN master {bridge}"""

# a guest definition changed with virsh edit applies when QEMU starts again, not at a reboot inside it
COLD_START = """\
# it applies at the next cold start:
virsh shutdown {guest}    # wait until it is shut off, then:
virsh start {guest}"""
