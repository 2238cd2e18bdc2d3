"""Which collector section feeds which parser and which HostFacts field: one table.

The collector (collect/collector.sh) prints each fact as a section of a kind; each
row of SOURCES names the kinds it reads, the HostFacts fields it fills and the
function that parses them. selftests/test_architecture.py keeps this table and the
collector in step: a kind printed and never parsed, or parsed and never printed,
fails it.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..raw import RawLibvirt
from . import bridge_config, bridge_vlan, firewalld, iptables, qemu_firmware, servers, sysfs_bridge, tc
from .keyvalue import first, parse_key_values, to_int
from .libvirt_view import libvirt_view
from .model import (
    STP_OFF_SHORTCUT_KERNEL, BootFile, DhcpServers, LibvirtQemu, NftLibvirt, Ovs, Process, QemuProcess, kernel_version,
)
from .netstack import NetStack, parse_netstack
from .ovs import build_ovs
from .sections import Section

LIBVIRT_COMMANDS = frozenset({"virsh", "libvirtd", "virtnetworkd"})
_LOG_MARKERS = ("fixup DHCP response checksums", "to support CHECKSUM rule")

# A listing prints nothing when it finds nothing, so when the output is cut short, only a section the
# collector always prints after a listing proves that listing was read to its end: the kinds of each
# listing, and that section (collector.sh's order; selftests/test_architecture.py holds them to it).
LISTED_BEFORE = {
    "bridge": "libvirt_log",
    "libvirt_dnsmasq_pid": "processes",
    "dnsmasq_leases": "processes",
    "dnsmasq_boot": "processes",
    "libvirt_qemu_pid": "processes",
}


@dataclass
class Gathered:
    """One host's collector output, by section kind, and what every parser shares."""

    by_kind: dict[str, list[Section]]
    raw_libvirt: Optional[RawLibvirt]
    problems: list[str] = field(default_factory=list)  # what could not be used (host-reachable names it)
    unreadable: list[str] = field(default_factory=list)  # files the checking user may not read
    meta: dict[str, list[str]] = field(default_factory=dict)

    def all(self, kind: str) -> list[Section]:
        return self.by_kind.get(kind, [])

    def one(self, kind: str) -> Optional[Section]:
        found = self.by_kind.get(kind)
        return found[0] if found else None

    def text(self, kind: str) -> Optional[str]:
        s = self.one(kind)
        return s.text if s is not None else None

    def rc(self, kind: str) -> Optional[int]:
        s = self.one(kind)
        return s.rc if s is not None else None

    @property
    def commands(self) -> frozenset[str]:
        return frozenset(self.meta.get("have", []))

    @property
    def collector(self) -> int:
        """The collector format that printed these sections (1 for the first one)."""
        return to_int(first(self.meta, "collector")) or 1

    def gathered_since(self, collector: int) -> bool:
        """Did the collector that printed these facts gather what format `collector` added?"""
        return self.collector >= collector

    def cut_before(self, kind: str) -> Optional[str]:
        """Why the listing of sections of `kind` may lack some (the output was cut short before it ended),
        or None: it was read to its end, or the output was not cut."""
        if self.one("done") is not None or LISTED_BEFORE[kind] in self.by_kind:
            return None
        return f"the collector's output was cut short before its listing of {kind} sections ended"

    @property
    def clk_tck(self) -> Optional[int]:
        return to_int(first(self.meta, "clk_tck"))

    @property
    def waits_without_stp(self) -> bool:
        """A kernel from before bridges forwarded at once on a new port with STP off."""
        v = kernel_version(first(self.meta, "kernel"))
        return v is not None and v < STP_OFF_SHORTCUT_KERNEL

    def processes(self) -> tuple[Optional[tuple[QemuProcess, ...]], Optional[tuple[Process, ...]], Optional[str]]:
        """(QEMU processes, other daemons, why not read) from the `processes` section, parsed once; both None
        when the section is missing or cut short (no process is then known not to run)."""
        if "_processes" not in self.__dict__:
            q = self.one("processes")
            if q is None:
                self.__dict__["_processes"] = (None, None, "the collector's output was cut short before it listed "
                                                           "the running processes")
            elif q.rc is None:
                self.__dict__["_processes"] = (None, None, "the collector's output was cut short while it listed "
                                                           "the running processes")
            else:
                self.__dict__["_processes"] = _parse_processes(q.text) + (None,)
        return self.__dict__["_processes"]

    def netstack(self) -> NetStack:
        if "_netstack" not in self.__dict__:
            daemons = self.processes()[1]
            self.__dict__["_netstack"] = parse_netstack(
                self.text("netstack"), None if daemons is None else frozenset(p.comm for p in daemons))
        return self.__dict__["_netstack"]

    def readable(self, s: Section) -> bool:
        """A file section that could be read; one refused to the checking user is noted as such."""
        if s.ok:
            return True
        if "Permission denied" in s.text:
            self.unreadable.append(s.arg)
        return False


_PROCESS = re.compile(r"pid=(\d+)(?: comm=(\S+))?(?: uid=(\d*) euid=(\d*) user=(\S*))?(?: vhost_fds=(\d+|\?))?"
                      r"(?: name=(.*))?(?: args=(.*))?$")


def _parse_processes(text: str) -> tuple[tuple[QemuProcess, ...], tuple[Process, ...]]:
    """The `processes` section: `pid=N comm=qemu uid=R euid=E user=USER vhost_fds=N name=NAME` per QEMU, NAME
    its -name (uid, euid and user since collector 5; no comm in format 1); `pid=N comm=COMM [args=...]` per
    daemon."""
    qemu, daemons = [], []
    for line in text.splitlines():
        m = _PROCESS.match(line)
        if not m:
            continue
        pid, comm, uid, euid, user, fds, name, args = m.groups()
        if comm in (None, "qemu") and name is not None:
            qemu.append(QemuProcess(int(pid), qemu_guest_name(name), None if fds in (None, "?") else int(fds),
                                    uid=to_int(uid), euid=to_int(euid), user=user or None))
        elif comm:
            daemons.append(Process(int(pid), comm, (args or "").strip()))
    return tuple(qemu), tuple(daemons)


@dataclass(frozen=True)
class Source:
    kinds: tuple[str, ...]  # collector sections it reads
    fields: tuple[str, ...]  # HostFacts fields it fills
    parse: Callable[[Gathered], dict[str, Any]]


def _meta(g: Gathered) -> dict[str, Any]:
    kv = g.meta
    commands = g.commands
    nf = first(kv, "bridge_nf_call_iptables")
    return {
        "now": to_int(first(kv, "now")),
        # facts of collectors before format 3 do not say: None, unknown
        "br_netfilter": ("1" in kv.get("br_netfilter", [])) if g.gathered_since(3) else None,
        "bridge_nf_call_iptables": None if nf is None else nf.strip() != "0",
        "hostname": first(kv, "hostname"),
        "uid": to_int(first(kv, "uid")),
        "clk_tck": g.clk_tck,
        "kernel": first(kv, "kernel"),
        "commands": commands,
        "vhost_net": first(kv, "vhost_net_dev") == "1",
        "vhost_net_module": first(kv, "vhost_net_module") == "1",
        "libvirt_installed": bool(LIBVIRT_COMMANDS & commands) or "libvirt_socket" in kv,
    }


def _bridges(g: Gathered) -> dict[str, Any]:
    bridges, tcs = [], []
    for s in g.all("bridge"):
        b = sysfs_bridge.parse_bridge(s.arg, s.text, g.clk_tck)
        if s.rc is None:
            b = dataclasses.replace(b, ports=None, ports_error="the collector's output was cut short inside "
                                                                 f"bridge {s.arg}'s section")
        elif not b.ports and not g.gathered_since(5):
            # collectors before 5 printed no port alike for a bridge without ports and for a port list that
            # could not be listed
            b = dataclasses.replace(b, ports=None, ports_error="gathered by an older version, which did not say "
                                                               "whether the port list could be read")
        bridges.append(dataclasses.replace(b, waits_without_stp=True) if g.waits_without_stp else b)
        texts = [f.text for f in g.all("tc_filter") if f.arg.split(" ", 1)[0] == s.arg and f.ok]
        tcs.append(tc.parse_filters(s.arg, texts))
    return {"bridges": tuple(bridges), "tc": tuple(tcs), "bridges_error": g.cut_before("bridge")}


def _iptables(g: Gathered) -> dict[str, Any]:
    legacy = g.one("iptables_legacy_save")
    return {"iptables": iptables.build_iptables(
        installed="iptables" in g.commands,
        version_text=g.text("iptables_version"),
        help_text=g.text("iptables_checksum_help"),
        save_text=g.text("iptables_save"),
        save_rc=g.rc("iptables_save"),
        legacy_text=legacy.text if legacy is not None and legacy.ok else None,
    )}


def _nft(g: Gathered) -> dict[str, Any]:
    ok = [s for s in g.all("nft_libvirt") if s.ok]
    ip = [s for s in ok if "table ip libvirt_network" in s.text]
    tables = g.one("nft_tables")
    readable, error = True, None
    if tables is not None and not tables.ok:  # e.g. "Operation not permitted" for a user without CAP_NET_ADMIN
        readable, error = False, "nft list tables failed: " + " ".join(tables.text.split())[-200:]
    forward = g.all("nft_forward")
    bad = [s.arg for s in forward if not s.ok]
    forward_error = ("could not list nft table(s) " + ", ".join(bad)) if bad else error
    if not g.gathered_since(3):
        forward_error = "gathered by an older version, which did not read the nft forward hooks"
    return {"nft": NftLibvirt(installed="nft" in g.commands, table_present=bool(ip),
                              text="\n".join(s.text for s in ok), readable=readable, error=error),
            "nft_forward": tuple(s.text for s in forward if s.ok),
            "nft_forward_error": forward_error}


def _port_vlans(g: Gathered) -> dict[str, Any]:
    s = g.one("bridge_vlans")
    if not g.gathered_since(3):
        return {"port_vlans": None, "port_vlans_error": "gathered by an older version, which did not read VLANs"}
    if s is None:
        return {"port_vlans": None, "port_vlans_error": None}
    vlans = bridge_vlan.parse_bridge_vlans(s.text) if s.ok else None
    return {"port_vlans": vlans, "port_vlans_error": None if vlans is not None else
            "`bridge -j vlan show` failed: " + " ".join(s.text.split())[-200:]}


def _dhcp_servers(g: Gathered) -> dict[str, Any]:
    if not g.gathered_since(3):
        return {"dhcp_servers": DhcpServers(gathered=False, error="the facts were gathered by an older version, "
                                                                  "which did not read DHCP servers")}
    ss = g.one("udp_servers")
    sockets = servers.parse_ss(ss.text) if ss is not None and ss.ok else None
    error = None
    if ss is None:
        error = "ss (iproute2) is not installed" if "ss" not in g.commands else "ss was not run"
    elif not ss.ok:
        error = "ss failed: " + " ".join(ss.text.split())[-200:]
    pids, leases, unreadable = [], [], []
    for s in g.all("libvirt_dnsmasq_pid"):
        name = s.arg.rsplit("/", 1)[-1].removesuffix(".pid")
        pids.append((name, servers.parse_pid_file(s.text) if g.readable(s) else None))
        if not g.readable(s):
            unreadable.append(s.arg)
    for s in g.all("dnsmasq_leases"):
        bridge = s.arg.rsplit("/", 1)[-1].removesuffix(".status")
        leases.append((bridge, servers.parse_leases(s.text) if g.readable(s) else None))
        if not g.readable(s):
            unreadable.append(s.arg)
    files_error = next(filter(None, (g.cut_before(k) for k in ("libvirt_dnsmasq_pid", "dnsmasq_leases",
                                                               "dnsmasq_boot"))), None)
    boots = []
    for s in g.all("dnsmasq_boot"):
        if not g.readable(s):
            unreadable.append(s.arg)
            continue
        kv = parse_key_values(s.text)
        exists = first(kv, "exists")
        boots.append(BootFile(network=s.arg.rsplit("/", 1)[-1].removesuffix(".conf"),
                              tftp_root=first(kv, "tftp_root") or None, boot=first(kv, "boot") or None,
                              exists=None if exists is None else exists == "1"))
    packets = g.one("packet_sockets")
    lpf = servers.parse_packet_sockets(packets.text) if packets is not None and packets.ok else ()
    return {"dhcp_servers": DhcpServers(sockets=sockets, error=error, packet_ifaces=lpf, dnsmasq_pids=tuple(pids),
                                        leases=tuple(leases), unreadable=tuple(unreadable),
                                        boot_files=tuple(boots), files_error=files_error)}


def _ovs(g: Gathered) -> dict[str, Any]:
    if not g.gathered_since(3):
        return {"ovs": Ovs(installed="ovs-vsctl" in g.commands, running=None,
                           error="gathered by an older version, which did not read Open vSwitch")}
    b, p, i = g.one("ovs_bridges"), g.one("ovs_ports"), g.one("ovs_interfaces")
    return {"ovs": build_ovs("ovs-vsctl" in g.commands, b and b.text, p and p.text, i and i.text,
                             b and b.rc, p and p.rc, i and i.rc)}


def _qemu_firmware(g: Gathered) -> dict[str, Any]:
    if not g.gathered_since(3):
        return {"qemu_firmware": None}
    return {"qemu_firmware": tuple(qemu_firmware.parse_firmware(s.arg, s.text) for s in g.all("qemu_firmware"))}


def _firewalld(g: Gathered) -> dict[str, Any]:
    return {"firewalld": firewalld.build_firewalld(
        installed="firewall-cmd" in g.commands,
        state_text=g.text("firewalld_state"),
        version_text=g.text("firewalld_version"),
        zones_text=g.text("firewalld_zones"),
        zones_rc=g.rc("firewalld_zones"),
        policies_text=g.text("firewalld_policies"),
        policies_rc=g.rc("firewalld_policies"),
        default_zone_text=g.text("firewalld_default_zone") if g.rc("firewalld_default_zone") == 0 else None,
    )}


def _network_conf(g: Gathered) -> dict[str, Any]:
    s = g.one("libvirt_network_conf")
    if s is None or not g.readable(s):
        return {"firewall_backend_config": None}
    for line in s.text.splitlines():
        m = re.match(r'\s*firewall_backend\s*=\s*["\']?([a-z]+)["\']?', line)
        if m:
            return {"firewall_backend_config": m.group(1)}
    return {"firewall_backend_config": None}


def _libvirt_log(g: Gathered) -> dict[str, Any]:
    lines, sources, unreadable = [], [], []
    log = g.one("libvirt_log")
    if log:
        for line in log.text.splitlines():
            if line.startswith("searched="):
                sources.append(line[len("searched="):])
            elif line.startswith("unreadable="):
                unreadable.append(line[len("unreadable="):])
            elif any(m in line for m in _LOG_MARKERS):
                lines.append(line.strip()[:500])
    return {"libvirt_log_lines": tuple(lines), "libvirt_log_sources": tuple(sources),
            "libvirt_log_unreadable": tuple(unreadable)}


def _bridge_configs(g: Gathered) -> dict[str, Any]:
    ifup_secs = g.all("ifup_eth")
    ifup = None
    if ifup_secs:
        readable = all(s.rc in (0, None) for s in ifup_secs)
        ifup = bridge_config.ifup_style("\n".join(s.text for s in ifup_secs), readable)
    files = [s for s in g.all("netconfig") if g.readable(s)]
    netplan = [(s.arg, s.text) for s in files if "/netplan/" in s.arg]
    global_renderer = bridge_config.netplan_global_renderer(netplan)
    policy = [s.text for s in g.all("ifupdown2_policy") if g.readable(s)]
    ctx = bridge_config.Context(
        netstack=g.netstack(), ifup_style=ifup, waits_without_stp=g.waits_without_stp,
        netplan_renderer=global_renderer,
        netplan_networkd=any(r != "NetworkManager" for _, text in netplan
                             for _, _, r in bridge_config.netplan_bridges(text, global_renderer)),
        ifupdown2_stp_default=bridge_config.ifupdown2_stp_default(policy))
    configs = []
    for s in files:
        try:
            configs.extend(bridge_config.parse_config_file(s.arg, s.text, ctx))
        except Exception as e:  # one bad file must not hide the others
            g.problems.append(f"{s.arg}: not understood ({type(e).__name__}: {e})")
    return {"bridge_configs": tuple(configs)}


def _netstack(g: Gathered) -> dict[str, Any]:
    return {"netstack": g.netstack()}


def _processes(g: Gathered) -> dict[str, Any]:
    qemu, daemons, error = g.processes()
    return {"qemu": qemu, "daemons": daemons, "processes_error": error}


def _libvirt_qemu(g: Gathered) -> dict[str, Any]:
    """qemu.conf's user= (the first one: virConfGetValue returns the first entry of a name) and the pid
    libvirt keeps for each running guest; a file that could not be read says nothing."""
    conf = g.one("qemu_conf")
    user = None
    if conf is not None and conf.rc in (0, 1):  # grep: 1 is no user= line
        for line in conf.text.splitlines():
            m = re.match(r"""\s*user\s*=\s*(["'])(.*?)\1""", line)
            if m:
                user = m.group(2)
                break
    pids = [(s.arg.rsplit("/", 1)[-1].removesuffix(".pid"), servers.parse_pid_file(s.text) if s.ok else None)
            for s in g.all("libvirt_qemu_pid")]
    return {"libvirt_qemu": LibvirtQemu(conf_user=user, conf_read=conf is not None and conf.rc in (0, 1),
                                        pids=tuple(pids))}


def qemu_guest_name(arg: str) -> str:
    """The guest name from QEMU's -name argument: `guest=NAME,debug-threads=on` or plain `NAME`.

    QEMU option values escape a comma as `,,`; the first single comma ends the value.
    """
    value = arg[len("guest="):] if arg.startswith("guest=") else arg
    out, i = [], 0
    while i < len(value):
        if value[i] == ",":
            if value[i + 1:i + 2] == ",":
                out.append(",")
                i += 2
                continue
            break
        out.append(value[i])
        i += 1
    return "".join(out)


def _libvirt(g: Gathered) -> dict[str, Any]:
    for kind in ("libvirt_net_status", "libvirt_net_config", "libvirt_dom_status", "libvirt_dom_config"):
        for s in g.all(kind):
            g.readable(s)  # a state file refused to the checking user is named by host-reachable
    return {"libvirt": libvirt_view(g.by_kind, g.raw_libvirt, g.problems)}


def _done(g: Gathered) -> dict[str, Any]:
    if g.one("done") is None:
        g.problems.append("collector output was cut short; facts after the cut are missing")
    return {}


SOURCES: tuple[Source, ...] = (
    Source(("meta",), ("hostname", "uid", "clk_tck", "kernel", "commands", "vhost_net", "vhost_net_module",
                       "libvirt_installed", "now", "br_netfilter", "bridge_nf_call_iptables"), _meta),
    Source(("bridge_vlans",), ("port_vlans", "port_vlans_error"), _port_vlans),
    Source(("udp_servers", "packet_sockets", "libvirt_dnsmasq_pid", "dnsmasq_leases", "dnsmasq_boot"), ("dhcp_servers",),
           _dhcp_servers),
    Source(("qemu_firmware",), ("qemu_firmware",), _qemu_firmware),
    Source(("ovs_bridges", "ovs_ports", "ovs_interfaces"), ("ovs",), _ovs),
    Source(("bridge", "tc_filter"), ("bridges", "tc", "bridges_error"), _bridges),
    Source(("iptables_version", "iptables_checksum_help", "iptables_save", "iptables_legacy_save"),
           ("iptables",), _iptables),
    Source(("nft_tables", "nft_libvirt", "nft_forward"), ("nft", "nft_forward", "nft_forward_error"), _nft),
    Source(("firewalld_state", "firewalld_version", "firewalld_default_zone", "firewalld_zones", "firewalld_policies"),
           ("firewalld",),
           _firewalld),
    Source(("libvirt_network_conf",), ("firewall_backend_config",), _network_conf),
    Source(("libvirt_log",), ("libvirt_log_lines", "libvirt_log_sources", "libvirt_log_unreadable"), _libvirt_log),
    Source(("netconfig", "ifup_eth", "ifupdown2_policy"), ("bridge_configs",), _bridge_configs),
    Source(("netstack",), ("netstack",), _netstack),
    Source(("processes",), ("qemu", "daemons", "processes_error"), _processes),
    Source(("qemu_conf", "libvirt_qemu_pid"), ("libvirt_qemu",), _libvirt_qemu),
    Source(("virsh_client", "virsh_net_uuids", "virsh_dom_uuids", "virsh_net_xml", "virsh_net_xml_inactive",
            "virsh_net_autostart", "virsh_dom_xml", "libvirt_net_status", "libvirt_net_config",
            "libvirt_dom_status", "libvirt_dom_config"),
           ("libvirt",), _libvirt),
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


def parse_meta(text: str) -> dict[str, list[str]]:
    return parse_key_values(text)
