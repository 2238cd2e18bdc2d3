"""DHCP servers on a host: `ss` sockets and packet sockets, libvirt's lease files, range sizes.

The samples are what Debian 12's iproute2 6.1, dnsmasq 2.89 (started by libvirt 9.0), busybox 1.35
udhcpd and ISC dhcpd 4.4.3 printed in a lab host."""

import pytest

from kvmnetcheck.facts.conclusions.servers import in_range, range_size, socket_serves, sockets_serving, suggest_end
from kvmnetcheck.facts.model import DhcpServers
from kvmnetcheck.facts.parsers.servers import parse_leases, parse_packet_sockets, parse_pid_file, parse_ss

SS_TWO_ON_BRIDGE = """\
UNCONN 0      0      0.0.0.0%virbr7:67 0.0.0.0:* users:(("busybox",pid=459,fd=5))
UNCONN 0      0      0.0.0.0%virbr7:67 0.0.0.0:* users:(("dnsmasq",pid=343,fd=3))
"""
SS_DHCPD_ELSEWHERE = """\
UNCONN 0      0             0.0.0.0:67 0.0.0.0:* users:(("dhcpd",pid=570,fd=7))
UNCONN 0      0      0.0.0.0%virbr7:67 0.0.0.0:* users:(("dnsmasq",pid=343,fd=3))
"""
PACKET_DHCPD = 'p_raw UNCONN 0      0      *:lan1 * users:(("dhcpd",pid=570,fd=5))\n'
SS_NO_ROOT = """\
UNCONN 0      0      0.0.0.0%virbr7:67 0.0.0.0:*
UNCONN 0      0                 [::]:547      [::]:*
"""
STATUS = """[
  {
    "ip-address": "10.98.7.30",
    "mac-address": "52:54:00:aa:00:01",
    "client-id": "01:52:54:00:aa:00:01",
    "expiry-time": 1795793695
  }
]"""


def test_ss_sockets_with_their_device_and_process():
    a, b = parse_ss(SS_TWO_ON_BRIDGE)
    assert (a.address, a.device, a.port, a.processes) == ("0.0.0.0", "virbr7", 67, (("busybox", 459),))
    assert b.processes == (("dnsmasq", 343),)
    assert socket_serves(a, "virbr7") and not socket_serves(a, "virbr0")


def test_ss_without_root_shows_no_processes():
    a, b = parse_ss(SS_NO_ROOT)
    assert a.processes == () and not a.users_known
    assert (b.address, b.device, b.port) == ("::", None, 547)
    assert b.wildcard


def test_dhcpd_on_all_addresses_serves_only_its_packet_socket_interfaces():
    servers = DhcpServers(sockets=parse_ss(SS_DHCPD_ELSEWHERE), packet_ifaces=parse_packet_sockets(PACKET_DHCPD))
    assert [s.processes[0][0] for s in sockets_serving(servers, "virbr7")] == ["dnsmasq"]
    assert [s.processes[0][0] for s in sockets_serving(servers, "lan1")] == ["dhcpd"]


def test_a_wildcard_socket_without_packet_sockets_serves_every_interface():
    servers = DhcpServers(sockets=parse_ss(SS_DHCPD_ELSEWHERE), packet_ifaces=())
    assert len(sockets_serving(servers, "virbr7")) == 2


def test_packet_sockets_bound_to_no_interface_are_ignored():
    assert parse_packet_sockets('p_raw UNCONN 0 0 *:* * users:(("tcpdump",pid=9,fd=3))\n') == ()


def test_leases_from_libvirt_status_file():
    (lease,) = parse_leases(STATUS)
    assert (lease.ip, lease.mac, lease.expiry) == ("10.98.7.30", "52:54:00:aa:00:01", 1795793695)
    assert parse_leases("") == ()
    assert parse_leases("{not json") is None
    assert parse_leases('{"ip-address": "10.0.0.1"}') is None


def test_pid_file():
    assert parse_pid_file("343\n") == 343
    assert parse_pid_file("") is None
    assert parse_pid_file("12x") is None


@pytest.mark.parametrize(
    "start,end,size",
    [
        ("10.98.7.10", "10.98.7.50", 41),
        ("10.0.0.5", "10.0.0.5", 1),
        ("10.0.0.9", "10.0.0.5", None),
        ("fd00::10", "fd00::1f", 16),
        ("10.0.0.1", "fd00::1", None),
        ("x", "10.0.0.1", None),
    ],
)
def test_range_size_counts_both_ends(start, end, size):
    assert range_size(start, end) == size


def test_in_range():
    assert in_range("10.98.7.10", "10.98.7.10", "10.98.7.11")
    assert not in_range("10.98.7.12", "10.98.7.10", "10.98.7.11")
    assert not in_range("garbage", "10.98.7.10", "10.98.7.11")


@pytest.mark.parametrize(
    "start,end,address,prefix,others,expect",
    [
        ("10.98.7.10", "10.98.7.50", "10.98.7.1", "24", [], "10.98.7.254"),
        ("10.98.7.10", "10.98.7.50", "10.98.7.1", "255.255.255.0", [], "10.98.7.254"),
        ("10.98.7.10", "10.98.7.50", "10.98.7.100", "24", [], "10.98.7.99"),  # never the host's own address
        ("10.98.7.10", "10.98.7.50", "10.98.7.1", "24", [("10.98.7.60", "10.98.7.70")], "10.98.7.59"),
        ("10.98.7.10", "10.98.7.254", "10.98.7.1", "24", [], None),  # nothing left to grow into
        ("10.98.7.10", "10.98.7.50", "garbage", "24", [], None),
    ],
)
def test_suggest_end_stays_in_the_subnet(start, end, address, prefix, others, expect):
    assert suggest_end(start, end, address, prefix, others) == expect
