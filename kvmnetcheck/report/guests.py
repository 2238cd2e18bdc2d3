"""Each guest's findings in one place: on its NICs, the networks and bridges they plug into, and its host,
in the order a person checks them (catalog.TROUBLESHOOTING), with the device its firmware will boot from."""

from __future__ import annotations

from dataclasses import dataclass

from .. import text
from ..catalog import TROUBLESHOOTING
from ..facts.conclusions.boot import boot_path
from ..facts.conclusions.libvirt import nic_attachment
from ..facts.model import HostFacts, Unreadable
from .results import Result

_RANK = {c: i for i, c in enumerate(TROUBLESHOOTING)}
e = text.for_html


@dataclass(frozen=True)
class GuestStory:
    host: str
    guest: str
    attached: tuple[str, ...]  # "NIC 52:54:..: network default, bridge virbr0"
    findings: tuple[Result, ...]  # in troubleshooting order
    boots_from: str = ""  # the device its firmware will boot from, and why (conclusions/boot.py BootPath.summary)

    def as_json(self) -> dict:
        return {
            "host": self.host,
            "guest": self.guest,
            "attached": list(self.attached),
            "boots_from": self.boots_from,
            "findings": [r.as_json() for r in self.findings],
        }

    @classmethod
    def from_json(cls, d: dict) -> "GuestStory":
        return cls(
            d["host"],
            d["guest"],
            tuple(d["attached"]),
            tuple(Result.from_json(r) for r in d["findings"]),
            d.get("boots_from", ""),
        )


def host_stories(h: HostFacts, findings: list[Result]) -> list[GuestStory]:
    """One host's guests with a finding (failed or error) on anything their network path depends on."""
    bad = [r for r in findings if r.outcome in ("failed", "error")]
    if not h.reachable or not bad:
        return []
    out = []
    for g in h.libvirt.guests:
        objects, attached = {h.host}, []
        bridges = set()
        for nic in g.nics:
            label = f"{g.name}/{nic.label}"
            objects.add(label)
            try:
                at = nic_attachment(h, nic)
            except Unreadable:
                attached.append(f"NIC {nic.label}: network {nic.source_network} (not read)")
                continue
            parts = []
            if at.network is not None:
                objects.add(at.network.name)
                parts.append(f"network {at.network.name}")
            if at.bridge:
                bridges.add(at.bridge)
                parts.append(f"{'Open vSwitch ' if at.ovs else ''}bridge {at.bridge}")
            if nic.type == "direct" and nic.source_dev:
                parts.append(f"macvtap on {nic.source_dev}")
            attached.append(f"NIC {nic.label}: " + (", ".join(parts) or f"type {nic.type}"))
        objects |= bridges
        mine = [r for r in bad if r.object in objects or any(r.object.startswith(b + "@") for b in bridges)]
        if not mine:
            continue
        mine.sort(key=lambda r: (_RANK.get(r.check, len(_RANK)), r.object))
        out.append(GuestStory(h.host, g.name, tuple(attached), tuple(mine), boot_path(h, g).summary))
    return sorted(out, key=lambda s: s.guest)


def guest_boots(h: HostFacts) -> list[dict]:
    """Every guest of a host and the device its firmware will boot from, with why (results.json's
    guests_boot, the host's page)."""
    if not h.reachable:
        return []
    return [{"guest": g.name, "boots_from": boot_path(h, g).summary} for g in h.libvirt.guests]


def boots_html(boots: list) -> str:
    """A static table: each guest of the host and what its firmware boots from."""
    if not boots:
        return ""
    rows = "".join(
        f"<tr><td>{e(str(b.get('guest', '')))}</td><td>{e(str(b.get('boots_from', '')))}</td></tr>"
        for b in boots
        if isinstance(b, dict)
    )
    return (
        "<div class='kvm-guest-boots'><h2>What each guest boots from</h2>"
        f"<table><tr><th>guest</th><th>boots from (and why)</th></tr>{rows}</table></div>"
    )


def stories_lines(stories: list[GuestStory]) -> list[str]:
    lines = []
    for s in stories:
        lines.append(f"{s.host}: guest {s.guest} ({'; '.join(s.attached)})")
        if s.boots_from:
            lines.append(f"  boots from: {s.boots_from}")
        for i, r in enumerate(s.findings, 1):
            tag = "ERROR" if r.outcome == "error" else "FAIL"
            lines.append(f"  {i}. {tag} {r.check} {r.object}: {r.message}")
    return lines


def stories_html(stories: list[GuestStory]) -> str:
    """A static block (no script needed): per guest, its findings in order, each with its fix."""
    if not stories:
        return ""
    parts = [
        "<div class='kvm-guests'><h2>Why a guest gets no address or no boot file</h2>"
        "<p>Each guest's findings, on its NICs, their networks and bridges and its host, in the order to "
        "check them.</p>"
    ]
    for s in stories:
        parts.append(
            f"<div class='kvm-guest' data-host='{e(s.host)}' data-guest='{e(s.guest)}'>"
            f"<h3>{e(s.host)}: guest {e(s.guest)}</h3><p>{e('; '.join(s.attached))}</p>"
            + (f"<p class='kvm-guest-boot'>boots from: {e(s.boots_from)}</p>" if s.boots_from else "")
            + "<ol>"
        )
        for r in s.findings:
            parts.append(
                f"<li data-check='{e(r.check)}'><b>{'ERROR' if r.outcome == 'error' else 'FAIL'}"
                f" [{e(r.severity)}] {e(r.check)}</b> {e(r.object)}: {e(r.message)}"
                + (f"<pre class='kvm-guest-fix'>{e(r.remediation)}</pre>" if r.remediation else "")
                + "</li>"
            )
        parts.append("</ol></div>")
    parts.append("</div>")
    return "".join(parts)
