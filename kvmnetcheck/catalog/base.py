"""Every check the suite makes: id, severity, requirement, rationale and remediation.

The ids are stable: users name them in waiver files and CI gates. Remediation
texts are templates rendered with the real object names; every value put into
a template is shell-quoted, so a name like `b$(id)` comes out as a literal.
"""
from __future__ import annotations

import shlex
import string
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SEVERITIES = ("critical", "high", "medium", "low")
GUIDE = "RHEL Virtualization Deployment and Administration Guide, appendix B.8"


@dataclass(frozen=True)
class Check:
    id: str
    severity: str
    per: str  # what one result is about
    requirement: str  # one line: what a good host looks like
    rationale: str  # why a failure breaks PXE/DHCP
    guide: str  # where the guide says it
    remediation: dict[str, str]  # variant -> template: what a person reads and types
    # variant -> template: the same fix as commands that need no editor, for fix scripts;
    # a variant missing here cannot be scripted safely and is left to a person
    scripts: dict[str, str] = field(default_factory=dict)


class _ShellFormatter(string.Formatter):
    def format_field(self, value, format_spec):
        if format_spec == "raw":
            return str(value)
        if format_spec == "xml":
            v = str(value)
            return f"'{escape(v)}'" if "'" not in v else quoteattr(v)
        return shlex.quote(str(value))


_FMT = _ShellFormatter()


@dataclass(frozen=True)
class Remedy:
    """A fix for one object: the text a person reads, and the same as a script where that is safe."""

    text: str
    script: str = ""

    def __add__(self, other: "Remedy") -> "Remedy":
        return Remedy("\n".join(t for t in (self.text, other.text) if t),
                      "\n".join(t for t in (self.script, other.script) if t))


def remedy(check_id: str, variant: str, **values) -> Remedy:
    return Remedy(render(check_id, variant, **values), render_script(check_id, variant, **values))


def render_script(check_id: str, variant: str, **values) -> str:
    """The non-interactive fix for one object, or "" where none can be scripted safely."""
    template = CHECKS[check_id].scripts.get(variant)
    return _FMT.format(template, **values).strip("\n") if template else ""


def render(check_id: str, variant: str, **values) -> str:
    """The remediation text for one object: names shell-quoted, {x:xml} as an XML attribute, {x:raw} as is."""
    template = CHECKS[check_id].remediation[variant]
    return _FMT.format(template, **values).strip("\n")


_NET_STP_OFF_SCRIPT = """\
f=$(mktemp) && virsh net-dumpxml --inactive {network} \\
  | sed -e "/<bridge /{{s/ stp='[^']*'//; s/ delay='[^']*'//; s/<bridge /<bridge stp='off' /}}" > "$f" \\
  && virsh net-define "$f" && rm -f "$f"
virsh net-destroy {network} && virsh net-start {network}"""

_LIVE_STP_OFF_SCRIPT = "ip link set dev {bridge} type bridge stp_state 0"

# the same commands serve a person and a fix script
_FW_ZONE = """\
firewall-cmd --zone={zone} --change-interface={bridge}
firewall-cmd --permanent --zone={zone} --change-interface={bridge}"""
_FW_SERVICE = """\
firewall-cmd --zone={zone} --add-service={service}
firewall-cmd --permanent --zone={zone} --add-service={service}"""

_LIVE_STP_OFF = """\
# takes effect at once; ports already forwarding are not disturbed
ip link set dev {bridge} type bridge stp_state 0
"""

CHECKS: dict[str, Check] = {c.id: c for c in [
    Check(
        id="host-reachable",
        severity="critical",
        per="host",
        requirement="The host can be reached and its network facts read.",
        rationale="A host that cannot be read cannot be shown to be safe for PXE or DHCP guests.",
        guide=GUIDE,
        remediation={
            "default": """\
# check that the control node reaches the host the way the suite does:
{reach:raw}
# the collector reads iptables and sysfs: log in as root, or pass --sudo
# (with a sudo rule that needs no password for the checking user)""",
            "partial": """\
# the objects named above were not checked; look at them on the host, e.g. with
#   virsh --readonly net-dumpxml NETWORK
# a document refused for a DOCTYPE, entities or its size was not written by libvirt: find out who did""",
        },
    ),
    Check(
        id="libvirt-readable",
        severity="high",
        per="host",
        requirement="libvirt on the host can be read over a read-only connection or `virsh --readonly`.",
        rationale="Without libvirt's view, the networks and guests that may fail PXE/DHCP cannot be checked.",
        guide=GUIDE,
        remediation={
            "default": """\
# on the host: is libvirtd (or virtqemud and virtnetworkd) running?
virsh --readonly -c qemu:///system version
# the read-only socket must accept the checking user:
ls -l /run/libvirt/libvirt-sock-ro
# to pin the URI the suite uses for this host:
#   --libvirt-uri {host:raw}=qemu+ssh://USER@HOST/system""",
        },
    ),
    Check(
        id="libvirt-network-stp-delay",
        severity="high",
        per="libvirt network that creates its own bridge",
        requirement="The network's <bridge> turns STP off, or keeps the kernel's minimum forward delay (delay='0').",
        rationale=("With STP on, a new guest port forwards nothing for twice the forward delay; a PXE ROM or "
                   "DHCP client that gives up sooner leaves the guest without a boot image or an address."),
        guide=GUIDE + ", 'Long forward delay time on bridge'",
        remediation={
            "edit": """\
virsh net-edit {network}
#   set the bridge element to:  {bridge_xml:raw}
# apply it: restart the network (guests on it lose their link until restarted or re-attached)
virsh net-destroy {network} && virsh net-start {network}""",
            "restart": """\
# the saved definition is already right; the running network still has the old value
virsh net-destroy {network} && virsh net-start {network}
# or, without a restart, on the live bridge:
ip link set dev {bridge} type bridge stp_state 0""",
        },
        scripts={"edit": _NET_STP_OFF_SCRIPT,
                 "restart": "virsh net-destroy {network} && virsh net-start {network}"},
    ),
    Check(
        id="bridge-forward-delay",
        severity="high",
        per="Linux bridge",
        requirement="A bridge with kernel STP on blocks a new port for no longer than the limit (2 x forward_delay).",
        rationale=("A new port stays in listening and learning for twice the forward delay; DHCP and PXE "
                   "requests sent meanwhile are dropped, and iPXE gives up after about 15 s."),
        guide=GUIDE + ", 'Long forward delay time on bridge'",
        remediation={
            "live": _LIVE_STP_OFF,
            "libvirt": _LIVE_STP_OFF + """\
# make it last: the bridge belongs to libvirt network {network}
virsh net-edit {network}
#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')""",
            "config": _LIVE_STP_OFF + """\
# make it last: the bridge is defined in {path}
# {config_hint:raw}""",
            "unmanaged": _LIVE_STP_OFF + """\
# make it last in whatever creates {bridge} at boot (no ifcfg, NetworkManager, ifupdown,
# networkd or netplan definition of it was found on this host)""",
        },
        scripts={v: _LIVE_STP_OFF_SCRIPT for v in ("live", "libvirt", "config", "unmanaged")},
    ),
    Check(
        id="bridge-stp-root",
        severity="medium",
        per="Linux bridge with kernel STP on",
        requirement="A bridge with kernel STP on is the root of its spanning tree, or has STP off.",
        rationale=("A bridge that is not the STP root takes its forward delay from the root's BPDUs: its own "
                   "setting is overridden, so the only dependable fix is to turn STP off on it."),
        guide=GUIDE + ", 'Long forward delay time on bridge' (note on the root bridge)",
        remediation={
            "default": """\
ip link set dev {bridge} type bridge stp_state 0
# then make it last where the bridge is defined{where:raw}""",
        },
        scripts={"default": _LIVE_STP_OFF_SCRIPT},
    ),
    Check(
        id="bridge-persistent-config",
        severity="medium",
        per="host bridge defined in persistent network config",
        requirement="The bridge's persistent config turns STP off, or on with a zero forward delay.",
        rationale=("Fixing only the live bridge is undone at the next ifup or reboot: the file brings STP and the "
                   "long forward delay back."),
        guide=GUIDE + ", 'Long forward delay time on bridge' (ifcfg)",
        remediation={
            "ifcfg": """\
# in {path}: turn STP off ...
#   STP=off
# ... or keep it on with no delay (a whole number: DELAY=0.0 is refused by ip link)
#   STP=on
#   DELAY=0
# then re-read the file:
ifdown {bridge} && ifup {bridge}
# (with NetworkManager reading ifcfg files: nmcli connection reload && nmcli connection up {bridge})""",
            "nmconnection": """\
nmcli connection modify {connection} bridge.stp no
# or keep STP with the minimum delay:  nmcli connection modify {connection} bridge.stp yes bridge.forward-delay 2
nmcli connection up {connection}""",
            "ifupdown": """\
# in {path}, in the "iface {bridge:raw}" stanza:
#   bridge_stp off
#   bridge_fd 0
ifdown {bridge} && ifup {bridge}""",
            "networkd": """\
# in {path}, section [Bridge]:
#   STP=no
#   ForwardDelaySec=0
networkctl reload && networkctl reconfigure {bridge}""",
            "netplan": """\
# in {path}, under network.bridges.{bridge:raw}.parameters:
#   stp: false
#   forward-delay: 0
netplan apply""",
        },
        scripts={
            "ifcfg": """\
sed -i -e 's/^STP=.*/STP=off/' -e 's/^BRIDGE_STP=.*/BRIDGE_STP=off/' {path}
grep -q -e '^STP=' -e '^BRIDGE_STP=' {path} || echo STP=off >> {path}""",
            "nmconnection": "nmcli connection modify {connection} bridge.stp no",
            "networkd": "sed -i -e 's/^STP=.*/STP=no/' {path}",
        },
    ),
    Check(
        id="iptables-checksum-support",
        severity="medium",
        per="host using libvirt's iptables backend",
        requirement="iptables is 1.4.10 or newer and its CHECKSUM extension loads.",
        rationale=("libvirt fills in DHCP reply checksums with an iptables CHECKSUM rule; without the extension, "
                   "guests using vhost-net get DHCP replies with unfilled checksums and drop them."),
        guide=GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
        remediation={
            "default": """\
# update iptables (1.4.10 or newer ships libxt_CHECKSUM) and a kernel with xt_CHECKSUM, e.g.:
yum update iptables kernel      # or: apt-get install --only-upgrade iptables
iptables -j CHECKSUM -h | grep 'CHECKSUM target options'
# then restart libvirt's networks so it adds its rules:  virsh net-destroy NET && virsh net-start NET""",
        },
    ),
    Check(
        id="dhcp-checksum-fixup",
        severity="high",
        per="active libvirt network serving DHCP on a host with vhost-net",
        requirement="The network's bridge has a checksum fix-up for DHCP replies (CHECKSUM rule or tc csum filter).",
        rationale=("With vhost-net, packets from the host to a virtio guest can leave with unfilled UDP checksums; "
                   "without a fix-up on the bridge, the guest's DHCP client drops every reply."),
        guide=GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
        remediation={
            "iptables": """\
# libvirt adds the rule when the network starts; restart it to get it back:
virsh net-destroy {network} && virsh net-start {network}
iptables-save -t mangle | grep -e {rule_match}
# if it is still missing, see iptables-checksum-support; meanwhile, per guest: virsh edit GUEST,
#   <driver name='qemu'/> in each virtio <interface>, then shut the guest down and start it""",
            "nftables": """\
# libvirt's nftables backend fixes checksums with a tc csum filter on {bridge} (newer libvirt);
# restart the network so libvirt adds it, or upgrade libvirt:
virsh net-destroy {network} && virsh net-start {network}
tc filter show dev {bridge} egress
# meanwhile, per guest: virsh edit GUEST, <driver name='qemu'/> in each virtio <interface>""",
        },
        scripts={v: "virsh net-destroy {network} && virsh net-start {network}" for v in ("iptables", "nftables")},
    ),
    Check(
        id="libvirt-checksum-warning",
        severity="low",
        per="host",
        requirement="libvirtd's log has no warning that it could not add the DHCP checksum rule.",
        rationale=("The warning means some network got no checksum fix-up; it matters when a guest also uses "
                   "virtio, vhost-net and DHCP from this host (see guest-nic-dhcp-checksum)."),
        guide=GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
        remediation={
            "default": """\
# update iptables (>= 1.4.10) and the kernel, then restart the networks named in the warning:
#   virsh net-destroy NET && virsh net-start NET
# affected guests can use <driver name='qemu'/> in their virtio <interface> meanwhile""",
        },
    ),
    Check(
        id="guest-nic-bridge-delay",
        severity="high",
        per="guest NIC on a bridge or libvirt network",
        requirement="The bridge a guest NIC plugs into lets a new port forward within the limit.",
        rationale=("The guest's port on the bridge forwards nothing for twice the forward delay after the guest "
                   "starts; its PXE ROM or DHCP client sends its requests into that silence and gives up."),
        guide=GUIDE + ", 'Long forward delay time on bridge'",
        remediation={
            "network": """\
# the NIC is on libvirt network {network} (bridge {bridge}); fix the network:
virsh net-edit {network}
#   <bridge name={bridge:xml} stp='off'/>   (or stp='on' delay='0')
virsh net-destroy {network} && virsh net-start {network}
# at once, on the live bridge:
ip link set dev {bridge} type bridge stp_state 0""",
            "bridge": """\
# the NIC is on host bridge {bridge}; at once:
ip link set dev {bridge} type bridge stp_state 0
# and make it last where the bridge is defined{where:raw}""",
        },
        scripts={"network": _NET_STP_OFF_SCRIPT, "bridge": _LIVE_STP_OFF_SCRIPT},
    ),
    Check(
        id="guest-nic-dhcp-checksum",
        severity="high",
        per="guest NIC",
        requirement=("A virtio guest NIC on vhost-net that gets DHCP from this host has its replies' checksums "
                     "filled in (a fix-up on the bridge, or <driver name='qemu'/>)."),
        rationale=("All four conditions hold: virtio model, vhost-net on the host, DHCP served by the host, and no "
                   "checksum fix-up; the guest's DHCP client drops the replies and gets no address."),
        guide=GUIDE + ", 'The iptables package and kernel do not support checksum mangling rules'",
        remediation={
            "default": """\
virsh edit {guest}
#   in the <interface> with <mac address={mac:xml}/>, add:
#     <driver name='qemu'/>
# it applies at the next cold start:
virsh shutdown {guest}    # wait until it is shut off, then:
virsh start {guest}
# or restore the fix-up for the whole network (see dhcp-checksum-fixup for {network})""",
        },
        scripts={"default": """\
f=$(mktemp) && virsh dumpxml --inactive {guest} \\
  | sed -e "/<mac address='{mac:raw}'\\/>/a <driver name='qemu'/>" > "$f" \\
  && virsh define "$f" && rm -f "$f"
# takes effect at the guest's next cold start: virsh shutdown {guest}, then virsh start {guest}"""},
    ),
    Check(
        id="firewalld-libvirt-conflict",
        severity="high",
        per="active libvirt network on a host running firewalld",
        requirement=("The network's bridge sits in its firewalld zone, the zone admits DHCP (and TFTP for PXE), "
                     "and libvirt's own rules for the bridge are in place."),
        rationale=("A firewalld reload or a wrong zone drops the DHCP and TFTP traffic libvirt let in; guests then "
                   "get no address and PXE has nothing to boot."),
        guide=GUIDE + ", last paragraph (firewalld and the default network)",
        remediation={
            "zone": _FW_ZONE,
            "service": _FW_SERVICE,
            "rules": """\
# libvirt's rules for {bridge} are gone (a firewalld reload while libvirt's network daemon was not
# there to re-add them); restart libvirt so it puts them back:
systemctl restart libvirtd      # or virtnetworkd on modular daemons
# last resort from the guide: systemctl stop firewalld && systemctl restart libvirtd""",
        },
        scripts={
            "zone": _FW_ZONE,
            "service": _FW_SERVICE,
            "rules": "systemctl restart libvirtd 2>/dev/null || service libvirtd restart",
        },
    ),
]}
