"""Linux bridges as the kernel runs them, and as their persistent config will bring them back."""

import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.catalog.fixtext import config_hint, nm_selector, where_defined
from kvmnetcheck.facts.conclusions.bridges import bridge_owner, guests_bridged_by, stp_guards_a_loop
from kvmnetcheck.facts.conclusions.dhcp_path import dhcp_path
from kvmnetcheck.facts.conclusions.firewall import effective_zone
from kvmnetcheck.facts.model import STP_OFF, STP_USER, Unreadable

USER_STP = (
    "user-space STP (stp_state 2, e.g. mstpd): the daemon, not the kernel, decides when a new port "
    "forwards, so the kernel's forward delay says nothing"
)


def _stp_state(bridge):
    if bridge.stp_state is None:
        raise Unreadable(f"STP state of {bridge.name} could not be read: {bridge.error}")
    return bridge.stp_state


def _ports(bridge):
    if bridge.ports is None:
        return f"not read ({bridge.ports_error})"
    return ", ".join(f"{p.name}={p.state_name}" for p in bridge.ports) or "none"


@check("bridge-forward-delay")
def test_bridge_forwards_new_ports_within_limit(host_facts, bridge, limits):
    """A bridge with kernel STP on blocks a new port for no longer than the limit (2 x forward_delay)."""
    state = _stp_state(bridge)
    if state == STP_USER:
        pytest.skip(USER_STP)
    if bridge.forward_delay_s is None:
        raise Unreadable(f"forward_delay of {bridge.name} could not be read: {bridge.error}")
    block = bridge.new_port_block_s
    if block <= limits.max_port_block_s:
        return
    if state == STP_OFF:  # a kernel older than 2.6.39 holds a new port one forward delay even so
        raise Finding(
            f"{bridge.name}: STP is off, but this kernel ({host_facts.kernel}) still holds a new port in learning "
            f"for one forward delay, {block:g} s, over the limit of {limits.max_port_block_s:g} s",
            observed={"stp_state": state, "forward_delay_s": bridge.forward_delay_s, "kernel": host_facts.kernel},
            limit=limits.describe_limit(),
            remediation=remedy("zero-delay", bridge=bridge.name),
        )
    loop = stp_guards_a_loop(host_facts, bridge.name)
    owner = bridge_owner(host_facts, bridge.name)
    if loop:
        fix = remedy("keep-stp", bridge=bridge.name, loop=loop)
    elif owner.kind == "libvirt":
        fix = remedy("libvirt", bridge=bridge.name, network=owner.network.name)
    elif owner.kind == "config":
        fix = remedy(
            "config",
            bridge=bridge.name,
            path=owner.config.path,
            config_hint=config_hint(owner.config.format, bridge.name),
        )
    else:
        fix = remedy("unmanaged", bridge=bridge.name)
    not_root = "" if bridge.is_stp_root in (True, None) else " (it is not the STP root: this delay is the root's)"
    raise Finding(
        f"{bridge.name}: kernel STP on with forward_delay {bridge.forward_delay_s:g} s{not_root}, so a new port "
        f"passes no traffic for {block:g} s, over the limit of {limits.max_port_block_s:g} s"
        + (f"; STP cannot simply be turned off: {loop}" if loop else ""),
        observed={
            "stp_state": state,
            "forward_delay_s": bridge.forward_delay_s,
            "new_port_blocked_s": block,
            "ports": _ports(bridge),
        },
        limit=limits.describe_limit(),
        remediation=fix,
    )


@check("bridge-stp-root")
def test_bridge_with_stp_is_root(host_facts, bridge):
    """A bridge with kernel STP on is the root of its spanning tree, or has STP off."""
    state = _stp_state(bridge)
    if state == STP_OFF:
        pytest.skip("STP is off: the bridge takes part in no root election")
    if state == STP_USER:
        pytest.skip(USER_STP)
    root = bridge.is_stp_root
    if root is None:
        raise Unreadable(f"bridge_id, root_id or root_port of {bridge.name} could not be read: {bridge.error}")
    if root:
        return
    loop = stp_guards_a_loop(host_facts, bridge.name)
    raise Finding(
        f"{bridge.name} is not the STP root: the root is {bridge.root_id}, reached through port "
        f"{bridge.root_port}; its forward delay ({bridge.forward_delay_s:g} s now) is whatever the root sends, "
        "so setting it here does not last",
        observed={
            "bridge_id": bridge.bridge_id,
            "root_id": bridge.root_id,
            "root_port": bridge.root_port,
            "priority": bridge.priority,
            "forward_delay_s": bridge.forward_delay_s,
            "ports": _ports(bridge),
        },
        limit="the bridge is the STP root, or STP is off",
        remediation=remedy("keep-stp", bridge=bridge.name, loop=loop)
        if loop
        else remedy("default", bridge=bridge.name, where=where_defined(bridge_owner(host_facts, bridge.name))),
    )


# how each program's file is fixed: the fix variant for its format and program
_FIX_VARIANT = {"ifcfg": {"NetworkManager": "ifcfg-networkmanager", "wicked": "ifcfg-wicked"}}


def _config_variant(c) -> str:
    by_program = _FIX_VARIANT.get(c.format)
    if by_program is None:
        return c.format
    return next((v for p, v in by_program.items() if c.program.startswith(p)), "ifcfg-initscripts")


@check("bridge-persistent-config")
def test_bridge_config_keeps_new_ports_open(host_facts, bridge_config, limits):
    """The bridge's persistent config, read as the program that applies it at boot reads it, turns STP off or keeps the minimum forward delay."""
    c = bridge_config
    if c.applies is False:
        pytest.skip(f"{c.path} is not applied at boot: {c.boot_note}")
    if c.unknown:
        raise Unreadable(f"{c.path}: {c.unknown}")
    observed = {
        "file": c.path,
        "format": c.format,
        "read as": c.program or "(unknown)",
        "applied at boot": c.boot_note or "could not be told",
        "stp": "on" if c.stp else "off",
        "forward_delay_s": "unset (default %g s)" % c.default_delay_s
        if c.forward_delay_s is None
        else c.forward_delay_s,
        "lines": " | ".join(c.lines),
    }
    loop = stp_guards_a_loop(host_facts, c.bridge)
    if loop:
        fix = remedy("keep-stp", bridge=c.bridge, path=c.path, loop=loop)
    else:
        fix = remedy(
            _config_variant(c),
            path=c.path,
            keyfile_dir=c.path.rpartition("/")[0] or "/",
            bridge=c.bridge,
            connection=c.connection or c.bridge,
            conn_by=nm_selector(c.connection or c.bridge),
            loop=loop,
        )
    how = f" (read as {c.program} reads it)" if c.program else ""
    if c.problem:
        raise Finding(
            f"{c.path} defines bridge {c.bridge} with STP on{how}, but {c.problem}",
            observed=observed,
            limit=limits.describe_limit(),
            remediation=fix,
        )
    block = c.new_port_block_s
    if block <= limits.max_port_block_s:
        return
    delay = (
        "no delay set, so the default %g s applies" % c.default_delay_s
        if c.forward_delay_s is None
        else f"forward delay {c.forward_delay_s:g} s"
    )
    stp = "STP on" if c.stp else "STP off, on a kernel that still holds new ports one delay,"
    raise Finding(
        f"{c.path} brings bridge {c.bridge} up{how} with {stp} and {delay}: after the next boot a new "
        f"port passes no traffic for {block:g} s, over the limit of {limits.max_port_block_s:g} s",
        observed=observed,
        limit=limits.describe_limit(),
        remediation=fix,
    )


_NFT_CHAIN = re.compile(r"^nft (\S+) (.+?) chain (\S+?):?\s")  # a table name may hold spaces


@check("bridge-netfilter-dhcp")
def test_bridged_dhcp_passes_the_host_firewall(host_facts, bridge):
    """DHCP between the guests of a bridge and their server passes the host firewall on the path it takes: FORWARD where bridge netfilter hands it bridged frames, INPUT and OUTPUT where the server runs on the host."""
    guests = guests_bridged_by(host_facts, bridge.name)
    if not guests:
        pytest.skip("no guest uses this bridge (or it is a libvirt network's own, whose DHCP is the host's)")
    h = host_facts
    found = dhcp_path(h, bridge)
    verdict, local, through_iptables = found.verdict, found.local, found.through_iptables
    if verdict.verdict == "accept":
        return
    path = f"to and from {local} on this host" if local else f"bridged by {bridge.name}"
    if verdict.verdict != "drop":
        raise Unreadable(
            f"what the firewall does to DHCP {path} could not be decided: {verdict.by}"
            + (f"; rules: {'; '.join(verdict.undecided[:3])}" if verdict.undecided else "")
        )
    by = verdict.by
    m = _NFT_CHAIN.match(by)
    zone = effective_zone(h.firewalld, bridge.name) if m and m.group(2) == "firewalld" and h.firewalld.running else None
    if zone is not None or (m and m.group(2) == "firewalld" and h.firewalld.running):
        zone_name = zone.name if zone else "ZONE"
        if local:
            fix = remedy("host-firewalld", bridge=bridge.name, zone=zone_name, server=local)
        else:
            fix = remedy("firewalld", bridge=bridge.name, zone=zone_name)
    elif m and local:
        fix = remedy(
            "host-nft", bridge=bridge.name, by=by, family=m.group(1), table=m.group(2), chain=m.group(3), server=local
        )
    elif m:
        fix = remedy("nft", bridge=bridge.name, by=by, family=m.group(1), table=m.group(2), chain=m.group(3))
    elif local and by.startswith("iptables-legacy"):
        fix = remedy("host-iptables-legacy", bridge=bridge.name, server=local)
    elif local:
        fix = remedy("host-iptables", bridge=bridge.name, server=local)
    elif by.startswith("iptables-legacy"):
        fix = remedy("iptables-legacy", bridge=bridge.name)
    elif any(r.target == "DOCKER-USER" for r in h.iptables.rules if r.chain == "FORWARD"):
        fix = remedy("docker", bridge=bridge.name)
    else:
        fix = remedy("iptables", bridge=bridge.name)
    observed = {
        "bridge": bridge.name,
        "DHCP server": f"{local} on this host (INPUT, OUTPUT)" if local else "beyond a port (FORWARD)",
        "br_netfilter loaded": h.br_netfilter,
        "net.bridge.bridge-nf-call-iptables": h.bridge_nf_call_iptables,
        "bridge nf_call_iptables": bridge.nf_call_iptables,
        "dropped by": verdict.by,
        "also undecided": "; ".join(verdict.undecided[:3]) or "nothing",
    }
    if local:
        raise Finding(
            f"bridge {bridge.name} (used by {', '.join(guests[:5])}): {local} serves its DHCP from this host, and "
            f"the host firewall drops the exchange on its way up to it or back ({verdict.by}): its guests get "
            "no address",
            observed=observed,
            limit="DHCP to and from the host's server accepted on INPUT and OUTPUT",
            remediation=fix,
        )
    raise Finding(
        f"bridge {bridge.name} (used by {', '.join(guests[:5])}): "
        + ("bridge netfilter hands its bridged frames to iptables and nftables, and " if through_iptables else "")
        + f"the host firewall drops DHCP bridged between its ports ({verdict.by}): its guests get no address from the LAN",
        observed=observed,
        limit="bridged DHCP accepted",
        remediation=fix,
    )
