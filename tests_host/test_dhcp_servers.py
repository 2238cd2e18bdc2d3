"""The DHCP server behind each libvirt network: running, alone on its bridge, with addresses to give."""

import math

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.conclusions.boot import dnsmasq_lease_max
from kvmnetcheck.facts.conclusions.libvirt import network_daemon
from kvmnetcheck.facts.conclusions.servers import dhcp_answering, in_range, range_size, suggest_end
from kvmnetcheck.facts.model import Unreadable

FULL = 0.9  # a range 90% taken fails: warn before it is full


def _served_by_libvirt(network):
    live = network.live
    if not live.serves_dhcp:
        pytest.skip("the network serves no DHCP from this host")
    if not live.creates_bridge or not network.bridge_name:
        pytest.skip(f"forward mode '{live.forward_mode}': libvirt runs no DHCP server for it")
    if not network.active:
        pytest.skip("the network is not running")


def _gathered(host_facts):
    servers = host_facts.dhcp_servers
    if not servers.gathered:
        raise Unreadable(f"the host's DHCP servers are unknown: {servers.error}; gather its facts again")
    return servers


def _dnsmasq(host_facts, network):
    """The network's dnsmasq process: its pid file's pid, if that process runs and is dnsmasq."""
    servers = host_facts.dhcp_servers
    pid = servers.dnsmasq_pid(network.name)
    proc = next((p for p in host_facts.daemons if p.pid == pid), None) if pid else None
    return pid, proc if proc is not None and proc.comm == "dnsmasq" else None


@check("network-dhcp-server")
def test_network_dhcp_server_is_running(host_facts, network):
    """An active libvirt network that serves DHCP has its dnsmasq running."""
    _served_by_libvirt(network)
    servers = _gathered(host_facts)
    if host_facts.daemons is None:
        raise Unreadable(
            f"whether network {network.name}'s dnsmasq runs is unknown: the host's processes were not "
            f"read ({host_facts.processes_error}); gather its facts again"
        )
    pid, proc = _dnsmasq(host_facts, network)
    if proc is not None:
        return  # dnsmasq exits when it cannot bind its DHCP socket: running means listening
    bridge = network.bridge_name
    pid_file = f"/run/libvirt/network/{network.name}.pid"
    if pid_file in servers.unreadable:
        raise Unreadable(f"{pid_file} could not be read: run as root (--sudo)")
    if servers.has_pid_file(network.name) is None:
        raise Unreadable(f"whether {pid_file} exists is unknown: {servers.files_error}; gather its facts again")
    if not servers.has_pid_file(network.name):
        why = f"/run/libvirt/network/{network.name}.pid does not exist"
    elif pid is None:
        why = f"/run/libvirt/network/{network.name}.pid holds no pid"
    else:
        why = f"its pid file names pid {pid}, which is not a running dnsmasq"
    listening = dhcp_answering(servers, bridge).sockets
    raise Finding(
        f"network {network.name} serves DHCP on {bridge}, but its dnsmasq is not running ({why}): guests on it "
        "get no address" + (f"; {listening[0].names()} listens on port 67 there instead" if listening else ""),
        observed={
            "pid file": f"/run/libvirt/network/{network.name}.pid",
            "pid": pid,
            "port 67 on the bridge": ", ".join(s.names() for s in listening) or "nothing"
            if servers.sockets is not None
            else "not read: " + (servers.error or ""),
        },
        limit="the network's dnsmasq runs",
        remediation=remedy("restart-daemon", daemon=network_daemon(host_facts), bridge=bridge),
    )


@check("network-dhcp-conflict")
def test_network_dhcp_server_is_alone_on_its_bridge(host_facts, network):
    """No process on the host but the network's own dnsmasq serves DHCP on its bridge."""
    _served_by_libvirt(network)
    if not network.live.serves_dhcp4:
        pytest.skip("the network serves only DHCPv6")
    servers = _gathered(host_facts)
    if servers.sockets is None:
        raise Unreadable(f"which processes listen on UDP port 67 could not be read: {servers.error}")
    bridge = network.bridge_name
    pid, proc = _dnsmasq(host_facts, network)
    answering = dhcp_answering(servers, bridge)
    serving = answering.sockets
    if any(not s.processes for s in serving):
        if len(serving) > 1:
            raise Unreadable(
                f"{len(serving)} sockets on UDP port 67 serve {bridge}, but which processes hold them "
                "needs root (run with --sudo)"
            )
        if proc is not None:
            return  # its dnsmasq runs, so the one socket there is is its own
    others = [s for s in serving if not any(p == pid for _, p in s.processes)]
    maybe = [(s, why) for s, why in answering.maybe if not any(p == pid for _, p in s.processes)]
    if not others and maybe:
        raise Unreadable(f"whether another DHCP server answers on {bridge} cannot be told: {maybe[0][1]}")
    if not others:
        return
    other = others[0]
    scope = _scope_text(servers, other, bridge)
    raise Finding(
        f"network {network.name}: "
        + (f"besides its dnsmasq (pid {pid}), " if proc else "")
        + f"{other.names()} answers "
        f"DHCP on {bridge} ({scope}): "
        + ("guests take whichever offer comes first" if proc else "guests get its offers, not the network's"),
        observed={
            "port 67 sockets serving the bridge": "; ".join(
                f"{s.address}{'%' + s.device if s.device else ''} {s.names()}" for s in serving
            ),
            "libvirt's dnsmasq": pid or "(no pid file)",
        },
        limit="one DHCP server on the bridge: the network's dnsmasq",
        remediation=remedy("other-server", process=other.names(), bridge=bridge, network=network.name),
    )


def _scope_text(servers, s, iface):
    if s.device == iface:
        return f"bound to {iface}"
    conf = next((servers.scope_of(p) for _, p in s.processes if servers.scope_of(p)), None)
    if conf is not None:
        return f"on all addresses, and its options serve {iface}: {conf.describe()}"
    if any(p == q for _, p in s.processes for q, _ in servers.packet_ifaces):
        return f"reading {iface} through a packet socket"
    return "listening on all interfaces"


@check("network-dhcp-pool")
def test_network_dhcp_range_has_room(host_facts, network):
    """An active libvirt network's DHCP ranges keep at least 10% of their addresses free."""
    _served_by_libvirt(network)
    ranges = [(a, b) for ip in network.live.ips if ip.family != "ipv6" and ip.dhcp for a, b in ip.dhcp.ranges]
    reserved = {h for ip in network.live.ips if ip.family != "ipv6" and ip.dhcp for h in ip.dhcp.host_ips}
    if not ranges:
        pytest.skip("the network hands out no IPv4 range (only <host> reservations, or DHCPv6)")
    capacity = sum(range_size(a, b) or 0 for a, b in ranges)
    if capacity == 0:
        pytest.skip("its <range> elements name no addresses")
    servers = _gathered(host_facts)
    leases = servers.leases_of(network.bridge_name)
    if leases is None and servers.files_error and not any(b == network.bridge_name for b, _ in servers.leases):
        raise Unreadable(
            f"the leases of network {network.name} are unknown: /var/lib/libvirt/dnsmasq/"
            f"{network.bridge_name}.status was not gathered ({servers.files_error}); gather its facts "
            "again"
        )
    if leases is None:
        raise Unreadable(
            f"/var/lib/libvirt/dnsmasq/{network.bridge_name}.status could not be read or is not libvirt's lease list"
        )
    if host_facts.now is None:
        raise Unreadable(
            "the host's clock was not gathered (facts of an older version): which leases are current is unknown"
        )
    held = [le.ip for le in leases if le.expiry in (0, None) or le.expiry > host_facts.now]
    current = set(held)
    taken = {ip for ip in current | reserved if any(in_range(ip, a, b) for a, b in ranges)}
    # dnsmasq counts every lease it holds against dhcp-lease-max (lease.c lease_allocate, leases_left),
    # <host> leases outside the ranges and DHCPv6 leases too; libvirt sets it to the size of the ranges
    lease_max, lease_max_from = dnsmasq_lease_max(network, servers)
    room = min(capacity - len(taken), lease_max - len(held))
    if capacity - room < math.ceil(FULL * capacity):
        return
    start, end = ranges[-1]
    ip = next(ip for ip in network.live.ips if ip.family != "ipv6" and ip.dhcp and (start, end) in ip.dhcp.ranges)
    new_end = suggest_end(start, end, ip.address, ip.prefix, [r for r in ranges if r != (start, end)])
    by_leases = lease_max - len(held) < capacity - len(taken)
    if by_leases:
        said = (
            f"network {network.name}: its dnsmasq holds {len(held)} lease(s) of the {lease_max} it may "
            f"(dhcp-lease-max, the size of its ranges), <host> leases outside the range(s) included, while "
            f"{capacity - len(taken)} of the {capacity} range addresses are free; "
            + (
                "no lease is left: a new guest is offered an address and refused it ('no leases left')"
                if room <= 0
                else f"{room} left, under 10%"
            )
        )
    else:
        said = (
            f"network {network.name}: {len(taken)} of the {capacity} addresses of its DHCP range(s) are taken "
            f"({len(current)} current lease(s), {len(reserved)} reservation(s)); "
            + ("no address is left: a new guest gets no DHCP offer" if room <= 0 else f"{room} left, under 10%")
        )
    raise Finding(
        said,
        observed={
            "ranges": ", ".join(f"{a}-{b}" for a, b in ranges),
            "capacity": capacity,
            "taken": len(taken),
            "leases held": len(held),
            "dhcp-lease-max": f"{lease_max} ({lease_max_from})",
            "leases file": f"/var/lib/libvirt/dnsmasq/{network.bridge_name}.status",
        },
        limit="at least 10% of the range free, in addresses and in leases dnsmasq may still give",
        remediation=remedy(
            "widen",
            network=network.name,
            old_range=f'<range start="{start}" end="{end}"/>',
            new_range=f'<range start="{start}" end="{new_end or "NEW_END"}"/>',
            suggestion=(
                f"{new_end} is the last free address of the subnet after the range (no other range and not "
                "the host's own): make sure no machine uses the addresses before it statically"
                if new_end
                else "set NEW_END: no free addresses follow the range in its subnet, so pick "
                "a new range or a wider <ip prefix>"
            ),
        ),
    )
