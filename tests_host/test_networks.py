"""libvirt networks: the bridge they make, and the firewall around it."""
import pytest

from kvmnetcheck.catalog import Finding, check, remedy, xml_attr
from kvmnetcheck.facts.model import Unreadable


def _suggested_bridge(name, limits):
    # delay='0' still means a 2 s kernel forward delay (4 s blocked) while STP is on
    if limits.max_port_block_s >= 4:
        return f"<bridge name={xml_attr(name or 'virbrN')} stp='on' delay='0'/>  (or stp='off')"
    return f"<bridge name={xml_attr(name or 'virbrN')} stp='off'/>"


@check("libvirt-network-stp-delay")
def test_network_bridge_forwards_new_ports_promptly(host_facts, network, limits):
    """A libvirt network's <bridge> turns STP off or keeps the kernel's minimum forward delay."""
    live = network.live
    if not live.creates_bridge:
        where = f"host bridge {live.bridge_name!r}" if live.bridge_name else "no bridge"
        pytest.skip(f"forward mode '{live.forward_mode}' uses {where}, not one libvirt makes "
                    "(a host bridge is checked by bridge-forward-delay)")
    defs = []
    if network.active:
        defs.append(("running", live))
    if network.persistent_def is not None:
        defs.append(("saved", network.persistent_def))
    bad = [(label, d) for label, d in defs if d.new_port_block_s > limits.max_port_block_s]
    if not bad:
        return
    label, d = bad[0]
    element = d.bridge_xml or "(no <bridge> element: stp='on' delay='0' by default)"
    labels = " and ".join(lbl for lbl, _ in bad)
    only_running = [lbl for lbl, _ in bad] == ["running"]
    raise Finding(
        f"network {network.name}: the {labels} definition{'s have' if len(bad) > 1 else ' has'} {element}, so with STP on the kernel uses a "
        f"forward delay of {d.kernel_forward_delay_s:g} s and a new guest port passes no traffic for "
        f"{d.new_port_block_s:g} s, over the limit of {limits.max_port_block_s:g} s"
        + (" (the saved definition is already fixed: the network was not restarted)" if only_running else ""),
        observed={"definition": labels, "bridge": element, "stp": "on" if d.stp else "off",
                  "delay (XML)": d.delay_s, "kernel forward_delay_s": d.kernel_forward_delay_s,
                  "new_port_blocked_s": d.new_port_block_s, "active": network.active},
        limit=limits.describe_limit(),
        remediation=remedy("libvirt-network-stp-delay", "restart" if only_running else "edit",
                           network=network.name, bridge=d.bridge_name or "virbrN",
                           bridge_xml=_suggested_bridge(d.bridge_name, limits)),
    )


def _expected_zones(host_facts, network):
    if network.live.zone:
        return (network.live.zone,), f"zone='{network.live.zone}' in the network's <bridge>"
    fw = host_facts.firewalld
    if fw.zone("libvirt") is None:
        return None, "firewalld has no 'libvirt' zone (libvirt < 5.1 or firewalld < 0.7)"
    if network.live.forward_mode == "route" and fw.zone("libvirt-routed") is not None:
        return ("libvirt-routed", "libvirt"), "libvirt puts route networks in 'libvirt-routed'"
    return ("libvirt",), "libvirt puts its bridges in the 'libvirt' zone"


@check("firewalld-libvirt-conflict")
def test_network_survives_firewalld(host_facts, network):
    """An active network's bridge is in its firewalld zone, the zone admits DHCP/TFTP, and libvirt's rules exist."""
    fw = host_facts.firewalld
    if not fw.running:
        pytest.skip("firewalld is not running on this host" if fw.installed else "firewalld is not installed")
    if not network.active:
        pytest.skip("the network is not running")
    if not network.live.creates_bridge or not network.bridge_name:
        pytest.skip(f"forward mode '{network.live.forward_mode}': libvirt adds no firewall rules for it")
    if fw.error:
        raise Unreadable(fw.error)
    bridge = network.bridge_name
    problems, fixes = [], []
    expected, why = _expected_zones(host_facts, network)
    zone = fw.zone_of(bridge)
    if expected and (zone is None or zone.name not in expected):
        problems.append(f"{bridge} is in zone {zone.name if zone else '(none)'!s}, expected {expected[0]} ({why})")
        fixes.append(remedy("firewalld-libvirt-conflict", "zone", zone=expected[0], bridge=bridge))
        zone = fw.zone(expected[0]) or zone
    if zone is not None:
        needs = []
        if network.live.serves_dhcp:
            needs.append(("dhcp", "67/udp"))
        if network.live.serves_pxe:
            needs.append(("tftp", "69/udp"))
        for service, port in needs:
            if not zone.allows(service, port):
                problems.append(f"zone {zone.name} does not admit {service} (services: "
                                f"{' '.join(zone.services) or 'none'}, target {zone.target})")
                fixes.append(remedy("firewalld-libvirt-conflict", "service", zone=zone.name, service=service))
    backend, evidence = host_facts.firewall_backend
    ipt_rules = host_facts.iptables.rules_mentioning(bridge)
    nft_rules = host_facts.nft.mentions(bridge)
    if backend != "nftables" and host_facts.iptables.rules_error and not nft_rules:
        raise Unreadable(f"iptables rules could not be read: {host_facts.iptables.rules_error}")
    if not ipt_rules and not nft_rules:
        problems.append(f"libvirt's firewall rules for {bridge} are gone (none in iptables"
                        + (" nor in nft table ip libvirt_network" if host_facts.nft.installed else "") + ")")
        fixes.append(remedy("firewalld-libvirt-conflict", "rules", bridge=bridge))
    if not problems:
        return
    raise Finding(
        f"network {network.name} on {bridge}: " + "; ".join(problems),
        observed={"zone of bridge": zone.name if fw.zone_of(bridge) else "(none)",
                  "expected zone": " or ".join(expected) if expected else "(none)",
                  "firewalld": fw.version or "running", "libvirt firewall backend": f"{backend} ({evidence})",
                  "libvirt rules for bridge": len(ipt_rules) + (1 if nft_rules else 0)},
        limit="bridge in its zone, DHCP (and TFTP for PXE) admitted, libvirt's rules present",
        remediation=sum(fixes[1:], fixes[0]),
    )
