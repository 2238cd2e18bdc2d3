"""Typed facts about one host: what the checks read, with units already converted.

Everything here is immutable and built once per host by the parsers. A value the
collector could not read is None (or an empty tuple) and, where it matters, the
reason is kept beside it so a check can say why it cannot decide.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .netstack import NetStack

# sysfs stp_state values
STP_OFF = 0
STP_KERNEL = 1
STP_USER = 2

# the first kernel whose bridge forwards at once on a new port while STP is off: the shortcut in
# br_make_forwarding is absent from 2.6.36 and present in 2.6.39.3 (the exact commit was not
# found; judged from 2.6.39 on, so 2.6.37/38 hosts are held to the older, stricter behaviour)
STP_OFF_SHORTCUT_KERNEL = (2, 6, 39)

# kernel limits on forward_delay while STP is on (net/bridge/br_private_stp.h)
MIN_FORWARD_DELAY_S = 2.0
MAX_FORWARD_DELAY_S = 30.0

PORT_STATES = {0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking"}
PORT_BLOCKING = 4

# libvirt src/conf/domain_conf.c virDomainNetIsVirtioModel (transitional models since libvirt 5.2.0)
VIRTIO_MODELS = frozenset({"virtio", "virtio-transitional", "virtio-non-transitional"})


class Unreadable(Exception):
    """A fact a check needs could not be read on this host (reported as an error, never as a pass)."""


@dataclass(frozen=True)
class BridgePort:
    name: str
    state: Optional[int]

    @property
    def state_name(self) -> str:
        return PORT_STATES.get(self.state, "unknown") if self.state is not None else "unknown"


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge as the kernel runs it now (/sys/class/net/BR/bridge)."""

    name: str
    stp_state: Optional[int]
    forward_delay_s: Optional[float]
    hello_time_s: Optional[float] = None
    max_age_s: Optional[float] = None
    bridge_id: Optional[str] = None
    root_id: Optional[str] = None
    root_port: Optional[int] = None
    priority: Optional[int] = None
    operstate: Optional[str] = None
    ports: Optional[tuple[BridgePort, ...]] = ()  # None: its port list could not be read (ports_error says why)
    error: Optional[str] = None
    waits_without_stp: bool = False  # a kernel older than the STP-off shortcut (< 2.6.39)
    nf_call_iptables: Optional[bool] = None  # this bridge's own br_netfilter switch (either it or the sysctl)
    vlan_filtering: Optional[bool] = None
    ports_error: Optional[str] = None

    @property
    def kernel_stp(self) -> bool:
        return self.stp_state == STP_KERNEL

    @property
    def new_port_block_s(self) -> Optional[float]:
        """How long a newly added port passes no traffic: listening + learning with kernel STP; with
        STP off, none (net/bridge/br_stp.c br_make_forwarding), except on kernels before 2.6.39,
        where a port of a bridge without STP still waited one forward delay in learning."""
        if self.stp_state == STP_OFF:
            if self.waits_without_stp and self.forward_delay_s is not None:
                return self.forward_delay_s
            return 0.0
        if self.stp_state == STP_KERNEL and self.forward_delay_s is not None:
            return 2 * self.forward_delay_s
        return None

    @property
    def is_stp_root(self) -> Optional[bool]:
        if self.root_port is None or self.bridge_id is None or self.root_id is None:
            return None
        return self.root_port == 0 and _same_bridge_id(self.bridge_id, self.root_id)


def _same_bridge_id(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


@dataclass(frozen=True)
class DhcpConfig:
    ranges: tuple[tuple[str, str], ...] = ()
    hosts: int = 0
    bootp_file: Optional[str] = None
    host_ips: tuple[str, ...] = ()  # addresses <host> elements reserve
    bootp_server: Optional[str] = None


@dataclass(frozen=True)
class NetworkIp:
    family: str
    address: Optional[str]
    prefix: Optional[str]
    dhcp: Optional[DhcpConfig]
    tftp_root: Optional[str]


# forward modes whose network makes and owns its bridge
BRIDGE_CREATING_MODES = frozenset({"none", "nat", "route", "open"})


@dataclass(frozen=True)
class NetworkDefinition:
    """One libvirt network XML (the running or the persistent definition)."""

    name: str
    uuid: Optional[str]
    forward_mode: str  # "none" when there is no <forward>
    bridge_name: Optional[str]
    stp: bool  # libvirt default: on
    delay_s: int  # libvirt default: 0
    stp_attr: Optional[str]  # as written, None when absent
    delay_attr: Optional[str]
    zone: Optional[str]
    ips: tuple[NetworkIp, ...]
    bridge_xml: Optional[str]  # the <bridge .../> element as text, for the report
    virtualport: Optional[str] = None  # <virtualport type='openvswitch'/>: an Open vSwitch bridge
    dnsmasq_options: tuple[str, ...] = ()  # <dnsmasq:options><dnsmasq:option value=.../> (libvirt >= 5.6)

    @property
    def creates_bridge(self) -> bool:
        return self.forward_mode in BRIDGE_CREATING_MODES

    @property
    def serves_dhcp(self) -> bool:
        return any(ip.dhcp is not None for ip in self.ips)

    @property
    def serves_dhcp4(self) -> bool:
        """DHCP for IPv4 (a <range> or <host>): what libvirt's checksum fix-up is for."""
        return any(ip.dhcp is not None and ip.family != "ipv6" for ip in self.ips)

    @property
    def serves_dhcp6(self) -> bool:
        return any(ip.dhcp is not None and ip.family == "ipv6" for ip in self.ips)

    @property
    def serves_pxe(self) -> bool:
        return any(ip.tftp_root or (ip.dhcp and ip.dhcp.bootp_file) for ip in self.ips)

    @property
    def kernel_forward_delay_s(self) -> float:
        """The forward delay the kernel will really apply (clamped while STP is on)."""
        return min(max(float(self.delay_s), MIN_FORWARD_DELAY_S), MAX_FORWARD_DELAY_S)

    @property
    def new_port_block_s(self) -> float:
        return 2 * self.kernel_forward_delay_s if self.stp else 0.0


@dataclass(frozen=True)
class LibvirtNetwork:
    name: str
    uuid: Optional[str]
    active: bool
    persistent: bool
    autostart: Optional[bool]
    live: NetworkDefinition  # running definition (== persistent one when inactive)
    persistent_def: Optional[NetworkDefinition]

    @property
    def bridge_name(self) -> Optional[str]:
        return self.live.bridge_name


@dataclass(frozen=True)
class GuestNic:
    guest: str
    mac: Optional[str]
    type: str  # network | bridge | direct | user | hostdev | ...
    source_network: Optional[str]
    source_bridge: Optional[str]  # for network NICs, the bridge a running guest really uses
    model: Optional[str]
    driver_name: Optional[str]
    target_dev: Optional[str]
    boot_order: Optional[int]
    index: int
    virtualport: Optional[str] = None  # <virtualport type='openvswitch'/> and the like
    source_dev: Optional[str] = None  # type='direct': the macvtap's lower device
    source_mode: Optional[str] = None  # type='direct': vepa | bridge | private | passthrough
    rom_enabled: Optional[bool] = None  # <rom enabled='no'/>: no option ROM at all (libvirt >= 4.3)
    rom_bar: Optional[bool] = None  # <rom bar='off'/>
    rom_file: Optional[str] = None  # <rom file='...'/>
    link_down: bool = False  # <link state='down'/> (virsh domif-setlink GUEST IFACE down)

    @property
    def label(self) -> str:
        return self.mac or f"nic{self.index}"

    @property
    def is_virtio(self) -> bool:
        """Every model libvirt runs as virtio-net, with vhost where it can (virDomainNetIsVirtioModel)."""
        return (self.model or "").lower() in VIRTIO_MODELS


@dataclass(frozen=True)
class Guest:
    name: str
    uuid: Optional[str]
    active: bool
    domain_type: Optional[str]
    boots_from_network: bool  # <os><boot dev='network'/> or a <boot order> on a NIC
    os_hint: Optional[str]  # from libosinfo metadata, when libvirt has it
    nics: tuple[GuestNic, ...]
    boot_devs: tuple[str, ...] = ()  # <os><boot dev=...> in order
    other_boot_orders: tuple[int, ...] = ()  # <boot order> of disks and other devices than NICs
    disks: int = 0  # <disk> devices (disks, cdroms, floppies)
    uefi: Optional[bool] = None  # firmware='efi' or an OVMF <loader>; None: not said (BIOS, SeaBIOS)
    emulator: Optional[str] = None  # <devices><emulator>
    machine: Optional[str] = None  # <os><type machine=...>
    dac_label: Optional[str] = None  # <seclabel model='dac'><label>: who QEMU runs as ("+107:+107", "qemu:qemu")

    @property
    def per_device_boot(self) -> bool:
        """Boot order set per device (<boot order='N'/>), which libvirt allows only without <os><boot>."""
        return bool(self.other_boot_orders) or any(n.boot_order is not None for n in self.nics)

    def pxe_nics(self) -> tuple["GuestNic", ...]:
        """The NICs the firmware tries to network-boot from, in the order it tries them: those with a
        <boot order> by that order; with <os><boot dev='network'/>, every NIC in device order
        (libvirt passes -boot order=n, and SeaBIOS tries each NIC's boot ROM in turn)."""
        if self.per_device_boot:
            return tuple(sorted((n for n in self.nics if n.boot_order is not None), key=lambda n: n.boot_order))
        if "network" in self.boot_devs:
            return self.nics
        return ()

    def after_network_boot(self, nic: "GuestNic") -> Optional[str]:
        """What the guest boots next when network boot from `nic` finds nothing, or None."""
        pxe = self.pxe_nics()
        if nic not in pxe:
            return None
        later = pxe[pxe.index(nic) + 1:]
        if later:
            return f"NIC {later[0].label}"
        if self.per_device_boot:
            if any(o > (nic.boot_order or 0) for o in self.other_boot_orders):
                return f"the device with boot order {min(o for o in self.other_boot_orders if o > (nic.boot_order or 0))}"
            return None
        rest = [d for d in self.boot_devs[self.boot_devs.index("network") + 1:] if d in ("hd", "cdrom", "fd")]
        return f"<boot dev='{rest[0]}'/>" if rest and self.disks else None


@dataclass(frozen=True)
class IptablesRule:
    table: str
    chain: str
    text: str  # the rule as iptables-save prints it (-A CHAIN ...)
    in_iface: Optional[str]
    out_iface: Optional[str]
    target: Optional[str]
    legacy: bool = False  # from iptables-legacy's tables (a hook of its own beside iptables-nft's)


@dataclass(frozen=True)
class Iptables:
    installed: bool
    version: Optional[tuple[int, ...]] = None
    version_text: Optional[str] = None
    variant: Optional[str] = None  # nf_tables | legacy | None (old releases)
    checksum_extension: Optional[bool] = None
    rules: tuple[IptablesRule, ...] = ()
    rules_error: Optional[str] = None  # why iptables-save gave nothing usable
    policies: tuple[tuple[str, str, str], ...] = ()  # (table, built-in chain, policy); legacy tables as "legacy:filter"

    def checksum_rules_for(self, bridge: str) -> tuple[IptablesRule, ...]:
        return tuple(
            r for r in self.rules
            if r.table == "mangle" and r.target == "CHECKSUM" and r.out_iface == bridge
        )

    def rules_mentioning(self, bridge: str) -> tuple[IptablesRule, ...]:
        return tuple(r for r in self.rules if bridge in (r.in_iface, r.out_iface))


@dataclass(frozen=True)
class TcFilters:
    """tc filters of one bridge, reduced to what matters: a csum action for UDP."""

    bridge: str
    csum_udp: bool
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class FirewalldZone:
    name: str
    target: Optional[str]
    interfaces: tuple[str, ...]
    services: tuple[str, ...]
    ports: tuple[str, ...]

    def allows(self, service: str, port: str) -> bool:
        return (self.target or "").upper() == "ACCEPT" or service in self.services or port in self.ports


@dataclass(frozen=True)
class FirewalldPolicy:
    """A firewalld policy (firewalld >= 0.9): traffic from its ingress zones to its egress zones."""

    name: str
    priority: int
    target: str  # CONTINUE | ACCEPT | DROP | REJECT
    ingress: tuple[str, ...]
    egress: tuple[str, ...]
    services: tuple[str, ...]
    ports: tuple[str, ...]
    active: bool = True

    def applies(self, zone: str, to: str) -> bool:
        return (zone in self.ingress or "ANY" in self.ingress) and (to in self.egress or "ANY" in self.egress)


@dataclass(frozen=True)
class Firewalld:
    installed: bool
    running: bool
    version: Optional[str] = None
    zones: tuple[FirewalldZone, ...] = ()
    error: Optional[str] = None
    policies: tuple[FirewalldPolicy, ...] = ()
    policies_read: bool = False  # --list-all-policies answered (firewalld < 0.9 has no policies)
    default_zone: Optional[str] = None  # where an interface bound to no zone goes

    def admits_to_host(self, zone: "FirewalldZone", service: str, port: str) -> tuple[bool, str]:
        """Does traffic for `service` from interfaces in `zone` reach the host?

        Policies towards HOST with a negative priority act before the zone, the others after it
        (firewalld.policy(5)); a CONTINUE policy passes what it does not list on."""
        ordered = sorted((p for p in self.policies if p.active and p.applies(zone.name, "HOST")),
                         key=lambda p: p.priority)
        for phase in ([p for p in ordered if p.priority < 0], None, [p for p in ordered if p.priority >= 0]):
            if phase is None:
                if zone.allows(service, port):
                    return True, f"zone {zone.name}"
                if (zone.target or "").upper() not in ("", "DEFAULT", "CONTINUE"):
                    return False, f"zone {zone.name} (target {zone.target})"
                continue
            for p in phase:
                if service in p.services or port in p.ports or p.target.upper() == "ACCEPT":
                    return True, f"policy {p.name}"
                if p.target.upper() in ("REJECT", "DROP", "%%REJECT%%"):
                    return False, f"policy {p.name} (target {p.target})"
        return False, f"zone {zone.name}"

    def zone_of(self, iface: str) -> Optional[FirewalldZone]:
        for z in self.zones:
            if iface in z.interfaces:
                return z
        return None

    def effective_zone_of(self, iface: str) -> Optional[FirewalldZone]:
        """The zone that handles the interface: its own, else the default zone."""
        return self.zone_of(iface) or (self.zone(self.default_zone) if self.default_zone else None)

    def zone(self, name: str) -> Optional[FirewalldZone]:
        for z in self.zones:
            if z.name == name:
                return z
        return None


@dataclass(frozen=True)
class NftLibvirt:
    installed: bool
    table_present: bool  # table ip libvirt_network
    text: str = ""  # the ip and ip6 libvirt_network tables as nft lists them
    readable: bool = True  # `nft list tables` answered (not as an unprivileged user)
    error: Optional[str] = None

    def mentions(self, bridge: str) -> bool:
        return f'"{bridge}"' in self.text


@dataclass(frozen=True)
class BridgeConfig:
    """A bridge as a distribution's persistent network config defines it, read as the program that
    will apply it at boot reads it (units converted, that program's defaults filled in)."""

    bridge: str
    path: str
    format: str  # ifcfg | nmconnection | ifupdown | networkd | netplan
    stp: bool
    forward_delay_s: Optional[float]  # None: the key is unset (the program's default applies)
    default_delay_s: float  # what the program applies when the delay is unset
    lines: tuple[str, ...]  # the lines that set STP and the delay, for the report
    problem: Optional[str] = None  # a value the program cannot apply (DELAY=0.0 and the like)
    program: str = ""  # who reads and applies the file ("NetworkManager (ifcfg-rh)", "initscripts (ip link)")
    applies: Optional[bool] = None  # at boot; None: cannot be told from files (judged as applying)
    boot_note: str = ""  # why it applies, or why not
    connection: Optional[str] = None  # how NetworkManager names the profile (its uuid, else its id)
    waits_without_stp: bool = False  # a kernel older than the STP-off shortcut (< 2.6.39)
    unknown: Optional[str] = None  # what could not be read to judge the file (never a pass)

    @property
    def effective_forward_delay_s(self) -> float:
        d = self.default_delay_s if self.forward_delay_s is None else self.forward_delay_s
        if not self.stp:
            return max(d, 0.0)
        return min(max(d, MIN_FORWARD_DELAY_S), MAX_FORWARD_DELAY_S)

    @property
    def new_port_block_s(self) -> float:
        if self.stp:
            return 2 * self.effective_forward_delay_s
        return self.effective_forward_delay_s if self.waits_without_stp else 0.0


@dataclass(frozen=True)
class QemuProcess:
    pid: int
    guest: str  # from its -name: anyone may start a process that names any guest
    vhost_fds: Optional[int]  # None: its fds could not be listed (another user's process, not root)
    uid: Optional[int] = None  # real uid (/proc/PID/status); None: not gathered (facts of an older version)
    euid: Optional[int] = None
    user: Optional[str] = None  # the name of its real uid on the host

    def runs_as(self, uids: frozenset, users: frozenset) -> bool:
        """Does it run, with all its ids alike (as libvirt starts QEMU), as one of these users?"""
        return self.uid is not None and self.euid == self.uid and (self.uid in uids or self.user in users)


@dataclass(frozen=True)
class LibvirtQemu:
    """What the host says of the QEMU processes libvirt runs: qemu.conf's user= and each running guest's
    pid file (src/qemu/qemu_conf.c, qemu_process.c; both root's to read)."""

    conf_user: Optional[str] = None  # qemu.conf user= ("qemu", "+107"); None: unset or not read
    conf_read: bool = False  # qemu.conf was read (it may set no user=)
    pids: tuple[tuple[str, Optional[int]], ...] = ()  # (guest, pid in /run/libvirt/qemu/GUEST.pid; None: not read)

    def pid_of(self, guest: str) -> Optional[int]:
        return next((p for g, p in self.pids if g == guest), None)


@dataclass(frozen=True)
class LibvirtView:
    source: str  # "libvirt-python" | "virsh" | "files" | "none"
    uri: Optional[str]
    libvirt_version: Optional[tuple[int, int, int]]
    hypervisor_version: Optional[str]
    networks: tuple[LibvirtNetwork, ...]
    guests: tuple[Guest, ...]
    error: Optional[str] = None  # why libvirt could not be read (when source == "none")
    notes: tuple[str, ...] = ()  # e.g. why the primary source was not used
    # read through virsh or the state files: why each better source was not used
    # ("libvirt-python: connecting to ... timed out after 30 s ...")
    fallback: Optional[str] = None
    refused_networks: tuple[str, ...] = ()  # networks whose XML was not read, each "UUID: why"

    def network(self, name: Optional[str]) -> Optional[LibvirtNetwork]:
        for n in self.networks:
            if n.name == name:
                return n
        return None

    def network_of_bridge(self, bridge: str) -> Optional[LibvirtNetwork]:
        for n in self.networks:
            if n.live.creates_bridge and n.bridge_name == bridge:
                return n
        return None


@dataclass(frozen=True)
class HostFacts:
    host: str  # the name the user gave (testinfra host spec without scheme)
    spec: str
    error: Optional[str] = None  # set when the host could not be reached or read
    hostname: Optional[str] = None
    uid: Optional[int] = None
    clk_tck: Optional[int] = None
    kernel: Optional[str] = None
    commands: frozenset[str] = frozenset()
    vhost_net: bool = False
    vhost_net_module: bool = False
    libvirt_installed: bool = False
    bridges: tuple[Bridge, ...] = ()
    tc: tuple[TcFilters, ...] = ()
    iptables: Iptables = field(default_factory=lambda: Iptables(installed=False))
    nft: NftLibvirt = field(default_factory=lambda: NftLibvirt(installed=False, table_present=False))
    firewalld: Firewalld = field(default_factory=lambda: Firewalld(installed=False, running=False))
    firewall_backend_config: Optional[str] = None  # from /etc/libvirt/network.conf
    libvirt_log_lines: tuple[str, ...] = ()
    libvirt_log_sources: tuple[str, ...] = ()
    libvirt_log_unreadable: tuple[str, ...] = ()  # log files there that the checking user may not read
    bridge_configs: tuple[BridgeConfig, ...] = ()
    netstack: NetStack = field(default_factory=NetStack)
    qemu: Optional[tuple[QemuProcess, ...]] = ()  # None: the processes could not be read (processes_error)
    daemons: Optional[tuple["Process", ...]] = ()  # the network daemons and DHCP/TFTP servers running; None: unread
    processes_error: Optional[str] = None
    libvirt_qemu: LibvirtQemu = field(default_factory=LibvirtQemu)
    bridges_error: Optional[str] = None  # why the list of bridges may lack some (output cut short)
    now: Optional[int] = None  # the host's clock when gathered (seconds since the epoch)
    br_netfilter: Optional[bool] = None  # /proc/sys/net/bridge exists (None: not gathered)
    bridge_nf_call_iptables: Optional[bool] = None
    port_vlans: Optional[tuple["PortVlans", ...]] = None  # None: no VLAN-filtering bridge, or not read
    port_vlans_error: Optional[str] = None
    nft_forward: tuple[str, ...] = ()  # `nft -j list table` of each table on the forward path
    nft_forward_error: Optional[str] = None
    dhcp_servers: "DhcpServers" = field(default_factory=lambda: DhcpServers())
    qemu_firmware: Optional[tuple["QemuFirmware", ...]] = ()  # None: facts of an older version
    ovs: "Ovs" = field(default_factory=lambda: Ovs(installed=False, running=False))
    libvirt: LibvirtView = field(
        default_factory=lambda: LibvirtView("none", None, None, None, (), (), error="not gathered")
    )
    parse_errors: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()  # files the checking user was not allowed to read

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def kernel_version(self) -> Optional[tuple[int, ...]]:
        return kernel_version(self.kernel)

    def bridge(self, name: Optional[str]) -> Optional[Bridge]:
        for b in self.bridges:
            if b.name == name:
                return b
        return None

    def tc_for(self, bridge: str) -> Optional[TcFilters]:
        for t in self.tc:
            if t.bridge == bridge:
                return t
        return None

    @property
    def firewall_backend(self) -> tuple[Optional[str], str]:
        """libvirt's firewall backend and how we know it: (iptables|nftables|None, evidence)."""
        if self.firewall_backend_config in ("iptables", "nftables"):
            return self.firewall_backend_config, "firewall_backend in /etc/libvirt/network.conf"
        if self.nft.table_present:
            return "nftables", "nft table 'ip libvirt_network' is present"
        if any(r.chain.startswith("LIBVIRT_") for r in self.iptables.rules):
            return "iptables", "iptables has libvirt's LIBVIRT_* chains"
        v = self.libvirt.libvirt_version
        if v is not None and v < (10, 4, 0):
            return "iptables", f"libvirt {'.'.join(map(str, v))} predates the nftables backend (10.4)"
        return None, "no firewall_backend setting, no libvirt rules and no libvirt version seen"

    def bridge_configs_for(self, bridge: str) -> tuple[BridgeConfig, ...]:
        return tuple(c for c in self.bridge_configs if c.bridge == bridge)


def kernel_version(release: Optional[str]) -> Optional[tuple[int, ...]]:
    """(2, 6, 32) from `uname -r` such as 2.6.32-754.el6.x86_64."""
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release or "")
    if not m:
        return None
    return tuple(int(x) for x in m.groups(default="0"))


@dataclass(frozen=True)
class UdpSocket:
    """A UDP socket as `ss` shows it: address, the device it is bound to, port, processes."""

    address: str  # "0.0.0.0", "*", "10.0.0.1", "::"
    device: Optional[str]  # SO_BINDTODEVICE (ss prints 0.0.0.0%virbr0:67)
    port: int
    processes: tuple[tuple[str, int], ...] = ()  # (name, pid); empty without root
    users_known: bool = True

    @property
    def wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "*", "::", "[::]")

    def serves(self, iface: str) -> bool:
        """Would DHCP requests arriving on `iface` reach this socket?"""
        return self.device == iface or (self.device is None and self.wildcard)

    def names(self) -> str:
        return ", ".join(f"{n} (pid {p})" for n, p in self.processes) or "a process not shown without root"


@dataclass(frozen=True)
class BootFile:
    """A libvirt network's dnsmasq config (/var/lib/libvirt/dnsmasq/NETWORK.conf) on booting."""

    network: str
    tftp_root: Optional[str]
    boot: Optional[str]  # dhcp-boot=FILE[,,SERVER]
    exists: Optional[bool]  # FILE is in the TFTP root; None: not a file there to look for

    @property
    def file(self) -> Optional[str]:
        return self.boot.split(",", 1)[0] if self.boot else None


@dataclass(frozen=True)
class Lease:
    ip: str
    mac: str
    hostname: Optional[str]
    expiry: Optional[int]  # seconds since the epoch; 0: never expires


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    args: str = ""


@dataclass(frozen=True)
class PortVlans:
    port: str
    vids: tuple[int, ...]
    pvid: Optional[int]
    untagged: tuple[int, ...]


@dataclass(frozen=True)
class QemuFirmware:
    emulator: str
    dirs: tuple[str, ...]
    roms: frozenset[str]


@dataclass(frozen=True)
class DhcpServers:
    """What the host's DHCP servers look like, as far as could be read."""

    gathered: bool = True  # False: facts of an older version, which did not look
    sockets: Optional[tuple[UdpSocket, ...]] = None  # None: ss is missing or failed
    error: Optional[str] = None
    packet_ifaces: tuple[tuple[int, str], ...] = ()  # (pid, interface) of packet sockets (dhcpd's LPF)
    dnsmasq_pids: tuple[tuple[str, Optional[int]], ...] = ()  # (network, pid from its pid file)
    unreadable: tuple[str, ...] = ()  # pid, lease and dnsmasq config files the checking user could not read
    boot_files: tuple["BootFile", ...] = ()  # what each network's dnsmasq config says of booting
    leases: tuple[tuple[str, Optional[tuple[Lease, ...]]], ...] = ()  # (bridge, leases or None if garbled)
    files_error: Optional[str] = None  # why libvirt's pid, lease and dnsmasq config files were not all listed

    def on_port(self, port: int) -> tuple[UdpSocket, ...]:
        return tuple(s for s in (self.sockets or ()) if s.port == port)

    def serving(self, iface: str, port: int = 67) -> tuple[UdpSocket, ...]:
        """Sockets whose server answers requests arriving on `iface`: bound to it, or to all
        addresses by a process that reads no packet socket of its own (dhcpd's LPF names its
        interfaces; its UDP socket on 0.0.0.0 only sends)."""
        out = []
        for s in self.on_port(port):
            pids = {p for _, p in s.processes}
            lpf = {i for p, i in self.packet_ifaces if p in pids}
            if s.device == iface or (s.device is None and s.wildcard and (not lpf or iface in lpf)):
                out.append(s)
        return tuple(out)

    def boot_file(self, network: str) -> Optional["BootFile"]:
        return next((b for b in self.boot_files if b.network == network), None)

    def dnsmasq_pid(self, network: str) -> Optional[int]:
        return next((p for n, p in self.dnsmasq_pids if n == network), None)

    def has_pid_file(self, network: str) -> Optional[bool]:
        """None: none seen, but the listing of pid files was not read to its end."""
        if any(n == network for n, _ in self.dnsmasq_pids):
            return True
        return None if self.files_error else False

    def leases_of(self, bridge: str):
        """The bridge's leases; () when it has no lease file, None when they could not be read (garbled,
        refused, or the listing of lease files not read to its end)."""
        found = next((ls for b, ls in self.leases if b == bridge), False)
        if found is not False:
            return found
        return None if self.files_error else ()

# Open vSwitch STP, as ovs-vswitchd 3.1 reads other_config (vswitchd/bridge.c bridge_configure_stp) and
# clamps the timers (lib/stp.c stp_update_bridge_timers)
OVS_STP_DEFAULT_FORWARD_DELAY_S = 15.0
OVS_STP_DEFAULT_MAX_AGE_S = 20.0
OVS_STP_DEFAULT_HELLO_TIME_MS = 2000  # stp-hello-time is read as ms, though vswitch.xml says seconds
# RSTP: a port turns edge, and forwards, after the migrate time without a BPDU when rstp-port-auto-edge
# is on (its default) and the link is point-to-point (rstp-admin-p2p-mac's default): lib/rstp.h
# RSTP_MIGRATE_TIME, lib/rstp-state-machines.c edge_delay. Seen here: a guest tap forwards 3.1-3.2 s
# after it gets carrier; with rstp-port-auto-edge=false it took 22 s (max age, then hello time).
OVS_RSTP_AUTO_EDGE_S = 3.0

OVS_GUEST_TAP = re.compile(r"^(vnet|tap)\d+$")  # libvirt's and QEMU's default tap names


@dataclass(frozen=True)
class OvsInterface:
    name: str
    type: str  # "" (a system device or a tap), internal, patch, dpdkvhostuserclient, ...
    vm_id: Optional[str]  # external_ids:vm-id: libvirt sets it to the guest's UUID
    attached_mac: Optional[str]  # external_ids:attached-mac: the guest NIC's MAC, set by libvirt
    link_state: Optional[str] = None  # up | down; None before ovs-vswitchd reported it

    @property
    def is_internal(self) -> bool:
        return self.type == "internal"

    @property
    def is_guest(self) -> bool:
        """A guest's NIC: libvirt marked it, or it has a guest tap's name (an internal port never is one)."""
        if self.vm_id or self.attached_mac:
            return True
        return not self.is_internal and bool(OVS_GUEST_TAP.match(self.name))


@dataclass(frozen=True)
class OvsPort:
    name: str
    interfaces: tuple[OvsInterface, ...]  # one, or several for a bond
    stp_state: Optional[str]  # Port.status:stp_state (disabled|listening|learning|forwarding|blocking)
    rstp_state: Optional[str]  # Port.rstp_status:rstp_port_state, lower case (discarding|learning|forwarding|...)
    is_guest: bool  # one of its interfaces is a guest's NIC
    is_internal: bool  # the host's own interface on the bridge: never in the spanning tree


@dataclass(frozen=True)
class OvsBridge:
    """An Open vSwitch bridge as its database describes it (not a Linux bridge: no sysfs, no kernel STP).

    The timers are what this bridge requests; when another bridge is the STP root, the root's apply."""

    name: str
    stp: bool  # stp_enable
    rstp: bool  # rstp_enable (wins when both are on)
    stp_forward_delay_s: float = OVS_STP_DEFAULT_FORWARD_DELAY_S  # other_config:stp-forward-delay, requested
    stp_max_age_s: float = OVS_STP_DEFAULT_MAX_AGE_S  # other_config:stp-max-age, requested
    ports: tuple[OvsPort, ...] = ()
    stp_hello_time_ms: int = OVS_STP_DEFAULT_HELLO_TIME_MS  # other_config:stp-hello-time as ovs-vswitchd reads it
    error: Optional[str] = None  # what could not be read about this bridge (its ports, a garbled setting)
    stp_root: Optional[str] = None  # "self" when it is the STP root, else the root's bridge ID; None: unknown

    @property
    def spanning_tree(self) -> Optional[str]:
        """"rstp", "stp" or None: the protocol that really runs."""
        return "rstp" if self.rstp else "stp" if self.stp else None

    @property
    def stp_effective_forward_delay_s(self) -> float:
        """The forward delay ovs-vswitchd applies: at least max_age/2 + 1 s, so 11 s with the default
        max age even when 4 s (the smallest value vswitch.xml allows) is asked for."""
        # the requested values pass through uint16_t ms fields (ofproto.h ofproto_stp_settings)
        ht = _clamp(self.stp_hello_time_ms % 65536, 1000, 10000)
        ma = _clamp(int(self.stp_max_age_s * 1000) % 65536, max(2 * (ht + 1000), 6000), 40000)
        return _clamp(int(self.stp_forward_delay_s * 1000) % 65536, ma // 2 + 1000, 30000) / 1000

    @property
    def new_port_block_s(self) -> float:
        """How long a new guest port passes no traffic: with STP, listening + learning (2 x the forward
        delay); with RSTP, until the port turns edge by itself (libvirt sets no rstp-port-* keys, so a
        guest tap is auto-edge, OVS's default); with neither, none."""
        if self.rstp:
            return OVS_RSTP_AUTO_EDGE_S
        if self.stp:
            return 2 * self.stp_effective_forward_delay_s
        return 0.0

    @property
    def guest_ports(self) -> tuple[OvsPort, ...]:
        return tuple(p for p in self.ports if p.is_guest)


def _clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


@dataclass(frozen=True)
class Ovs:
    """Open vSwitch on a host, from `ovs-vsctl --format=json ... list Bridge|Port|Interface`."""

    installed: bool
    running: Optional[bool]  # ovsdb-server answered; None: could not tell (e.g. its socket refused this user)
    bridges: tuple[OvsBridge, ...] = ()
    error: Optional[str] = None  # why the bridges (or some of their ports) could not be read; never a pass

    def bridge(self, name: Optional[str]) -> Optional[OvsBridge]:
        for b in self.bridges:
            if b.name == name:
                return b
        return None
