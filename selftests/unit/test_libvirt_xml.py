"""libvirt network and domain XML (net-dumpxml / dumpxml / XMLDesc)."""

import pytest
from lxml import etree

from kvmnetcheck.facts.parsers import libvirt_xml
from kvmnetcheck.facts.parsers.libvirt_xml import MAX_XML_BYTES, XmlError, parse_domain, parse_network

# ------------------------------------------------------------------ networks

# `virsh net-dumpxml default` of a running default network, libvirt 9.0
NET_DEFAULT = """\
<network connections='1'>
  <name>default</name>
  <uuid>0f3a6d2e-8c1b-4b7a-9f4e-2d1c5b6a7e80</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:a1:b2:c3'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""

NET_ISOLATED = """\
<network>
  <name>isolated</name>
  <uuid>4d2c1b0a-9e8f-4a7b-8c6d-5e4f3a2b1c0d</uuid>
  <bridge name='virbr1' stp='on' delay='0'/>
  <mac address='52:54:00:5e:6f:70'/>
  <domain name='isolated'/>
  <ip address='192.168.100.1' netmask='255.255.255.0'>
  </ip>
</network>
"""

NET_ROUTED = """\
<network>
  <name>routed</name>
  <forward mode='route' dev='eth1'>
    <interface dev='eth1'/>
  </forward>
  <bridge name='virbr3' stp='off' delay='0'/>
  <ip address='10.10.0.1' prefix='24'>
    <dhcp>
      <host mac='52:54:00:00:00:01' name='vm1' ip='10.10.0.11'/>
    </dhcp>
  </ip>
</network>
"""

# a libvirt network that only names a host bridge made elsewhere (NetworkManager, ifcfg...)
NET_HOST_BRIDGE = """\
<network>
  <name>host-bridge</name>
  <uuid>a1b2c3d4-e5f6-4789-8abc-def012345678</uuid>
  <forward mode='bridge'/>
  <bridge name='br0'/>
</network>
"""

# PXE network: stp off, tftp root, bootp, reservations, and an IPv6 subnet without DHCP
NET_PXE = """\
<network>
  <name>pxe</name>
  <uuid>c0ffee00-1234-4abc-9def-0123456789ab</uuid>
  <forward mode='nat'/>
  <bridge name='virbr2' zone='trusted' stp='off' delay='15'/>
  <mac address='52:54:00:0b:0c:0d'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'>
    <tftp root='/var/lib/tftpboot'/>
    <dhcp>
      <range start='192.168.150.100' end='192.168.150.200'/>
      <range start='192.168.150.220' end='192.168.150.230'/>
      <host mac='52:54:00:12:34:56' name='pxe-client' ip='192.168.150.10'/>
      <host mac='52:54:00:12:34:57' name='pxe-client2' ip='192.168.150.11'/>
      <bootp file='pxelinux.0'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd00:150::1' prefix='64'/>
</network>
"""

NET_NO_BRIDGE = """\
<network>
  <name>nobr</name>
  <forward mode='nat'/>
  <ip address='192.168.160.1' netmask='255.255.255.0'>
    <dhcp>
      <bootp file='pxelinux.0'/>
    </dhcp>
  </ip>
</network>
"""

BLANK = ""

GARBLED = "<network><name>default</name><bridge name='virbr0' stp='on' delay='0'>"


def test_default_nat_network():
    n = parse_network(NET_DEFAULT)
    assert n.name == "default"
    assert n.uuid == "0f3a6d2e-8c1b-4b7a-9f4e-2d1c5b6a7e80"
    assert n.forward_mode == "nat"
    assert n.creates_bridge
    assert n.bridge_name == "virbr0"
    assert n.stp is True and n.stp_attr == "on"
    assert n.delay_s == 0 and n.delay_attr == "0"
    assert n.zone is None
    assert n.bridge_xml == '<bridge name="virbr0" stp="on" delay="0"/>'
    (ip,) = n.ips
    assert (ip.family, ip.address, ip.prefix, ip.tftp_root) == ("ipv4", "192.168.122.1", "255.255.255.0", None)
    assert ip.dhcp.ranges == (("192.168.122.2", "192.168.122.254"),)
    assert ip.dhcp.hosts == 0 and ip.dhcp.bootp_file is None
    assert n.serves_dhcp and not n.serves_pxe
    # delay 0 with STP on is clamped up to the kernel's 2 s minimum
    assert n.kernel_forward_delay_s == 2.0
    assert n.new_port_block_s == 4.0


def test_isolated_network():
    n = parse_network(NET_ISOLATED)
    assert n.forward_mode == "none"
    assert n.creates_bridge
    assert n.bridge_name == "virbr1"
    (ip,) = n.ips
    assert ip.dhcp is None
    assert not n.serves_dhcp


def test_routed_network():
    n = parse_network(NET_ROUTED)
    assert n.forward_mode == "route"
    assert n.creates_bridge
    assert n.uuid is None
    assert n.stp is False and n.stp_attr == "off"
    assert n.new_port_block_s == 0.0
    (ip,) = n.ips
    assert ip.prefix == "24"
    assert ip.dhcp.hosts == 1 and ip.dhcp.ranges == ()
    assert n.serves_dhcp


def test_forward_bridge_uses_host_bridge():
    n = parse_network(NET_HOST_BRIDGE)
    assert n.forward_mode == "bridge"
    assert not n.creates_bridge
    assert n.bridge_name == "br0"
    assert n.stp_attr is None and n.delay_attr is None
    assert n.stp is True and n.delay_s == 0  # libvirt defaults, unused here
    assert n.ips == ()
    assert not n.serves_dhcp


def test_pxe_network_stp_off_delay_zone():
    n = parse_network(NET_PXE)
    assert n.stp is False
    assert n.delay_s == 15
    assert n.zone == "trusted"
    assert n.new_port_block_s == 0.0
    v4, v6 = n.ips
    assert v4.tftp_root == "/var/lib/tftpboot"
    assert v4.dhcp.ranges == (("192.168.150.100", "192.168.150.200"), ("192.168.150.220", "192.168.150.230"))
    assert v4.dhcp.hosts == 2
    assert v4.dhcp.bootp_file == "pxelinux.0"
    assert (v6.family, v6.address, v6.prefix, v6.dhcp, v6.tftp_root) == ("ipv6", "fd00:150::1", "64", None, None)
    assert n.serves_dhcp and n.serves_pxe


def test_stp_on_with_long_delay():
    n = parse_network(NET_DEFAULT.replace("delay='0'", "delay='15'"))
    assert n.delay_s == 15
    assert n.kernel_forward_delay_s == 15.0
    assert n.new_port_block_s == 30.0


def test_delay_above_kernel_max_is_clamped():
    n = parse_network(NET_DEFAULT.replace("delay='0'", "delay='45'"))
    assert n.kernel_forward_delay_s == 30.0
    assert n.new_port_block_s == 60.0


def test_missing_bridge_element():
    n = parse_network(NET_NO_BRIDGE)
    assert n.bridge_name is None
    assert n.bridge_xml is None
    assert n.stp is True and n.stp_attr is None
    assert n.zone is None
    # a <dhcp> with neither range nor host serves nothing, even with bootp
    assert n.ips[0].dhcp is None
    assert not n.serves_dhcp and not n.serves_pxe


def test_forward_without_mode_is_nat():
    n = parse_network(NET_DEFAULT.replace("<forward mode='nat'>", "<forward>"))
    assert n.forward_mode == "nat"


@pytest.mark.parametrize(
    "mode, creates", [("open", True), ("hostdev", False), ("passthrough", False), ("private", False), ("vepa", False)]
)
def test_forward_modes(mode, creates):
    n = parse_network(NET_HOST_BRIDGE.replace("mode='bridge'", f"mode='{mode}'"))
    assert n.forward_mode == mode
    assert n.creates_bridge is creates


@pytest.mark.parametrize("delay", ["abc", "1.5", "", "0x10"])
def test_invalid_delay(delay):
    with pytest.raises(XmlError, match="is not a whole number"):
        parse_network(NET_DEFAULT.replace("delay='0'", f"delay='{delay}'"))


def test_negative_delay():
    with pytest.raises(XmlError, match="negative"):
        parse_network(NET_DEFAULT.replace("delay='0'", "delay='-1'"))


def test_network_without_name():
    with pytest.raises(XmlError, match="no <name>"):
        parse_network("<network><name>  </name><bridge name='virbr0'/></network>")


# ------------------------------------------------------------------ hostile and broken XML

BILLION_LAUGHS = """\
<?xml version="1.0"?>
<!DOCTYPE network [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<network><name>&lol9;</name><bridge name='virbr0'/></network>
"""


class _RecordingResolver(etree.Resolver):
    def __init__(self):
        super().__init__()
        self.asked = []

    def resolve(self, system_url, public_id, context):
        self.asked.append(system_url)
        return self.resolve_string("", context)


@pytest.fixture
def secret_file(tmp_path):
    p = tmp_path / "secret.txt"
    p.write_text("TOPSECRET-4242\n")
    return p


@pytest.fixture
def resolver():
    r = _RecordingResolver()
    libvirt_xml._PARSER.resolvers.add(r)
    yield r
    libvirt_xml._PARSER.resolvers.remove(r)


def test_billion_laughs_rejected_quickly():
    import time

    t = time.process_time()
    with pytest.raises(XmlError):
        parse_network(BILLION_LAUGHS)
    assert time.process_time() - t < 2.0


def test_internal_entity_rejected():
    xml = "<!DOCTYPE network [<!ENTITY br 'virbr9'>]><network><name>x</name><bridge name='&br;'/></network>"
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_network(xml)


def _xxe_docs(path):
    url = path.as_uri()
    return [
        f'<?xml version="1.0"?><!DOCTYPE network [<!ENTITY xxe SYSTEM "{url}">]><network><name>&xxe;</name></network>',
        f'<?xml version="1.0"?><!DOCTYPE domain [<!ENTITY xxe SYSTEM "{url}">]><domain><name>&xxe;</name></domain>',
        f'<!DOCTYPE network [<!ENTITY % p SYSTEM "{url}"> %p;]><network><name>n</name></network>',
        f'<!DOCTYPE network SYSTEM "{url}"><network><name>n</name></network>',
    ]


def test_external_entities_never_read(secret_file, resolver):
    for doc in _xxe_docs(secret_file):
        parse = parse_domain if "<domain>" in doc else parse_network
        args = (doc, True) if parse is parse_domain else (doc,)
        with pytest.raises(XmlError) as exc:
            parse(*args)
        assert "TOPSECRET" not in str(exc.value)
    assert resolver.asked == []  # libxml2 never tried to load anything


def test_recording_resolver_sees_loads_of_a_resolving_parser(secret_file):
    # control for the two tests around it: the detector does notice a parser that reads files
    r = _RecordingResolver()
    unsafe = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    unsafe.resolvers.add(r)
    etree.fromstring(_xxe_docs(secret_file)[0].encode(), unsafe)
    assert r.asked == [secret_file.as_uri()]


def test_parser_itself_does_not_expand_external_entities(secret_file, resolver):
    # defence in depth: even before the DOCTYPE check the parser leaves the entity alone
    doc = _xxe_docs(secret_file)[0].encode()
    root = etree.fromstring(doc, libvirt_xml._PARSER)
    assert "TOPSECRET" not in etree.tostring(root, encoding="unicode")
    assert "TOPSECRET" not in "".join(root.itertext())
    assert resolver.asked == []


def test_doctype_rejected():
    with pytest.raises(XmlError, match="DOCTYPE"):
        parse_network("<!DOCTYPE network><network><name>default</name></network>")


def test_over_size_limit():
    big = NET_DEFAULT.replace("</network>", "<!--" + "x" * MAX_XML_BYTES + "--></network>")
    with pytest.raises(XmlError, match="byte limit"):
        parse_network(big)


def test_size_limit_counts_bytes_not_characters():
    # 2 Mi characters of a two-byte letter are 4 MiB of UTF-8
    big = NET_DEFAULT.replace("</network>", "<!--" + "\u00e9" * (MAX_XML_BYTES // 2) + "--></network>")
    assert len(big) < MAX_XML_BYTES
    with pytest.raises(XmlError, match="byte limit"):
        parse_network(big)


def test_large_but_allowed():
    big = NET_DEFAULT.replace("</network>", "<!--" + "x" * (1024 * 1024) + "--></network>")
    assert parse_network(big).bridge_name == "virbr0"


@pytest.mark.parametrize("text", [BLANK, "   \n", None])
def test_empty(text):
    with pytest.raises(XmlError, match="empty XML"):
        parse_network(text)


@pytest.mark.parametrize(
    "text",
    [
        GARBLED,
        "error: failed to get network 'default'",
        "{}",
        "<network",
        "<network><name>a</name></network><extra/>",
        "\x00<network/>",
    ],
)
def test_not_xml(text):
    with pytest.raises(XmlError, match="malformed XML"):
        parse_network(text)


@pytest.mark.parametrize(
    "text, tag",
    [
        ("<domain><name>a</name></domain>", "domain"),
        ("<networks><network><name>a</name></network></networks>", "networks"),
        ("<network xmlns='urn:x'><name>a</name></network>", "{urn:x}network"),
    ],
)
def test_wrong_root(text, tag):
    with pytest.raises(XmlError, match=f"expected <network>, got <{tag}>"):
        parse_network(text)


def test_wrong_root_for_domain():
    with pytest.raises(XmlError, match="expected <domain>, got <network>"):
        parse_domain(NET_DEFAULT, True)


def test_comments_and_processing_instructions_ignored():
    xml = "<?xml version='1.0'?><!-- made by hand --><?foo bar?>" + NET_DEFAULT
    assert parse_network(xml).name == "default"


# ------------------------------------------------------------------ domains

# `virsh dumpxml pxe-client` of a running guest on Debian 12 (libvirt 9.0, QEMU 7.2)
DOM_RUNNING = """\
<domain type='kvm' id='3'>
  <name>pxe-client</name>
  <uuid>6b1f3c8e-2d4a-4e6f-8a0b-1c2d3e4f5a6b</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='network'/>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='pci' index='0' model='pcie-root'>
      <alias name='pcie.0'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default' portid='9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a' bridge='virbr0'/>
      <target dev='vnet0'/>
      <model type='virtio'/>
      <driver name='vhost'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/1'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
  </devices>
  <seclabel type='dynamic' model='apparmor' relabel='yes'>
    <label>libvirt-6b1f3c8e-2d4a-4e6f-8a0b-1c2d3e4f5a6b</label>
  </seclabel>
</domain>
"""

# a shut-off guest booting from its second NIC by per-device boot order, on a host
# bridge, plus a macvtap NIC and a NIC without a <mac> (hand-written XML)
DOM_BOOT_ORDER = """\
<domain type='qemu'>
  <name>web01</name>
  <uuid>11111111-2222-4333-8444-555555555555</uuid>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <source file='/var/lib/libvirt/images/web01.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <boot order='2'/>
    </disk>
    <interface type='bridge'>
      <mac address='52:54:00:AB:CD:EF'/>
      <source bridge='br0'/>
      <model type='e1000e'/>
      <boot order='1'/>
    </interface>
    <interface type='direct'>
      <mac address='52:54:00:ab:cd:f0'/>
      <source dev='eno2' mode='bridge'/>
      <model type='virtio'/>
      <driver name='qemu'/>
    </interface>
    <interface type='network'>
      <source network='isolated'/>
      <model type='rtl8139'/>
      <boot order='x'/>
    </interface>
  </devices>
</domain>
"""

DOM_MINIMAL = "<domain type='kvm'><name>bare</name></domain>"


def test_running_guest():
    g = parse_domain(DOM_RUNNING, True)
    assert g.name == "pxe-client"
    assert g.uuid == "6b1f3c8e-2d4a-4e6f-8a0b-1c2d3e4f5a6b"
    assert g.active is True
    assert g.domain_type == "kvm"
    assert g.boots_from_network is True
    assert g.os_hint == "http://debian.org/debian/12"
    (nic,) = g.nics
    assert nic.guest == "pxe-client"
    assert nic.mac == "52:54:00:12:34:56" and nic.label == "52:54:00:12:34:56"
    assert nic.type == "network"
    assert nic.source_network == "default"
    assert nic.source_bridge == "virbr0"
    assert nic.model == "virtio"
    assert nic.driver_name == "vhost"
    assert nic.target_dev == "vnet0"
    assert nic.boot_order is None
    assert nic.index == 0


def test_boot_dev_hd_only_is_not_network_boot():
    g = parse_domain(DOM_RUNNING.replace("<boot dev='network'/>", ""), True)
    assert g.boots_from_network is False


def test_per_interface_boot_order_bridge_direct_missing_mac():
    g = parse_domain(DOM_BOOT_ORDER, False)
    assert g.active is False
    assert g.domain_type == "qemu"
    assert g.os_hint is None
    assert g.boots_from_network is True
    br, direct, net = g.nics
    assert (br.type, br.mac, br.source_network, br.source_bridge, br.model, br.boot_order, br.target_dev) == (
        "bridge",
        "52:54:00:ab:cd:ef",
        None,
        "br0",
        "e1000e",
        1,
        None,
    )
    assert (direct.type, direct.source_network, direct.source_bridge, direct.driver_name, direct.boot_order) == (
        "direct",
        None,
        None,
        "qemu",
        None,
    )
    assert (net.type, net.mac, net.label, net.source_network, net.source_bridge, net.boot_order, net.index) == (
        "network",
        None,
        "nic2",
        "isolated",
        None,
        None,
        2,
    )


def test_disk_boot_order_alone_is_not_network_boot():
    xml = DOM_BOOT_ORDER.replace("<boot order='1'/>", "")
    assert parse_domain(xml, False).boots_from_network is False


def test_minimal_domain():
    g = parse_domain(DOM_MINIMAL, False)
    assert (g.name, g.uuid, g.nics, g.boots_from_network, g.os_hint) == ("bare", None, (), False, None)


def test_interface_without_type():
    g = parse_domain("<domain><name>x</name><devices><interface><mac address=''/></interface></devices></domain>", True)
    (nic,) = g.nics
    assert nic.type == "unknown"
    assert nic.mac is None
    assert g.domain_type is None


def test_domain_without_name():
    with pytest.raises(XmlError, match="domain has no <name>"):
        parse_domain("<domain type='kvm'><uuid>x</uuid></domain>", True)


@pytest.mark.parametrize("text", [BLANK, "error: failed to get domain 'x'", "<domain>"])
def test_domain_not_xml(text):
    with pytest.raises(XmlError):
        parse_domain(text, True)
