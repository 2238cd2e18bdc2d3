"""libvirt as it was read: networks (running and saved definitions), guests and their NICs, and the view
that holds them (which source was read, and why a better one was not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .bridge import MAX_FORWARD_DELAY_S, MIN_FORWARD_DELAY_S

# libvirt src/conf/domain_conf.c virDomainNetIsVirtioModel (transitional models since libvirt 5.2.0)
VIRTIO_MODELS = frozenset({"virtio", "virtio-transitional", "virtio-non-transitional"})


@dataclass(frozen=True)
class DhcpConfig:
    ranges: tuple[tuple[str, str], ...] = ()
    hosts: int = 0
    bootp_file: Optional[str] = None
    host_ips: tuple[str, ...] = ()  # addresses <host> elements reserve
    bootp_server: Optional[str] = None
    host_macs: tuple[str, ...] = ()  # MAC addresses <host> elements name (dnsmasq's "known" clients)


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
class GuestDisk:
    """A <disk>: what the firmware could boot from it (docs/formatdomain.rst "Hard drives, floppy disks,
    CDROMs")."""

    device: str  # disk | cdrom | floppy | lun
    target: Optional[str]  # <target dev='vda'/>
    source: Optional[str]  # file, dev, volume or network name of its <source>; None: no medium
    boot_order: Optional[int] = None

    @property
    def label(self) -> str:
        return f"{self.device} {self.target or '?'}"


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
    disk_devices: tuple[GuestDisk, ...] = ()  # each <disk>, in device order
    other_boot_devices: tuple[tuple[int, str], ...] = ()  # (boot order, element) of hostdev, redirdev, ...

    @property
    def per_device_boot(self) -> bool:
        """Boot order set per device (<boot order='N'/>), which libvirt allows only without <os><boot>."""
        return bool(self.other_boot_orders) or any(n.boot_order is not None for n in self.nics)


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
class QemuFirmware:
    emulator: str
    dirs: tuple[str, ...]
    roms: frozenset[str]
