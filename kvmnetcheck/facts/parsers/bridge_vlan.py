"""VLANs on the ports of VLAN-filtering bridges, from `bridge -j vlan show` (iproute2 >= 4.19):

    [{"ifname":"br0","vlans":[{"vlan":1,"flags":["PVID","Egress Untagged"]}]},
     {"ifname":"eth0","vlans":[{"vlan":10,"flags":["PVID","Egress Untagged"]},{"vlan":20}]},
     {"ifname":"vnet0","vlans":[{"vlan":20,"flags":["PVID","Egress Untagged"]}]}]

The format is iproute2's bridge/vlan.c (open_vlan_port, print_range, print_vlan_flags); a range is
"vlan" with "vlanEnd". This kernel has no VLAN filtering, so the sample above is built from that
source, not captured.
"""

from __future__ import annotations

from typing import Optional

from ..model import PortVlans
from .gathered import Gathered
from .keyvalue import named_json_entries


def parse_bridge_vlans(text: str) -> Optional[tuple[PortVlans, ...]]:
    """Each port's VLANs; None when the output is not that JSON (e.g. cut off: `[` alone)."""
    entries = named_json_entries(text)
    if entries is None:
        return None
    out = []
    for entry in entries:
        vids, pvid, untagged = [], None, []
        for v in entry.get("vlans") or ():
            if not isinstance(v, dict) or not isinstance(v.get("vlan"), int):
                continue
            end = v.get("vlanEnd") if isinstance(v.get("vlanEnd"), int) else v["vlan"]
            flags = v.get("flags") if isinstance(v.get("flags"), list) else []
            for vid in range(v["vlan"], min(end, 4094) + 1):
                vids.append(vid)
                if "PVID" in flags:
                    pvid = vid
                if "Egress Untagged" in flags:
                    untagged.append(vid)
        out.append(PortVlans(entry["ifname"], tuple(vids), pvid, tuple(untagged)))
    return tuple(out)


def read_port_vlans(g: Gathered) -> tuple[Optional[tuple[PortVlans, ...]], Optional[str]]:
    """(each port's VLANs, why they could not be read) from the `bridge_vlans` section; (None, None) when the
    host has no VLAN-filtering bridge (the collector then prints no such section)."""
    s = g.one("bridge_vlans")
    if not g.gathered_since(3):
        return None, "gathered by an older version, which did not read VLANs"
    if s is None:
        return None, None
    vlans = parse_bridge_vlans(s.text) if s.ok else None
    return vlans, None if vlans is not None else "`bridge -j vlan show` failed: " + " ".join(s.text.split())[-200:]
