"""Each Open vSwitch bridge: does its spanning tree let a new guest port forward in time?"""

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.model import Unreadable


@check("ovs-bridge-stp")
def test_ovs_bridge_forwards_new_guest_ports_promptly(host_facts, ovs_bridge, limits):
    """An Open vSwitch bridge with guest ports lets a new port forward within the limit."""
    ovs = host_facts.ovs
    if ovs_bridge is None:
        raise Unreadable(
            f"Open vSwitch's bridges could not be listed: {ovs.error} (the database socket is root's: "
            "run as root, or with --sudo)"
        )
    b = ovs_bridge
    if b.spanning_tree is None:
        return  # no spanning tree: a new port forwards at once
    if b.error and not b.ports:
        raise Unreadable(f"the ports of Open vSwitch bridge {b.name} could not be read: {b.error}")
    guests = b.guest_ports
    if not guests:
        pytest.skip("no guest port on it")
    block = b.new_port_block_s
    if block <= limits.max_port_block_s:
        return
    if b.spanning_tree == "stp" and b.stp_root not in ("self",):
        if b.stp_root is None:
            raise Unreadable(
                f"whether Open vSwitch bridge {b.name} is the STP root is unknown (Bridge status has "
                "no stp_designated_root): the root's forward delay applies"
            )
        raise Unreadable(
            f"Open vSwitch bridge {b.name} is not the STP root ({b.stp_root} is): the root's forward "
            "delay applies, which this host cannot see"
        )
    uplinks = [p.name for p in b.ports if not p.is_guest and not p.is_internal]
    blocking = [
        p.name for p in b.ports if (p.stp_state or p.rstp_state) in ("blocking", "discarding") and not p.is_guest
    ]
    loop = (
        f"port {', '.join(blocking)} is blocking: STP is cutting a loop through {b.name} now"
        if blocking
        else f"{b.name} has {len(uplinks)} uplinks ({', '.join(uplinks[:5])}): a loop through them is possible"
        if len(uplinks) >= 2
        else None
    )
    fix = remedy("rstp", bridge=b.name, loop=loop) if loop else remedy("stp-off", bridge=b.name)
    raise Finding(
        f"Open vSwitch bridge {b.name} runs {b.spanning_tree.upper()}: a new guest port passes no traffic for "
        f"{block:g} s, over the limit of {limits.max_port_block_s:g} s ({len(guests)} guest port(s): "
        f"{', '.join(p.name for p in guests[:5])})",
        observed={
            "bridge": b.name,
            "stp_enable": b.stp,
            "rstp_enable": b.rstp,
            "forward delay applied (s)": b.stp_effective_forward_delay_s,
            "new_port_blocked_s": block,
            "uplinks": ", ".join(uplinks) or "none",
        },
        limit=limits.describe_limit(),
        remediation=fix,
    )
