"""The suite's own inference of an OFFER in time for a guest on a bridge (conclusions/probe.py inferred_dhcp),
which probe-inference-agrees holds against the probe: built from the blocking time, who answers DHCP on the
bridge, and the firewall's verdict on its path; unknown where any of them is, unless another says no."""

import dataclasses

from kvmnetcheck.facts.conclusions.probe import inferred_dhcp
from kvmnetcheck.facts.model import Bridge, BridgePort, DhcpServers, HostFacts, UdpSocket
from kvmnetcheck.facts.parsers.iptables import build_iptables

NFT_VERSION = "iptables v1.8.9 (nf_tables)\n"
ACCEPTING = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
INPUT_DROP = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
DNSMASQ = UdpSocket("0.0.0.0", "virbr7", 67, (("dnsmasq", 139),))


def _facts(save=ACCEPTING, sockets=(DNSMASQ,), gathered=True) -> HostFacts:
    servers = DhcpServers(gathered=gathered, sockets=sockets, scopes=(), error=None if gathered else "not gathered")
    return dataclasses.replace(
        HostFacts("h1", "local://"),
        iptables=build_iptables(True, NFT_VERSION, None, save, 0),
        br_netfilter=False,
        dhcp_servers=servers,
    )


def _bridge(stp=0, delay=2.0) -> Bridge:
    return Bridge("virbr7", stp, delay, ports=(BridgePort("vnet0", 3),))


def test_server_firewall_and_timing_all_good_is_an_offer():
    got = inferred_dhcp(_facts(), _bridge())
    assert got.offer is True and not got.unknown, got
    assert any("dnsmasq (pid 139) answers DHCP on virbr7" in r for r in got.reasons), got


def test_a_port_blocked_past_ipxes_last_discover_is_no_offer_whatever_else_is_unknown():
    got = inferred_dhcp(_facts(gathered=False, sockets=None), _bridge(stp=1, delay=15.0))
    assert got.offer is False and "blocked 30 s" in got.reasons[0], got


def test_a_port_forwarding_right_at_the_last_discover_is_not_called():
    got = inferred_dhcp(_facts(), _bridge(stp=1, delay=3.5))
    assert got.offer is None and "DISCOVER at 7 s" in got.unknown, got


def test_the_firewall_dropping_the_request_is_no_offer():
    got = inferred_dhcp(_facts(save=INPUT_DROP), _bridge())
    assert got.offer is False and "drops DHCP to and from dnsmasq (pid 139)" in got.reasons[0], got


def test_no_server_on_a_host_bridge_is_unknown_not_no():
    """The server of a bridge that is no libvirt network's may be beyond a port, which the suite does not see."""
    got = inferred_dhcp(_facts(sockets=()), _bridge())
    assert got.offer is None and "beyond the ports of virbr7" in got.unknown, got


def test_servers_not_gathered_is_unknown():
    got = inferred_dhcp(_facts(gathered=False, sockets=None), _bridge())
    assert got.offer is None and "not gathered" in got.unknown, got
