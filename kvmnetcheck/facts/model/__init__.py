"""Typed facts about one host: what the checks read, with units already converted.

Frozen dataclasses only, built once per host by the parsers (facts/parsers/): a property here converts
units or applies the kernel's and the programs' own limits to one value, and decides nothing that needs
another fact (that is facts/conclusions/). A value the collector could not read is None (or an empty
tuple) and, where it matters, the reason is kept beside it so a check can say why it cannot decide.

One module per subject; every name is importable from here (`from kvmnetcheck.facts.model import Bridge`).
"""

from .bridge import (
    MAX_FORWARD_DELAY_S,
    MIN_FORWARD_DELAY_S,
    PORT_BLOCKING,
    PORT_STATES,
    STP_KERNEL,
    STP_OFF,
    STP_OFF_SHORTCUT_KERNEL,
    STP_USER,
    Bridge,
    BridgeConfig,
    BridgePort,
    PortVlans,
    TcFilters,
)
from .dnsmasq import BootOption, DhcpBoot, DnsmasqConf, PxeService, TagIf, TagSetter
from .firewall import Firewalld, FirewalldPolicy, FirewalldZone, Iptables, IptablesRule, NftLibvirt
from .host_facts import HostFacts, Unreadable, kernel_version
from .libvirt import (
    BRIDGE_CREATING_MODES,
    VIRTIO_MODELS,
    DhcpConfig,
    Guest,
    GuestDisk,
    GuestNic,
    LibvirtNetwork,
    LibvirtView,
    NetworkDefinition,
    NetworkIp,
    QemuFirmware,
)
from .netstack import Boot, NetStack
from .ovs import (
    OVS_GUEST_TAP,
    OVS_RSTP_AUTO_EDGE_S,
    OVS_STP_DEFAULT_FORWARD_DELAY_S,
    OVS_STP_DEFAULT_HELLO_TIME_MS,
    OVS_STP_DEFAULT_MAX_AGE_S,
    Ovs,
    OvsBridge,
    OvsInterface,
    OvsPort,
)
from .probe import IPXE_DISCOVERS, IPXE_GIVES_UP_S, IPXE_LAST_DISCOVER_S, BridgeProbe, ProbeOffer, ProbeRun, ProbeTftp
from .processes import LibvirtQemu, Process, QemuProcess
from .servers import BootFile, DhcpServers, Lease, ServerScope, UdpSocket

__all__ = [
    "BootOption",
    "DhcpBoot",
    "DnsmasqConf",
    "PxeService",
    "TagIf",
    "TagSetter",
    "BRIDGE_CREATING_MODES",
    "IPXE_DISCOVERS",
    "IPXE_GIVES_UP_S",
    "IPXE_LAST_DISCOVER_S",
    "MAX_FORWARD_DELAY_S",
    "MIN_FORWARD_DELAY_S",
    "OVS_GUEST_TAP",
    "OVS_RSTP_AUTO_EDGE_S",
    "OVS_STP_DEFAULT_FORWARD_DELAY_S",
    "OVS_STP_DEFAULT_HELLO_TIME_MS",
    "OVS_STP_DEFAULT_MAX_AGE_S",
    "PORT_BLOCKING",
    "PORT_STATES",
    "STP_KERNEL",
    "STP_OFF",
    "STP_OFF_SHORTCUT_KERNEL",
    "STP_USER",
    "VIRTIO_MODELS",
    "Boot",
    "BootFile",
    "Bridge",
    "BridgeConfig",
    "BridgeProbe",
    "BridgePort",
    "DhcpConfig",
    "DhcpServers",
    "ServerScope",
    "Firewalld",
    "FirewalldPolicy",
    "FirewalldZone",
    "Guest",
    "GuestDisk",
    "GuestNic",
    "HostFacts",
    "Iptables",
    "IptablesRule",
    "Lease",
    "LibvirtNetwork",
    "LibvirtQemu",
    "LibvirtView",
    "NetStack",
    "NetworkDefinition",
    "NetworkIp",
    "NftLibvirt",
    "Ovs",
    "OvsBridge",
    "OvsInterface",
    "OvsPort",
    "PortVlans",
    "ProbeOffer",
    "ProbeRun",
    "ProbeTftp",
    "Process",
    "QemuFirmware",
    "QemuProcess",
    "TcFilters",
    "UdpSocket",
    "Unreadable",
    "kernel_version",
]
