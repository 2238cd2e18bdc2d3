"""Assemble HostFacts from the collector's sections and the raw libvirt view."""
from __future__ import annotations

import re
from typing import Optional

from . import bridge_config, firewalld, iptables, libvirt_xml, sysfs_bridge, tc
from .keyvalue import first, parse_key_values, to_int
from .model import (
    Guest, HostFacts, LibvirtNetwork, LibvirtView, NftLibvirt, QemuProcess,
)
from .sections import Section, split_sections
from ..collect.libvirt_source import RawLibvirt, RawNetwork

_LOG_MARKERS = ("fixup DHCP response checksums", "to support CHECKSUM rule")


def build_host_facts(host: str, spec: str, output: str, nonce: str,
                     raw_libvirt: Optional[RawLibvirt]) -> HostFacts:
    sections = split_sections(output, nonce)
    by_kind: dict[str, list[Section]] = {}
    for s in sections:
        by_kind.setdefault(s.kind, []).append(s)
    meta = by_kind.get("meta")
    if not meta or "collector=1" not in meta[0].text:
        return HostFacts(host=host, spec=spec, error="the collector printed nothing recognisable")
    problems: list[str] = []
    if "done" not in by_kind:
        problems.append("collector output was cut short; facts after the cut are missing")

    def one(kind: str, arg: Optional[str] = None) -> Optional[Section]:
        for s in by_kind.get(kind, []):
            if arg is None or s.arg == arg:
                return s
        return None

    kv = parse_key_values(meta[0].text)
    commands = frozenset(kv.get("have", []))
    clk = to_int(first(kv, "clk_tck"))

    bridges = []
    tcs = []
    for s in by_kind.get("bridge", []):
        bridges.append(sysfs_bridge.parse_bridge(s.arg, s.text, clk))
        texts = [f.text for f in by_kind.get("tc_filter", []) if f.arg.split(" ", 1)[0] == s.arg and f.ok]
        tcs.append(tc.parse_filters(s.arg, texts))

    legacy = one("iptables_legacy_save")
    ipt = iptables.build_iptables(
        installed="iptables" in commands,
        version_text=_text(one("iptables_version")),
        help_text=_text(one("iptables_checksum_help")),
        save_text=_text(one("iptables_save")),
        save_rc=_rc(one("iptables_save")),
        legacy_text=legacy.text if legacy is not None and legacy.ok else None,
    )
    nft_sec = one("nft_libvirt")
    nft = NftLibvirt(installed="nft" in commands,
                     table_present=bool(nft_sec and nft_sec.ok and "table ip libvirt_network" in nft_sec.text),
                     text=nft_sec.text if nft_sec and nft_sec.ok else "")
    fw = firewalld.build_firewalld(
        installed="firewall-cmd" in commands,
        state_text=_text(one("firewalld_state")),
        version_text=_text(one("firewalld_version")),
        zones_text=_text(one("firewalld_zones")),
        zones_rc=_rc(one("firewalld_zones")),
    )

    backend_cfg = None
    ifup = None
    configs = []
    ifup_sec = by_kind.get("ifup_eth", [])
    if ifup_sec:
        ifup = bridge_config.ifup_style("\n".join(s.text for s in ifup_sec))
    unreadable = []
    for s in by_kind.get("file", []):
        if not s.ok:
            if "Permission denied" in s.text:
                unreadable.append(s.arg)
            continue
        if s.arg == "/etc/libvirt/network.conf":
            backend_cfg = _network_conf_backend(s.text)
            continue
        try:
            configs.extend(bridge_config.parse_config_file(s.arg, s.text, ifup))
        except Exception as e:  # one bad file must not hide the others
            problems.append(f"{s.arg}: not understood ({type(e).__name__}: {e})")

    log_lines, log_sources = [], []
    log = one("libvirt_log")
    if log:
        for line in log.text.splitlines():
            if line.startswith("searched="):
                log_sources.append(line[len("searched="):])
            elif any(m in line for m in _LOG_MARKERS):
                log_lines.append(line.strip()[:500])

    qemu = []
    q = one("qemu_procs")
    if q:
        for line in q.text.splitlines():
            m = re.match(r"pid=(\d+) vhost_fds=(\d+) name=(.*)$", line)
            if m:
                qemu.append(QemuProcess(int(m.group(1)), _qemu_guest_name(m.group(3)), int(m.group(2))))

    libvirt_installed = bool({"virsh", "libvirtd", "virtnetworkd"} & commands) or "libvirt_socket" in kv
    if raw_libvirt is None or raw_libvirt.error:
        virsh_raw = raw_from_virsh(by_kind)
        state_files = ("libvirt_net_status", "libvirt_net_config", "libvirt_dom_status", "libvirt_dom_config")
        if virsh_raw.error and any(by_kind.get(k) for k in state_files):
            virsh_raw = raw_from_state_files(by_kind, virsh_raw.error)
        notes = []
        if raw_libvirt is not None and raw_libvirt.error:
            notes.append(raw_libvirt.error)
        if virsh_raw.error and raw_libvirt is not None:
            virsh_raw.error = f"{raw_libvirt.error}; virsh fallback: {virsh_raw.error}"
            virsh_raw.uri = raw_libvirt.uri
        view = build_libvirt_view(virsh_raw, problems, tuple(notes))
    else:
        view = build_libvirt_view(raw_libvirt, problems, ())

    return HostFacts(
        host=host, spec=spec,
        hostname=first(kv, "hostname"),
        uid=to_int(first(kv, "uid")),
        clk_tck=clk,
        kernel=first(kv, "kernel"),
        commands=commands,
        vhost_net=first(kv, "vhost_net_dev") == "1",
        vhost_net_module=first(kv, "vhost_net_module") == "1",
        libvirt_installed=libvirt_installed,
        bridges=tuple(bridges),
        tc=tuple(tcs),
        iptables=ipt,
        nft=nft,
        firewalld=fw,
        firewall_backend_config=backend_cfg,
        libvirt_log_lines=tuple(log_lines),
        libvirt_log_sources=tuple(log_sources),
        bridge_configs=tuple(configs),
        qemu=tuple(qemu),
        libvirt=view,
        parse_errors=tuple(problems),
        unreadable=tuple(unreadable),
    )


def _qemu_guest_name(arg: str) -> str:
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


def _text(s: Optional[Section]) -> Optional[str]:
    return s.text if s is not None else None


def _rc(s: Optional[Section]) -> Optional[int]:
    return s.rc if s is not None else None


def _network_conf_backend(text: str) -> Optional[str]:
    for line in text.splitlines():
        m = re.match(r'\s*firewall_backend\s*=\s*["\']?([a-z]+)["\']?', line)
        if m:
            return m.group(1)
    return None


def raw_from_virsh(by_kind: dict[str, list[Section]]) -> RawLibvirt:
    ver = (by_kind.get("virsh_version") or [None])[0]
    if ver is None:
        return RawLibvirt("none", None, error="virsh is not available on the host")
    if not ver.ok:
        return RawLibvirt("none", "qemu:///system",
                          error="virsh --readonly could not connect: " + " ".join(ver.text.split())[-300:])
    raw = RawLibvirt("virsh", "qemu:///system")
    m = re.search(r"Using library: libvirt (\d+)\.(\d+)\.(\d+)", ver.text)
    if m:
        raw.lib_version = tuple(int(x) for x in m.groups())
    m = re.search(r"Running hypervisor: (\S+ [\d.]+)", ver.text)
    if m:
        raw.hypervisor_version = m.group(1)
    uuid_re = re.compile(r"^[0-9a-fA-F-]{36}$")

    def uuids(kind: str) -> set[str]:
        out = set()
        for s in by_kind.get(kind, []):
            out |= {ln.strip() for ln in s.text.splitlines() if uuid_re.match(ln.strip())}
        return out

    active_nets = uuids("virsh_nets")
    inactive_xml = {s.arg: s.text for s in by_kind.get("virsh_net_xml_inactive", []) if s.ok}
    autostart = {}
    for s in by_kind.get("virsh_net_autostart", []):
        m = re.search(r"^Autostart:\s+(\S+)", s.text, re.MULTILINE)
        p = re.search(r"^Persistent:\s+(\S+)", s.text, re.MULTILINE)
        autostart[s.arg] = (m.group(1) == "yes" if m else None, p.group(1) == "yes" if p else True)
    for s in by_kind.get("virsh_net_xml", []):
        if not s.ok:
            continue
        auto, persistent = autostart.get(s.arg, (None, True))
        active = s.arg in active_nets
        raw.networks.append(RawNetwork(s.arg, active, persistent, auto, s.text,
                                       inactive_xml.get(s.arg) if active and persistent else None))
    active_doms = uuids("virsh_doms")
    for s in by_kind.get("virsh_dom_xml", []):
        if s.ok:
            raw.domains.append((s.arg in active_doms, s.text))
    return raw


def raw_from_state_files(by_kind: dict[str, list[Section]], why: str) -> RawLibvirt:
    """Networks and guests from libvirt's own files, when no daemon answers.

    Running ones from the status files under /run/libvirt, defined ones from /etc/libvirt/qemu.
    """
    raw = RawLibvirt("files", None)

    def name_of(xml: str, parse) -> Optional[str]:
        try:
            return parse(xml).name
        except libvirt_xml.XmlError:
            return None

    net_status = {name_of(s.text, libvirt_xml.parse_network): s.text
                  for s in by_kind.get("libvirt_net_status", []) if s.ok}
    net_config = {name_of(s.text, libvirt_xml.parse_network): s.text
                  for s in by_kind.get("libvirt_net_config", []) if s.ok}
    for name in sorted(n for n in set(net_status) | set(net_config) if n):
        live = net_status.get(name) or net_config[name]
        raw.networks.append(RawNetwork(None, name in net_status, name in net_config, None, live,
                                       net_config.get(name) if name in net_status else None))
    parse_dom = lambda x: libvirt_xml.parse_domain(x, False)  # noqa: E731
    dom_status = {name_of(s.text, parse_dom): s.text for s in by_kind.get("libvirt_dom_status", []) if s.ok}
    dom_config = {name_of(s.text, parse_dom): s.text for s in by_kind.get("libvirt_dom_config", []) if s.ok}
    for name in sorted(n for n in set(dom_status) | set(dom_config) if n):
        raw.domains.append((name in dom_status, dom_status.get(name) or dom_config[name]))
    raw.note = f"no libvirt daemon answered ({why}); networks and guests were read from libvirt's state files"
    return raw


def build_libvirt_view(raw: RawLibvirt, problems: list[str], notes: tuple[str, ...]) -> LibvirtView:
    if raw.error:
        return LibvirtView("none", raw.uri, raw.lib_version, raw.hypervisor_version, (), (),
                           error=raw.error, notes=notes)
    if raw.note:
        notes = notes + (raw.note,)
    networks = []
    for n in raw.networks:
        try:
            live = libvirt_xml.parse_network(n.xml)
            pers = libvirt_xml.parse_network(n.inactive_xml) if n.inactive_xml else (live if n.persistent else None)
        except libvirt_xml.XmlError as e:
            problems.append(f"network {n.uuid}: {e}")
            continue
        networks.append(LibvirtNetwork(live.name, live.uuid or n.uuid, n.active, n.persistent, n.autostart,
                                       live, pers))
    guests: list[Guest] = []
    for active, xml in raw.domains:
        try:
            guests.append(libvirt_xml.parse_domain(xml, active))
        except libvirt_xml.XmlError as e:
            problems.append(f"guest: {e}")
    return LibvirtView(raw.source, raw.uri, raw.lib_version, raw.hypervisor_version,
                       tuple(networks), tuple(guests), notes=notes)
