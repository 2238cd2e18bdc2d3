"""libvirt networks: the bridge they make, and the firewall around it."""

import pytest

from kvmnetcheck.catalog import Finding, check, remedy, xml_attr
from kvmnetcheck.facts.conclusions.bridges import stp_guards_a_loop
from kvmnetcheck.facts.conclusions.firewall import admits_to_host, effective_zone, firewall_backend
from kvmnetcheck.facts.conclusions.libvirt import network_daemon, network_start_error
from kvmnetcheck.facts.model import Unreadable


def _suggested_bridge(name, limits):
    # delay='0' still means a 2 s kernel forward delay (4 s blocked) while STP is on
    if limits.max_port_block_s >= 4:
        return f"<bridge name={xml_attr(name or 'virbrN')} stp='on' delay='0'/>  (or stp='off')"
    return f"<bridge name={xml_attr(name or 'virbrN')} stp='off'/>"


@check("libvirt-network-inactive")
def test_autostart_network_is_running(host_facts, network):
    """A libvirt network marked autostart is running."""
    if network.active:
        return
    if host_facts.libvirt.source == "files":
        pytest.skip("no libvirt daemon answered (libvirt-readable says how to start it): no network runs until it does")
    if network.autostart is None:
        raise Unreadable(
            f"network {network.name} is not running, and whether libvirt should start it (autostart) is "
            "unknown: virsh net-info said nothing of it; gather the host's facts again"
        )
    if not network.autostart:
        pytest.skip("the network is not running and not marked autostart: it is stopped on purpose")
    reason = network_start_error(host_facts, network)
    head = f"network {network.name} is marked autostart but is not running"
    bridge = network.live.bridge_name or "virbrN"
    observed = {"active": "no", "autostart": "yes", "libvirt's reason": reason or "not found in the logs read"}
    limit = "an autostart network is running"
    if reason and "csum" in reason and ("TC action" in reason or "tc filter" in reason):
        version = ".".join(map(str, host_facts.libvirt.libvirt_version or ())) or "(version unknown)"
        fix = remedy(
            "act-csum", network=network.name, bridge=bridge, version=version, daemon=network_daemon(host_facts)
        )
        raise Finding(f"{head}: libvirt could not start it: {reason}", remediation=fix, observed=observed, limit=limit)
    if reason:
        fix = remedy("reason", network=network.name)
        raise Finding(f"{head}: libvirt could not start it: {reason}", remediation=fix, observed=observed, limit=limit)
    searched = ", ".join(host_facts.libvirt_log_sources) or "none"
    raise Finding(
        f"{head}; libvirt's reason is not in the logs read (searched: {searched}): "
        f"`virsh net-start {network.name}` prints it",
        remediation=remedy("unknown", network=network.name),
        observed=observed,
        limit=limit,
    )


@check("libvirt-network-stp-delay")
def test_network_bridge_forwards_new_ports_promptly(host_facts, network, limits):
    """The network's <bridge> turns STP off, or keeps the kernel's minimum forward delay (delay='0')."""
    live = network.live
    if not live.creates_bridge:
        where = f"host bridge {live.bridge_name!r}" if live.bridge_name else "no bridge"
        pytest.skip(
            f"forward mode '{live.forward_mode}' uses {where}, not one libvirt makes "
            "(a host bridge is checked by bridge-forward-delay)"
        )
    bridge = network.bridge_name or (network.persistent_def.bridge_name if network.persistent_def else None) or "virbrN"
    # what a new guest port meets now is the running bridge as the kernel has it (libvirt sets STP
    # only when the network starts, so its running XML may be stale); what comes back at the next
    # start is the saved definition
    bad = []
    if network.active:
        kernel = host_facts.bridge(bridge)
        if kernel is not None and kernel.new_port_block_s is not None:
            if kernel.new_port_block_s > limits.max_port_block_s:
                bad.append(
                    (
                        "running",
                        f"the running bridge {bridge} has kernel STP on with forward_delay "
                        f"{kernel.forward_delay_s:g} s",
                        kernel.new_port_block_s,
                    )
                )
        elif live.new_port_block_s > limits.max_port_block_s:
            bad.append(
                (
                    "running",
                    f"the running definition has {live.bridge_xml or 'no <bridge> element'}, "
                    f"so the kernel uses a forward delay of {live.kernel_forward_delay_s:g} s",
                    live.new_port_block_s,
                )
            )
    saved = network.persistent_def
    if saved is not None and saved.new_port_block_s > limits.max_port_block_s:
        element = saved.bridge_xml or "(no <bridge> element: stp='on' delay='0' by default)"
        bad.append(
            (
                "saved",
                f"the saved definition has {element}, so with STP on the kernel uses a forward "
                f"delay of {saved.kernel_forward_delay_s:g} s",
                saved.new_port_block_s,
            )
        )
    if not bad:
        return
    labels = tuple(label for label, _, _ in bad)
    loop = stp_guards_a_loop(host_facts, bridge) if "running" in labels else None
    # the saved definition is fixed with net-define, the running bridge at once with ip link: no restart
    variant = (
        "keep-stp" if loop else {("running", "saved"): "edit", ("running",): "running", ("saved",): "saved"}[labels]
    )
    when = {
        "saved": " (the running bridge is fine: the delay comes back at the network's next start)",
        "running": " (the saved definition is already fixed: the network was not restarted)",
    }.get(variant, "")
    block = max(b for _, _, b in bad)
    raise Finding(
        f"network {network.name}: "
        + "; ".join(what for _, what, _ in bad)
        + f": a new guest port passes no traffic for {block:g} s, over the limit of {limits.max_port_block_s:g} s"
        + when
        + (f"; STP cannot simply be turned off: {loop}" if loop else ""),
        observed={
            "definition": " and ".join(labels),
            "running <bridge>": live.bridge_xml or "(none)",
            "saved <bridge>": saved.bridge_xml if saved is not None else "(not persistent)",
            "new_port_blocked_s": block,
            "active": network.active,
        },
        limit=limits.describe_limit(),
        remediation=remedy(
            variant, network=network.name, bridge=bridge, bridge_xml=_suggested_bridge(bridge, limits), loop=loop
        ),
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


def _services(live):
    """What must reach the host from the bridge: DHCP (v4 and v6 as served), TFTP for PXE."""
    needs = []
    if live.serves_dhcp4:
        needs.append(("dhcp", "67/udp"))
    if live.serves_dhcp6:
        needs.append(("dhcpv6", "547/udp"))
    if live.serves_pxe:
        needs.append(("tftp", "69/udp"))
    return needs


@check("firewalld-libvirt-conflict")
def test_network_survives_firewalld(host_facts, network):
    """The network's bridge sits in its firewalld zone, DHCP (and TFTP for PXE) from it reaches the host through that zone or libvirt's policy, and libvirt's own rules for the bridge are in place."""
    fw = host_facts.firewalld
    if not fw.running:
        pytest.skip("firewalld is not running on this host" if fw.installed else "firewalld is not installed")
    if not network.active:
        pytest.skip("the network is not running")
    live = network.live
    if not live.creates_bridge or not network.bridge_name:
        pytest.skip(f"forward mode '{live.forward_mode}': libvirt adds no firewall rules for it")
    if fw.error:
        raise Unreadable(fw.error)
    bridge = network.bridge_name
    if live.forward_mode == "open" and not live.zone:
        # libvirt gives an open network no zone and no rules, by design: only what reaches the host matters
        zone = effective_zone(fw, bridge)
        if zone is None:
            raise Unreadable(f"{bridge} is in no firewalld zone and the default zone could not be read")
        refused = [(s, by) for s, p in _services(live) for ok, by in [admits_to_host(fw, zone, s, p)] if not ok]
        if not refused:
            return
        raise Finding(
            f"network {network.name} (mode='open', so libvirt gives {bridge} no zone and no rules) is served by "
            f"dnsmasq on the host, but {bridge} is in zone {zone.name}, where "
            + ", ".join(f"{s} does not reach the host ({b})" for s, b in refused),
            observed={
                "zone of bridge": zone.name + ("" if fw.zone_of(bridge) else " (firewalld's default zone)"),
                "services": " ".join(zone.services) or "none",
                "target": zone.target,
            },
            limit="DHCP (and TFTP for PXE) from the bridge reach the host",
            remediation=remedy("open", bridge=bridge, zone=zone.name, service=refused[0][0]),
        )
    problems, fixes = [], []
    expected, why = _expected_zones(host_facts, network)
    zone = fw.zone_of(bridge)
    if expected and (zone is None or zone.name not in expected):
        problems.append(f"{bridge} is in zone {zone.name if zone else '(none)'!s}, expected {expected[0]} ({why})")
        fixes.append(remedy("zone", zone=expected[0], bridge=bridge))
        zone = fw.zone(expected[0]) or zone
    if zone is not None:
        for service, port in _services(live):
            admitted, by = admits_to_host(fw, zone, service, port)
            if not admitted:
                problems.append(
                    f"{service} from zone {zone.name} does not reach the host ({by} refuses it; "
                    f"services: {' '.join(zone.services) or 'none'}, target {zone.target})"
                )
                fixes.append(remedy("service", zone=zone.name, service=service))
    backend, evidence = firewall_backend(host_facts)
    ipt_rules = host_facts.iptables.rules_mentioning(bridge)
    nft_rules = host_facts.nft.mentions(bridge)
    if not ipt_rules and not nft_rules:
        unread = [
            e
            for e in (
                host_facts.iptables.rules_error if backend != "nftables" else None,
                host_facts.nft.error if backend != "iptables" else None,
            )
            if e
        ]
        if unread:
            raise Unreadable("libvirt's rules could not be read: " + "; ".join(unread))
        problems.append(
            f"libvirt's firewall rules for {bridge} are gone (none in iptables"
            + (" nor in nft tables ip/ip6 libvirt_network" if host_facts.nft.installed else "")
            + ")"
        )
        fixes.append(remedy("rules", bridge=bridge, daemon=network_daemon(host_facts)))
    if not problems:
        return
    raise Finding(
        f"network {network.name} on {bridge}: " + "; ".join(problems),
        observed={
            "zone of bridge": fw.zone_of(bridge).name if fw.zone_of(bridge) else "(none)",
            "expected zone": " or ".join(expected) if expected else "(none)",
            "policies": ", ".join(p.name for p in fw.policies) or ("none" if fw.policies_read else "not read"),
            "firewalld": fw.version or "running",
            "libvirt firewall backend": f"{backend} ({evidence})",
            "libvirt rules for bridge": len(ipt_rules) + (1 if nft_rules else 0),
        },
        limit="bridge in its zone, DHCP (and TFTP for PXE) admitted to the host, libvirt's rules present",
        remediation=sum(fixes[1:], fixes[0]),
    )
