"""Catalog: libvirt networks and the firewall around them (tests_host/test_networks.py)."""

from .base import GUIDE, Check, Fix, Step
from .bridges import KERNEL_CLAMP, KERNEL_STP
from .checksum import LIBVIRT_NFTABLES_CHECKSUM
from .shared import DAEMON_RESTART, LIVE_STP_OFF, NET_STP_OFF_DEFINE, RESTART_NOTE

# the same commands serve a person and a fix script
_FW_ZONE = """\
firewall-cmd --zone={zone} --change-interface={bridge}
firewall-cmd --permanent --zone={zone} --change-interface={bridge}"""
_FW_SERVICE = """\
firewall-cmd --zone={zone} --add-service={service}
firewall-cmd --permanent --zone={zone} --add-service={service}"""

LIBVIRT_FIREWALLD = (
    "libvirt src/network/bridge_driver_linux.c networkAddFirewallRules (zone 'libvirt', "
    "'libvirt-routed' for route networks when firewalld has policies, none for mode='open'); "
    "src/network/libvirt.zone, libvirt-routed.zone, libvirt-to-host.policy (libvirt 5.1.0, 8.10.0)"
)

_WHY_NOT = """\
# libvirt says why when asked to start it (the network's bridge, DHCP and DNS come up with it):
virsh net-start {network}
# libvirt's daemon also logged it: /var/log/libvirt/libvirtd.log when it logs to a file, else
#   journalctl -t libvirtd -t virtnetworkd -p err"""

CHECKS = [
    Check(
        id="libvirt-network-inactive",
        fails_when="it is marked autostart but is not running (libvirt could not start it)",
        severity="critical",
        per="libvirt network",
        requirement="A libvirt network marked autostart is running.",
        rationale=(
            "libvirt starts an autostart network when its daemon starts; when that fails, the network has no "
            "bridge, no DHCP and no TFTP server, so its guests cannot start or get no address and no boot file."
        ),
        sources=(
            GUIDE + " (the default network must be active and autostarted)",
            "libvirt src/network/bridge_driver.c networkAutostartConfigs / networkAutostartConfig (each "
            "autostart network not active is started at daemon start, once per boot since 9.x: "
            "virDriverShouldAutostart) and networkStartNetwork (an error leaves it inactive; the reason is "
            "reported with virReportError, i.e. logged at level error)",
            LIBVIRT_NFTABLES_CHECKSUM,
            "libvirt src/util/virfirewall.c virFirewallCmdNftablesApply ('Failed to apply firewall command ...'); "
            "Linux net/sched/act_csum.c (CONFIG_NET_ACT_CSUM; tc reports 'Failed to load TC action module' "
            "without it)",
            "libvirt src/util/virlog.c (log line format: 'error : FUNCTION:LINE : MESSAGE')",
        ),
        skipped_when=(
            "no libvirt daemon answered (libvirt-readable): networks are read from its files and none runs",
            "the network is not running and not marked autostart (stopped on purpose)",
        ),
        verify=(
            "virsh --readonly net-list --all",
            "virsh net-start NETWORK",
            "grep -F ': error : ' /var/log/libvirt/libvirtd.log | tail",
            "journalctl -t libvirtd -t virtnetworkd -p err",
        ),
        fixes={
            "reason": Fix(
                """\
# remove the cause libvirt gave (above), then start the network:
virsh net-start {network}"""
            ),
            "unknown": Fix(_WHY_NOT + "\n# remove that cause, then start it again."),
            "act-csum": Fix(
                """\
# libvirt {version:raw} with its nftables backend puts a tc 'action csum' filter on {bridge} for DHCP
# replies, and this kernel cannot load act_csum, so the network cannot start at all. Either
# give the kernel the module (act_csum, CONFIG_NET_ACT_CSUM=m or y) and check:
modprobe act_csum && lsmod | grep act_csum
# or use libvirt's iptables backend: in /etc/libvirt/network.conf set
#   firewall_backend = "iptables"
# then restart libvirt's network daemon ({daemon}); either way, then:
virsh net-start {network}"""
            ),
        },
    ),
    Check(
        id="libvirt-network-stp-delay",
        fails_when="its running or saved `<bridge>` keeps STP on with a delay that blocks a new port past the limit",
        severity="high",
        per="libvirt network that creates its own bridge",
        requirement="The network's <bridge> turns STP off, or keeps the kernel's minimum forward delay (delay='0').",
        rationale=(
            "With STP on, a new guest port forwards nothing for twice the forward delay; a PXE ROM or "
            "DHCP client that gives up sooner leaves the guest without a boot image or an address."
        ),
        sources=(
            GUIDE + ", 'Long forward delay time on bridge'",
            "libvirt docs/formatnetwork.rst <bridge stp= delay=> (stp on and delay 0 by default); "
            "src/util/virnetdevbridge.c virNetDevBridgeSetSTPDelay",
            KERNEL_STP,
            KERNEL_CLAMP,
        ),
        skipped_when=(
            "the network makes no bridge of its own (forward mode bridge, macvtap or hostdev): a host "
            "bridge is checked by bridge-forward-delay",
        ),
        verify=(
            "virsh --readonly net-dumpxml NETWORK | grep '<bridge'",
            "virsh --readonly net-dumpxml --inactive NETWORK | grep '<bridge'",
        ),
        fixes={
            "edit": Fix(
                """\
virsh net-edit {network}
#   set the bridge element to:  {bridge_xml:raw}
# that changes the saved definition only; the running bridge at once, without a restart:
"""
                + LIVE_STP_OFF.script
                + "\n"
                + RESTART_NOTE,
                (NET_STP_OFF_DEFINE, LIVE_STP_OFF),
            ),
            "saved": Fix(
                """\
# the running network is fine; its saved definition brings the delay back at the next start:
virsh net-edit {network}
#   set the bridge element to:  {bridge_xml:raw}""",
                (NET_STP_OFF_DEFINE,),
            ),
            "running": Fix(
                """\
# the saved definition is already right; the running bridge still has the old value. At once:
"""
                + LIVE_STP_OFF.script
                + "\n"
                + RESTART_NOTE,
                (LIVE_STP_OFF,),
            ),
            "keep-stp": Fix("""\
# do NOT turn STP off on {bridge} now: {loop:raw}
# find what joins the network's bridge to another segment and remove it, then:
virsh net-edit {network}
#   set the bridge element to:  {bridge_xml:raw}"""),
        },
    ),
    Check(
        id="firewalld-libvirt-conflict",
        fails_when="bridge outside its zone, DHCP (TFTP for PXE networks) not admitted to the host, or libvirt's rules gone",
        severity="high",
        per="active libvirt network on a host running firewalld",
        requirement=(
            "The network's bridge sits in its firewalld zone, DHCP (and TFTP for PXE) from it reaches the "
            "host through that zone or libvirt's policy, and libvirt's own rules for the bridge are in place."
        ),
        rationale=(
            "A firewalld reload or a wrong zone drops the DHCP and TFTP traffic libvirt let in; guests then "
            "get no address and PXE has nothing to boot."
        ),
        sources=(
            GUIDE + ", last paragraph (firewalld and the default network)",
            LIBVIRT_FIREWALLD,
            "firewalld src/firewall/command.py print_zone_policy_info (--list-all-zones, --list-all-policies); "
            "firewalld.policy(5): policies towards HOST with a negative priority act before the zone",
            "libvirt src/network/network_iptables.c and network_nftables.c (the rules it adds per bridge; "
            "tables ip and ip6 libvirt_network)",
        ),
        skipped_when=(
            "firewalld is not installed or not running",
            "the network is not running",
            "the network makes no bridge of its own",
        ),
        verify=(
            "firewall-cmd --get-zone-of-interface=BRIDGE",
            "firewall-cmd --list-all-zones",
            "firewall-cmd --list-all-policies",
            "iptables-save | grep BRIDGE",
            "nft list table ip libvirt_network",
        ),
        fixes={
            "zone": Fix(_FW_ZONE, (Step("firewall", _FW_ZONE, ("firewall-cmd",), daemons=("firewalld",)),)),
            "service": Fix(_FW_SERVICE, (Step("firewall", _FW_SERVICE, ("firewall-cmd",), daemons=("firewalld",)),)),
            "rules": Fix(
                """\
# libvirt's rules for {bridge} are gone (a firewalld reload while libvirt's network daemon was not
# there to re-add them); restarting that daemon puts them back (running guests keep their links):
"""
                + DAEMON_RESTART.script
                + """
# last resort from the guide: systemctl stop firewalld && systemctl restart {daemon}""",
                (DAEMON_RESTART,),
            ),
            "open": Fix(
                """\
# a mode='open' network gets no firewalld zone and no rules from libvirt, by design, so {bridge}
# is in firewalld's default zone ({zone}), which does not let {service} reach the host. Put the
# bridge in libvirt's zone, which admits DHCP, DNS and TFTP to the host and nothing else:
firewall-cmd --zone=libvirt --change-interface={bridge}
firewall-cmd --permanent --zone=libvirt --change-interface={bridge}
# (libvirt >= 10.8 also honours <bridge zone='libvirt'/> in an open network's definition)""",
                (
                    Step(
                        "firewall",
                        """\
firewall-cmd --zone=libvirt --change-interface={bridge}
firewall-cmd --permanent --zone=libvirt --change-interface={bridge}""",
                        ("firewall-cmd",),
                        daemons=("firewalld",),
                    ),
                ),
            ),
        },
    ),
]
