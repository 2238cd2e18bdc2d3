"""Processes: the QEMU processes guests run in, the network daemons, and what libvirt says of its QEMU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    args: str = ""


@dataclass(frozen=True)
class QemuProcess:
    pid: int
    guest: str  # from its -name: anyone may start a process that names any guest
    vhost_fds: Optional[int]  # None: its fds could not be listed (another user's process, not root)
    uid: Optional[int] = None  # real uid (/proc/PID/status); None: not gathered (facts of an older version)
    euid: Optional[int] = None
    user: Optional[str] = None  # the name of its real uid on the host


@dataclass(frozen=True)
class LibvirtQemu:
    """What the host says of the QEMU processes libvirt runs: qemu.conf's user= and each running guest's
    pid file (src/qemu/qemu_conf.c, qemu_process.c; both root's to read)."""

    conf_user: Optional[str] = None  # qemu.conf user= ("qemu", "+107"); None: unset or not read
    conf_read: bool = False  # qemu.conf was read (it may set no user=)
    pids: tuple[tuple[str, Optional[int]], ...] = ()  # (guest, pid in /run/libvirt/qemu/GUEST.pid; None: not read)

    def pid_of(self, guest: str) -> Optional[int]:
        return next((p for g, p in self.pids if g == guest), None)
