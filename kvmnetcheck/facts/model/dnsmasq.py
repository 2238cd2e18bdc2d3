"""A dnsmasq configuration as far as booting and the lease pool go: the lines that set tags, pick a boot
file and bound the number of leases, in the order dnsmasq reads them (dnsmasq src/option.c one_opt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class TagSetter:
    """A line that sets a tag on a request: dhcp-match, dhcp-userclass, dhcp-vendorclass, dhcp-mac,
    dhcp-host (set:), dhcp-range (set:), dhcp-name-match, dhcp-circuitid/remoteid/subscrid."""

    kind: str  # the option's name
    tag: str
    option: Optional[str] = None  # dhcp-match: the option's number or name as written
    value: Optional[str] = None  # what must match (None: the option's presence is enough)
    line: str = ""


@dataclass(frozen=True)
class TagIf:
    """--tag-if=set:A[,set:B][,tag:C[,tag:!D]]: run in order after the setters."""

    sets: tuple[str, ...]
    tags: tuple[str, ...]
    line: str = ""


@dataclass(frozen=True)
class DhcpBoot:
    """--dhcp-boot=[tag:T,...]FILE[,SERVERNAME[,ADDRESS|TFTP_SERVERNAME]] (option.c case 'M')."""

    tags: tuple[str, ...]
    file: str
    sname: Optional[str] = None
    server: Optional[str] = None  # an IPv4 address (next-server) or a name looked up in /etc/hosts
    line: str = ""


@dataclass(frozen=True)
class BootOption:
    """--dhcp-option[-force]=[tag:T,...],67|option:bootfile-name,FILE (option 67, the boot file)."""

    tags: tuple[str, ...]
    file: str
    force: bool = False
    line: str = ""


@dataclass(frozen=True)
class PxeService:
    """--pxe-service=[tag:T,...]CSA,MENU[,BASENAME|TYPE][,SERVER] (option.c case LOPT_PXE_SERV)."""

    tags: tuple[str, ...]
    csa: int  # client system architecture, option.c CSA[]: 0 x86PC, 6 IA32_EFI, 7 x86-64_EFI, 9 BC_EFI, 11 ARM64_EFI
    menu: str
    basename: Optional[str]  # None: a boot service type or local boot
    server: Optional[str] = None
    line: str = ""

    @property
    def file(self) -> Optional[str]:
        """The file the client is told: the basename with the layer suffix ".0" unless it has a dot
        (rfc2131.c pxe_uefi_workaround and the boot-server reply)."""
        if not self.basename:
            return None
        return self.basename if "." in self.basename else self.basename + ".0"


@dataclass(frozen=True)
class DnsmasqConf:
    """What one dnsmasq reads about booting and its pool, in the order it reads it."""

    setters: tuple[TagSetter, ...] = ()
    tag_ifs: tuple[TagIf, ...] = ()
    boots: tuple[DhcpBoot, ...] = ()
    boot_options: tuple[BootOption, ...] = ()
    pxe_services: tuple[PxeService, ...] = ()
    tftp_roots: tuple[str, ...] = ()  # tftp-root=DIR[,IFACE], as written
    enable_tftp: bool = False
    lease_max: Optional[int] = None  # dhcp-lease-max (dnsmasq's default is 1000)
    hosts: tuple[str, ...] = ()  # dhcp-host values (libvirt's <host> go to its hosts file): "known" clients
    unparsed: tuple[str, ...] = ()  # boot lines dnsmasq would refuse or that are not understood here
