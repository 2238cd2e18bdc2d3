"""Linux bridges as the kernel runs them, and as their persistent config will bring them back."""
import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.catalog.fixtext import config_hint, where_defined
from kvmnetcheck.facts.derived import bridge_owner
from kvmnetcheck.facts.model import STP_OFF, STP_USER, Unreadable

USER_STP = ("user-space STP (stp_state 2, e.g. mstpd): the daemon, not the kernel, decides when a new port "
            "forwards, so the kernel's forward delay says nothing")


def _stp_state(bridge):
    if bridge.stp_state is None:
        raise Unreadable(f"STP state of {bridge.name} could not be read: {bridge.error}")
    return bridge.stp_state


@check("bridge-forward-delay")
def test_bridge_forwards_new_ports_within_limit(host_facts, bridge, limits):
    """A bridge with kernel STP on blocks a new port for no longer than the limit."""
    state = _stp_state(bridge)
    if state == STP_USER:
        pytest.skip(USER_STP)
    if state == STP_OFF:
        return
    if bridge.forward_delay_s is None:
        raise Unreadable(f"forward_delay of {bridge.name} could not be read: {bridge.error}")
    block = bridge.new_port_block_s
    if block <= limits.max_port_block_s:
        return
    owner = bridge_owner(host_facts, bridge.name)
    if owner.kind == "libvirt":
        fix = remedy("bridge-forward-delay", "libvirt", bridge=bridge.name, network=owner.network.name)
    elif owner.kind == "config":
        fix = remedy("bridge-forward-delay", "config", bridge=bridge.name, path=owner.config.path,
                     config_hint=config_hint(owner.config.format, bridge.name))
    else:
        fix = remedy("bridge-forward-delay", "unmanaged", bridge=bridge.name)
    not_root = "" if bridge.is_stp_root in (True, None) else " (it is not the STP root: this delay is the root's)"
    raise Finding(
        f"{bridge.name}: kernel STP on with forward_delay {bridge.forward_delay_s:g} s{not_root}, so a new port "
        f"passes no traffic for {block:g} s, over the limit of {limits.max_port_block_s:g} s",
        observed={"stp_state": state, "forward_delay_s": bridge.forward_delay_s, "new_port_blocked_s": block,
                  "ports": ", ".join(f"{p.name}={p.state_name}" for p in bridge.ports) or "none"},
        limit=limits.describe_limit(),
        remediation=fix,
    )


@check("bridge-stp-root")
def test_bridge_with_stp_is_root(host_facts, bridge):
    """A bridge with kernel STP on is the root of its spanning tree."""
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
    raise Finding(
        f"{bridge.name} is not the STP root: the root is {bridge.root_id}, reached through port "
        f"{bridge.root_port}; its forward delay ({bridge.forward_delay_s:g} s now) is whatever the root sends, "
        "so setting it here does not last",
        observed={"bridge_id": bridge.bridge_id, "root_id": bridge.root_id, "root_port": bridge.root_port,
                  "priority": bridge.priority, "forward_delay_s": bridge.forward_delay_s},
        limit="the bridge is the STP root, or STP is off",
        remediation=remedy("bridge-stp-root", "default", bridge=bridge.name,
                           where=where_defined(bridge_owner(host_facts, bridge.name))),
    )


@check("bridge-persistent-config")
def test_bridge_config_keeps_new_ports_open(host_facts, bridge_config, limits):
    """A bridge's persistent config turns STP off, or on with the minimum forward delay."""
    c = bridge_config
    observed = {"file": c.path, "format": c.format, "stp": "on" if c.stp else "off",
                "forward_delay_s": "unset (default %g s)" % c.default_delay_s if c.forward_delay_s is None
                else c.forward_delay_s, "lines": " | ".join(c.lines)}
    fix = remedy("bridge-persistent-config", c.format, path=c.path, bridge=c.bridge, connection=c.bridge)
    if c.problem:
        raise Finding(f"{c.path} defines bridge {c.bridge} with STP on, but {c.problem}",
                      observed=observed, limit=limits.describe_limit(), remediation=fix)
    block = c.new_port_block_s
    if block <= limits.max_port_block_s:
        return
    delay = ("no delay set, so the default %g s applies" % c.default_delay_s if c.forward_delay_s is None
             else f"forward delay {c.forward_delay_s:g} s")
    raise Finding(
        f"{c.path} brings bridge {c.bridge} up with STP on and {delay}: after the next ifup or reboot a new "
        f"port passes no traffic for {block:g} s, over the limit of {limits.max_port_block_s:g} s",
        observed=observed, limit=limits.describe_limit(), remediation=fix,
    )
