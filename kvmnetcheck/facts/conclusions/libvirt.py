"""libvirt at run time: which daemon runs its networks, where a guest NIC plugs in, which QEMU process runs a
guest."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..model import Guest, GuestNic, HostFacts, LibvirtNetwork, NetStack, QemuProcess, Unreadable


def network_daemon(h: HostFacts) -> str:
    """The libvirt daemon that keeps networks' firewall rules: virtnetworkd where it runs, else libvirtd; with
    the processes unread, virtnetworkd where it is the one installed."""
    if h.daemons is None:
        return "virtnetworkd" if "virtnetworkd" in h.commands and "libvirtd" not in h.commands else "libvirtd"
    comms = {p.comm for p in h.daemons}
    return "virtnetworkd" if "virtnetworkd" in comms else "libvirtd"


def not_a_kvm_host(h: HostFacts) -> bool:
    """Reached and read whole, with no libvirt (no virsh, daemon or socket, nothing read of it) and no
    Linux or Open vSwitch bridge: nothing here for a check to judge."""
    return (
        h.reachable
        and not h.parse_errors
        and not h.unreadable
        and not h.libvirt_installed
        and h.libvirt.source == "none"
        and not h.bridges
        and h.bridges_error is None
        and not h.ovs.installed
    )


@dataclass(frozen=True)
class LibvirtStart:
    """How to start the libvirt daemons this host uses: a fix variant (`libvirtd`, `modular`, `sysv`),
    or None with the reason it cannot be told."""

    variant: Optional[str]
    reason: str


MODULAR = frozenset({"virtqemud", "virtnetworkd"})


def libvirt_start(ns: NetStack) -> LibvirtStart:
    """libvirt docs/daemons.rst: the monolithic libvirtd or the modular virtqemud and virtnetworkd (with
    systemd, socket activated: virtqemud.socket, virtqemud-ro.socket...); a host uses the ones it enables,
    else the only ones it has. Without systemd, libvirtd's init script."""
    if ns.libvirt_units is None:
        return LibvirtStart(
            None, "these facts were gathered by an older kvm-netcheck that did not read how libvirt is started"
        )
    if ns.systemd:
        modular_on = MODULAR <= ns.libvirt_enabled
        if modular_on and "libvirtd" not in ns.libvirt_enabled:
            return LibvirtStart("modular", "virtqemud and virtnetworkd are enabled")
        if "libvirtd" in ns.libvirt_enabled and not modular_on:
            return LibvirtStart("libvirtd", "libvirtd is enabled")
        has_modular, has_mono = MODULAR <= ns.libvirt_units, "libvirtd" in ns.libvirt_units
        if has_modular and not has_mono:
            return LibvirtStart("modular", "only the modular daemons are installed")
        if has_mono and not has_modular:
            return LibvirtStart("libvirtd", "only libvirtd is installed")
        if has_mono:
            return LibvirtStart(
                None,
                "both libvirtd and the modular daemons are installed and the enabled ones do not tell which to use",
            )
        return LibvirtStart(None, "no systemd unit of libvirtd, virtqemud or virtnetworkd is installed")
    if "libvirtd" in ns.libvirt_initscripts:
        return LibvirtStart("sysv", "the host runs no systemd and has libvirtd's init script")
    return LibvirtStart(None, "the host runs no systemd and has no init script of libvirtd")


@dataclass(frozen=True)
class NicAttachment:
    bridge: Optional[str]
    network: Optional[LibvirtNetwork]
    skip_reason: Optional[str] = None
    ovs: bool = False  # the bridge is an Open vSwitch bridge (<virtualport type='openvswitch'/>)


def nic_attachment(h: HostFacts, nic: GuestNic) -> NicAttachment:
    """Where the NIC plugs in; Unreadable when its network is none of those read while some network's XML
    was refused (it may be that one)."""
    if nic.type == "network":
        net = h.libvirt.network(nic.source_network)
        if net is None and h.libvirt.refused_networks:
            refused = h.libvirt.refused_networks
            raise Unreadable(
                f"its network {nic.source_network!r} is none of the networks read, and the XML of "
                f"{len(refused)} network(s) was refused, so it may be one of them: "
                + "; ".join(refused[:3])
                + (" ..." if len(refused) > 3 else "")
            )
        if net is None:
            return NicAttachment(None, None, f"its network {nic.source_network!r} is not defined on this host")
        bridge = nic.source_bridge or net.bridge_name
        if not bridge:
            return NicAttachment(
                None,
                net,
                f"network {net.name!r} (forward mode {net.live.forward_mode}) plugs guests into no host bridge",
            )
        ovs = "openvswitch" in (nic.virtualport, net.live.virtualport)
        return NicAttachment(bridge, net, ovs=ovs)
    if nic.type == "bridge":
        if not nic.source_bridge:
            return NicAttachment(None, None, "bridge interface without a source bridge")
        return NicAttachment(
            nic.source_bridge, h.libvirt.network_of_bridge(nic.source_bridge), ovs=nic.virtualport == "openvswitch"
        )
    return NicAttachment(None, None, f"a type='{nic.type}' interface is not plugged into a host bridge")


# the user libvirt's QEMU driver runs QEMU as when qemu.conf sets none, by the build's default (libvirt
# meson.build qemu_user: qemu on Fedora/RHEL/SUSE/Gentoo, libvirt-qemu on Debian/Ubuntu/Arch, else root)
DEFAULT_QEMU_USERS = frozenset({"qemu", "libvirt-qemu", "root"})


def qemu_users(h: HostFacts, guest: Guest) -> tuple[frozenset, frozenset, str]:
    """(uids, user names, how known) libvirt runs this guest's QEMU as, root always among them: the DAC label
    of its live XML, else qemu.conf's user= (src/qemu/qemu_conf.c), else any build's default."""

    def ids(spec: str) -> tuple[frozenset, frozenset]:
        spec = spec.strip()
        if spec.startswith("+") and spec[1:].isdigit():
            return frozenset({int(spec[1:])}), frozenset()
        return (frozenset({int(spec)}), frozenset()) if spec.isdigit() else (frozenset(), frozenset({spec}))

    if guest.dac_label and guest.dac_label.split(":", 1)[0].strip():
        uids, names = ids(guest.dac_label.split(":", 1)[0])
        how = f"the user of its DAC label {guest.dac_label!r}"
    elif h.libvirt_qemu.conf_user:
        uids, names = ids(h.libvirt_qemu.conf_user)
        how = f"qemu.conf's user {h.libvirt_qemu.conf_user!r}"
    else:
        uids, names = frozenset(), DEFAULT_QEMU_USERS
        how = "libvirt's default QEMU user (" + ", ".join(sorted(DEFAULT_QEMU_USERS)) + ")"
    return uids | {0}, names | {"root"}, how + " or root"


def runs_as(q: QemuProcess, uids: frozenset, users: frozenset) -> bool:
    """Does it run, with all its ids alike (as libvirt starts QEMU), as one of these users?"""
    return q.uid is not None and q.euid == q.uid and (q.uid in uids or q.user in users)


def qemu_of(h: HostFacts, guest: Guest) -> Optional[QemuProcess]:
    """The QEMU process libvirt runs `guest` in, or None when none is seen. Any user may start a process
    named after a guest: it is libvirt's when its pid is the one libvirt keeps for the guest
    (/run/libvirt/qemu/GUEST.pid), or, without that, when it runs as the user libvirt runs QEMU as.
    Unreadable when that cannot be told, or when several processes qualify."""
    if h.qemu is None:
        raise Unreadable(f"which QEMU process runs guest {guest.name} is unknown: {h.processes_error}")
    pid = h.libvirt_qemu.pid_of(guest.name)
    if pid is not None:
        return next((q for q in h.qemu if q.pid == pid), None)
    named = [q for q in h.qemu if q.guest == guest.name]
    if not named:
        return None
    pids = ", ".join(str(q.pid) for q in named)
    if any(q.uid is None for q in named):
        raise Unreadable(
            f"QEMU process(es) {pids} name guest {guest.name}, but who runs them was not gathered "
            "(facts of an older version): whether libvirt runs them is unknown; gather again"
        )
    uids, names, how = qemu_users(h, guest)
    ours = [q for q in named if runs_as(q, uids, names)]
    if len(ours) > 1:
        raise Unreadable(
            f"{len(ours)} QEMU processes run as {how} and name guest {guest.name} (pids "
            f"{', '.join(str(q.pid) for q in ours)}): which one libvirt runs is unknown; as root "
            f"(--sudo), /run/libvirt/qemu/{guest.name}.pid says"
        )
    return ours[0] if ours else None


def network_start_error(h: HostFacts, network: LibvirtNetwork) -> Optional[str]:
    """The error libvirt's daemon logged when the network last failed to start, as it logged it: of the
    lines that name the network ('NAME') or its bridge (libvirt's messages name one or the other, e.g.
    "Failed to apply firewall command 'tc filter add dev BRIDGE ...'"), the first of the last attempt
    (lines of one thread, each within 2 s of the one before): the cause, which libvirt reports first and
    returns to the caller; what follows is its undoing ("Cannot get interface flags on 'BRIDGE'", "error
    destroying network device BRIDGE"). None when the log kept none the host let us read."""
    words = [f"'{network.name}'", f"network {network.name}"]
    bridge = network.live.bridge_name or (network.persistent_def.bridge_name if network.persistent_def else None)
    pattern = re.compile(r"(?<![\w.-])" + re.escape(bridge) + r"(?![\w.-])") if bridge else None
    named = [
        line
        for line in h.libvirt_log_errors
        if any(w in line for w in words) or (pattern is not None and pattern.search(line))
    ]
    if not named:
        return None
    first = len(named) - 1
    while first > 0 and _same_attempt(named[first - 1], named[first]):
        first -= 1
    return _message_of(named[first])


# libvirt's log file: "2026-12-07 19:05:22.702+0000: 25: error : ..." (time, thread); the journal (short-iso):
# "2026-12-07T19:05:22+0000 HOST libvirtd[812]: ..." (time to the second, process)
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d):(\d\d):(\d\d(?:\.\d+)?)\S*?:? (\d+:|\S+ \S+\[\d+\]:)")


def _same_attempt(earlier: str, later: str) -> bool:
    a, b = _STAMP.match(earlier), _STAMP.match(later)
    if a is None or b is None or a.group(1) != b.group(1) or a.group(5) != b.group(5):
        return False
    seconds = [int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4)) for m in (a, b)]
    return 0 <= seconds[1] - seconds[0] <= 2.0


def _message_of(line: str) -> str:
    """A log line's message: after libvirt's "error : FUNCTION:LINE : " or the journal's "IDENT[PID]: "."""
    m = re.search(r": error : \S+ : (.*)$", line) or re.search(r"\]: (.*)$", line)
    return (m.group(1) if m else line).strip()
