"""libvirt network and domain XML, parsed with lxml (no entities, no DTD, no network).

<network>
  <name>default</name>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp>
  </ip>
</network>
"""

from __future__ import annotations

from typing import Optional

from lxml import etree

from ..model import DhcpConfig, Guest, GuestDisk, GuestNic, NetworkDefinition, NetworkIp

MAX_XML_BYTES = 4 * 1024 * 1024
LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
# libvirt's namespace for options passed to a network's dnsmasq as they are (docs/formatnetwork.rst)
DNSMASQ_NS = "http://libvirt.org/schemas/network/dnsmasq/1.0"


class XmlError(ValueError):
    """The XML could not be used; the message says why."""


# /run/libvirt/network/NAME.xml and /run/libvirt/qemu/NAME.xml
_STATUS_WRAPPERS = {"networkstatus": "network", "domstatus": "domain"}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _parse(text: str, root_tag: str):
    if text is None or not text.strip():
        raise XmlError("empty XML")
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    if len(data) > MAX_XML_BYTES:
        raise XmlError(f"XML is {len(data)} bytes, over the {MAX_XML_BYTES} byte limit")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        raise XmlError(f"malformed XML: {e}") from None
    if root.getroottree().docinfo.doctype:
        raise XmlError("XML carries a DOCTYPE, which libvirt never writes")
    if root.tag in _STATUS_WRAPPERS and _STATUS_WRAPPERS[root.tag] == root_tag:
        inner = root.find(root_tag)  # libvirt's status files wrap the live definition
        if inner is None:
            raise XmlError(f"<{root.tag}> without <{root_tag}>")
        return inner
    if root.tag != root_tag:
        raise XmlError(f"expected <{root_tag}>, got <{root.tag}>")
    return root


def _text(el, path: str) -> Optional[str]:
    found = el.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _attr(el, name: str) -> Optional[str]:
    return el.get(name) if el is not None else None


def _tristate(value: Optional[str]) -> Optional[bool]:
    if value is None:
        return None
    return value.strip().lower() in ("yes", "on")


def parse_network(text: str) -> NetworkDefinition:
    root = _parse(text, "network")
    name = _text(root, "name")
    if not name:
        raise XmlError("network has no <name>")
    fwd = root.find("forward")
    forward_mode = "none" if fwd is None else (fwd.get("mode") or "nat")
    br = root.find("bridge")
    stp_attr = br.get("stp") if br is not None else None
    delay_attr = br.get("delay") if br is not None else None
    stp = (stp_attr or "on").strip().lower() not in ("off", "no")
    delay = 0
    if delay_attr is not None:
        try:
            delay = int(delay_attr.strip())
        except ValueError:
            raise XmlError(f"network {name!r}: <bridge delay={delay_attr!r}> is not a whole number") from None
        if delay < 0:
            raise XmlError(f"network {name!r}: negative <bridge delay>")
    ips = []
    for ip in root.findall("ip"):
        dhcp_el = ip.find("dhcp")
        dhcp = None
        if dhcp_el is not None:
            ranges = tuple((r.get("start") or "", r.get("end") or "") for r in dhcp_el.findall("range"))
            hosts = len(dhcp_el.findall("host"))
            bootp = dhcp_el.find("bootp")
            if ranges or hosts:
                dhcp = DhcpConfig(
                    ranges=ranges,
                    hosts=hosts,
                    bootp_file=bootp.get("file") if bootp is not None else None,
                    host_ips=tuple(h.get("ip") for h in dhcp_el.findall("host") if h.get("ip")),
                    bootp_server=bootp.get("server") if bootp is not None else None,
                    host_macs=tuple(h.get("mac").lower() for h in dhcp_el.findall("host") if h.get("mac")),
                )
        tftp = ip.find("tftp")
        ips.append(
            NetworkIp(
                family=ip.get("family") or "ipv4",
                address=ip.get("address"),
                prefix=ip.get("prefix") or ip.get("netmask"),
                dhcp=dhcp,
                tftp_root=tftp.get("root") if tftp is not None else None,
            )
        )
    return NetworkDefinition(
        name=name,
        uuid=_text(root, "uuid"),
        forward_mode=forward_mode,
        bridge_name=br.get("name") if br is not None else None,
        stp=stp,
        delay_s=delay,
        stp_attr=stp_attr,
        delay_attr=delay_attr,
        zone=br.get("zone") if br is not None else None,
        ips=tuple(ips),
        bridge_xml=etree.tostring(br, encoding="unicode").strip() if br is not None else None,
        virtualport=_attr(root.find("virtualport"), "type"),
        dnsmasq_options=tuple(
            o.get("value") or "" for o in root.findall(f"{{{DNSMASQ_NS}}}options/{{{DNSMASQ_NS}}}option")
        ),
    )


def parse_domain(text: str, active: bool) -> Guest:
    root = _parse(text, "domain")
    name = _text(root, "name")
    if not name:
        raise XmlError("domain has no <name>")
    os_boot_network = any(b.get("dev") == "network" for b in root.findall("os/boot"))
    nics = []
    for i, iface in enumerate(root.findall("devices/interface")):
        src = iface.find("source")
        model = iface.find("model")
        driver = iface.find("driver")
        target = iface.find("target")
        mac = iface.find("mac")
        boot = iface.find("boot")
        order = None
        if boot is not None:
            try:
                order = int(boot.get("order", ""))
            except ValueError:
                order = None
        itype = iface.get("type") or "unknown"
        rom = iface.find("rom")
        nics.append(
            GuestNic(
                guest=name,
                mac=(mac.get("address") or "").lower() or None if mac is not None else None,
                type=itype,
                source_network=src.get("network") if src is not None and itype == "network" else None,
                source_bridge=src.get("bridge") if src is not None else None,
                model=model.get("type") if model is not None else None,
                driver_name=driver.get("name") if driver is not None else None,
                target_dev=target.get("dev") if target is not None else None,
                boot_order=order,
                index=i,
                virtualport=_attr(iface.find("virtualport"), "type"),
                rom_enabled=_tristate(_attr(rom, "enabled")),
                rom_bar=_tristate(_attr(rom, "bar")),
                rom_file=_attr(rom, "file"),
                source_dev=src.get("dev") if src is not None and itype == "direct" else None,
                source_mode=(src.get("mode") or "vepa") if src is not None and itype == "direct" else None,
                link_down=_attr(iface.find("link"), "state") == "down",
            )
        )
    os_el = root.find(f"metadata/{{{LIBOSINFO_NS}}}libosinfo/{{{LIBOSINFO_NS}}}os")
    orders, others = [], []
    for dev in root.findall("devices/*"):
        if dev.tag == "interface":
            continue
        boot = dev.find("boot")
        if boot is not None and (boot.get("order") or "").isdigit():
            orders.append(int(boot.get("order")))
            if dev.tag != "disk":
                others.append((int(boot.get("order")), dev.tag))
    disks = tuple(_disk(d) for d in root.findall("devices/disk"))
    os_node = root.find("os")
    loader = _text(root, "os/loader") or ""
    firmware = os_node.get("firmware") if os_node is not None else None
    uefi = (
        True
        if firmware == "efi" or "OVMF" in loader.upper() or "edk2" in loader.lower()
        else (False if firmware == "bios" else None)
    )
    return Guest(
        name=name,
        uuid=_text(root, "uuid"),
        active=active,
        domain_type=root.get("type"),
        boots_from_network=os_boot_network or any(n.boot_order is not None for n in nics),
        os_hint=os_el.get("id") if os_el is not None else None,
        nics=tuple(nics),
        boot_devs=tuple(b.get("dev") or "" for b in root.findall("os/boot")),
        other_boot_orders=tuple(sorted(orders)),
        disks=len(root.findall("devices/disk")),
        uefi=uefi,
        emulator=_text(root, "devices/emulator"),
        machine=_attr(root.find("os/type"), "machine"),
        # libvirt's DAC driver runs QEMU as this user:group; a running guest's live XML carries it
        # (src/security/security_dac.c: "+UID:+GID" from qemu.conf, or the domain's own static label)
        dac_label=next((_text(sl, "label") for sl in root.findall("seclabel") if sl.get("model") == "dac"), None),
        disk_devices=disks,
        other_boot_devices=tuple(sorted(others)),
    )


def _disk(el) -> GuestDisk:
    src = el.find("source")
    # a <source> names its medium by file, dev, dir, volume or (network disks) name; an empty cdrom has none
    source = None
    if src is not None:
        source = next((src.get(a) for a in ("file", "dev", "dir", "volume", "name") if src.get(a)), None)
        if source is None and src.get("protocol"):
            source = src.get("protocol")
    order = _attr(el.find("boot"), "order")
    return GuestDisk(
        device=el.get("device") or "disk",
        target=_attr(el.find("target"), "dev"),
        source=source,
        boot_order=int(order) if order and order.isdigit() else None,
    )
