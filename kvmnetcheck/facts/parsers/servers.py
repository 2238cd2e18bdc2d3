"""DHCP and TFTP servers on the host: sockets from `ss`, libvirt's dnsmasq pid files, its leases.

    $ ss -H -u -a -n -p 'sport = :67 or sport = :69 or sport = :547'
    UNCONN 0      0      0.0.0.0%virbr0:67 0.0.0.0:* users:(("dnsmasq",pid=389,fd=4))
    UNCONN 0      0             0.0.0.0:67 0.0.0.0:* users:(("dhcpd",pid=812,fd=7))

`ss` prints the device a socket is bound to (SO_BINDTODEVICE) after `%`, which /proc/net/udp does
not show (iproute2 misc/ss.c, from 3.14); the process list needs root. libvirt's dnsmasq writes
/run/libvirt/network/NETWORK.pid and libvirt_leaseshelper /var/lib/libvirt/dnsmasq/BRIDGE.status,
a JSON list of leases with expiry-time (libvirt src/network/leaseshelper.c, src/util/virlease.c). The
collector reads what each network's dnsmasq config (/var/lib/libvirt/dnsmasq/NETWORK.conf) says of booting,
and each dnsmasq's command line and config files (read by `dnsmasq_options`), and the interfaces' IPv4 addresses
(`ip -j -4 addr show`).
"""

from __future__ import annotations

import json
import re
from typing import Optional

from ..model import BootFile, DhcpServers, Lease, ServerScope, UdpSocket
from .dnsmasq_options import Unknown, dnsmasq_scope
from .gathered import Gathered
from .keyvalue import first, named_json_entries, parse_key_values

_ADDR = re.compile(r"^(?P<addr>\[[^\]]*\]|[^\s%]*?)(?:%(?P<dev>[^:\s\]]+))?:(?P<port>\d+)$")
_USER = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')


def parse_ss(text: str) -> tuple[UdpSocket, ...]:
    """UDP sockets from `ss -H -u -a -n -p`; without root the processes are unknown (None)."""
    out = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 5 or words[0] not in ("UNCONN", "ESTAB"):
            continue
        m = _ADDR.match(words[3])
        if not m:
            continue
        addr = m.group("addr").strip("[]") or "*"
        users = _USER.findall(" ".join(words[5:]))
        procs = tuple((name, int(pid)) for name, pid in users)
        out.append(
            UdpSocket(
                address=addr,
                device=m.group("dev"),
                port=int(m.group("port")),
                processes=procs,
                users_known="users:(" in line,
            )
        )
    return tuple(out)


def parse_packet_sockets(text: str) -> tuple[tuple[int, str], ...]:
    """(pid, interface) of each packet socket bound to one interface, from `ss -H -0 -a -n -p`:

    p_raw UNCONN 0      0      *:br9 * users:(("dhcpd",pid=29650,fd=5))
    """
    out = []
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) < 6 or words[0] not in ("p_raw", "p_dgram"):
            continue
        iface = words[4].rsplit(":", 1)[-1]
        if iface in ("*", ""):
            continue
        for _, pid in _USER.findall(" ".join(words[6:])):
            out.append((int(pid), iface))
    return tuple(out)


def parse_pid_file(text: str) -> Optional[int]:
    t = (text or "").strip()
    return int(t) if t.isdigit() else None


def parse_leases(text: str) -> Optional[tuple[Lease, ...]]:
    """The leases in a libvirt .status file (an empty file: none); None when it is not such a list."""
    if not (text or "").strip():
        return ()
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, list):
        return None
    out = []
    for e in doc:
        if not isinstance(e, dict) or not isinstance(e.get("ip-address"), str):
            continue
        expiry = e.get("expiry-time")
        out.append(
            Lease(
                ip=e["ip-address"],
                mac=str(e.get("mac-address") or ""),
                hostname=str(e.get("hostname") or "") or None,
                expiry=int(expiry) if isinstance(expiry, (int, float)) else None,
            )
        )
    return tuple(out)


def parse_dnsmasq_boot(network: str, text: str) -> BootFile:
    """The collector's reading of a network's dnsmasq config: `tftp_root=`, `boot=` (dhcp-boot) and `exists=1`
    when the boot file is in the TFTP root."""
    kv = parse_key_values(text)
    exists = first(kv, "exists")
    conf, files = [], []
    for line in (text or "").splitlines():
        if line.startswith("conf="):
            key, _, value = line[5:].partition("=")
            conf.append((key.strip(), value.strip()))
        elif line.startswith("file=") and line.count("\t") == 2:
            there, root, name = line[5:].split("\t")
            files.append((root, name, there == "1"))
    return BootFile(
        network=network,
        tftp_root=first(kv, "tftp_root") or None,
        boot=first(kv, "boot") or None,
        exists=None if exists is None else exists == "1",
        # an older collector printed only tftp_root= and boot=, not the config's lines
        conf=tuple(conf) if first(kv, "lines") == "1" else None,
        files=tuple(files),
    )


def read_dhcp_servers(g: Gathered) -> DhcpServers:
    """The `udp_servers` and `packet_sockets` sections, and libvirt's dnsmasq pid, lease and config files."""
    if not g.gathered_since(3):
        return DhcpServers(
            gathered=False, error="the facts were gathered by an older version, which did not read DHCP servers"
        )
    ss = g.one("udp_servers")
    sockets = parse_ss(ss.text) if ss is not None and ss.ok else None
    error = None
    if ss is None:
        error = "ss (iproute2) is not installed" if "ss" not in g.commands else "ss was not run"
    elif not ss.ok:
        error = "ss failed: " + " ".join(ss.text.split())[-200:]
    pids, leases, unreadable = [], [], []
    for s in g.all("libvirt_dnsmasq_pid"):
        name = s.arg.rsplit("/", 1)[-1].removesuffix(".pid")
        pids.append((name, parse_pid_file(s.text) if g.readable(s) else None))
        if not g.readable(s):
            unreadable.append(s.arg)
    for s in g.all("dnsmasq_leases"):
        bridge = s.arg.rsplit("/", 1)[-1].removesuffix(".status")
        leases.append((bridge, parse_leases(s.text) if g.readable(s) else None))
        if not g.readable(s):
            unreadable.append(s.arg)
    files_error = next(
        filter(None, (g.cut_before(k) for k in ("libvirt_dnsmasq_pid", "dnsmasq_leases", "dnsmasq_boot"))), None
    )
    boots = []
    for s in g.all("dnsmasq_boot"):
        if not g.readable(s):
            unreadable.append(s.arg)
            continue
        boots.append(parse_dnsmasq_boot(s.arg.rsplit("/", 1)[-1].removesuffix(".conf"), s.text))
    scopes, addresses, addresses_error = read_scopes(g)
    packets = g.one("packet_sockets")
    lpf = parse_packet_sockets(packets.text) if packets is not None and packets.ok else ()
    return DhcpServers(
        sockets=sockets,
        error=error,
        packet_ifaces=lpf,
        dnsmasq_pids=tuple(pids),
        leases=tuple(leases),
        unreadable=tuple(unreadable),
        boot_files=tuple(boots),
        files_error=files_error,
        scopes=scopes,
        ipv4_addresses=addresses,
        addresses_error=addresses_error,
    )


def parse_ipv4_addresses(text: str) -> Optional[tuple[tuple[str, str], ...]]:
    """(interface, address) from `ip -j -4 addr show`; None when it is not that JSON."""
    links = named_json_entries(text)
    if links is None:
        return None
    out = []
    for link in links:
        for a in link.get("addr_info") or ():
            if isinstance(a, dict) and a.get("family") == "inet" and isinstance(a.get("local"), str):
                out.append((link["ifname"], a["local"]))
    return tuple(out)


def parse_cmdline(text: str) -> tuple[Optional[str], Optional[list[str]]]:
    """(mnt, argv) from a `dnsmasq_cmdline` section: `mnt=same|other|unknown`, `cmdline=HEX` (the bytes of
    /proc/PID/cmdline, NUL between arguments)."""
    kv = parse_key_values(text)
    mnt, hexed = first(kv, "mnt"), first(kv, "cmdline")
    try:
        raw = bytes.fromhex(hexed or "")
    except ValueError:
        return mnt, None
    if not raw:
        return mnt, None
    return mnt, raw.rstrip(b"\0").decode("utf-8", "replace").split("\0")


def read_scopes(g: Gathered):
    """Each dnsmasq's interface set, the IPv4 addresses, and why those could not be read; (None, None, why) for
    facts of a collector that did not gather them."""
    addr = g.one("ipv4_addresses")
    if addr is None:
        why = g.cut_before("dnsmasq_cmdline") or "the facts were gathered by an older version, which did not read them"
        return None, None, why
    addresses = parse_ipv4_addresses(addr.text) if addr.ok else None
    addresses_error = (
        None if addresses is not None else "`ip -j -4 addr show` failed: " + " ".join(addr.text.split())[-200:]
    )
    files = {s.arg: s for s in g.all("dnsmasq_conf")}
    dirs = {s.arg: s for s in g.all("dnsmasq_conf_dir")}

    def read_file(path: str) -> Optional[str]:
        s = files.get(path)
        if s is None:
            raise Unknown(f"config file {path} was not gathered (the collector reads at most 64)")
        if s.rc == 2 and s.text.strip() == "absent":
            return None
        if not g.readable(s):
            why = " ".join(s.text.split())[-120:] or f"status {s.rc}"
            raise Unknown(f"config file {path} could not be read ({why}): run as root (--sudo) if it is root's")
        return s.text

    def list_dir(path: str) -> Optional[tuple[str, ...]]:
        s = dirs.get(path)
        if s is None:
            raise Unknown(f"conf-dir {path} was not gathered")
        if s.rc == 3:
            raise Unknown(f"conf-dir {path} holds more than 256 files, more than the collector lists")
        if not s.ok:
            raise Unknown(f"conf-dir {path} could not be listed: run as root (--sudo)")
        return tuple(line for line in s.text.split("\n") if line)

    scopes = []
    for s in g.all("dnsmasq_cmdline"):
        if not s.arg.isdigit():
            continue
        pid = int(s.arg)
        mnt, argv = parse_cmdline(s.text)
        if argv is None:
            scopes.append(ServerScope(pid, "dnsmasq", unknown="its command line could not be read"))
        elif mnt != "same":
            why = "it runs in another mount namespace (a container?), whose files are not the host's"
            if mnt != "other":
                why = "whether it sees the host's files (its mount namespace) needs root: run with --sudo"
            scopes.append(ServerScope(pid, "dnsmasq", unknown=why))
        else:
            scopes.append(dnsmasq_scope(pid, argv, read_file, list_dir))
    return tuple(scopes), addresses, addresses_error
