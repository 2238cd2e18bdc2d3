"""Catalog: libvirt networks and the firewall around them (tests_host/test_networks.py)."""
from .base import GUIDE, Check, Fix, Step

# the saved definition with STP off, without an editor
NET_STP_OFF_DEFINE = Step("libvirt-definition", """\
f=$(mktemp) && virsh net-dumpxml --inactive {network} \\
  | sed -e "/<bridge /{{s/ stp='[^']*'//; s/ delay='[^']*'//; s/<bridge /<bridge stp='off' /}}" > "$f" \\
  && virsh net-define "$f" && rm -f "$f\"""")
NET_RESTART = Step("network-restart", "virsh net-destroy {network} && virsh net-start {network}")

# the same commands serve a person and a fix script
_FW_ZONE = """\
firewall-cmd --zone={zone} --change-interface={bridge}
firewall-cmd --permanent --zone={zone} --change-interface={bridge}"""
_FW_SERVICE = """\
firewall-cmd --zone={zone} --add-service={service}
firewall-cmd --permanent --zone={zone} --add-service={service}"""

CHECKS = [
    Check(
        id="libvirt-network-stp-delay",
        fails_when='its running or saved `<bridge>` keeps STP on with a delay that blocks a new port past the limit',
        severity="high",
        per="libvirt network that creates its own bridge",
        requirement="The network's <bridge> turns STP off, or keeps the kernel's minimum forward delay (delay='0').",
        rationale=("With STP on, a new guest port forwards nothing for twice the forward delay; a PXE ROM or "
                   "DHCP client that gives up sooner leaves the guest without a boot image or an address."),
        sources=(GUIDE + ", 'Long forward delay time on bridge'",),
        skipped_when=("the network makes no bridge of its own (forward mode bridge, macvtap or hostdev): a host "
                      "bridge is checked by bridge-forward-delay",),
        fixes={
            "edit": Fix("""\
virsh net-edit {network}
#   set the bridge element to:  {bridge_xml:raw}
# apply it: restart the network (guests on it lose their link until restarted or re-attached)
virsh net-destroy {network} && virsh net-start {network}""", (NET_STP_OFF_DEFINE, NET_RESTART)),
            "restart": Fix("""\
# the saved definition is already right; the running network still has the old value
virsh net-destroy {network} && virsh net-start {network}
# or, without a restart, on the live bridge:
ip link set dev {bridge} type bridge stp_state 0""", (NET_RESTART,)),
        },
    ),
    Check(
        id="firewalld-libvirt-conflict",
        fails_when="bridge outside its zone, zone refuses dhcp (tftp for PXE networks), or libvirt's rules gone",
        severity="high",
        per="active libvirt network on a host running firewalld",
        requirement=("The network's bridge sits in its firewalld zone, the zone admits DHCP (and TFTP for PXE), "
                     "and libvirt's own rules for the bridge are in place."),
        rationale=("A firewalld reload or a wrong zone drops the DHCP and TFTP traffic libvirt let in; guests then "
                   "get no address and PXE has nothing to boot."),
        sources=(GUIDE + ", last paragraph (firewalld and the default network)",),
        skipped_when=("firewalld is not installed or not running", "the network is not running",
                      "the network makes no bridge of its own"),
        fixes={
            "zone": Fix(_FW_ZONE, (Step("firewall", _FW_ZONE),)),
            "service": Fix(_FW_SERVICE, (Step("firewall", _FW_SERVICE),)),
            "rules": Fix("""\
# libvirt's rules for {bridge} are gone (a firewalld reload while libvirt's network daemon was not
# there to re-add them); restart libvirt so it puts them back:
systemctl restart libvirtd      # or virtnetworkd on modular daemons
# last resort from the guide: systemctl stop firewalld && systemctl restart libvirtd""",
                         (Step("daemon-restart", "systemctl restart libvirtd 2>/dev/null || service libvirtd restart"),)),
        },
    ),
]
