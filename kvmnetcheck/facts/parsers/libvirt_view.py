"""libvirt's view of a host: from the read-only connection, else from the collector's
`virsh --readonly` output, else from libvirt's own state files; then parsed.
"""

from __future__ import annotations

import re
from typing import Optional

from ...raw import RawLibvirt, RawNetwork
from ..model import Guest, LibvirtNetwork, LibvirtView
from . import libvirt_xml
from .gathered import Gathered
from .keyvalue import parse_key_values
from .sections import Section


def libvirt_view(
    by_kind: dict[str, list[Section]], raw_libvirt: Optional[RawLibvirt], problems: list[str]
) -> LibvirtView:
    """The view from the connection when it answered, else from what the collector printed: virsh
    --readonly, else libvirt's state files. Read any other way than through the connection, the
    view's `fallback` says why each better source was not used."""
    if raw_libvirt is not None and not raw_libvirt.error:
        return build_libvirt_view(raw_libvirt, problems, ())
    why_not = (
        raw_libvirt.error
        if raw_libvirt is not None
        else "not tried: these facts were gathered without a libvirt connection "
        "(ansible_gather reads libvirt with virsh on each host)"
    )
    if not why_not.startswith("libvirt-python"):
        why_not = f"libvirt-python: {why_not}"
    raw = raw_from_virsh(by_kind, problems)
    if raw.error:
        why_not = f"{why_not}; {raw.error}"
        state_files = ("libvirt_net_status", "libvirt_net_config", "libvirt_dom_status", "libvirt_dom_config")
        if any(by_kind.get(k) for k in state_files):
            raw = raw_from_state_files(by_kind)
        else:
            raw.error = why_not
            raw.uri = raw_libvirt.uri if raw_libvirt is not None else raw.uri
    return build_libvirt_view(raw, problems, (why_not,), fallback=why_not)


def read_libvirt(g: Gathered) -> LibvirtView:
    """The view, from the connection's answer or the `virsh_*` and `libvirt_*` state file sections."""
    for kind in ("libvirt_net_status", "libvirt_net_config", "libvirt_dom_status", "libvirt_dom_config"):
        for s in g.all(kind):
            g.readable(s)  # a state file refused to the checking user is named by host-reachable
    return libvirt_view(g.by_kind, g.raw_libvirt, g.problems)


_DOMAIN_TAG = re.compile(r"<domain\b[^>]*>")
_ID = re.compile(r"""\sid\s*=\s*["']\d+["']""")


def _running(xml: str) -> bool:
    """Whether libvirt wrote this domain XML of a running guest: its root element has an id."""
    tag = _DOMAIN_TAG.search(xml)
    return bool(tag and _ID.search(tag.group()))


def raw_from_virsh(by_kind: dict[str, list[Section]], problems: Optional[list[str]] = None) -> RawLibvirt:
    """The collector's `virsh --readonly` sections. Collector format 4 lists networks and guests once
    each (`virsh_net_uuids`, `virsh_dom_uuids`): a network's state is in its net-info, a running
    guest's XML has an id (libvirt docs/formatdomain.rst: "Inactive machines have no id value").
    Earlier collectors printed `virsh version` and the active lists beside the full ones."""
    ver = (by_kind.get("virsh_version") or [None])[0]
    listing = (by_kind.get("virsh_net_uuids") or [None])[0]
    probe = ver if ver is not None else listing
    if probe is None:
        return RawLibvirt("none", None, error="virsh is not available on the host")
    if not probe.ok:
        return RawLibvirt("none", "qemu:///system", error=_virsh_error(probe, by_kind))
    raw = RawLibvirt("virsh", "qemu:///system")
    m = re.search(r"Using library: libvirt (\d+)\.(\d+)\.(\d+)", ver.text if ver is not None else "")
    if m is None:
        client = (by_kind.get("virsh_client") or [None])[0]
        m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)\s*$", client.text) if client is not None and client.ok else None
    if m:
        raw.lib_version = tuple(int(x) for x in m.groups())
    m = re.search(r"Running hypervisor: (\S+ [\d.]+)", ver.text) if ver is not None else None
    if m:
        raw.hypervisor_version = m.group(1)
    uuid_re = re.compile(r"^[0-9a-fA-F-]{36}$")

    def uuids(kind: str) -> set[str]:
        out = set()
        for s in by_kind.get(kind, []):
            out |= {ln.strip() for ln in s.text.splitlines() if uuid_re.match(ln.strip())}
        return out

    old_lists = ver is not None  # collector formats 1 to 3: the active networks and guests listed apart
    active_nets = uuids("virsh_nets")
    inactive_xml = {s.arg: s.text for s in by_kind.get("virsh_net_xml_inactive", []) if s.ok}
    info = {}
    for s in by_kind.get("virsh_net_autostart", []):
        m = re.search(r"^Autostart:\s+(\S+)", s.text, re.MULTILINE)
        p = re.search(r"^Persistent:\s+(\S+)", s.text, re.MULTILINE)
        a = re.search(r"^Active:\s+(\S+)", s.text, re.MULTILINE)
        info[s.arg] = (
            m.group(1) == "yes" if m else None,
            p.group(1) == "yes" if p else True,
            a.group(1) == "yes" if a else None,
        )
    for s in by_kind.get("virsh_net_xml", []):
        if not s.ok:
            continue
        auto, persistent, active = info.get(s.arg, (None, True, None))
        if old_lists:
            active = s.arg in active_nets
        elif active is None:  # no net-info answer: whether it runs is unknown, not "no"
            if problems is not None:
                problems.append(f"virsh net-info {s.arg} said nothing of the network's state: it is left out")
            continue
        raw.networks.append(
            RawNetwork(
                s.arg, active, persistent, auto, s.text, inactive_xml.get(s.arg) if active and persistent else None
            )
        )
    active_doms = uuids("virsh_doms")
    for s in by_kind.get("virsh_dom_xml", []):
        if s.ok:
            running = s.arg in active_doms if old_lists else _running(s.text)
            raw.domains.append((running, s.text))
    return raw


def _virsh_error(probe: Section, by_kind: dict[str, list[Section]]) -> str:
    """Why virsh --readonly gave no listing; `timeout` ends a command past the collector's limit
    with status 124 (coreutils timeout(1))."""
    said = " ".join(probe.text.split())[-300:]
    if probe.rc == 124:
        meta = parse_key_values((by_kind.get("meta") or [Section("meta", "", "", 0)])[0].text)
        limit = (meta.get("command_timeout") or [""])[0]
        within = (
            f"within {limit} s (the collector's limit per command; a longer host timeout raises it)"
            if limit
            else "in time (the collector's limit per command)"
        )
        return f"virsh --readonly did not answer {within}" + (f": {said}" if said else "")
    return "virsh --readonly could not connect: " + said


def raw_from_state_files(by_kind: dict[str, list[Section]]) -> RawLibvirt:
    """Networks and guests from libvirt's own files, when no daemon answers.

    Running ones from the status files under /run/libvirt, defined ones from /etc/libvirt/qemu.
    """
    raw = RawLibvirt("files", None)

    def name_of(xml: str, parse) -> Optional[str]:
        try:
            return parse(xml).name
        except libvirt_xml.XmlError:
            return None

    net_status = {
        name_of(s.text, libvirt_xml.parse_network): s.text for s in by_kind.get("libvirt_net_status", []) if s.ok
    }
    net_config = {
        name_of(s.text, libvirt_xml.parse_network): s.text for s in by_kind.get("libvirt_net_config", []) if s.ok
    }
    for name in sorted(n for n in set(net_status) | set(net_config) if n):
        live = net_status.get(name) or net_config[name]
        raw.networks.append(
            RawNetwork(
                None,
                name in net_status,
                name in net_config,
                None,
                live,
                net_config.get(name) if name in net_status else None,
            )
        )
    # a file whose XML is refused is a network all the same: passed on under its path, to be refused and named
    for kind in ("libvirt_net_status", "libvirt_net_config"):
        for s in by_kind.get(kind, []):
            if s.ok and name_of(s.text, libvirt_xml.parse_network) is None:
                raw.networks.append(
                    RawNetwork(s.arg, kind == "libvirt_net_status", kind == "libvirt_net_config", None, s.text, None)
                )
    parse_dom = lambda x: libvirt_xml.parse_domain(x, False)  # noqa: E731
    dom_status = {name_of(s.text, parse_dom): s.text for s in by_kind.get("libvirt_dom_status", []) if s.ok}
    dom_config = {name_of(s.text, parse_dom): s.text for s in by_kind.get("libvirt_dom_config", []) if s.ok}
    for name in sorted(n for n in set(dom_status) | set(dom_config) if n):
        raw.domains.append((name in dom_status, dom_status.get(name) or dom_config[name]))
    return raw


def build_libvirt_view(
    raw: RawLibvirt, problems: list[str], notes: tuple[str, ...], fallback: Optional[str] = None
) -> LibvirtView:
    if raw.error:
        return LibvirtView(
            "none", raw.uri, raw.lib_version, raw.hypervisor_version, (), (), error=raw.error, notes=notes
        )
    if raw.note:
        notes = notes + (raw.note,)
    networks, refused = [], []
    for n in raw.networks:
        try:
            live = libvirt_xml.parse_network(n.xml)
            pers = libvirt_xml.parse_network(n.inactive_xml) if n.inactive_xml else (live if n.persistent else None)
        except libvirt_xml.XmlError as e:
            problems.append(f"network {n.uuid}: {e}")
            refused.append(f"{n.uuid}: {e}")
            continue
        networks.append(LibvirtNetwork(live.name, live.uuid or n.uuid, n.active, n.persistent, n.autostart, live, pers))
    guests: list[Guest] = []
    for active, xml in raw.domains:
        try:
            guests.append(libvirt_xml.parse_domain(xml, active))
        except libvirt_xml.XmlError as e:
            problems.append(f"guest: {e}")
    return LibvirtView(
        raw.source,
        raw.uri,
        raw.lib_version,
        raw.hypervisor_version,
        tuple(networks),
        tuple(guests),
        notes=notes,
        fallback=fallback,
        refused_networks=tuple(refused),
    )
