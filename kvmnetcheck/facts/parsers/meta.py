"""The collector's `meta` section: who and what the host is, which tools it has, and the bridge netfilter
switches.

    collector=6
    hostname=kvm01
    uid=0
    clk_tck=100
    kernel=6.1.0-18-amd64
    now=1714000000
    br_netfilter=1
    bridge_nf_call_iptables=1
    have=virsh
    vhost_net_dev=1
    libvirt_socket=/run/libvirt/libvirt-sock-ro
"""

from __future__ import annotations

from typing import Any

from .gathered import Gathered
from .keyvalue import first, parse_key_values, to_int

LIBVIRT_COMMANDS = frozenset({"virsh", "libvirtd", "virtnetworkd"})


def parse_meta(text: str) -> dict[str, list[str]]:
    return parse_key_values(text)


def read_meta(g: Gathered) -> dict[str, Any]:
    """The host-wide HostFacts fields the `meta` section fills, by name."""
    kv = g.meta
    commands = g.commands
    nf = first(kv, "bridge_nf_call_iptables")
    return {
        "now": to_int(first(kv, "now")),
        # facts of collectors before format 3 do not say: None, unknown
        "br_netfilter": ("1" in kv.get("br_netfilter", [])) if g.gathered_since(3) else None,
        "bridge_nf_call_iptables": None if nf is None else nf.strip() != "0",
        "hostname": first(kv, "hostname"),
        "uid": to_int(first(kv, "uid")),
        "clk_tck": g.clk_tck,
        "kernel": first(kv, "kernel"),
        "commands": commands,
        "vhost_net": first(kv, "vhost_net_dev") == "1",
        "vhost_net_module": first(kv, "vhost_net_module") == "1",
        "libvirt_installed": bool(LIBVIRT_COMMANDS & commands) or "libvirt_socket" in kv,
    }
