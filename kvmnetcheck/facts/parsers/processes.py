"""The collector's `processes` section: the QEMU processes guests run in, and the network daemons.

    pid=2211 comm=qemu uid=64055 euid=64055 user=libvirt-qemu vhost_fds=1 name=guest=web1,debug-threads=on
    pid=812 comm=dhcpd args=/usr/sbin/dhcpd -4 -q eth1

A QEMU line's NAME is its -name argument (uid, euid and user since collector 5; no comm in format 1).
"""

from __future__ import annotations

import re

from ..model import Process, QemuProcess
from .keyvalue import to_int

_PROCESS = re.compile(
    r"pid=(\d+)(?: comm=(\S+))?(?: uid=(\d*) euid=(\d*) user=(\S*))?(?: vhost_fds=(\d+|\?))?"
    r"(?: name=(.*))?(?: args=(.*))?$"
)


def parse_processes(text: str) -> tuple[tuple[QemuProcess, ...], tuple[Process, ...]]:
    """The `processes` section: `pid=N comm=qemu uid=R euid=E user=USER vhost_fds=N name=NAME` per QEMU, NAME
    its -name (uid, euid and user since collector 5; no comm in format 1); `pid=N comm=COMM [args=...]` per
    daemon."""
    qemu, daemons = [], []
    for line in text.splitlines():
        m = _PROCESS.match(line)
        if not m:
            continue
        pid, comm, uid, euid, user, fds, name, args = m.groups()
        if comm in (None, "qemu") and name is not None:
            qemu.append(
                QemuProcess(
                    int(pid),
                    qemu_guest_name(name),
                    None if fds in (None, "?") else int(fds),
                    uid=to_int(uid),
                    euid=to_int(euid),
                    user=user or None,
                )
            )
        elif comm:
            daemons.append(Process(int(pid), comm, (args or "").strip()))
    return tuple(qemu), tuple(daemons)


def qemu_guest_name(arg: str) -> str:
    """The guest name from QEMU's -name argument: `guest=NAME,debug-threads=on` or plain `NAME`.

    QEMU option values escape a comma as `,,`; the first single comma ends the value.
    """
    value = arg[len("guest=") :] if arg.startswith("guest=") else arg
    out, i = [], 0
    while i < len(value):
        if value[i] == ",":
            if value[i + 1 : i + 2] == ",":
                out.append(",")
                i += 2
                continue
            break
        out.append(value[i])
        i += 1
    return "".join(out)
