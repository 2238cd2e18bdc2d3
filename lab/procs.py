"""Finding and ending a lab's processes through /proc: holders (PID 1 of each host), the processes
in a host's namespaces, and a teardown that leaves nothing behind.

Everything that signals a process first makes sure, through a pidfd, that it is still the process
meant: a pid freed by a host killed earlier may belong to anything by now.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Dict, Iterable, List, Optional, Sequence

from .errors import LabError

MARKER = "--knc-lab-holder"  # in every holder's argv: found even when the lab's state file is gone


def _cmdline(pid: int) -> List[str]:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _ppid(pid: int) -> Optional[int]:
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces; it is enclosed in parentheses.
    rest = data[data.rindex(")") + 2 :].split()
    return int(rest[1])


def _is_zombie(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return True
    return data[data.rindex(")") + 2 :].split()[0] in ("Z", "X")


def _ns_id(pid: int, kind: str) -> Optional[str]:
    try:
        return os.readlink("/proc/%d/ns/%s" % (pid, kind))
    except OSError:
        return None


def _all_pids() -> List[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def find_holders(root: Optional[str] = None) -> Dict[str, int]:
    """Map host name -> holder pid for every live holder (of ``root`` if given).

    Found by the marker in the holder's argv, so it works without any state
    file; used by ``python -m lab down`` to clean up after crashes.
    """
    found = {}
    real_root = os.path.realpath(root) if root else None
    for pid in _all_pids():
        argv = _cmdline(pid)
        if MARKER not in argv or argv[0].endswith("unshare"):
            continue
        i = argv.index(MARKER)
        if len(argv) < i + 3 or _is_zombie(pid):
            continue
        hroot, hname = argv[i + 1], argv[i + 2]
        if real_root and os.path.realpath(hroot) != real_root:
            continue
        found[hname] = pid
    return found


def _procs_in_ns(ids: Iterable[str], kinds=("pid", "net", "mnt")) -> List[int]:
    wanted = set(i for i in ids if i)
    if not wanted:
        return []
    out = []
    for pid in _all_pids():
        for kind in kinds:
            # Zombies are skipped: they hold no namespace, only a pid entry
            # until their parent reaps them.
            if _ns_id(pid, kind) in wanted and not _is_zombie(pid):
                out.append(pid)
                break
    return out


def _kill_if_in_ns(pid: int, ids: Sequence[Optional[str]]) -> None:
    """SIGKILL ``pid`` if it is (checked through a pidfd) in one of the net/mnt namespaces ``ids``."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        if _ns_id(pid, "pid") != ids[0] and (_ns_id(pid, "net") in ids or _ns_id(pid, "mnt") in ids):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.close(fd)


def _is_holder(pid: int, root: Optional[str] = None, name: Optional[str] = None) -> bool:
    """Whether ``pid`` is (still) a live holder, of ``root``/``name`` if given."""
    argv = _cmdline(pid)
    if MARKER not in argv or _is_zombie(pid):
        return False
    i = argv.index(MARKER)
    if len(argv) < i + 3:
        return False
    if root is not None and os.path.realpath(argv[i + 1]) != os.path.realpath(root):
        return False
    return name is None or argv[i + 2] == name


def open_holder(pid: int, root: Optional[str] = None, name: Optional[str] = None) -> Optional[int]:
    """A pidfd for holder ``pid`` (None if that pid is no such holder).

    Signalling through a pidfd cannot hit an unrelated process that
    reused the pid of a host killed earlier (e.g. by a test simulating a
    host that is down).
    """
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return None
    if not _is_holder(pid, root, name):
        os.close(fd)
        return None
    return fd


def kill_holder(
    pid: int,
    launcher: Optional[subprocess.Popen] = None,
    timeout: float = 20.0,
    pidfd: Optional[int] = None,
    root: Optional[str] = None,
    name: Optional[str] = None,
) -> None:
    """Kill a host: SIGKILL its pid-namespace init, then wait until nothing of it runs.

    The kernel kills every process of a pid namespace when its init dies;
    the net and mount namespaces (with bridges, veths, mounts) vanish when
    their last process is gone, so waiting for that makes teardown complete.
    Nothing is killed unless ``pid`` is verifiably the holder (through
    ``pidfd`` or, without one, its argv marker).
    """
    own_fd = False
    if pidfd is None:
        pidfd = open_holder(pid, root, name)
        own_fd = pidfd is not None
    ns_fds: List[int] = []
    ids: List[str] = []
    # The launcher (unshare) shares the host's net and mount namespaces but
    # not its pid namespace; it exits by itself once it has reaped the
    # holder, and killing it first would leave the holder a zombie until
    # the machine's init gets around to reaping it.
    parent = _ppid(pid)
    parent_argv = _cmdline(parent) if parent else []
    orphan_launcher = launcher is None and MARKER in parent_argv and os.path.basename(parent_argv[0]) == "unshare"
    try:
        if pidfd is not None:
            # Hold the namespaces open while waiting: a freed namespace's
            # inode number is soon reused by a new one (another host being
            # built), which would then be taken for this host's.
            try:
                for kind in ("pid", "net", "mnt"):
                    ns_fds.append(os.open("/proc/%d/ns/%s" % (pid, kind), os.O_RDONLY))
                    ids.append(os.readlink("/proc/self/fd/%d" % ns_fds[-1]))
                signal.pidfd_send_signal(pidfd, 0)  # still the holder: the fds are its
            except (OSError, ProcessLookupError):
                ids = []
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while ids:
            left = _procs_in_ns(ids)
            if not left:
                break
            if time.monotonic() > deadline:
                raise LabError("processes of host (holder pid %d) still alive: %s" % (pid, left))
            # Processes that merely entered the namespaces (nsenter without
            # -p) are not killed with the pid namespace; kill them too.
            grace = time.monotonic() < deadline - timeout / 2
            for p in left:
                if p != parent or not grace:
                    _kill_if_in_ns(p, ids)
            time.sleep(0.02)
    finally:
        for fd in ns_fds:
            os.close(fd)
        if own_fd:
            os.close(pidfd)
    if launcher is not None:
        try:
            launcher.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
    elif orphan_launcher:
        # Started by an earlier process (`python -m lab up`): the machine's
        # init reaps it; wait a little so that "down" leaves no zombie.
        until = time.monotonic() + 5
        while os.path.exists("/proc/%d" % parent) and time.monotonic() < until:
            time.sleep(0.05)
