"""Conclusions drawn from several facts, shared by more than one check.

Pure functions of HostFacts: no commands, no text parsing, no report text.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional

from .model import (
    PORT_BLOCKING, STP_OFF, BridgeConfig, Guest, GuestNic, HostFacts, LibvirtNetwork, NetworkDefinition, QemuProcess,
    Unreadable,
)

# the first libvirt release known to put a tc csum filter on its bridges under the nftables
# backend (src/network/network_nftables.c nftablesAddUdpChecksumFixWithTC); 10.4.0 had none, and
# the release in between that added it is not known, so those are judged to have none
NFTABLES_TC_CSUM_LIBVIRT = (11, 3, 0)


# ---------------------------------------------------------------- who defines a bridge

@dataclass(frozen=True)
class BridgeOwner:
    kind: str  # libvirt | config | unmanaged
    network: Optional[LibvirtNetwork] = None
    config: Optional[BridgeConfig] = None


def bridge_owner(h: HostFacts, bridge: str) -> BridgeOwner:
    net = h.libvirt.network_of_bridge(bridge)
    if net is not None:
        return BridgeOwner("libvirt", network=net)
    configs = h.bridge_configs_for(bridge)
    if configs:
        return BridgeOwner("config", config=configs[0])
    return BridgeOwner("unmanaged")


# ---------------------------------------------------------------- DHCP checksum fix-up

@dataclass(frozen=True)
class Fixup:
    present: bool
    evidence: str


def _reaches_postrouting(h: HostFacts, chain: str, seen: frozenset = frozenset()) -> bool:
    if chain == "POSTROUTING":
        return True
    if chain in seen:
        return False
    return any(
        r.table == "mangle" and r.target == chain and _reaches_postrouting(h, r.chain, seen | {chain})
        for r in h.iptables.rules
    )


def checksum_chain(h: HostFacts) -> str:
    """Where libvirt's iptables backend keeps its CHECKSUM rules: LIBVIRT_PRT (5.1.0) when that
    chain is there and POSTROUTING reaches it, else POSTROUTING itself."""
    if _reaches_postrouting(h, "LIBVIRT_PRT"):
        return "LIBVIRT_PRT"
    return "POSTROUTING"


def nftables_adds_tc_csum(h: HostFacts) -> Optional[bool]:
    """Does this host's libvirt add a tc csum filter under its nftables backend? None: version unknown."""
    v = h.libvirt.libvirt_version
    if v is None:
        return None
    return v >= NFTABLES_TC_CSUM_LIBVIRT


def checksum_fixup(h: HostFacts, bridge: str) -> Fixup:
    """Is there something on this bridge that fills in the checksum of DHCP replies?"""
    tc = h.tc_for(bridge)
    if tc is not None and tc.csum_udp:
        return Fixup(True, f"tc csum filter on {bridge}: {tc.lines[0]}")
    rules = [r for r in h.iptables.checksum_rules_for(bridge) if _reaches_postrouting(h, r.chain)]
    if rules:
        return Fixup(True, f"iptables mangle rule: {rules[0].text}")
    backend, _ = h.firewall_backend
    if backend != "nftables" and h.iptables.installed and h.iptables.rules_error:
        raise Unreadable(f"iptables rules could not be read ({h.iptables.rules_error}); "
                         "run as root or with --sudo")
    orphan = h.iptables.checksum_rules_for(bridge)
    if orphan:
        return Fixup(False, f"a CHECKSUM rule exists in chain {orphan[0].chain}, but nothing jumps to it "
                            "from POSTROUTING")
    where = "no tc csum filter" if backend == "nftables" else "no CHECKSUM rule in the mangle table and no tc csum filter"
    return Fixup(False, f"{where} for {bridge}")


# ---------------------------------------------------------------- where a guest NIC plugs in

@dataclass(frozen=True)
class NicAttachment:
    bridge: Optional[str]
    network: Optional[LibvirtNetwork]
    skip_reason: Optional[str] = None
    ovs: bool = False  # the bridge is an Open vSwitch bridge (<virtualport type='openvswitch'/>)


def nic_attachment(h: HostFacts, nic: GuestNic) -> NicAttachment:
    """Where the NIC plugs in; Unreadable when its network is none of those read while some network's XML
    was refused (it may be that one)."""
    if nic.type == "network":
        net = h.libvirt.network(nic.source_network)
        if net is None and h.libvirt.refused_networks:
            refused = h.libvirt.refused_networks
            raise Unreadable(f"its network {nic.source_network!r} is none of the networks read, and the XML of "
                             f"{len(refused)} network(s) was refused, so it may be one of them: "
                             + "; ".join(refused[:3]) + (" ..." if len(refused) > 3 else ""))
        if net is None:
            return NicAttachment(None, None, f"its network {nic.source_network!r} is not defined on this host")
        bridge = nic.source_bridge or net.bridge_name
        if not bridge:
            return NicAttachment(None, net, f"network {net.name!r} (forward mode {net.live.forward_mode}) "
                                            "plugs guests into no host bridge")
        ovs = "openvswitch" in (nic.virtualport, net.live.virtualport)
        return NicAttachment(bridge, net, ovs=ovs)
    if nic.type == "bridge":
        if not nic.source_bridge:
            return NicAttachment(None, None, "bridge interface without a source bridge")
        return NicAttachment(nic.source_bridge, h.libvirt.network_of_bridge(nic.source_bridge),
                             ovs=nic.virtualport == "openvswitch")
    return NicAttachment(None, None, f"a type='{nic.type}' interface is not plugged into a host bridge")


# ---------------------------------------------------------------- is STP doing its job here?

_GUEST_TAP = re.compile(r"(vnet|macvtap|tap)\d+|.+-nic")  # libvirt's taps, and its old dummy <bridge>-nic port


def stp_guards_a_loop(h: HostFacts, bridge: str) -> Optional[str]:
    """Why turning STP off on this bridge could open a loop, or None.

    A port in blocking state means STP is cutting a loop now; two or more ports that are not
    guest taps lead off the host, so a loop through them is possible."""
    b = h.bridge(bridge)
    if b is None or b.stp_state == STP_OFF:
        return None
    if b.ports is None:
        return f"the ports of {bridge} could not be read ({b.ports_error}): a loop through them cannot be ruled out"
    blocking = [p.name for p in b.ports if p.state == PORT_BLOCKING]
    if blocking:
        return f"port {', '.join(blocking)} is blocking: STP is cutting a loop through {bridge} now"
    taps = {n.target_dev for g in h.libvirt.guests for n in g.nics if n.target_dev}
    uplinks = [p.name for p in b.ports if p.name not in taps and not _GUEST_TAP.fullmatch(p.name)]
    if len(uplinks) >= 2:
        return (f"{bridge} has {len(uplinks)} ports that are not guest taps ({', '.join(uplinks[:5])}): a loop "
                "through them is possible, and STP is what breaks it")
    return None


def network_daemon(h: HostFacts) -> str:
    """The libvirt daemon that keeps networks' firewall rules: virtnetworkd where it runs, else libvirtd; with
    the processes unread, virtnetworkd where it is the one installed."""
    if h.daemons is None:
        return "virtnetworkd" if "virtnetworkd" in h.commands and "libvirtd" not in h.commands else "libvirtd"
    comms = {p.comm for p in h.daemons}
    return "virtnetworkd" if "virtnetworkd" in comms else "libvirtd"


# the user libvirt's QEMU driver runs QEMU as when qemu.conf sets none, by the build's default (libvirt
# meson.build qemu_user: qemu on Fedora/RHEL/SUSE/Gentoo, libvirt-qemu on Debian/Ubuntu/Arch, else root)
DEFAULT_QEMU_USERS = frozenset({"qemu", "libvirt-qemu", "root"})


def qemu_users(h: HostFacts, guest: Guest) -> tuple[frozenset, frozenset, str]:
    """(uids, user names, how known) libvirt runs this guest's QEMU as, root always among them: the DAC label
    of its live XML, else qemu.conf's user= (src/qemu/qemu_conf.c), else any build's default."""
    def ids(spec: str) -> tuple[frozenset, frozenset]:
        spec = spec.strip()
        if spec.startswith("+") and spec[1:].isdigit():
            return frozenset({int(spec[1:])}), frozenset()
        return (frozenset({int(spec)}), frozenset()) if spec.isdigit() else (frozenset(), frozenset({spec}))

    if guest.dac_label and guest.dac_label.split(":", 1)[0].strip():
        uids, names = ids(guest.dac_label.split(":", 1)[0])
        how = f"the user of its DAC label {guest.dac_label!r}"
    elif h.libvirt_qemu.conf_user:
        uids, names = ids(h.libvirt_qemu.conf_user)
        how = f"qemu.conf's user {h.libvirt_qemu.conf_user!r}"
    else:
        uids, names = frozenset(), DEFAULT_QEMU_USERS
        how = "libvirt's default QEMU user (" + ", ".join(sorted(DEFAULT_QEMU_USERS)) + ")"
    return uids | {0}, names | {"root"}, how + " or root"


def qemu_of(h: HostFacts, guest: Guest) -> Optional[QemuProcess]:
    """The QEMU process libvirt runs `guest` in, or None when none is seen. Any user may start a process
    named after a guest: it is libvirt's when its pid is the one libvirt keeps for the guest
    (/run/libvirt/qemu/GUEST.pid), or, without that, when it runs as the user libvirt runs QEMU as.
    Unreadable when that cannot be told, or when several processes qualify."""
    if h.qemu is None:
        raise Unreadable(f"which QEMU process runs guest {guest.name} is unknown: {h.processes_error}")
    pid = h.libvirt_qemu.pid_of(guest.name)
    if pid is not None:
        return next((q for q in h.qemu if q.pid == pid), None)
    named = [q for q in h.qemu if q.guest == guest.name]
    if not named:
        return None
    pids = ", ".join(str(q.pid) for q in named)
    if any(q.uid is None for q in named):
        raise Unreadable(f"QEMU process(es) {pids} name guest {guest.name}, but who runs them was not gathered "
                         "(facts of an older version): whether libvirt runs them is unknown; gather again")
    uids, names, how = qemu_users(h, guest)
    ours = [q for q in named if q.runs_as(uids, names)]
    if len(ours) > 1:
        raise Unreadable(f"{len(ours)} QEMU processes run as {how} and name guest {guest.name} (pids "
                         f"{', '.join(str(q.pid) for q in ours)}): which one libvirt runs is unknown; as root "
                         f"(--sudo), /run/libvirt/qemu/{guest.name}.pid says")
    return ours[0] if ours else None


def pxe_boot_reason(guest: Guest, nic: GuestNic) -> Optional[str]:
    """Why this NIC network-boots ("boot order 1 on this NIC", "<boot dev='network'/>"), or None."""
    if nic not in guest.pxe_nics():
        return None
    if nic.boot_order is not None:
        return f"boot order {nic.boot_order} on this NIC"
    return "<boot dev='network'/>"


@dataclass(frozen=True)
class NetworkBoot:
    """How a libvirt network tells a PXE client what to boot (docs/formatnetwork.rst <bootp>)."""

    file: str
    server: Optional[str]  # another TFTP server than the host (<bootp server=...>)
    via: str  # where it is set, for the report
    menu: bool = False  # a pxe-service menu: which server each entry uses is not judged

    @property
    def needs_tftp_here(self) -> bool:
        """Fetched by TFTP from this host: no other server named, and not a URL (iPXE fetches those itself)."""
        return self.server is None and not self.menu and "://" not in self.file


_BOOT_OPTION = re.compile(r"^\s*(dhcp-option(?:-force)?)\s*=\s*(.*)$")


def network_boot(defn: NetworkDefinition) -> Optional[NetworkBoot]:
    """The boot file a network's dnsmasq hands out: libvirt writes dhcp-boot from <bootp file> of its
    IPv4 <dhcp> (src/network/bridge_driver.c networkDnsmasqConfContents); <dnsmasq:option> may add
    dhcp-boot, pxe-service or DHCP option 67 itself."""
    for ip in defn.ips:
        if ip.family != "ipv6" and ip.dhcp is not None and ip.dhcp.bootp_file:
            return NetworkBoot(ip.dhcp.bootp_file, ip.dhcp.bootp_server, "<bootp file=...>")
    for value in defn.dnsmasq_options:
        key, _, rest = value.partition("=")
        fields = [f.strip() for f in rest.split(",") if not re.match(r"^\s*(tag|net|set):", f)]
        key = key.strip()
        if key == "dhcp-boot" and fields and fields[0]:
            server = next((f for f in fields[1:] if f), None)
            return NetworkBoot(fields[0], server, f"<dnsmasq:option value='{value}'/>")
        if key == "pxe-service":
            return NetworkBoot(fields[-1] if fields else "", None, f"<dnsmasq:option value='{value}'/>", menu=True)
        if key in ("dhcp-option", "dhcp-option-force") and len(fields) >= 2 and \
                fields[0].lower() in ("67", "option:bootfile-name"):
            return NetworkBoot(fields[1], None, f"<dnsmasq:option value='{value}'/>")
    return None


def guests_bridged_by(h: HostFacts, bridge: str) -> list[str]:
    """The guests whose NICs plug into `bridge`, where it is not a bridge a libvirt network makes for itself
    (whose guests get DHCP from the host, not across the bridge)."""
    out, unknown = [], []
    for g in h.libvirt.guests:
        for nic in g.nics:
            try:
                at = nic_attachment(h, nic)
            except Unreadable as e:
                unknown.append(f"guest {g.name}, NIC {nic.label}: {e}")
                continue
            if at.bridge != bridge or at.ovs:
                continue
            if at.network is not None and at.network.live.creates_bridge:
                continue
            out.append(g.name)
            break
    if not out and unknown and h.libvirt.network_of_bridge(bridge) is None:
        raise Unreadable(f"whether a guest uses {bridge} is unknown: " + "; ".join(unknown[:3]))
    return out


def merge_nft_json(docs: tuple[str, ...]) -> Optional[str]:
    """One `nft -j list ruleset`-shaped document from per-table `nft -j list table` outputs; None if one
    is not such JSON."""
    items: list = []
    for text in docs:
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
            return None
        items += doc["nftables"]
    return json.dumps({"nftables": items})
