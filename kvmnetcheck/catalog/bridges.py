"""Catalog: Linux bridges, live and in persistent config (tests_host/test_bridges.py)."""

from .base import GUIDE, Check, Fix, Step
from .shared import DNSMASQ_INTERFACES, LIVE_STP_OFF, NET_STP_OFF_XML

KERNEL_STP = (
    "Linux net/bridge/br_stp.c br_make_forwarding: a new port of a kernel-STP bridge passes listening "
    "and learning, one forward delay each; with STP off it forwards at once (from 2.6.39; the 2.6.36 "
    "code still held it one delay in learning)"
)
KERNEL_CLAMP = (
    "Linux net/bridge/br_private_stp.h BR_MIN/MAX_FORWARD_DELAY and br_stp_if.c br_stp_start: "
    "forward_delay is kept within 2-30 s while STP is on"
)
SYSFS = "Linux Documentation/ABI/testing/sysfs-class-net (bridge/stp_state, forward_delay in USER_HZ ticks)"

_STP_OFF_NOW = (
    """\
# takes effect at once; ports already forwarding are not disturbed
"""
    + LIVE_STP_OFF.script
    + "\n"
)

# NetworkManager's profile with STP off (ifcfg-rh and keyfile profiles alike): nmcli asks the running
# NetworkManager, and without it stops at "Could not create NMClient object"
_NM_STP_OFF = Step(
    "persistent-config",
    "nmcli connection modify {conn_by:raw} {connection} bridge.stp no",
    ("nmcli",),
    daemons=("NetworkManager",),
)
# the same where NetworkManager does not run: its own keyfile reader and writer, `nmcli --offline` (NM >= 1.40:
# the profile on stdin, the modified one on stdout), into a file beside it whose name starts with '.', which
# NetworkManager never loads (nm_keyfile_utils_ignore_filename), then renamed over it; NetworkManager reads
# it when it starts. An older nmcli refuses --offline: the file is left as it was and the script goes on.
_NM_KEYFILE_STP_OFF_OFFLINE = Step(
    "persistent-config",
    """\
f=$(mktemp -p {keyfile_dir} .kvm-netcheck.XXXXXX)
if cat -- {path} | nmcli --offline connection modify bridge.stp no > "$f" && grep -q '^\\[connection\\]' "$f"
then mv -f -- "$f" {path}
else rm -f -- "$f"; echo 'nmcli --offline (NetworkManager >= 1.40) could not rewrite the profile: set stp=false in its [bridge] group by hand' >&2
fi""",
    ("nmcli",),
    without=("NetworkManager",),
)
# an ifcfg file NetworkManager reads at boot, where it does not run now: STP=no (nms-ifcfg-rh-reader.c: off
# unless on/yes)
_NM_IFCFG_STP_OFF_OFFLINE = Step(
    "persistent-config",
    """\
sed -i -e 's/^STP=.*/STP=no/' -- {path}
grep -q -e '^STP=' -- {path} || echo STP=no >> {path}""",
    ("sed",),
    without=("NetworkManager",),
)

# STP is doing its job: a person chooses, no script turns it off
_KEEP_STP = """\
# do NOT turn STP off on {bridge}: {loop:raw}
# instead, one of:
#  - shorten the delay where it is decided: on the STP root bridge of this network, a forward
#    delay of 2 s (the kernel's minimum):  ip link set dev ROOT type bridge forward_delay 200
#  - put the guests on a bridge without uplinks (a libvirt NAT or route network), and keep {bridge}
#    for the host's own traffic
#  - run RSTP (mstpd) on {bridge}, whose edge ports forward at once"""

_SYSCTL_NOTE = """\
# (or, only where nothing on this host filters bridged frames on purpose, and never under Docker or
# Kubernetes, which need it: sysctl -w net.bridge.bridge-nf-call-iptables=0, and the same in /etc/sysctl.d)"""


def _forward_accept(cmd: str) -> Fix:
    line = (
        f"{cmd} -C FORWARD -i {{bridge}} -o {{bridge}} -j ACCEPT 2>/dev/null || "
        f"{cmd} -I FORWARD -i {{bridge}} -o {{bridge}} -j ACCEPT"
    )
    return Fix(
        f"""\
# let frames bridged by {{bridge}} pass FORWARD ({cmd}'s tables drop them):
{line}
# and keep it across reboots where your rules are saved (netfilter-persistent save, service iptables save)
"""
        + _SYSCTL_NOTE,
        (Step("firewall", line, (cmd,)),),
    )


def _host_accept(cmd: str) -> Fix:
    accept_both = (
        f"{cmd} -C INPUT -i {{bridge}} -p udp --dport 67 -j ACCEPT 2>/dev/null || "
        f"{cmd} -I INPUT -i {{bridge}} -p udp --dport 67 -j ACCEPT\n"
        f"{cmd} -C OUTPUT -o {{bridge}} -p udp --sport 67 -j ACCEPT 2>/dev/null || "
        f"{cmd} -I OUTPUT -o {{bridge}} -p udp --sport 67 -j ACCEPT"
    )
    return Fix(
        f"""\
# {{server:raw}} serves DHCP on {{bridge}} from this host: let its requests in and its replies out ({cmd}'s
# INPUT or OUTPUT drops them):
{accept_both}
# and keep them across reboots where your rules are saved (netfilter-persistent save, service iptables save)""",
        (Step("firewall", accept_both, (cmd,)),),
    )


CHECKS = [
    Check(
        id="bridge-forward-delay",
        fails_when="kernel STP is on and 2 x forward_delay is past the limit",
        severity="high",
        per="Linux bridge",
        requirement="A bridge with kernel STP on blocks a new port for no longer than the limit (2 x forward_delay).",
        rationale=(
            "A new port stays in listening and learning for twice the forward delay; DHCP and PXE "
            "requests sent meanwhile are dropped, and iPXE gives up after about 15 s."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge'",
            KERNEL_STP,
            KERNEL_CLAMP,
            SYSFS,
            "iPXE src/config/dhcp.h (DHCP retries: about 15 s in all)",
        ),
        skipped_when=("the bridge runs user-space STP (stp_state 2): a daemon, not the kernel, times its ports",),
        verify=(
            "cat /sys/class/net/BRIDGE/bridge/stp_state /sys/class/net/BRIDGE/bridge/forward_delay",
            "getconf CLK_TCK",
        ),
        fixes={
            "libvirt": Fix(
                _STP_OFF_NOW
                + """\
# make it last: the bridge belongs to libvirt network {network}
virsh net-edit {network}
"""
                + NET_STP_OFF_XML,
                (LIVE_STP_OFF,),
            ),
            "config": Fix(
                _STP_OFF_NOW
                + """\
# make it last: the bridge is defined in {path}
# {config_hint:raw}""",
                (LIVE_STP_OFF,),
            ),
            "unmanaged": Fix(
                _STP_OFF_NOW
                + """\
# make it last in whatever creates {bridge} at boot (no ifcfg, NetworkManager, ifupdown,
# networkd or netplan definition of it was found on this host)""",
                (LIVE_STP_OFF,),
            ),
            "zero-delay": Fix(
                """\
# STP is already off, but kernels before 2.6.39 still hold a new port one forward delay: make it 0
ip link set dev {bridge} type bridge forward_delay 0
# and set the same where the bridge is defined (DELAY=0, bridge_fd 0, ...)""",
                (Step("live-bridge", "ip link set dev {bridge} type bridge forward_delay 0", ("ip",)),),
            ),
            "keep-stp": Fix(_KEEP_STP),
        },
    ),
    Check(
        id="bridge-stp-root",
        fails_when="it is not the STP root (its delay is the root's)",
        severity="medium",
        per="Linux bridge with kernel STP on",
        requirement="A bridge with kernel STP on is the root of its spanning tree, or has STP off.",
        rationale=(
            "A bridge that is not the STP root takes its forward delay from the root's BPDUs: its own "
            "setting is overridden, so the only dependable fix is to turn STP off on it."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge' (note on the root bridge)",
            "Linux net/bridge/br_stp.c br_record_config_timeout_values: a non-root bridge takes the root's "
            "forward delay from its BPDUs",
            SYSFS + " (bridge_id, root_id, root_port)",
        ),
        skipped_when=(
            "STP is off on the bridge: it takes part in no root election",
            "the bridge runs user-space STP (stp_state 2)",
        ),
        verify=(
            "cat /sys/class/net/BRIDGE/bridge/bridge_id /sys/class/net/BRIDGE/bridge/root_id "
            "/sys/class/net/BRIDGE/bridge/root_port",
        ),
        fixes={
            "default": Fix(
                LIVE_STP_OFF.script
                + """
# then make it last where the bridge is defined{where:raw}""",
                (LIVE_STP_OFF,),
            ),
            "keep-stp": Fix(_KEEP_STP),
        },
    ),
    Check(
        id="bridge-persistent-config",
        fails_when="the file brings STP back with a long delay at the next boot, as the program that applies it reads it",
        severity="medium",
        per="host bridge defined in persistent network config",
        requirement=(
            "The bridge's persistent config, read as the program that applies it at boot reads it, turns "
            "STP off or keeps the minimum forward delay."
        ),
        rationale=(
            "Fixing only the live bridge is undone at the next boot or activation: the file brings STP and "
            "the long forward delay back."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge' (ifcfg)",
            "NetworkManager src/core/settings/plugins/ifcfg-rh/nms-ifcfg-rh-reader.c make_bridge_setting (1.42-1.54: "
            "STP only on/yes, DELAY whole seconds with STP on, BRIDGING_OPTS stp_state/forward_delay ignored)",
            "NetworkManager src/libnm-core-impl/nm-setting-bridge.c and libnm-base/nm-base.h (keyfile: stp on and "
            "forward-delay 15 s by default, 2-30 s with STP on); src/core/settings/plugins/keyfile (0600 root files)",
            "initscripts network-scripts/ifup-eth (9.83 and later: DELAY to `ip link ... forward_delay`, i.e. "
            "centiseconds; RHEL 7 9.49: brctl setfd, seconds; BRIDGING_OPTS to sysfs) and network-functions "
            "source_config (NM_CONTROLLED: hand-off to NetworkManager)",
            "netplan src/parse.c (renderer: device > type > global), src/networkd.c and src/nm.c "
            "write_bridge_params (no parameters: no STP key written)",
            "NetworkManager man nmcli(1) --offline and NEWS 1.40 (connection modify reads a keyfile on stdin and "
            "prints it, no daemon; 1.42.4 checked here) and libnm-core-impl/nm-keyfile-utils.c "
            "nm_keyfile_utils_ignore_filename (a file whose name starts with '.' is never loaded); without the "
            "daemon `nmcli connection modify` fails with 'Could not create NMClient object'",
            "netplan src/parse.c process_mapping, handle_network_type and handle_bridge (0.106-1.2: a key given "
            "twice is read each time, so two `bridges:` blocks define the bridges of both, a bridge given again "
            "amends its first definition, and each `parameters:` turns STP on before its own keys; "
            "tests/integration/scenarios.py test_mix_vlan_on_bridge_on_bond)",
            "systemd src/network/netdev/bridge.c and man systemd.netdev (STP unset: kernel default); before v257 "
            "netdev_load on reload only creates the netdevs that do not exist; v257 (NEWS 257, pull request #34909 "
            "'network: support reconfiguring netdev') src/network/netdev/netdev.c netdev_reload keeps the ifindex "
            "of an updated .netdev, independent_netdev_create sends RTM_NEWLINK to it and netdev_enter_ready runs "
            "bridge.c netdev_bridge_post_create, which sends the [Bridge] settings that are set",
            "Linux net/bridge/br_netlink.c br_changelink (IFLA_BR_FORWARD_DELAY before IFLA_BR_STP_STATE, stops at "
            "the first error) and br_stp.c br_set_forward_delay (-ERANGE outside 2-30 s while STP is on)",
            "Debian bridge-utils /lib/bridge-utils/ifupdown.sh and brctl; ifupdown2 addons/bridge.py",
        ),
        skipped_when=(
            "no program applies the file at boot: its program is not installed, not enabled and not "
            "running, the interface is not brought up at boot (ONBOOT=no, autoconnect=false, no `auto` "
            "line), the file is a runtime one under /run, or NetworkManager refuses it",
        ),
        verify=(
            "cat FILE",
            "ls -l /etc/systemd/system/*.wants/ (which network service is enabled)",
            "nmcli -f bridge.stp,bridge.forward-delay connection show CONNECTION (NetworkManager)",
        ),
        fixes={
            "ifcfg-initscripts": Fix(
                """\
# in {path}: turn STP off (or keep it on with DELAY=0: this ifup-eth sends it to the kernel as is)
#   STP=off
# initscripts applies the file at the next boot (or `ifup {bridge}`); an `ifdown {bridge}`
# now would cut every guest, and the host's own address on it, off the network: the live bridge
# is fixed by bridge-forward-delay's step at once instead""",
                (
                    Step(
                        "persistent-config",
                        """\
sed -i -e 's/^STP=.*/STP=off/' -- {path}
grep -q -e '^STP=' -- {path} || echo STP=off >> {path}""",
                        ("sed",),
                    ),
                ),
            ),
            "ifcfg-networkmanager": Fix(
                """\
# NetworkManager applies {path} through its ifcfg-rh plugin: turn STP off in the profile
nmcli connection modify {conn_by:raw} {connection} bridge.stp no
# (or set STP=no in the file, then: nmcli connection load {path}; where NetworkManager does not run,
# the file alone: it reads it when it starts)
# it applies at the profile's next activation (boot, or `nmcli connection up`, which takes the
# bridge down for a moment); the live bridge is fixed by bridge-forward-delay's step at once""",
                (_NM_STP_OFF, _NM_IFCFG_STP_OFF_OFFLINE),
            ),
            "ifcfg-wicked": Fix("""\
# in {path}:
#   BRIDGE_STP='off'
# wicked applies it at the next boot (or `wicked ifreload {bridge}`, which re-creates the bridge)"""),
            "nmconnection": Fix(
                """\
nmcli connection modify {conn_by:raw} {connection} bridge.stp no
# or keep STP with the minimum delay:  nmcli connection modify {conn_by:raw} {connection} bridge.stp yes bridge.forward-delay 2
# it applies at the profile's next activation (boot, or `nmcli connection up {conn_by:raw} {connection}`, which
# takes the bridge down for a moment); the live bridge is fixed by bridge-forward-delay's step
# where NetworkManager does not run, nmcli needs --offline (NetworkManager >= 1.40), with the file on stdin:
#   nmcli --offline connection modify bridge.stp no < {path}   (prints the profile to write back, mode 0600)""",
                (_NM_STP_OFF, _NM_KEYFILE_STP_OFF_OFFLINE),
            ),
            "ifupdown": Fix("""\
# in {path}, in the "iface {bridge:raw}" stanza:
#   bridge_stp off
# it applies at the next boot; `ifdown {bridge} && ifup {bridge}` re-creates the bridge now,
# cutting every guest and the host's own address on it off the network meanwhile"""),
            "networkd": Fix(
                """\
# in {path}, section [Bridge]:
#   STP=no
# systemd 257 and later apply it at `networkctl reload` to the bridge as it is (not re-created),
# earlier ones at the next boot: their networkd leaves a bridge that exists as it is on reload or
# restart; the live bridge is fixed by bridge-forward-delay's step at once either way
# (ForwardDelaySec=0 only once STP is off live: 257 sends the delay first, and the kernel refuses
# 0 s while STP is on, and then nothing of the file applies)""",
                (Step("persistent-config", "sed -i -e 's/^STP=.*/STP=no/' -- {path}", ("sed",)),),
            ),
            "netplan": Fix("""\
# in {path}, under network.bridges.{bridge:raw}.parameters:
#   stp: false
# netplan renders it at the next boot; `netplan apply` does it now but reconfigures the host's
# interfaces and can interrupt its connectivity: prefer the live fix (bridge-forward-delay)"""),
            "keep-stp": Fix(
                _KEEP_STP
                + """
# and make the same choice in {path}"""
            ),
        },
    ),
    Check(
        id="bridge-netfilter-dhcp",
        fails_when=(
            "the host firewall drops DHCP on the path it takes: bridged frames (FORWARD, under bridge netfilter), "
            "or to and from a DHCP server on the host (INPUT, OUTPUT)"
        ),
        severity="high",
        per="Linux bridge guests use (not a libvirt network's own bridge)",
        requirement=(
            "DHCP between the guests of a bridge and their server passes the host firewall on the path it takes: "
            "FORWARD where bridge netfilter hands it bridged frames, INPUT and OUTPUT where the server runs on "
            "the host."
        ),
        rationale=(
            "With br_netfilter loaded and net.bridge.bridge-nf-call-iptables = 1 (Docker and Kubernetes "
            "set both), frames bridged between a guest's tap and the uplink cross iptables' and nftables' "
            "FORWARD hooks with in = out = the bridge; a FORWARD chain that drops what it does not accept "
            "(Docker sets FORWARD's policy to DROP) drops the guest's DHCP and PXE. A DHCP server on the host "
            "itself (a host-only bridge) is another path: the request goes up to INPUT and the reply leaves "
            "through OUTPUT, and FORWARD never sees them."
        ),
        sources=(
            "Linux net/bridge/br_input.c br_handle_frame_finish (a broadcast or locally addressed frame is "
            "passed up, br_pass_frame_up: the bridge family's input hook, then the IP stack's INPUT with in = "
            "the bridge) and net/bridge/br_netfilter_hooks.c (br_nf_local_in only tidies up; what the host "
            "sends gets no bridge-netfilter hook, br_nf_post_routing: no nf_bridge info); "
            "net/netfilter/xt_physdev.c physdev_mt (no bridge info: physdev matches fail)",
            DNSMASQ_INTERFACES,
            "who serves the bridge from the host: the sockets on UDP 67 and each dnsmasq's interface set "
            "(kvmnetcheck/facts/conclusions/servers.py dhcp_answering); a server there that reads packet "
            "sockets (ISC dhcpd's LPF, busybox udhcpd's raw replies) is not modelled: an error",
            "Linux net/bridge/br_netfilter_hooks.c br_nf_forward_ip (bridged IPv4 to NF_INET_FORWARD, "
            "unless brnf_call_iptables and the bridge's own nf_call_iptables are both off; per network "
            "namespace since 5.3) and Documentation/networking/ip-sysctl.rst bridge-nf-call-iptables",
            "nftables wiki 'Netfilter hooks' (the bridge family's forward hook sees bridged frames "
            "with or without br_netfilter)",
            "Docker docs 'Packet filtering and firewalls' (FORWARD policy DROP; DOCKER-USER for rules of "
            "one's own); libvirt wiki 'Networking' (net.bridge.bridge-nf-call-iptables on host bridges)",
            "firewalld docs: zone option forward (intra-zone forwarding, firewalld >= 0.9)",
        ),
        skipped_when=("no guest uses the bridge, or it is a libvirt network's own bridge (its DHCP is the host's)",),
        verify=(
            "cat /proc/sys/net/bridge/bridge-nf-call-iptables /sys/class/net/BRIDGE/bridge/nf_call_iptables",
            "iptables-save -t filter",
            "nft list ruleset",
        ),
        fixes={
            "iptables": _forward_accept("iptables"),
            "iptables-legacy": _forward_accept("iptables-legacy"),
            "docker": Fix(
                """# Docker owns FORWARD (policy DROP); rules of one's own go in DOCKER-USER, which Docker leaves alone:
iptables -C DOCKER-USER -i {bridge} -o {bridge} -j ACCEPT 2>/dev/null || iptables -I DOCKER-USER -i {bridge} -o {bridge} -j ACCEPT
# Docker does not save it: add the same line where the host's rules are restored at boot""",
                (
                    Step(
                        "firewall",
                        "iptables -C DOCKER-USER -i {bridge} -o {bridge} -j ACCEPT 2>/dev/null || "
                        "iptables -I DOCKER-USER -i {bridge} -o {bridge} -j ACCEPT",
                        ("iptables",),
                    ),
                ),
            ),
            "firewalld": Fix(
                """# firewalld's zone {zone} does not forward between its own interfaces; let it (firewalld >= 0.9):
firewall-cmd --zone={zone} --add-forward
firewall-cmd --permanent --zone={zone} --add-forward""",
                (
                    Step(
                        "firewall",
                        "firewall-cmd --zone={zone} --add-forward\n"
                        "firewall-cmd --permanent --zone={zone} --add-forward",
                        ("firewall-cmd",),
                        daemons=("firewalld",),
                    ),
                ),
            ),
            "nft": Fix("""# {by:raw}
# let frames bridged by {bridge} pass that chain, before the rule that drops them:
#   nft insert rule {family:raw} {table:raw} {chain:raw} iifname {bridge} oifname {bridge} accept
#   (in a bridge family chain: meta ibrname {bridge} accept)
# and add it to the file the ruleset is loaded from (e.g. /etc/nftables.conf)"""),
            "host-iptables": _host_accept("iptables"),
            "host-iptables-legacy": _host_accept("iptables-legacy"),
            "host-nft": Fix("""# {by:raw}
# {server:raw} serves DHCP on {bridge} from this host: let its requests in and its replies out of that
# chain, before the rule that drops them:
#   nft insert rule {family:raw} {table:raw} {chain:raw} iifname {bridge} udp dport 67 accept   (an input chain)
#   nft insert rule {family:raw} {table:raw} {chain:raw} oifname {bridge} udp sport 67 accept   (an output chain)
# and add it to the file the ruleset is loaded from (e.g. /etc/nftables.conf)"""),
            "host-firewalld": Fix(
                """# {server:raw} serves DHCP on {bridge} from this host; let zone {zone} admit it:
firewall-cmd --zone={zone} --add-service=dhcp
firewall-cmd --permanent --zone={zone} --add-service=dhcp""",
                (
                    Step(
                        "firewall",
                        "firewall-cmd --zone={zone} --add-service=dhcp\n"
                        "firewall-cmd --permanent --zone={zone} --add-service=dhcp",
                        ("firewall-cmd",),
                        daemons=("firewalld",),
                    ),
                ),
            ),
        },
    ),
]
