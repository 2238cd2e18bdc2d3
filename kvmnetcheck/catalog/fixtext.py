"""Pieces of fix text that depend on where an object is defined, or on how the host was reached."""

from __future__ import annotations

import re
import shlex
from typing import Optional

CONFIG_HINTS = {
    "ifcfg": "set STP=off (or STP=on with DELAY=0) there, then: ifdown BR && ifup BR",
    "nmconnection": "nmcli connection modify CONN bridge.stp no && nmcli connection up CONN",
    "ifupdown": "set bridge_stp off (and bridge_fd 0) in its iface stanza, then: ifdown BR && ifup BR",
    "networkd": (
        "set STP=no (and ForwardDelaySec=0) in its [Bridge] section; systemd 257 and later apply it at "
        "`networkctl reload` (once STP is off live), earlier ones at the next boot"
    ),
    "netplan": "set parameters: stp: false (and forward-delay: 0) for it, then: netplan apply",
}


def config_hint(fmt: str, bridge: str) -> str:
    return CONFIG_HINTS[fmt].replace("BR", bridge)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def nm_selector(connection: str) -> str:
    """How nmcli is told which profile is meant (`nmcli connection modify uuid|id NAME`): by the
    keyword, so a profile named like an option or like another profile's uuid is never mistaken."""
    return "uuid" if _UUID.fullmatch(connection) else "id"


def where_defined(owner) -> str:
    """A short phrase, after 'make it last where the bridge is defined', naming the place (a BridgeOwner)."""
    if owner.kind == "libvirt":
        return (
            f": libvirt network {owner.network.name!r}, `virsh net-edit {owner.network.name}` "
            "with stp='off' (or delay='0'), then restart the network"
        )
    if owner.kind == "config":
        return f": {owner.config.path} ({owner.config.format}); " + CONFIG_HINTS[owner.config.format]
    return " (no libvirt network and no persistent config for it were found on this host)"


def ssh_words(spec: str, ssh_config: Optional[str] = None, identity: Optional[str] = None) -> Optional[list[str]]:
    """The ssh command line that reaches the host of a testinfra spec as the suite does (None if not ssh)."""
    scheme, sep, rest = spec.partition("://")
    if not sep or scheme not in ("ssh", "safe-ssh", "paramiko"):
        return None
    rest = rest.split("?", 1)[0]
    port = None
    if rest.count(":") == 1 and not rest.endswith("]"):
        rest, port = rest.rsplit(":", 1)
    words = ["ssh"]
    if ssh_config:
        words += ["-F", ssh_config]
    if identity:
        words += ["-i", identity]
    if port:
        words += ["-p", port]
    return words + [rest]


def reach_hint(spec: str, ssh_config: Optional[str] = None, identity: Optional[str] = None) -> str:
    words = ssh_words(spec, ssh_config, identity)
    if words is None:
        return f"# reach it the way testinfra does for {spec} and run: true"
    return " ".join(shlex.quote(w) for w in words) + " true"
