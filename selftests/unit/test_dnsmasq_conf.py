"""dnsmasq's boot and pool lines, parsed as dnsmasq reads them, on dnsmasq's own examples (dnsmasq.conf.example
and dnsmasq(8) of 2.90) and libvirt's expected configs (tests/networkxml2confdata); and the boot file each
client is handed, as dnsmasq's src/rfc2131.c picks it."""

import pytest

from kvmnetcheck.facts.conclusions.boot import libvirt_dnsmasq_lines, network_dnsmasq_conf
from kvmnetcheck.facts.conclusions.dnsmasq_boot import CLIENTS, boot_offer, request_tags
from kvmnetcheck.facts.model import Unreadable
from kvmnetcheck.facts.parsers.dnsmasq_conf import conf_lines, parse_dnsmasq_conf, split_fields
from kvmnetcheck.facts.parsers.libvirt_xml import parse_network

# dnsmasq 2.90 dnsmasq.conf.example, its boot lines uncommented (iPXE chainload at lines 460-462)
EXAMPLE = """\
dhcp-boot=undionly.kpxe
dhcp-match=set:ipxe,175 # iPXE sends a 175 option.
dhcp-boot=tag:ipxe,http://boot.ipxe.org/demo/boot.php
dhcp-match=peecees, option:client-arch, 0 #x86-32
dhcp-match=mactels, option:client-arch, 7 #EFI x86-64
pxe-service=x86PC, "Install Linux", pxelinux, 1.2.3.4
pxe-service=x86PC, "Install windows from RIS server", 1
dhcp-boot=tag:red,pxelinux.red-net
dhcp-boot=/var/ftpd/pxelinux.0,boothost,192.168.0.3
dhcp-boot=/var/ftpd/pxelinux.0,boothost,tftp_server_name
dhcp-vendorclass=set:red,Linux
dhcp-userclass=set:red,accounts
"""
# libvirt tests/networkxml2confdata/netboot-network.conf and netboot-proxy-network.conf (their boot lines)
NETBOOT_CONF = """\
dhcp-range=192.168.122.2,192.168.122.254
dhcp-no-override
enable-tftp
tftp-root=/var/lib/tftproot
dhcp-boot=pxeboot.img
dhcp-lease-max=253
dhcp-hostsfile=/var/lib/libvirt/dnsmasq/netboot.hostsfile
"""
NETBOOT_PROXY_CONF = """\
dhcp-range=192.168.122.2,192.168.122.254
dhcp-no-override
dhcp-boot=pxeboot.img,,10.20.30.40
dhcp-lease-max=253
"""
# libvirt tests/networkxml2confdata/dhcp6-nat-network.xml; its .conf says dhcp-lease-max=493 (253 + 240)
DHCP6_NAT = """<network>
  <name>default</name>
  <forward dev='eth1' mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0' />
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254' />
      <host mac='00:16:3e:77:e2:ed' name='a.example.com' ip='192.168.122.10' />
      <host mac='00:16:3e:3e:a9:1a' name='b.example.com' ip='192.168.122.11' />
    </dhcp>
  </ip>
  <ip family='ipv4' address='192.168.123.1' netmask='255.255.255.0'>
  </ip>
  <ip family='ipv6' address='2001:db8:ac10:fd01::1' prefix='64'>
    <dhcp>
      <range start='2001:db8:ac10:fd01::1:10' end='2001:db8:ac10:fd01::1:ff' />
      <host name='paul' ip='2001:db8:ac10:fd01::1:21' />
    </dhcp>
  </ip>
</network>
"""


def test_fields_split_outside_quotes():
    assert split_fields('x86PC, "Install, Linux", pxelinux') == ["x86PC", "Install, Linux", "pxelinux"]


def test_dnsmasq_example_lines():
    conf = parse_dnsmasq_conf(conf_lines(EXAMPLE))
    assert [(b.tags, b.file, b.sname, b.server) for b in conf.boots] == [
        ((), "undionly.kpxe", None, None),
        (("ipxe",), "http://boot.ipxe.org/demo/boot.php", None, None),
        (("red",), "pxelinux.red-net", None, None),
        ((), "/var/ftpd/pxelinux.0", "boothost", "192.168.0.3"),
        ((), "/var/ftpd/pxelinux.0", "boothost", "tftp_server_name"),
    ]
    assert [(s.kind, s.tag, s.option, s.value) for s in conf.setters] == [
        ("dhcp-match", "ipxe", "175", None),
        ("dhcp-match", "peecees", "option:client-arch", "0"),
        ("dhcp-match", "mactels", "option:client-arch", "7"),
        ("dhcp-vendorclass", "red", None, "Linux"),
        ("dhcp-userclass", "red", None, "accounts"),
    ]
    assert [(p.csa, p.menu, p.basename, p.server, p.file) for p in conf.pxe_services] == [
        (0, "Install Linux", "pxelinux", "1.2.3.4", "pxelinux.0"),
        (0, "Install windows from RIS server", None, None, None),
    ]


def test_libvirt_netboot_confs():
    conf = parse_dnsmasq_conf(conf_lines(NETBOOT_CONF))
    assert (conf.enable_tftp, conf.tftp_roots, conf.lease_max) == (True, ("/var/lib/tftproot",), 253)
    assert [(b.file, b.sname, b.server) for b in conf.boots] == [("pxeboot.img", None, None)]
    proxy = parse_dnsmasq_conf(conf_lines(NETBOOT_PROXY_CONF))
    assert (proxy.enable_tftp, [(b.file, b.sname, b.server) for b in proxy.boots]) == (
        False,
        [("pxeboot.img", None, "10.20.30.40")],
    )


def test_libvirt_lease_max_counts_ipv4_and_ipv6_ranges():
    assert ("dhcp-lease-max", "493") in libvirt_dnsmasq_lines(parse_network(DHCP6_NAT))
    conf = network_dnsmasq_conf(parse_network(DHCP6_NAT))
    assert conf.lease_max == 493
    assert conf.hosts == ("00:16:3e:77:e2:ed", "00:16:3e:3e:a9:1a")


def _offer(text, kind, mac="52:54:00:00:00:01", iface="virbr0"):
    return boot_offer(parse_dnsmasq_conf(conf_lines(text)), CLIENTS[kind], iface, mac, known=False)


CHAINLOAD = """\
dhcp-match=set:ipxe,175
dhcp-boot=tag:!ipxe,undionly.kpxe
dhcp-boot=tag:ipxe,http://10.0.0.1/boot.ipxe
"""


def test_qemu_ipxe_rom_gets_the_ipxe_file_of_a_chainload():
    # QEMU's ROM is iPXE: it sends option 175, so tag:ipxe applies to it at once
    assert _offer(CHAINLOAD, "bios-ipxe").file == "http://10.0.0.1/boot.ipxe"
    assert _offer(CHAINLOAD, "uefi-pxe").file == "undionly.kpxe"


def test_user_class_sets_the_ipxe_tag_too():
    text = "dhcp-userclass=set:ipxe,iPXE\ndhcp-boot=tag:ipxe,boot.ipxe\ndhcp-boot=undionly.kpxe\n"
    assert _offer(text, "bios-ipxe").file == "boot.ipxe"
    assert _offer(text, "uefi-pxe").file == "undionly.kpxe"


def test_untagged_line_after_the_tagged_ones_does_not_win():
    # dnsmasq.conf.example order: untagged first, tagged after; tagged lines that match come first
    assert _offer(EXAMPLE.split("dhcp-match=peecees")[0], "bios-ipxe").file == "http://boot.ipxe.org/demo/boot.php"


def test_last_written_untagged_dhcp_boot_wins():
    assert _offer("dhcp-boot=a.0\ndhcp-boot=b.0\n", "bios-ipxe").file == "b.0"


def test_efi_only_boot_gives_a_bios_guest_nothing():
    text = "dhcp-match=set:efi-x86_64,option:client-arch,7\ndhcp-boot=tag:efi-x86_64,ipxe.efi\n"
    assert _offer(text, "bios-ipxe").file is None
    assert _offer(text, "uefi-pxe").file == "ipxe.efi"


def test_interface_name_is_a_tag():
    assert _offer("dhcp-boot=tag:virbr0,a.0\n", "bios-ipxe").file == "a.0"
    assert _offer("dhcp-boot=tag:virbr0,a.0\n", "bios-ipxe", iface="virbr1").file is None


def test_option_67_when_no_dhcp_boot():
    text = "dhcp-option=67,untagged.0\ndhcp-option=tag:ipxe,option:bootfile-name,tagged.0\ndhcp-match=set:ipxe,175\n"
    assert _offer(text, "bios-ipxe").file == "tagged.0"
    assert _offer(text, "uefi-pxe").file == "untagged.0"


def test_uefi_single_pxe_service_is_its_file():
    text = 'pxe-service=x86-64_EFI,"UEFI",grubx64.efi\npxe-service=BC_EFI,"UEFI",bootx64.efi\n'
    assert _offer(text, "uefi-pxe").file == "grubx64.efi"  # edk2 sends 7, x86-64_EFI in option.c's CSA list


def test_bios_pxe_menu_is_not_judged():
    with pytest.raises(Unreadable, match="PXE menu"):
        _offer('pxe-service=x86PC,"Install Linux",pxelinux\n', "bios-ipxe")


def test_tag_that_cannot_be_told_makes_it_unknown():
    text = "dhcp-match=set:odd,option:client-machine-id\ndhcp-boot=tag:odd,a.0\ndhcp-boot=b.0\n"
    with pytest.raises(Unreadable, match="odd"):
        _offer(text, "bios-ipxe")


def test_tag_if_and_mac_tags():
    conf = parse_dnsmasq_conf(conf_lines("dhcp-mac=set:qemu,52:54:00:*:*:*\ntag-if=set:vm,tag:qemu,tag:!ipxe\n"))
    tags = request_tags(conf, CLIENTS["uefi-pxe"], "virbr0", "52:54:00:12:34:56", known=False)
    assert (tags.get("qemu"), tags.get("vm")) == (True, True)
    tags = request_tags(conf, CLIENTS["uefi-pxe"], "virbr0", "00:16:3e:12:34:56", known=False)
    assert tags.get("vm") is None or tags.get("vm") is False


# --- the network side's verdict, for each kind of client (conclusions/boot.py network_boot_for) ---

NET = """<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'>
  <name>lan</name>
  <bridge name='virbr7'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    {tftp}
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/>{bootp}</dhcp>
  </ip>
  <dnsmasq:options>{options}</dnsmasq:options>
</network>
"""
ROOT = "/var/lib/libvirt/tftp"


def _net(tftp=True, bootp="", options=()):
    from kvmnetcheck.facts.model import LibvirtNetwork

    xml = NET.format(
        tftp=f"<tftp root='{ROOT}'/>" if tftp else "",
        bootp=bootp,
        options="".join(f"<dnsmasq:option value='{o}'/>" for o in options),
    )
    d = parse_network(xml)
    return LibvirtNetwork("lan", None, True, True, None, d, d)


def _servers(files=(), sockets="", addresses="[]", conf=True):
    from kvmnetcheck.facts.model import DhcpServers
    from kvmnetcheck.facts.parsers.servers import parse_dnsmasq_boot, parse_ipv4_addresses, parse_ss

    text = "lines=1\n" if conf else f"tftp_root={ROOT}\nboot=\n"
    text += "".join(f"file={int(there)}\t{ROOT}\t{name}\n" for name, there in files)
    return DhcpServers(
        sockets=parse_ss(sockets),
        boot_files=(parse_dnsmasq_boot("lan", text),),
        ipv4_addresses=parse_ipv4_addresses(addresses),
    )


def _verdict(net, servers, kind="bios-ipxe"):
    from kvmnetcheck.facts.conclusions.boot import network_boot_for

    return network_boot_for(net, servers, kind, "52:54:00:00:0b:01")


CHAIN = ("dhcp-match=set:ipxe,175", "dhcp-boot=tag:!ipxe,undionly.kpxe", "dhcp-boot=tag:ipxe,http://10.98.7.1/b.ipxe")


def test_chainload_bios_guest_gets_the_url_and_uefi_guest_the_missing_file():
    v = _verdict(_net(options=CHAIN), _servers(files=[("undionly.kpxe", False)]))
    assert (v.problem, v.last.file) == (None, "http://10.98.7.1/b.ipxe")
    v = _verdict(_net(options=CHAIN), _servers(files=[("undionly.kpxe", False)]), "uefi-pxe")
    assert (v.problem, v.last.file, v.tftp_root) == ("missing-file", "undionly.kpxe", ROOT)


def test_ipxe_told_itself_loops():
    v = _verdict(_net(bootp="<bootp file='undionly.kpxe'/>"), _servers(files=[("undionly.kpxe", True)]))
    assert (v.problem, [o.file for o in v.steps]) == ("loop", ["undionly.kpxe", "undionly.kpxe"])


def test_uefi_pxe_cannot_fetch_a_url():
    v = _verdict(_net(bootp="<bootp file='http://10.98.7.1/b.ipxe'/>"), _servers(), "uefi-pxe")
    assert v.problem == "url-tftp-only"


SS_TFTP = 'UNCONN 0 0 10.55.0.1:69 0.0.0.0:* users:(("dnsmasq",pid=9,fd=4))\n'
# `ip -j -4 addr show` (iproute2 6.1)
ADDRS = '[{"ifindex":5,"ifname":"knc0","addr_info":[{"family":"inet","local":"10.55.0.1","prefixlen":24}]}]'


def test_bootp_server_on_this_host_is_judged_by_its_sockets():
    net = _net(tftp=False, bootp="<bootp file='pxelinux.0' server='10.55.0.1'/>")
    assert _verdict(net, _servers(addresses=ADDRS)).problem == "server-no-tftp"
    assert _verdict(net, _servers(addresses=ADDRS, sockets=SS_TFTP)).problem is None


def test_bootp_server_elsewhere_is_unknown():
    net = _net(tftp=False, bootp="<bootp file='pxelinux.0' server='192.0.2.10'/>")
    with pytest.raises(Unreadable, match="cannot see"):
        _verdict(net, _servers(addresses=ADDRS))
    with pytest.raises(Unreadable, match="addresses were not gathered"):
        from kvmnetcheck.facts.model import DhcpServers

        _verdict(net, DhcpServers(sockets=()))


def test_file_in_root_is_read_from_the_config_listing():
    net = _net(bootp="<bootp file='pxelinux.0'/>")
    assert _verdict(net, _servers(files=[("pxelinux.0", True)])).problem is None
    with pytest.raises(Unreadable, match="does not name it"):
        _verdict(net, _servers(files=[]))


def test_lease_max_from_the_config_dnsmasq_read_else_from_libvirts_rule():
    from kvmnetcheck.facts.conclusions.boot import dnsmasq_lease_max
    from kvmnetcheck.facts.model import DhcpServers
    from kvmnetcheck.facts.parsers.servers import parse_dnsmasq_boot

    net = _net()
    assert dnsmasq_lease_max(net, DhcpServers())[0] == 41  # 10.98.7.10-50
    seen = parse_dnsmasq_boot("lan", "lines=1\nconf=dhcp-lease-max=41\nconf=dhcp-lease-max=5\n")
    assert dnsmasq_lease_max(net, DhcpServers(boot_files=(seen,))) == (5, "/var/lib/libvirt/dnsmasq/lan.conf")
    assert dnsmasq_lease_max(_net(options=("dhcp-lease-max=7",)), DhcpServers())[0] == 7
