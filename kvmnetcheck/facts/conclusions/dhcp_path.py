"""The path DHCP takes between a guest on a Linux bridge and its server, and netfilter's verdict on it:
FORWARD where bridge netfilter hands bridged frames to iptables, INPUT and OUTPUT where the server runs on
the host (bridge-netfilter-dhcp and the probe's inference both ask it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import Bridge, HostFacts, Unreadable
from ..parsers.nft import merge_nft_json
from .netfilter import ForwardVerdict, bridged_dhcp_verdict, host_dhcp_verdict
from .servers import dhcp_answering


@dataclass(frozen=True)
class DhcpPath:
    verdict: ForwardVerdict
    local: str  # the DHCP server on this host that answers on the bridge ("": beyond a port)
    through_iptables: bool  # bridge netfilter hands the bridge's frames to iptables and the ip/inet families


def host_server(h: HostFacts, bridge: str) -> str:
    """The DHCP server on this host that answers on `bridge` ("" for none: the guests' server is beyond a
    port). Only dnsmasq's path is modelled (its UDP socket meets INPUT and OUTPUT); a server that reads or
    writes packet sockets bypasses them in part."""
    servers = h.dhcp_servers
    if not servers.gathered or servers.sockets is None:
        raise Unreadable(
            f"whether a DHCP server on this host serves {bridge} (its DHCP then meets INPUT and OUTPUT, not FORWARD) "
            f"is unknown: {servers.error}"
        )
    answering = dhcp_answering(servers, bridge)
    known = [s for s in answering.sockets if s.processes]
    if not known and answering.maybe:
        raise Unreadable(f"whether a DHCP server on this host serves {bridge} cannot be told: {answering.maybe[0][1]}")
    if not known and answering.sockets:
        raise Unreadable(
            f"a process listens for DHCP on {bridge}, but which one (and so the path its packets take) needs root: "
            "run with --sudo"
        )
    if not known:
        return ""
    names = "; ".join(s.names() for s in known)
    if servers.scopes is None:
        raise Unreadable(
            f"{names} serves {bridge}, but the nft tables on the input and output paths were not gathered "
            "(facts of an older version): gather them again"
        )
    lpf = {p for p, i in servers.packet_ifaces}
    if any(n != "dnsmasq" or p in lpf for s in known for n, p in s.processes):
        raise Unreadable(
            f"{names} serves DHCP on {bridge} from this host through packet sockets or as a program whose path "
            "through the firewall is not modelled (only dnsmasq's is)"
        )
    return names


def dhcp_path(h: HostFacts, bridge: Bridge) -> DhcpPath:
    """Netfilter's verdict on DHCP between a guest on `bridge` and its server, on the path it takes."""
    if h.br_netfilter is None:
        raise Unreadable("whether bridge netfilter is loaded was not gathered (facts of an older version)")
    if h.br_netfilter and h.bridge_nf_call_iptables is None:
        raise Unreadable("net.bridge.bridge-nf-call-iptables could not be read")
    through_iptables = bool(h.br_netfilter and (h.bridge_nf_call_iptables or bridge.nf_call_iptables))
    local = host_server(h, bridge.name)
    nft = None
    if h.nft_forward:
        nft = merge_nft_json(h.nft_forward)
        if nft is None:
            raise Unreadable("the nft tables at the forward, input and output hooks could not be read as JSON")
    if bridge.ports is None:
        raise Unreadable(
            f"the ports of {bridge.name}, which the firewall's rules may name, could not be read: {bridge.ports_error}"
        )
    ports = tuple(p.name for p in bridge.ports)
    if local:
        verdict = host_dhcp_verdict(h.iptables, nft, bridge.name, ports, br_netfilter=through_iptables)
    else:
        verdict = bridged_dhcp_verdict(h.iptables, nft, bridge.name, ports, br_netfilter=through_iptables)
    if verdict.verdict != "drop" and h.nft.installed and h.nft_forward_error:
        raise Unreadable(
            f"the nft rules at the forward, input and output hooks could not be read: {h.nft_forward_error} "
            "(nft needs root: run with --sudo)"
        )
    return DhcpPath(verdict, local, through_iptables)
