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

# Who answers DHCP on an interface, as several checks decide it (conclusions/servers.py dhcp_answering)
DNSMASQ_INTERFACES = (
    "dnsmasq 2.90 src/dhcp.c dhcp_packet (a request on an interface without an IPv4 address, or named by "
    "no-dhcp-interface, is dropped) and src/network.c iface_check (interface=, with util.c wildcard_match; "
    "listen-address= on the interface; neither: every interface; except-interface=): its DHCP socket is on "
    "0.0.0.0:67 whatever --bind-interfaces, --bind-dynamic or the default say, bound to a device only when it "
    "serves one interface (src/dhcp-common.c whichdevice)"
)
DNSMASQ_OPTIONS = (
    "dnsmasq 2.90 src/option.c read_opts (the command line, then the first --conf-file, else /etc/dnsmasq.conf; "
    "an empty --conf-file= still reads it, seen with 2.90), one_file and read_file (conf-file=, conf-dir= with "
    "its suffix rules; conf-script= and bridge-interface= cannot be told from files), as the collector reads "
    "them from /proc/PID/cmdline and the files they name"
)
