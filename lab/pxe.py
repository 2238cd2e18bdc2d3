"""Network-boot a throw-away guest in a lab host and watch whether DHCP works.

Why: a libvirt bridge with STP on and a forward delay keeps a new guest's
port in listening/learning long enough that the guest's PXE ROM gives up on
DHCP.  The compliance suite flags such networks; this helper proves the
claim on a real libvirtd, QEMU (TCG) and iPXE inside a lab host.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import List, Optional
from xml.sax.saxutils import escape, quoteattr

from .errors import LabError
from .host import LabHost

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <description>knc-lab PXE probe</description>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='network'/>
    <bios useserial='yes'/>
  </os>
  <on_reboot>destroy</on_reboot>
  <devices>
    <interface type='network'>
      <source network={network}/>
      <mac address='{mac}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'><source path={console}/></serial>
  </devices>
</domain>
"""


@dataclass(frozen=True)
class PxeOutcome:
    """What was seen while the guest tried to network-boot.

    ``leased``: dnsmasq recorded a lease for the guest's MAC.
    ``dhcp_packets``: DHCP packets to/from the guest seen on the bridge.
    ``first_packet_s``: seconds from guest start to the first such packet.
    ``lease_s``: seconds from guest start until the lease was seen.
    ``observed_s``: how long the guest was watched.
    """

    leased: bool
    dhcp_packets: int
    first_packet_s: Optional[float]
    lease_s: Optional[float] = None
    observed_s: float = 0.0
    bridge: str = ""
    mac: str = ""
    console: str = ""  # what SeaBIOS and iPXE printed on the serial console (escape codes removed)


def network_bridge(host: LabHost, network_name: str) -> str:
    """Bridge name of an *active* libvirt network in ``host``."""
    info = host.virsh(["net-info", network_name]).stdout
    if not any(ln.split() == ["Active:", "yes"] for ln in info.splitlines()):
        raise LabError("network %s is not active in %s" % (network_name, host.name), stdout=info)
    xml = host.virsh(["net-dumpxml", network_name]).stdout
    br = ET.fromstring(xml).find("bridge")
    if br is None or not br.get("name"):
        raise LabError("network %s has no bridge" % network_name, stdout=xml)
    return br.get("name")


def _leased(host: LabHost, bridge: str, mac: str) -> bool:
    proc = host.exec(["cat", "/var/lib/libvirt/dnsmasq/%s.status" % bridge], check=False)
    text = proc.stdout.strip()
    if proc.returncode != 0 or not text:
        return False
    try:
        leases = json.loads(text)
    except ValueError:
        return False
    return any(ln.get("mac-address", "").lower() == mac for ln in leases)


def pxe_boot(
    host: LabHost,
    network_name: str,
    guest_name: str = "pxe1",
    observe_s: float = 50,
    memory_mib: int = 192,
    until: tuple = (),
) -> PxeOutcome:
    """Boot a disk-less guest from the network on ``network_name`` and report DHCP.

    Watches up to ``observe_s`` seconds (less once a lease shows up) for a
    lease in ``/var/lib/libvirt/dnsmasq/BRIDGE.status`` and for DHCP packets
    of the guest on the bridge (tcpdump inside the host).  With ``until``,
    it goes on after the lease until the serial console shows one of those
    strings (or the time is up).  The guest is destroyed and undefined
    afterwards in every case.
    """
    bridge = network_bridge(host, network_name)
    if host.virsh(["dominfo", guest_name], check=False).returncode == 0:
        raise LabError("domain %s already exists in %s" % (guest_name, host.name))
    mac = "52:54:00:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3))
    console = "/run/knc-pxe-%s.console" % guest_name
    xml = DOMAIN_XML.format(
        name=escape(guest_name),
        memory=int(memory_mib),
        network=quoteattr(network_name),
        mac=mac,
        console=quoteattr(console),
    )

    packets: List[float] = []
    listening = threading.Event()
    # -e prints MAC addresses so packets of this guest can be told apart;
    # -l line-buffers so each packet is seen when it happens.
    dump = host.spawn(
        ["tcpdump", "-l", "-n", "-e", "-i", bridge, "udp and (port 67 or port 68)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def reader():
        for line in dump.popen.stdout:
            if "listening on" in line:
                listening.set()
            elif "BOOTP/DHCP" in line and mac in line.lower():
                packets.append(time.monotonic())
        listening.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    defined = False
    t0 = None
    lease_at = None
    try:
        if not listening.wait(15) or dump.popen.poll() is not None:
            raise LabError("tcpdump did not start on %s in %s" % (bridge, host.name))
        host.write_file("/run/knc-pxe-%s.xml" % guest_name, xml, mode=0o600)
        host.virsh(["define", "/run/knc-pxe-%s.xml" % guest_name])
        defined = True
        host.virsh(["start", guest_name])
        t0 = time.monotonic()
        while time.monotonic() - t0 < observe_s:
            if lease_at is None and _leased(host, bridge, mac):
                lease_at = time.monotonic()
            if lease_at is not None and (not until or any(u in _console(host, console) for u in until)):
                break
            time.sleep(0.5)
        observed = time.monotonic() - t0
        text = _console(host, console)
    finally:
        if defined:
            host.virsh(["destroy", guest_name], check=False)
            host.virsh(["undefine", guest_name], check=False)
        host.exec(["rm", "-f", "/run/knc-pxe-%s.xml" % guest_name, console], check=False)
        dump.stop()
        thread.join(5)
    first = packets[0] - t0 if packets else None
    return PxeOutcome(
        leased=lease_at is not None,
        dhcp_packets=len(packets),
        first_packet_s=round(first, 2) if first is not None else None,
        lease_s=round(lease_at - t0, 2) if lease_at is not None else None,
        observed_s=round(observed, 2),
        bridge=bridge,
        mac=mac,
        console=text,
    )


def _console(host: LabHost, path: str) -> str:
    proc = host.exec(["cat", path], check=False, text=False)
    if proc.returncode != 0:
        return ""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc", "", proc.stdout.decode("utf-8", "replace"))


@dataclass(frozen=True)
class NicsBootOutcome:
    """A guest with several NICs booted under SeaBIOS: which NIC got a lease when, and the console.

    ``macs``: the NICs' MACs, in device order; ``lease_s``: for each, seconds from guest start until its
    lease showed up in its network's dnsmasq status file (None: never).
    """

    macs: tuple
    lease_s: tuple
    console: str = ""


def nics_boot(host: LabHost, interfaces, guest_name: str = "nics1", observe_s: float = 120, until: tuple = ()):
    """Boot a disk-less guest with one NIC per (network, extra XML) of ``interfaces`` (the extra XML holds
    e.g. ``<boot order='1'/>`` or ``<rom bar='off'/>``) and watch each NIC's lease and the serial console
    until one of ``until`` shows there (or the time is up). The guest is destroyed and undefined after."""
    if host.virsh(["dominfo", guest_name], check=False).returncode == 0:
        raise LabError("domain %s already exists in %s" % (guest_name, host.name))
    macs = ["52:54:00:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3)) for _ in interfaces]
    bridges = [network_bridge(host, net) for net, _ in interfaces]
    console = "/run/knc-pxe-%s.console" % guest_name
    nics = "".join(
        "<interface type='network'><source network=%s/><mac address='%s'/><model type='virtio'/>%s</interface>"
        % (quoteattr(net), mac, extra)
        for (net, extra), mac in zip(interfaces, macs)
    )
    xml = DOMAIN_XML.format(
        name=escape(guest_name),
        memory=192,
        network=quoteattr(interfaces[0][0]),
        mac=macs[0],
        console=quoteattr(console),
    ).replace("<boot dev='network'/>", "" if "<boot order" in nics else "<boot dev='network'/>")
    xml = re.sub(r"<interface type='network'>.*?</interface>", lambda _: nics, xml, count=1, flags=re.S)
    path = "/run/knc-pxe-%s.xml" % guest_name
    defined = False
    leased = [None] * len(macs)
    text = ""
    try:
        host.write_file(path, xml, mode=0o600)
        host.virsh(["define", path])
        defined = True
        host.virsh(["start", guest_name])
        t0 = time.monotonic()
        while time.monotonic() - t0 < observe_s:
            for i, (mac, bridge) in enumerate(zip(macs, bridges)):
                if leased[i] is None and _leased(host, bridge, mac):
                    leased[i] = round(time.monotonic() - t0, 2)
            text = _console(host, console)
            if until and any(u in text for u in until):
                break
            time.sleep(0.5)
        text = _console(host, console)
    finally:
        if defined:
            host.virsh(["destroy", guest_name], check=False)
            host.virsh(["undefine", guest_name], check=False)
        host.exec(["rm", "-f", path, console], check=False)
    return NicsBootOutcome(tuple(macs), tuple(leased), text)
