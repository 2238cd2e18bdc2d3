"""Why a libvirt network did not start: the daemon's error lines (collector's libvirt_log `error=` lines)
and the one that names the network's last failed start. The lines are libvirt's own, as logged on lab
hosts: Debian 12's libvirt 9.0 (a bridge name taken by a veth) and Debian 13's libvirt 11.3 with its
nftables backend on a kernel without act_csum."""

import dataclasses

from kvmnetcheck.facts.conclusions.libvirt import network_start_error
from kvmnetcheck.facts.model import HostFacts, LibvirtNetwork
from kvmnetcheck.facts.parsers.libvirt_log import parse_libvirt_errors, parse_libvirt_log
from kvmnetcheck.facts.parsers.libvirt_xml import parse_network

TRIXIE_LOG = """\
searched=/var/log/libvirt/libvirtd.log
error=2026-12-07 19:05:20.101+0000: 38: error : udevGetDMIData:1936 : internal error: Failed to get udev device for syspath '/sys/devices/virtual/dmi/id'
error=2026-12-07 19:05:22.702+0000: 25: error : virFirewallCmdNftablesApply:747 : internal error: Failed to apply firewall command 'tc filter add dev virbr9 prio 2 protocol ip parent 1: u32 match ip dport 68 ffff action csum ip and udp': Error: Failed to load TC action module.
error=2026-12-07 19:05:23.045+0000: 25: error : virNetDevSetIFFlag:601 : Cannot get interface flags on 'virbr9': No such device
error=2026-12-07 19:05:23.126+0000: 25: error : virNetlinkDelLink:688 : error destroying network device virbr9: No such device
error=2026-12-07 19:05:23.130+0000: 25: error : udevGetDMIData:2086 : internal error: Failed to get udev device for syspath '/sys/devices/virtual/dmi/id'
searched=journal
"""

BOOKWORM_LOG = """\
searched=/var/log/libvirt/libvirtd.log
error=2026-12-07 19:09:31.667+0000: 23: error : virNetDevBridgeCreate:444 : error creating bridge interface virbr7: File exists
error=2026-12-07 19:12:02.001+0000: 23: error : networkStartNetwork:1 : internal error: Network 'lan2' is already active
"""

JOURNAL_LOG = """\
searched=journal
error=2026-12-07T19:05:22+0000 kvm01 libvirtd[812]: internal error: Failed to apply firewall command 'tc filter add dev virbr9 prio 2 protocol ip parent 1: u32 match ip dport 68 ffff action csum ip and udp': Error: Failed to load TC action module.
"""


def _net(name, bridge):
    xml = f"<network><name>{name}</name><bridge name='{bridge}'/><ip address='10.98.7.1' netmask='255.255.255.0'/></network>"
    d = parse_network(xml)
    return LibvirtNetwork(name, None, False, True, True, d, d)


def _facts(text):
    return dataclasses.replace(HostFacts("h1", "local://"), libvirt_log_errors=parse_libvirt_errors(text))


def test_error_lines_are_kept_apart_from_the_checksum_warning():
    assert parse_libvirt_log(TRIXIE_LOG) == ((), ("/var/log/libvirt/libvirtd.log", "journal"), ())
    errors = parse_libvirt_errors(TRIXIE_LOG)
    assert len(errors) == 5 and errors[1].startswith("2026-12-07 19:05:22.702+0000: 25: error : virFirewall")


def test_the_cause_of_the_last_attempt_not_its_undoing():
    reason = network_start_error(_facts(TRIXIE_LOG), _net("natnet", "virbr9"))
    assert reason.startswith("internal error: Failed to apply firewall command 'tc filter add dev virbr9")
    assert reason.endswith("Failed to load TC action module.")


def test_an_earlier_attempt_is_not_the_last_ones_cause():
    # a bridge name taken at boot, then (minutes later) the network started by hand and failed otherwise
    log = BOOKWORM_LOG + (
        "error=2026-12-07 19:30:00.100+0000: 23: error : virNetDevBridgeCreate:444 : error creating bridge "
        "interface virbr7: Operation not permitted\n"
    )
    assert network_start_error(_facts(log), _net("lan", "virbr7")) == (
        "error creating bridge interface virbr7: Operation not permitted"
    )


def test_a_line_naming_the_network_or_its_bridge_and_no_other():
    assert network_start_error(_facts(BOOKWORM_LOG), _net("lan", "virbr7")) == (
        "error creating bridge interface virbr7: File exists"
    )
    assert network_start_error(_facts(BOOKWORM_LOG), _net("lan2", "virbr8")) == (
        "internal error: Network 'lan2' is already active"
    )
    # virbr70 is not virbr7, nor is network lan the 'lan2' of another line
    assert network_start_error(_facts(BOOKWORM_LOG), _net("lan", "virbr70")) is None
    assert network_start_error(_facts(TRIXIE_LOG), _net("other", "virbr1")) is None


def test_journal_lines_give_their_message():
    reason = network_start_error(_facts(JOURNAL_LOG), _net("natnet", "virbr9"))
    assert reason.startswith("internal error: Failed to apply firewall command") and "kvm01" not in reason


def test_no_log_no_reason():
    assert network_start_error(_facts(""), _net("lan", "virbr7")) is None
    assert parse_libvirt_errors("garbage\nerror") == ()
