"""One host's collector output, by section kind, and what every parser shares: the collector's format,
the running processes and network programs (parsed once), and the files refused to the checking user."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from ...raw import RawLibvirt
from ..model import STP_OFF_SHORTCUT_KERNEL, NetStack, Process, QemuProcess, kernel_version
from .keyvalue import first, to_int
from .netstack import parse_netstack
from .processes import parse_processes
from .sections import Section


@dataclass
class Gathered:
    """One host's collector output, by section kind, and what every parser shares."""

    by_kind: dict[str, list[Section]]
    raw_libvirt: Optional[RawLibvirt]
    problems: list[str] = field(default_factory=list)  # what could not be used (host-reachable names it)
    unreadable: list[str] = field(default_factory=list)  # files the checking user may not read
    meta: dict[str, list[str]] = field(default_factory=dict)
    # each listing's kind -> the section the collector always prints after it (sources.LISTED_BEFORE)
    listed_before: dict[str, str] = field(default_factory=dict)

    def all(self, kind: str) -> list[Section]:
        return self.by_kind.get(kind, [])

    def one(self, kind: str) -> Optional[Section]:
        found = self.by_kind.get(kind)
        return found[0] if found else None

    def text(self, kind: str) -> Optional[str]:
        s = self.one(kind)
        return s.text if s is not None else None

    def rc(self, kind: str) -> Optional[int]:
        s = self.one(kind)
        return s.rc if s is not None else None

    @property
    def commands(self) -> frozenset[str]:
        return frozenset(self.meta.get("have", []))

    @property
    def collector(self) -> int:
        """The collector format that printed these sections (1 for the first one)."""
        return to_int(first(self.meta, "collector")) or 1

    def gathered_since(self, collector: int) -> bool:
        """Did the collector that printed these facts gather what format `collector` added?"""
        return self.collector >= collector

    def cut_before(self, kind: str) -> Optional[str]:
        """Why the listing of sections of `kind` may lack some (the output was cut short before it ended),
        or None: it was read to its end, or the output was not cut."""
        if self.one("done") is not None or self.listed_before[kind] in self.by_kind:
            return None
        return f"the collector's output was cut short before its listing of {kind} sections ended"

    def note_if_cut_short(self) -> None:
        """The collector prints `done` last: without it, what came after the cut is missing."""
        if self.one("done") is None:
            self.problems.append("collector output was cut short; facts after the cut are missing")

    @property
    def clk_tck(self) -> Optional[int]:
        return to_int(first(self.meta, "clk_tck"))

    @property
    def waits_without_stp(self) -> bool:
        """A kernel from before bridges forwarded at once on a new port with STP off."""
        v = kernel_version(first(self.meta, "kernel"))
        return v is not None and v < STP_OFF_SHORTCUT_KERNEL

    def processes(self) -> tuple[Optional[tuple[QemuProcess, ...]], Optional[tuple[Process, ...]], Optional[str]]:
        """(QEMU processes, other daemons, why not read) from the `processes` section, parsed once; both None
        when the section is missing or cut short (no process is then known not to run)."""
        if "_processes" not in self.__dict__:
            q = self.one("processes")
            if q is None:
                self.__dict__["_processes"] = (
                    None,
                    None,
                    "the collector's output was cut short before it listed the running processes",
                )
            elif q.rc is None:
                self.__dict__["_processes"] = (
                    None,
                    None,
                    "the collector's output was cut short while it listed the running processes",
                )
            else:
                qemu, daemons = parse_processes(q.text)
                if self.counts_unreadable_as_zero:
                    # an unlisted fd directory counted as 0 vhost fds: a 0 is "unknown" here, a count above 0 was seen
                    qemu = tuple(replace(p, vhost_fds=None) if p.vhost_fds == 0 else p for p in qemu)
                self.__dict__["_processes"] = (qemu, daemons, None)
        return self.__dict__["_processes"]

    @property
    def counts_unreadable_as_zero(self) -> bool:
        """Facts of collector formats 1 and 2 (before it printed `vhost_fds=?` and `unreadable=`) from a run
        that was not root's: what that user could not read came out as nothing found (0 vhost fds, no log)."""
        return not self.gathered_since(3) and to_int(first(self.meta, "uid")) != 0

    def netstack(self) -> NetStack:
        if "_netstack" not in self.__dict__:
            daemons = self.processes()[1]
            self.__dict__["_netstack"] = parse_netstack(
                self.text("netstack"), None if daemons is None else frozenset(p.comm for p in daemons)
            )
        return self.__dict__["_netstack"]

    def readable(self, s: Section) -> bool:
        """A file section that could be read; one refused to the checking user is noted as such."""
        if s.ok:
            return True
        if "Permission denied" in s.text:
            self.unreadable.append(s.arg)
        return False
