"""What a guest network-boots: a network's boot file (on libvirt's own test networks, with the values
its dnsmasq configs assert), a guest's network-boot NICs and fallback, QEMU's firmware directories."""

import pytest

from kvmnetcheck.facts.conclusions.boot import boot_entries, network_dnsmasq_conf, pxe_nics
from kvmnetcheck.facts.conclusions.dnsmasq_boot import CLIENTS, boot_offer
from kvmnetcheck.facts.conclusions.servers import range_size
from kvmnetcheck.facts.model import BootFile
from kvmnetcheck.facts.parsers.libvirt_xml import parse_domain, parse_network
from kvmnetcheck.facts.parsers.qemu_firmware import parse_firmware

# libvirt tests/networkxml2confdata/netboot-network.xml; its .conf: enable-tftp, tftp-root=/var/lib/tftproot,
# dhcp-boot=pxeboot.img, dhcp-lease-max=253
NETBOOT = """<network>
  <name>netboot</name>
  <uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>
  <forward mode='nat'/>
  <bridge name='virbr1' stp='off' delay='1'/>
  <domain name='example.com'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <bootp file='pxeboot.img'/>
    </dhcp>
    <tftp root='/var/lib/tftproot'/>
  </ip>
</network>
"""
# libvirt tests/networkxml2confdata/netboot-proxy-network.xml; its .conf: dhcp-boot=pxeboot.img,,10.20.30.40
# and no enable-tftp
NETBOOT_PROXY = NETBOOT.replace(
    "<bootp file='pxeboot.img'/>", "<bootp file='pxeboot.img' server='10.20.30.40'/>"
).replace("    <tftp root='/var/lib/tftproot'/>\n", "")
# libvirt tests/networkxml2confdata/dnsmasq-options.xml: options passed as they are, none of them a boot file
DNSMASQ_OPTIONS = """<network xmlns:dnsmasq="http://libvirt.org/schemas/network/dnsmasq/1.0">
  <name>default</name>
  <uuid>81ff0d90-c91e-6742-64da-4a736edb9a9b</uuid>
  <bridge name="virbr0"/>
  <forward mode="nat" dev="eth1"/>
  <ip address="192.168.122.1" netmask="255.255.255.0">
    <dhcp>
      <range start="192.168.122.2" end="192.168.122.254"/>
    </dhcp>
  </ip>
  <dnsmasq:options>
    <dnsmasq:option value="foo=bar"/>
    <dnsmasq:option value="cname=*.cloudapps.example.com,master.example.com"/>
  </dnsmasq:options>
</network>
"""


def _offer(defn, kind="bios-ipxe"):
    conf = network_dnsmasq_conf(defn)
    return conf, boot_offer(conf, CLIENTS[kind], defn.bridge_name or "", "52:54:00:00:00:01", known=False)


def test_netboot_network_boots_pxeboot_img_from_its_tftp_root():
    d = parse_network(NETBOOT)
    conf, boot = _offer(d)
    assert (boot.file, boot.server, conf.enable_tftp, conf.tftp_roots) == (
        "pxeboot.img",
        None,
        True,
        ("/var/lib/tftproot",),
    )
    # dhcp-lease-max=253 in libvirt's expected config: the size of the range
    assert conf.lease_max == 253 == range_size(*d.ips[0].dhcp.ranges[0])


def test_netboot_proxy_network_names_another_tftp_server():
    conf, boot = _offer(parse_network(NETBOOT_PROXY))
    assert (boot.file, boot.server, conf.enable_tftp) == ("pxeboot.img", "10.20.30.40", False)
    assert BootFile("netboot", None, "pxeboot.img,,10.20.30.40", None).file == "pxeboot.img"


def test_dnsmasq_options_that_name_no_boot_file():
    d = parse_network(DNSMASQ_OPTIONS)
    assert d.dnsmasq_options == ("foo=bar", "cname=*.cloudapps.example.com,master.example.com")
    assert _offer(d)[1].file is None


@pytest.mark.parametrize(
    "option, file, server",
    [
        ("dhcp-boot=undionly.kpxe", "undionly.kpxe", None),
        ("dhcp-boot=tag:ipxe,http://10.0.0.1/boot.ipxe", None, None),  # no dhcp-match sets ipxe
        ("dhcp-boot=pxelinux.0,boothost,10.0.0.5", "pxelinux.0", "10.0.0.5"),
        ("dhcp-option=67,grubx64.efi", "grubx64.efi", None),
        ("dhcp-option-force=option:bootfile-name,ipxe.efi", "ipxe.efi", None),
    ],
)
def test_boot_file_from_dnsmasq_options(option, file, server):
    xml = DNSMASQ_OPTIONS.replace('value="foo=bar"', f"value='{option}'")
    boot = _offer(parse_network(xml))[1]
    assert (boot.file, boot.server) == (file, server)


def _guest(boot_xml: str, nics: str, disks: str = "") -> object:
    return parse_domain(
        f"""<domain type='kvm'><name>g</name><os><type>hvm</type>{boot_xml}</os>
      <devices>{disks}{nics}</devices></domain>""",
        active=False,
    )


NIC = "<interface type='network'><mac address='52:54:00:00:00:0{n}'/><source network='n'/>{boot}</interface>"


def test_os_boot_dev_tries_the_first_nic_then_the_first_disk():
    """libvirt 9.0 turns <boot dev='network'/><boot dev='hd'/> into bootindex=1 on the first NIC and
    bootindex=2 on the first disk (seen in the QEMU command line it runs), with -boot strict=on."""
    g = _guest(
        "<boot dev='network'/><boot dev='hd'/>",
        NIC.format(n=1, boot="") + NIC.format(n=2, boot=""),
        "<disk type='file' device='cdrom'><target dev='sda'/></disk>"
        "<disk type='file' device='disk'><source file='/i/g.qcow2'/><target dev='vda'/></disk>",
    )
    a, _ = g.nics
    assert pxe_nics(g) == (a,)
    assert [(e.device, e.why) for e in boot_entries(g)] == [
        ("NIC 52:54:00:00:00:01", "<boot dev='network'/>: the first NIC"),
        ("disk vda", "<boot dev='hd'/>: the first disk"),
    ]
    assert g.disk_devices[0].source is None and g.disk_devices[1].source == "/i/g.qcow2"


def test_os_boot_dev_without_such_a_device_adds_nothing():
    g = _guest("<boot dev='network'/><boot dev='hd'/>", NIC.format(n=1, boot=""))
    assert [e.device for e in boot_entries(g)] == ["NIC 52:54:00:00:00:01"]


def test_per_device_boot_order_lists_every_device_with_one_in_order():
    g = _guest(
        "",
        NIC.format(n=1, boot="") + NIC.format(n=2, boot="<boot order='1'/>"),
        "<disk type='file' device='disk'><target dev='vda'/><boot order='3'/></disk>"
        "<hostdev mode='subsystem' type='usb'><boot order='2'/></hostdev>",
    )
    first, second = g.nics
    assert pxe_nics(g) == (second,)
    assert [e.device for e in boot_entries(g)] == ["NIC 52:54:00:00:00:02", "hostdev (boot order 2)", "disk vda"]


def test_no_network_boot():
    g = _guest("<boot dev='hd'/>", NIC.format(n=1, boot=""))
    assert pxe_nics(g) == () and not g.boots_from_network


def test_qemu_firmware_directories_and_roms():
    fw = parse_firmware(
        "/usr/bin/qemu-system-x86_64",
        "dir=/usr/bin/../share/qemu\nrom=qboot.rom\ndir=/usr/bin/../lib/ipxe/qemu\nrom=efi-virtio.rom\n"
        "rom=efi-e1000.rom\n",
    )
    assert fw.dirs == ("/usr/bin/../share/qemu", "/usr/bin/../lib/ipxe/qemu")
    assert {"efi-virtio.rom", "efi-e1000.rom"} <= fw.roms
