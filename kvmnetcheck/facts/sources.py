"""Which collector section feeds which parser and which HostFacts field: one table.

The collector (collect/collector.sh) prints each fact as a section of a kind; each
row of SOURCES names the kinds it reads, the HostFacts fields it fills and the
parser (facts/parsers/) that reads them. selftests/test_architecture.py keeps this
table and the collector in step: a kind printed and never parsed, or parsed and
never printed, fails it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .parsers import (
    bridge_config,
    bridge_vlan,
    firewalld,
    iptables,
    libvirt_conf,
    libvirt_log,
    libvirt_view,
    meta,
    nft,
    ovs,
    probe,
    qemu_firmware,
    servers,
    sysfs_bridge,
)
from .parsers.gathered import Gathered
from .parsers.sections import Section

# A listing prints nothing when it finds nothing, so when the output is cut short, only a section the
# collector always prints after a listing proves that listing was read to its end: the kinds of each
# listing, and that section (collector.sh's order; selftests/test_architecture.py holds them to it).
LISTED_BEFORE = {
    "bridge": "libvirt_log",
    "libvirt_dnsmasq_pid": "processes",
    "dnsmasq_leases": "processes",
    "dnsmasq_boot": "processes",
    "libvirt_qemu_pid": "processes",
    "dnsmasq_cmdline": "ipv4_addresses",
    "dnsmasq_conf": "ipv4_addresses",
    "dnsmasq_conf_dir": "ipv4_addresses",
}


@dataclass(frozen=True)
class Source:
    kinds: tuple[str, ...]  # collector sections it reads
    fields: tuple[str, ...]  # HostFacts fields it fills
    parse: Callable[[Gathered], dict[str, Any]]


# Each row's parse: the parser's answer, by HostFacts field.


def _port_vlans(g: Gathered) -> dict[str, Any]:
    vlans, error = bridge_vlan.read_port_vlans(g)
    return {"port_vlans": vlans, "port_vlans_error": error}


def _dhcp_servers(g: Gathered) -> dict[str, Any]:
    return {"dhcp_servers": servers.read_dhcp_servers(g)}


def _qemu_firmware(g: Gathered) -> dict[str, Any]:
    return {"qemu_firmware": qemu_firmware.read_qemu_firmware(g)}


def _probe(g: Gathered) -> dict[str, Any]:
    return {"probe": probe.read_probe(g)}


def _ovs(g: Gathered) -> dict[str, Any]:
    return {"ovs": ovs.read_ovs(g)}


def _bridges(g: Gathered) -> dict[str, Any]:
    bridges, tc, error = sysfs_bridge.read_bridges(g)
    return {"bridges": bridges, "tc": tc, "bridges_error": error}


def _iptables(g: Gathered) -> dict[str, Any]:
    return {"iptables": iptables.read_iptables(g)}


def _nft(g: Gathered) -> dict[str, Any]:
    libvirt_tables, forward, forward_error = nft.read_nft(g)
    return {"nft": libvirt_tables, "nft_forward": forward, "nft_forward_error": forward_error}


def _firewalld(g: Gathered) -> dict[str, Any]:
    return {"firewalld": firewalld.read_firewalld(g)}


def _network_conf(g: Gathered) -> dict[str, Any]:
    return {"firewall_backend_config": libvirt_conf.read_firewall_backend_config(g)}


def _libvirt_log(g: Gathered) -> dict[str, Any]:
    lines, searched, unreadable = libvirt_log.read_libvirt_log(g)
    if g.counts_unreadable_as_zero and g.one("libvirt_log") is not None and not unreadable:
        # that collector skipped the log files it could not read without a word, and a user's journal
        # holds only that user's lines: which of libvirt's logs were read is unknown
        unreadable = (
            f"libvirt's log files and the system journal (collector format {g.collector}, run as a user other "
            "than root, did not say which it could read)",
        )
    return {
        "libvirt_log_lines": lines,
        "libvirt_log_sources": searched,
        "libvirt_log_unreadable": unreadable,
        "libvirt_log_errors": libvirt_log.read_libvirt_errors(g),
    }


def _bridge_configs(g: Gathered) -> dict[str, Any]:
    return {"bridge_configs": bridge_config.read_bridge_configs(g)}


def _netstack(g: Gathered) -> dict[str, Any]:
    return {"netstack": g.netstack()}


def _processes(g: Gathered) -> dict[str, Any]:
    qemu, daemons, error = g.processes()
    return {"qemu": qemu, "daemons": daemons, "processes_error": error}


def _libvirt_qemu(g: Gathered) -> dict[str, Any]:
    return {"libvirt_qemu": libvirt_conf.read_libvirt_qemu(g)}


def _libvirt(g: Gathered) -> dict[str, Any]:
    return {"libvirt": libvirt_view.read_libvirt(g)}


def _done(g: Gathered) -> dict[str, Any]:
    g.note_if_cut_short()
    return {}


SOURCES: tuple[Source, ...] = (
    Source(
        ("meta",),
        (
            "hostname",
            "uid",
            "clk_tck",
            "kernel",
            "commands",
            "vhost_net",
            "vhost_net_module",
            "libvirt_installed",
            "now",
            "br_netfilter",
            "bridge_nf_call_iptables",
        ),
        meta.read_meta,
    ),
    Source(("bridge_vlans",), ("port_vlans", "port_vlans_error"), _port_vlans),
    Source(
        (
            "udp_servers",
            "packet_sockets",
            "libvirt_dnsmasq_pid",
            "dnsmasq_leases",
            "dnsmasq_boot",
            "dnsmasq_cmdline",
            "dnsmasq_conf",
            "dnsmasq_conf_dir",
            "ipv4_addresses",
        ),
        ("dhcp_servers",),
        _dhcp_servers,
    ),
    Source(("qemu_firmware",), ("qemu_firmware",), _qemu_firmware),
    Source(("ovs_bridges", "ovs_ports", "ovs_interfaces"), ("ovs",), _ovs),
    Source(("bridge", "tc_filter"), ("bridges", "tc", "bridges_error"), _bridges),
    Source(
        ("iptables_version", "iptables_checksum_help", "iptables_save", "iptables_legacy_save"),
        ("iptables",),
        _iptables,
    ),
    Source(("nft_tables", "nft_libvirt", "nft_forward"), ("nft", "nft_forward", "nft_forward_error"), _nft),
    Source(
        ("firewalld_state", "firewalld_version", "firewalld_default_zone", "firewalld_zones", "firewalld_policies"),
        ("firewalld",),
        _firewalld,
    ),
    Source(("libvirt_network_conf",), ("firewall_backend_config",), _network_conf),
    Source(
        ("libvirt_log",),
        ("libvirt_log_lines", "libvirt_log_sources", "libvirt_log_unreadable", "libvirt_log_errors"),
        _libvirt_log,
    ),
    Source(("netconfig", "ifup_eth", "ifupdown2_policy"), ("bridge_configs",), _bridge_configs),
    Source(("netstack",), ("netstack",), _netstack),
    Source(("processes",), ("qemu", "daemons", "processes_error"), _processes),
    Source(("qemu_conf", "libvirt_qemu_pid"), ("libvirt_qemu",), _libvirt_qemu),
    Source(
        (
            "virsh_client",
            "virsh_net_uuids",
            "virsh_dom_uuids",
            "virsh_net_xml",
            "virsh_net_xml_inactive",
            "virsh_net_autostart",
            "virsh_dom_xml",
            "libvirt_net_status",
            "libvirt_net_config",
            "libvirt_dom_status",
            "libvirt_dom_config",
        ),
        ("libvirt",),
        _libvirt,
    ),
    # printed by the probe (collect/probe.py), run after the collector only with --probe
    Source(("probe_meta", "probe_bridge", "probe_stopped", "probe_done"), ("probe",), _probe),
    Source(("done",), (), _done),
)

# kinds an earlier collector printed (saved facts of format 1): what each became, or None if dropped
LEGACY_KINDS: dict[str, Callable[[Section], Optional[str]]] = {
    "file": lambda s: "libvirt_network_conf" if s.arg == "/etc/libvirt/network.conf" else "netconfig",
    "tc_qdisc": lambda s: None,  # the collector reads the qdiscs only to find the filters' parents
    "qemu_procs": lambda s: "processes",  # its lines have no comm= and are read as QEMU's
    "virsh_uri": lambda s: None,  # the URI is known from how the host was reached
    # collectors 1 to 3: `virsh version` and the active networks and guests listed apart; kept as they
    # are for libvirt_view.raw_from_virsh (collector 4 lists each once and reads their state)
    "virsh_version": lambda s: "virsh_version",
    "virsh_nets": lambda s: "virsh_nets",
    "virsh_doms": lambda s: "virsh_doms",
}
