"""firewalld: `firewall-cmd --state` and `firewall-cmd --list-all-zones`.

libvirt (active)
  target: ACCEPT
  interfaces: virbr0
  services: dhcp dhcpv6 dns ssh tftp
  ports:
  rich rules:
    rule priority="32767" reject
"""

from __future__ import annotations

import re
from typing import Optional

from ..model import Firewalld, FirewalldPolicy, FirewalldZone
from .gathered import Gathered

_ZONE_HEAD = re.compile(r"^(\S+)(?:\s+\(([^)]*)\))?\s*$")


def parse_zones(text: str) -> tuple[FirewalldZone, ...]:
    zones = []
    cur: Optional[dict] = None
    in_rich = False
    for raw in (text or "").splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace():
            m = _ZONE_HEAD.match(raw)
            if m:
                if cur:
                    zones.append(cur)
                cur = {"name": m.group(1), "target": None, "interfaces": [], "services": [], "ports": [], "rich": []}
                in_rich = False
            continue
        if cur is None:
            continue
        key, sep, value = raw.strip().partition(":")
        if in_rich and (raw.startswith("\t") or raw.startswith("    ")) and not sep:
            cur["rich"].append(raw.strip())
            continue
        if in_rich and raw.strip().startswith("rule "):
            cur["rich"].append(raw.strip())
            continue
        if not sep:
            continue
        key = key.strip()
        in_rich = key == "rich rules"
        words = value.split()
        if key == "target":
            cur["target"] = value.strip() or None
        elif key == "interfaces":
            cur["interfaces"] = words
        elif key == "services":
            cur["services"] = words
        elif key == "ports":
            cur["ports"] = words
    if cur:
        zones.append(cur)
    out = []
    for z in zones:
        target = z["target"]
        # libvirt's own zone accepts by target but ends in a catch-all reject rule:
        # only what it lists is really allowed.
        if (
            target
            and target.upper() == "ACCEPT"
            and any(
                re.fullmatch(r'rule(?: priority="?-?\d+"?)?(?: family="?\w+"?)? (reject|drop)(?: type="?[\w-]+"?)?', r)
                for r in z["rich"]
            )
        ):
            target = "ACCEPT+reject"
        out.append(FirewalldZone(z["name"], target, tuple(z["interfaces"]), tuple(z["services"]), tuple(z["ports"])))
    return tuple(out)


def parse_policies(text: str) -> tuple[FirewalldPolicy, ...]:
    """`firewall-cmd --list-all-policies` (firewalld >= 0.9):

    libvirt-to-host (active)
      priority: -1
      target: REJECT
      ingress-zones: libvirt-routed
      egress-zones: HOST
      services: dhcp dhcpv6 dns ssh tftp
    """
    out = []
    cur: Optional[dict] = None
    for raw in (text or "").splitlines():
        if not raw.strip():
            continue
        if not raw[0].isspace():
            m = _ZONE_HEAD.match(raw)
            if m:
                if cur:
                    out.append(cur)
                attrs = m.group(2) or ""
                cur = {
                    "name": m.group(1),
                    "priority": -1,
                    "target": "CONTINUE",
                    "ingress": [],
                    "egress": [],
                    "services": [],
                    "ports": [],
                    "active": "disabled" not in attrs,
                }
            continue
        if cur is None:
            continue
        key, sep, value = raw.strip().partition(":")
        if not sep:
            continue
        key, words = key.strip(), value.split()
        if key == "priority":
            try:
                cur["priority"] = int(value.strip())
            except ValueError:
                pass
        elif key == "target" and value.strip():
            cur["target"] = value.strip()
        elif key == "ingress-zones":
            cur["ingress"] = words
        elif key == "egress-zones":
            cur["egress"] = words
        elif key in ("services", "ports"):
            cur[key] = words
        elif key == "disable":
            cur["active"] = value.strip() != "yes"
    if cur:
        out.append(cur)
    return tuple(
        FirewalldPolicy(
            p["name"],
            p["priority"],
            p["target"],
            tuple(p["ingress"]),
            tuple(p["egress"]),
            tuple(p["services"]),
            tuple(p["ports"]),
            p["active"],
        )
        for p in out
    )


def build_firewalld(
    installed: bool,
    state_text: Optional[str],
    version_text: Optional[str],
    zones_text: Optional[str],
    zones_rc: Optional[int],
    policies_text: Optional[str] = None,
    policies_rc: Optional[int] = None,
    default_zone_text: Optional[str] = None,
) -> Firewalld:
    if not installed:
        return Firewalld(installed=False, running=False)
    running = (state_text or "").strip().splitlines()[-1:] == ["running"]
    if not running:
        return Firewalld(installed=True, running=False)
    if zones_text is None or zones_rc not in (0, None):
        return Firewalld(
            installed=True,
            running=True,
            version=(version_text or "").strip() or None,
            error="firewall-cmd --list-all-zones failed: " + (zones_text or "").strip()[:200],
        )
    read = policies_text is not None and policies_rc in (0, None)
    default = (default_zone_text or "").strip().splitlines()[-1:] or [None]
    return Firewalld(
        installed=True,
        running=True,
        version=(version_text or "").strip() or None,
        zones=parse_zones(zones_text),
        policies=parse_policies(policies_text) if read else (),
        policies_read=read,
        default_zone=default[0] if default[0] and " " not in default[0] else None,
    )


def read_firewalld(g: Gathered) -> Firewalld:
    """The `firewalld_*` sections."""
    return build_firewalld(
        installed="firewall-cmd" in g.commands,
        state_text=g.text("firewalld_state"),
        version_text=g.text("firewalld_version"),
        zones_text=g.text("firewalld_zones"),
        zones_rc=g.rc("firewalld_zones"),
        policies_text=g.text("firewalld_policies"),
        policies_rc=g.rc("firewalld_policies"),
        default_zone_text=g.text("firewalld_default_zone") if g.rc("firewalld_default_zone") == 0 else None,
    )
