"""Each guest NIC: will its bridge let it talk in time, and will its DHCP replies be valid?"""
import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.catalog.fixtext import where_defined
from kvmnetcheck.facts.derived import bridge_owner, checksum_fixup, nic_attachment, pxe_boot_reason, stp_guards_a_loop
from kvmnetcheck.facts.model import STP_USER, Unreadable


MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")


@check("guest-nic-bridge-delay")
def test_guest_nic_bridge_forwards_promptly(host_facts, guest, nic, limits):
    """The bridge a guest NIC plugs into lets a new port forward within the limit."""
    at = nic_attachment(host_facts, nic)
    if at.skip_reason:
        pytest.skip(at.skip_reason)
    if at.ovs:
        pytest.skip(f"{at.bridge} is an Open vSwitch bridge (<virtualport type='openvswitch'/>): its spanning tree "
                    "is Open vSwitch's, not the kernel's")
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
    else:
        pytest.skip(f"bridge {at.bridge} does not exist on this host: the guest cannot start on it")
    if block <= limits.max_port_block_s:
        return
    reason = pxe_boot_reason(guest, nic)
    who = f"PXE-booting guest ({reason})" if reason else "guest"
    loop = stp_guards_a_loop(host_facts, at.bridge)
    if loop:
        fix = remedy("guest-nic-bridge-delay", "keep-stp", bridge=at.bridge, guest=guest.name, loop=loop)
    elif at.network is not None and at.network.live.creates_bridge:
        fix = remedy("guest-nic-bridge-delay", "network", bridge=at.bridge, network=at.network.name, guest=guest.name,
                     tap=nic.target_dev if guest.active and nic.target_dev else "vnetN")
    else:
        fix = remedy("guest-nic-bridge-delay", "bridge", bridge=at.bridge,
                     where=where_defined(bridge_owner(host_facts, at.bridge)))
    raise Finding(
        f"{who} {guest.name}: NIC {nic.label} plugs into {at.bridge}, where a new port passes no traffic for "
        f"{block:g} s, over the limit of {limits.max_port_block_s:g} s"
        + ("; its PXE ROM gives up before the port forwards" if who != "guest" else
           "; its DHCP client may give up before the port forwards"),
        observed={"guest": guest.name, "nic": nic.label, "interface type": nic.type, "bridge": at.bridge,
                  "from": source, "new_port_blocked_s": block, "boots from network": guest.boots_from_network,
                  "guest running": guest.active},
        limit=limits.describe_limit(),
        remediation=fix,
    )


@check("guest-nic-dhcp-checksum")
def test_guest_nic_gets_valid_dhcp_checksums(host_facts, guest, nic):
    """A virtio NIC on vhost-net getting DHCP from this host has its reply checksums filled in."""
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
    proc = host_facts.qemu_for(guest.name) if guest.active else None
    if proc is not None and proc.vhost_fds is None:
        raise Unreadable(f"whether QEMU (pid {proc.pid}) of running guest {guest.name} uses vhost-net could not be "
                         "read: its open files are listed only for root; run as root or with --sudo")
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
        observed={"guest": guest.name, "nic": nic.label, "model": nic.model, "domain type": guest.domain_type,
                  "driver": nic.driver_name or "(default: vhost)",
                  "vhost-net": "/dev/vhost-net present" + (f", QEMU pid {proc.pid} holds {proc.vhost_fds} vhost fd(s)"
                                                          if proc else ""),
                  "dhcp from": f"network {net.name} on {at.bridge}", "fix-up": fix.evidence},
        limit="one of the four conditions must not hold",
        # the script finds the interface by its MAC: only a well-formed one may go into sed
        remediation=remedy("guest-nic-dhcp-checksum", "default" if nic.mac and MAC.fullmatch(nic.mac) else "manual",
                           guest=guest.name, mac=nic.mac or "", network=net.name),
    )
