"""Each guest NIC: will its bridge let it talk in time, and will its DHCP replies be valid?"""

import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.catalog.fixtext import where_defined
from kvmnetcheck.facts.conclusions.boot import pxe_boot_reason
from kvmnetcheck.facts.conclusions.bridges import bridge_owner, stp_guards_a_loop
from kvmnetcheck.facts.conclusions.checksum import checksum_fixup
from kvmnetcheck.facts.conclusions.libvirt import nic_attachment, qemu_of
from kvmnetcheck.facts.conclusions.servers import dhcp_answering
from kvmnetcheck.facts.model import PORT_BLOCKING, PORT_STATES, STP_USER, Unreadable

MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


@check("guest-nic-bridge-delay")
def test_guest_nic_bridge_forwards_promptly(host_facts, guest, nic, limits):
    """The bridge a guest NIC plugs into lets a new port forward within the limit."""
    at = nic_attachment(host_facts, nic)
    if at.skip_reason:
        pytest.skip(at.skip_reason)
    if at.ovs:
        pytest.skip(
            f"{at.bridge} is an Open vSwitch bridge (<virtualport type='openvswitch'/>): its spanning tree "
            "is Open vSwitch's, checked by ovs-bridge-stp"
        )
    live = host_facts.bridge(at.bridge)
    if live is not None:
        if live.stp_state == STP_USER:
            pytest.skip(f"bridge {at.bridge} runs user-space STP: the daemon decides when the port forwards")
        block = live.new_port_block_s
        if block is None:
            raise Unreadable(f"STP state of bridge {at.bridge} could not be read: {live.error}")
        source = f"live bridge {at.bridge} (stp_state {live.stp_state}, forward_delay {live.forward_delay_s:g} s)"
    elif at.network is not None and at.network.live.creates_bridge:
        d = at.network.persistent_def or at.network.live
        block = d.new_port_block_s
        source = f"network {at.network.name} definition (not running): {d.bridge_xml or 'defaults'}"
    elif host_facts.bridges_error:
        raise Unreadable(f"whether bridge {at.bridge} exists is unknown: {host_facts.bridges_error}")
    else:
        pytest.skip(f"bridge {at.bridge} does not exist on this host: the guest cannot start on it")
    if block <= limits.max_port_block_s:
        return
    reason = pxe_boot_reason(guest, nic)
    who = f"PXE-booting guest ({reason})" if reason else "guest"
    loop = stp_guards_a_loop(host_facts, at.bridge)
    if loop:
        fix = remedy("keep-stp", bridge=at.bridge, guest=guest.name, loop=loop)
    elif at.network is not None and at.network.live.creates_bridge:
        fix = remedy(
            "network",
            bridge=at.bridge,
            network=at.network.name,
            guest=guest.name,
            tap=nic.target_dev if guest.active and nic.target_dev else "vnetN",
        )
    else:
        fix = remedy("bridge", bridge=at.bridge, where=where_defined(bridge_owner(host_facts, at.bridge)))
    raise Finding(
        f"{who} {guest.name}: NIC {nic.label} plugs into {at.bridge}, where a new port passes no traffic for "
        f"{block:g} s, over the limit of {limits.max_port_block_s:g} s"
        + (
            "; its PXE ROM gives up before the port forwards"
            if who != "guest"
            else "; its DHCP client may give up before the port forwards"
        ),
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "interface type": nic.type,
            "bridge": at.bridge,
            "from": source,
            "new_port_blocked_s": block,
            "boots from network": guest.boots_from_network,
            "guest running": guest.active,
        },
        limit=limits.describe_limit(),
        remediation=fix,
    )


@check("guest-nic-dhcp-checksum")
def test_guest_nic_gets_valid_dhcp_checksums(host_facts, guest, nic):
    """A virtio guest NIC on vhost-net that gets DHCP from this host has its replies' checksums filled in (a fix-up on the bridge, or <driver name='qemu'/>)."""
    at = nic_attachment(host_facts, nic)
    if at.skip_reason:
        pytest.skip(at.skip_reason)
    if not nic.is_virtio:
        return  # emulated NICs get checksums from QEMU
    if (nic.driver_name or "").lower() == "qemu":
        return  # the documented per-guest workaround
    if (guest.domain_type or "").lower() != "kvm":
        return  # libvirt opens vhost-net only for KVM guests (qemuInterfaceOpenVhostNet)
    if not host_facts.vhost_net:
        return  # no vhost-net on the host
    proc = qemu_of(host_facts, guest) if guest.active else None
    if proc is not None and proc.vhost_fds is None:
        raise Unreadable(
            f"whether QEMU (pid {proc.pid}) of running guest {guest.name} uses vhost-net could not be "
            "read: its open files are listed only for root; run as root or with --sudo"
        )
    if proc is not None and proc.vhost_fds == 0:
        return  # the running QEMU does not use vhost-net
    net = at.network
    if net is None or not net.live.serves_dhcp4 or not net.live.creates_bridge:
        return  # no IPv4 DHCP from a server on this host
    fix = checksum_fixup(host_facts, at.bridge)
    if fix.present:
        return
    raise Finding(
        f"guest {guest.name}: NIC {nic.label} is virtio with vhost-net and gets DHCP from network {net.name} "
        f"on this host, and {fix.evidence}: its DHCP client will drop the replies"
        + (f" (guest OS: {guest.os_hint})" if guest.os_hint else ""),
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "model": nic.model,
            "domain type": guest.domain_type,
            "driver": nic.driver_name or "(default: vhost)",
            "vhost-net": "/dev/vhost-net present"
            + (f", QEMU pid {proc.pid} holds {proc.vhost_fds} vhost fd(s)" if proc else ""),
            "dhcp from": f"network {net.name} on {at.bridge}",
            "fix-up": fix.evidence,
        },
        limit="one of the four conditions must not hold",
        # the script finds the interface by its MAC: only a well-formed one may go into sed
        remediation=remedy(
            "default" if nic.mac and MAC.fullmatch(nic.mac) else "manual",
            guest=guest.name,
            mac=nic.mac or "",
            network=net.name,
        ),
    )


@check("guest-port-forwarding")
def test_guest_port_forwards(host_facts, guest, nic):
    """A running guest NIC has its link up and its tap forwarding on the bridge it is defined on, in a VLAN that leaves the guest's port."""
    if not guest.active:
        pytest.skip("the guest is not running: its port exists only while it runs")
    at = nic_attachment(host_facts, nic)
    if at.skip_reason:
        pytest.skip(at.skip_reason)
    if at.ovs:
        pytest.skip(f"{at.bridge} is an Open vSwitch bridge")
    tap = nic.target_dev
    base = {"guest": guest.name, "nic": nic.label, "bridge": at.bridge, "tap": tap}
    if nic.link_down:
        raise Finding(
            f"guest {guest.name}: NIC {nic.label} has its link set down (<link state='down'/>): it sends and receives "
            "nothing, DHCP included",
            observed={**base, "link": "down"},
            limit="link up",
            remediation=remedy("link-up", guest=guest.name, mac=nic.label, tap=tap or "vnetN"),
        )
    if not tap:
        raise Unreadable(
            f"the tap of NIC {nic.label} could not be read: the running guest's live XML names none (<target dev>)"
        )
    live = host_facts.bridge(at.bridge)
    if live is None and host_facts.bridges_error:
        raise Unreadable(f"whether bridge {at.bridge} exists is unknown: {host_facts.bridges_error}")
    if live is not None and live.ports is None:
        raise Unreadable(
            f"whether tap {tap} is a port of {at.bridge} is unknown: the bridge's ports could not be "
            f"read ({live.ports_error})"
        )
    elsewhere = next((b.name for b in host_facts.bridges if any(p.name == tap for p in b.ports or ())), None)
    port = next((p for p in live.ports if p.name == tap), None) if live is not None else None
    if port is None:
        where = (f"on bridge {elsewhere}" if elsewhere else "on no bridge") + (
            "" if live is not None else f"; bridge {at.bridge} does not exist"
        )
        raise Finding(
            f"guest {guest.name}: tap {tap} of NIC {nic.label} is not a port of {at.bridge} ({where}): nothing the "
            "guest sends reaches the network's DHCP server",
            observed={**base, "tap is": where},
            limit=f"{tap} a port of {at.bridge}",
            remediation=remedy("reattach", guest=guest.name, tap=tap, bridge=at.bridge),
        )
    if port.state is None:
        raise Unreadable(f"the state of port {tap} on {at.bridge} could not be read")
    if port.state in (0, PORT_BLOCKING):
        raise Finding(
            f"guest {guest.name}: its port {tap} on {at.bridge} is {PORT_STATES[port.state]}: it forwards nothing",
            observed={**base, "port state": PORT_STATES[port.state]},
            limit="port forwarding",
            remediation=(
                remedy("tap-down", guest=guest.name, tap=tap, bridge=at.bridge)
                if port.state == 0
                else remedy("blocking", guest=guest.name, tap=tap, bridge=at.bridge)
            ),
        )
    if not live.vlan_filtering:
        return
    if host_facts.port_vlans is None:
        raise Unreadable(
            f"bridge {at.bridge} filters by VLAN, but its ports' VLANs could not be read: "
            f"{host_facts.port_vlans_error or '`bridge` (iproute2) is missing'}"
        )
    members = {pv.port: pv for pv in host_facts.port_vlans}
    mine = members.get(tap)
    if mine is None or mine.pvid is None:
        raise Finding(
            f"guest {guest.name}: its port {tap} on VLAN-filtering bridge {at.bridge} has no PVID: the bridge drops "
            "the guest's untagged frames, DHCP included",
            observed={**base, "VLANs of the port": ", ".join(map(str, mine.vids)) if mine else "none"},
            limit="a PVID on the guest's port",
            remediation=remedy("no-pvid", guest=guest.name, tap=tap, bridge=at.bridge),
        )
    ports = {p.name for p in live.ports} | {at.bridge}
    carriers = [name for name, pv in members.items() if name != tap and name in ports and mine.pvid in pv.vids]
    if carriers:
        return
    raise Finding(
        f"guest {guest.name}: its port {tap} on {at.bridge} puts its frames in VLAN {mine.pvid}, which no other port "
        f"of {at.bridge} (nor the bridge itself) carries: its DHCP requests go nowhere",
        observed={
            **base,
            "PVID": mine.pvid,
            "VLANs of the other ports": "; ".join(
                f"{n}: {','.join(map(str, pv.vids)) or '-'}" for n, pv in members.items() if n != tap and n in ports
            ),
        },
        limit=f"VLAN {mine.pvid} carried by an uplink or the bridge",
        remediation=remedy("vlan", guest=guest.name, tap=tap, bridge=at.bridge, vid=str(mine.pvid)),
    )


@check("guest-macvtap-host-dhcp")
def test_guest_macvtap_dhcp_is_not_on_its_own_host(host_facts, guest, nic):
    """A macvtap guest NIC does not depend on a DHCP server on its own host's lower device."""
    if nic.type != "direct":
        pytest.skip(f"a type='{nic.type}' NIC, not macvtap")
    dev = nic.source_dev
    if not dev:
        raise Unreadable(f"the macvtap NIC {nic.label} names no source device")
    servers = host_facts.dhcp_servers
    if not servers.gathered or servers.sockets is None:
        raise Unreadable(f"which DHCP servers listen on the host is unknown: {servers.error}")
    answering = dhcp_answering(servers, dev)
    serving = answering.sockets
    if not serving and answering.maybe:
        raise Unreadable(f"whether a DHCP server on this host answers on {dev} cannot be told: {answering.maybe[0][1]}")
    if not serving:
        return
    bound = [s for s in serving if s.device == dev]
    if not bound and any(not s.processes for s in serving):
        raise Unreadable(
            f"a process listens for DHCP on all interfaces, so maybe on {dev}, but which one (and which "
            "interfaces it serves) needs root: run with --sudo"
        )
    s = (bound or serving)[0]
    raise Finding(
        f"guest {guest.name}: NIC {nic.label} is a macvtap on {dev} (mode {nic.source_mode}), and {s.names()} serves "
        f"DHCP on {dev} of this same host: macvtap never passes the guest's requests to its own host"
        + (" (unless the switch reflects them: 802.1Qbg reflective relay)" if nic.source_mode == "vepa" else ""),
        observed={
            "guest": guest.name,
            "nic": nic.label,
            "source dev": dev,
            "mode": nic.source_mode,
            "DHCP server": f"{s.names()} on {s.address}{'%' + s.device if s.device else ''}:67",
        },
        limit="the guest's DHCP server on another host, or the guest on a bridge",
        remediation=remedy("use-a-bridge", guest=guest.name, mac=nic.label, dev=dev, server=s.names()),
    )
