"""Namespaced lab hosts reachable over real SSH.

A *host* is a set of Linux namespaces (pid, net, mount, uts) held open by
:mod:`lab.holder`.  It has its own interfaces, bridges, iptables rules,
hostname, /run, /dev, a copy-on-write /etc and, on request, its own virtlogd
and libvirtd.  Nothing listens on a network socket: SSH reaches a host
through a ``ProxyCommand`` that runs ``sshd -i`` inside the namespaces, so
the compliance suite talks to lab hosts exactly as it would to real ones
(ssh, testinfra, ansible, ``qemu+ssh://`` libvirt URIs).

All state lives under one directory (``ROOT``): keys, ``ssh_config``,
the Ansible inventory, ``state.json`` and one ``ROOT/NAME`` directory per
host (overlay upper dir of /etc, private libvirt dirs, logs).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

HOLDER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
MARKER = "--knc-lab-holder"
DEFAULT_ROOT = "/tmp/knc-lab"
SYSTEM_PYTHON = "/usr/bin/python3"
STATE_VERSION = 1

# Environment for commands run inside a host: close to what an SSH login
# gets, and free of the caller's LIBVIRT_DEFAULT_URI & co.
HOST_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "USER": "root",
    "LOGNAME": "root",
    "SHELL": "/bin/sh",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}

# Private, initially empty copies (directory skeleton only) of these dirs
# are bind-mounted in each host so its libvirtd starts from a clean state.
PRIVATE_DIRS = ("/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")

# Entries under ROOT that the lab creates (and therefore removes on down()).
ROOT_FILES = (
    "id_ed25519", "id_ed25519.pub", "ssh_host_ed25519_key", "ssh_host_ed25519_key.pub",
    "authorized_keys", "known_hosts", "ssh_config", "inventory.ini", "proxy", "ssh",
    "state.json", ".knc-lab",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class LabError(Exception):
    """A lab operation failed; carries the command's output when there was one."""

    def __init__(self, message: str, stdout: str = "", stderr: str = "", returncode: Optional[int] = None):
        details = message
        if returncode is not None:
            details += " (rc=%s)" % returncode
        if stdout and stdout.strip():
            details += "\n--- stdout ---\n" + stdout.strip()
        if stderr and stderr.strip():
            details += "\n--- stderr ---\n" + stderr.strip()
        super().__init__(details)
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode


# --------------------------------------------------------------------------
# /proc helpers


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
    rest = data[data.rindex(")") + 2:].split()
    return int(rest[1])


def _is_zombie(pid: int) -> bool:
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return True
    return data[data.rindex(")") + 2:].split()[0] in ("Z", "X")


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


def kill_holder(pid: int, launcher: Optional[subprocess.Popen] = None, timeout: float = 20.0,
                pidfd: Optional[int] = None, root: Optional[str] = None, name: Optional[str] = None) -> None:
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
    orphan_launcher = (launcher is None and MARKER in parent_argv
                       and os.path.basename(parent_argv[0]) == "unshare")
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


# --------------------------------------------------------------------------


class LabHost:
    """One namespaced host.  ``pid`` is its holder (PID 1 inside the host)."""

    def __init__(self, lab: "Lab", name: str, pid: int, libvirt: bool = False,
                 launcher: Optional[subprocess.Popen] = None, pidfd: Optional[int] = None):
        self.lab = lab
        self.name = name
        self.pid = pid
        self.libvirt = libvirt
        self._launcher = launcher
        self._pidfd = pidfd

    def _kill(self) -> None:
        try:
            kill_holder(self.pid, self._launcher, pidfd=self._pidfd, root=self.lab.root, name=self.name)
        finally:
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None

    def __repr__(self) -> str:
        return "<LabHost %s pid=%d>" % (self.name, self.pid)

    @property
    def dir(self) -> str:
        """``ROOT/NAME``: this host's state directory on the real machine."""
        return os.path.join(self.lab.root, self.name)

    # -- running things inside -------------------------------------------

    def nsenter_argv(self, pid_ns: bool = True) -> List[str]:
        """argv prefix that runs a command inside this host's namespaces."""
        argv = ["nsenter", "-t", str(self.pid), "-n", "-m", "-u"]
        if pid_ns:
            argv.append("-p")
        return argv + ["--"]

    def exec(self, argv: Sequence[str], check: bool = True, timeout: Optional[float] = 60,
             input: Optional[Union[str, bytes]] = None, env: Optional[Dict[str, str]] = None,
             text: bool = True) -> subprocess.CompletedProcess:
        """Run ``argv`` (no shell) inside the host; like :meth:`sh` otherwise."""
        self._check_alive()
        full_env = dict(HOST_ENV)
        if env:
            full_env.update(env)
        if isinstance(input, str) and not text:
            input = input.encode()
        try:
            proc = subprocess.run(
                self.nsenter_argv() + list(argv), input=input, capture_output=True,
                text=text, timeout=timeout, env=full_env,
                stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise LabError("%s: timed out after %ss: %s" % (self.name, timeout, " ".join(argv)),
                           stdout=_s(exc.stdout), stderr=_s(exc.stderr)) from None
        if check and proc.returncode != 0:
            raise LabError("%s: command failed: %s" % (self.name, " ".join(argv)),
                           stdout=_s(proc.stdout), stderr=_s(proc.stderr), returncode=proc.returncode)
        return proc

    def sh(self, cmd: str, check: bool = True, timeout: Optional[float] = 60,
           input: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        """Run ``sh -c CMD`` inside the host and return the CompletedProcess (text).

        Raises :class:`LabError` (with stdout/stderr) on a non-zero exit
        unless ``check=False``.
        """
        return self.exec(["sh", "-c", cmd], check=check, timeout=timeout, input=input, env=env)

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start a command inside the host; the Popen is the ``nsenter`` wrapper.

        Note nsenter does not forward signals: use :meth:`spawn` for a
        long-running command that must be stopped later.
        """
        self._check_alive()
        env = dict(HOST_ENV)
        env.update(kwargs.pop("env", None) or {})
        return subprocess.Popen(self.nsenter_argv() + list(argv), env=env, **kwargs)

    def spawn(self, argv: Sequence[str], **kwargs) -> "HostProcess":
        """Start a long-running command (e.g. tcpdump) inside the host; stop it with ``.stop()``."""
        return HostProcess(self.popen(argv, **kwargs))

    def write_file(self, path: str, text: Union[str, bytes], mode: int = 0o644) -> None:
        """Write a file at ``path`` as seen inside the host, creating parent dirs there.

        Under /etc this lands in the host's overlay, never in the real /etc.
        """
        if not path.startswith("/"):
            raise LabError("write_file needs an absolute path: %r" % path)
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod %o -- "$1"' % mode
        data = text.encode() if isinstance(text, str) else text
        self.exec(["sh", "-c", script, "sh", path], input=data, text=False)

    def read_file(self, path: str) -> str:
        """Return the text of ``path`` as seen inside the host."""
        return self.exec(["cat", "--", path]).stdout

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists inside the host."""
        return self.exec(["test", "-e", path], check=False).returncode == 0

    def virsh(self, args: Union[str, Sequence[str]], check: bool = True,
              timeout: Optional[float] = 60) -> subprocess.CompletedProcess:
        """``virsh -c qemu:///system ARGS`` inside the host (ARGS: shell words or a list)."""
        if isinstance(args, str):
            return self.sh("virsh -c qemu:///system " + args, check=check, timeout=timeout)
        return self.exec(["virsh", "-c", "qemu:///system"] + list(args), check=check, timeout=timeout)

    def ssh(self, cmd: str, check: bool = True, timeout: Optional[float] = 60) -> subprocess.CompletedProcess:
        """Run ``cmd`` over real SSH (through the lab's ssh_config)."""
        argv = ["ssh", "-F", self.lab.ssh_config, self.name, cmd]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise LabError("%s: ssh timed out: %s" % (self.name, cmd),
                           stdout=_s(exc.stdout), stderr=_s(exc.stderr)) from None
        if check and proc.returncode != 0:
            raise LabError("%s: ssh command failed: %s" % (self.name, cmd),
                           stdout=proc.stdout, stderr=proc.stderr, returncode=proc.returncode)
        return proc

    # -- features ------------------------------------------------------------

    def add_vhost_net_standin(self) -> None:
        """Create a /dev/vhost-net character device (10:238) in this host only.

        The kernel here has no vhost-net, so opening the node fails with
        ENODEV ("No such device"); it only makes "is /dev/vhost-net
        present" checks see a host that has it.  libvirt falls back to
        userspace virtio-net when the open fails, so guests still start.
        """
        self.sh("test -c /dev/vhost-net || { mknod -m 0660 /dev/vhost-net c 10 238 && "
                "chgrp kvm /dev/vhost-net 2>/dev/null; test -c /dev/vhost-net; }")

    def ssh_sessions(self) -> int:
        """Number of SSH sessions the ProxyCommand has served for this host."""
        try:
            with open(os.path.join(self.dir, "sessions")) as f:
                return sum(1 for line in f if line.strip())
        except FileNotFoundError:
            return 0

    def _check_alive(self) -> None:
        # nsenter -t PID on a dead host could enter whatever process reused
        # the pid (the real machine's namespaces, typically).
        if not self.alive():
            raise LabError("host %s is down (holder %d is gone)" % (self.name, self.pid))

    def alive(self) -> bool:
        """Whether the holder still runs."""
        return _is_holder(self.pid, self.lab.root, self.name)

    def start_libvirt(self, timeout: float = 90) -> None:
        """Start this host's own virtlogd and libvirtd and wait until they answer.

        Logs go to the host's private /var/log/libvirt (ROOT/NAME/var-log-libvirt).
        """
        log_env = {"LIBVIRT_LOG_OUTPUTS": "3:file:/var/log/libvirt/libvirtd.log"}
        self.sh("test -e /run/virtlogd.pid && kill -0 $(cat /run/virtlogd.pid) 2>/dev/null || "
                "virtlogd -d -p /run/virtlogd.pid </dev/null >/dev/null 2>&1",
                env={"LIBVIRT_LOG_OUTPUTS": "3:file:/var/log/libvirt/virtlogd.log"})
        self.sh("test -e /run/libvirtd.pid && kill -0 $(cat /run/libvirtd.pid) 2>/dev/null || "
                "libvirtd -d -p /run/libvirtd.pid </dev/null >/dev/null 2>&1", env=log_env)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.sh("test -S /run/libvirt/libvirt-sock-ro && virsh -c qemu:///system version",
                           check=False, timeout=30)
            if last.returncode == 0:
                self.libvirt = True
                return
            time.sleep(0.2)
        raise LabError("%s: libvirtd did not answer within %ss" % (self.name, timeout),
                       stdout=last.stdout if last else "", stderr=last.stderr if last else "")


class HostProcess:
    """A command running inside a host, started through ``nsenter``.

    ``nsenter -p`` forks; the command is the wrapper's child and gets no
    signal when the wrapper does, so :meth:`send_signal` and :meth:`stop` aim at
    the command itself (``pid``, as the real machine numbers it).
    """

    def __init__(self, popen: subprocess.Popen, find_timeout: float = 5.0):
        self.popen = popen
        self.pid: Optional[int] = None
        deadline = time.monotonic() + find_timeout
        self._pidfd: Optional[int] = None
        while self.pid is None and time.monotonic() < deadline and popen.poll() is None:
            for p in _all_pids():
                if _ppid(p) == popen.pid:
                    try:
                        fd = os.pidfd_open(p)
                    except OSError:
                        continue
                    if _ppid(p) == popen.pid:  # still our child: fd is the right process
                        self.pid, self._pidfd = p, fd
                        break
                    os.close(fd)
            else:
                time.sleep(0.01)

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to the command inside the host."""
        if self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0):
        """Signal the command, wait for it; returns ``communicate()``'s (stdout, stderr)."""
        self.send_signal(sig)
        try:
            return self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            self.popen.kill()
            try:
                return self.popen.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None, None
        finally:
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None


def _s(v) -> str:
    if v is None:
        return ""
    return v.decode(errors="replace") if isinstance(v, bytes) else v


HostRef = Union[LabHost, str]


class Lab:
    """A set of lab hosts sharing one state directory ``root``.

    ``with Lab(root) as lab:`` tears everything down on exit.  Use
    :meth:`Lab.load` to re-attach to a lab started by ``python -m lab up``.
    """

    def __init__(self, root: Optional[str] = None, _attach: bool = False):
        self.root = os.path.abspath(root or os.environ.get("KNC_LAB_DIR") or DEFAULT_ROOT)
        self._hosts: Dict[str, LabHost] = {}
        self._links: List[dict] = []
        self._link_seq = 0
        self._lock = threading.RLock()
        if not _attach:
            live = find_holders(self.root)
            if live:
                raise LabError("a lab is already running in %s (hosts: %s); use Lab.load(root) "
                               "or `python -m lab down`" % (self.root, ", ".join(sorted(live))))
            os.makedirs(self.root, exist_ok=True)
            with open(os.path.join(self.root, ".knc-lab"), "w") as f:
                f.write("knc-lab state directory\n")
            self._ensure_keys()
            self._write_scripts()
            self._write_configs()

    # -- paths -------------------------------------------------------------

    @property
    def ssh_config(self) -> str:
        """Path of the ssh_config with one ``Host NAME`` entry per host."""
        return os.path.join(self.root, "ssh_config")

    @property
    def inventory(self) -> str:
        """Path of the Ansible INI inventory (group ``[lab]``)."""
        return os.path.join(self.root, "inventory.ini")

    @property
    def ssh_wrapper(self) -> str:
        """Executable running ``ssh -F ssh_config "$@"``; for ``qemu+ssh://...?command=``."""
        return os.path.join(self.root, "ssh")

    @property
    def proxy(self) -> str:
        """The ProxyCommand script (``proxy NAME``)."""
        return os.path.join(self.root, "proxy")

    @property
    def state_file(self) -> str:
        return os.path.join(self.root, "state.json")

    def libvirt_uri(self, host: HostRef) -> str:
        """``qemu+ssh://`` URI reaching ``host``'s libvirtd through the ssh wrapper."""
        name = self._name(host)
        return "qemu+ssh://root@%s/system?command=%s&no_tty=1" % (name, self.ssh_wrapper)

    # -- hosts ---------------------------------------------------------------

    @property
    def hosts(self) -> Dict[str, LabHost]:
        """name -> host, for every host built (and not removed)."""
        with self._lock:
            return {n: h for n, h in self._hosts.items() if h is not None}

    def get(self, name: str) -> LabHost:
        host = self._hosts.get(name)
        if host is None:
            raise LabError("no lab host named %r (have: %s)" % (name, ", ".join(sorted(self.hosts))))
        return host

    def _name(self, host: HostRef) -> str:
        return host.name if isinstance(host, LabHost) else host

    def _host(self, host: HostRef) -> LabHost:
        return host if isinstance(host, LabHost) else self.get(host)

    def add_host(self, name: str, libvirt: bool = False, default_network: bool = False,
                 timeout: float = 30) -> LabHost:
        """Build host ``name`` (and start its libvirt daemons if ``libvirt``).

        ``default_network=True`` keeps libvirt's ``default`` network defined
        (never autostarted); otherwise the host has no network defined.
        """
        if not _NAME_RE.match(name):
            raise LabError("bad host name %r (want [a-z][a-z0-9-]*)" % name)
        with self._lock:
            if name in self._hosts:
                raise LabError("host %r already exists" % name)
            self._hosts[name] = None  # reserve the name
        try:
            host = self._spawn(name, default_network, timeout)
        except BaseException:
            with self._lock:
                self._hosts.pop(name, None)
            raise
        with self._lock:
            self._hosts[name] = host
            self._write_configs()
        try:
            if libvirt:
                host.start_libvirt()
        except BaseException:
            self.remove_host(name)
            raise
        self._save_state()
        return host

    def add_hosts(self, names: Sequence[str], libvirt: bool = False, workers: int = 4) -> List[LabHost]:
        """Build several hosts concurrently (libvirtd start-up dominates)."""
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names)))) as pool:
            futures = [pool.submit(self.add_host, n, libvirt) for n in names]
            errors = []
            hosts = []
            for fut in futures:
                try:
                    hosts.append(fut.result())
                except Exception as exc:
                    errors.append(exc)
        if errors:
            raise errors[0]
        return hosts

    def _spawn(self, name: str, default_network: bool, timeout: float) -> LabHost:
        hdir = os.path.join(self.root, name)
        if os.path.exists(hdir):
            _rmtree(hdir)
        os.makedirs(hdir)
        os.makedirs(os.path.join(hdir, "etc-upper"))
        os.makedirs(os.path.join(hdir, "etc-work"))
        binds = {}
        for real in PRIVATE_DIRS:
            if not os.path.isdir(real):
                continue
            private = os.path.join(hdir, real.strip("/").replace("/", "-"))
            _copy_dir_skeleton(real, private)
            binds[real] = private
        with open(os.path.join(hdir, "holder.json"), "w") as f:
            json.dump({"binds": binds, "default_network": default_network, "private_dev": True}, f)
        self._write_sshd_config(name)
        log = open(os.path.join(hdir, "holder.log"), "wb")
        try:
            launcher = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--mount", "--uts",
                 "--propagation", "private", "--", sys.executable, HOLDER_SCRIPT, MARKER, self.root, name],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                close_fds=True)
        finally:
            log.close()
        ready = os.path.join(hdir, "ready")
        deadline = time.monotonic() + timeout
        while not os.path.exists(ready):
            if launcher.poll() is not None or time.monotonic() > deadline:
                if launcher.poll() is None:
                    launcher.kill()
                launcher.wait()
                raise LabError("host %s did not come up" % name, stderr=_read(os.path.join(hdir, "holder.log")))
            time.sleep(0.01)
        status = _read(ready).strip()
        pid = None
        for p in _all_pids():
            if _ppid(p) == launcher.pid:
                pid = p
                break
        if status != "ok" or pid is None:
            launcher.kill()
            launcher.wait()
            raise LabError("host %s failed to set up: %s" % (name, status or "holder pid not found"),
                           stderr=_read(os.path.join(hdir, "holder.log")))
        pidfd = open_holder(pid, self.root, name)
        if pidfd is None:
            launcher.kill()
            launcher.wait()
            raise LabError("host %s: holder %d vanished" % (name, pid),
                           stderr=_read(os.path.join(hdir, "holder.log")))
        with open(os.path.join(hdir, "pid"), "w") as f:
            f.write("%d\n" % pid)
        return LabHost(self, name, pid, libvirt=False, launcher=launcher, pidfd=pidfd)

    def remove_host(self, name: HostRef) -> None:
        """Kill a host (all its processes, interfaces, mounts) and delete its files."""
        name = self._name(name)
        with self._lock:
            host = self._hosts.pop(name, None)
        if host is not None:
            host._kill()
        for hname, pid in find_holders(self.root).items():
            if hname == name:
                kill_holder(pid, root=self.root, name=name)
        with self._lock:
            self._links = [l for l in self._links if name not in (l["host1"], l["host2"])]
            self._write_configs()
        hdir = os.path.join(self.root, name)
        if os.path.isdir(hdir):
            _rmtree(hdir)
        self._save_state()

    def link(self, h1: HostRef, br1: Optional[str], h2: HostRef, br2: Optional[str],
             name1: Optional[str] = None, name2: Optional[str] = None) -> Tuple[str, str]:
        """Join two hosts with a veth pair; each end enslaved to ``br1``/``br2`` and up.

        A bridge of ``None`` leaves that end unenslaved (but up).  Returns
        the interface names (in h1, in h2).
        """
        a, b = self._host(h1), self._host(h2)
        with self._lock:
            self._link_seq += 1
            seq = self._link_seq
        n1 = name1 or ("kl%d-%s" % (seq, b.name))[:15]
        n2 = name2 or ("kl%d-%s" % (seq, a.name))[:15]
        # Peer created under a temporary name so it cannot clash in h1.
        tmp = "kltmp%d" % seq
        a.exec(["ip", "link", "add", n1, "type", "veth", "peer", "name", tmp])
        try:
            # Not in h1's pid namespace: "netns PID" must name b's holder as
            # the real machine sees it.
            subprocess.run(["nsenter", "-t", str(a.pid), "-n", "--", "ip", "link", "set", tmp,
                            "netns", str(b.pid)], check=True, capture_output=True, text=True)
            b.exec(["ip", "link", "set", tmp, "name", n2])
        except (subprocess.CalledProcessError, LabError) as exc:
            a.exec(["ip", "link", "del", n1], check=False)
            raise LabError("link %s:%s <-> %s:%s failed" % (a.name, br1, b.name, br2),
                           stderr=_s(getattr(exc, "stderr", "")) or str(exc)) from None
        for host, ifname, br in ((a, n1, br1), (b, n2, br2)):
            if br:
                host.exec(["ip", "link", "set", ifname, "master", br])
            host.exec(["ip", "link", "set", ifname, "up"])
        with self._lock:
            self._links.append({"host1": a.name, "if1": n1, "br1": br1,
                                "host2": b.name, "if2": n2, "br2": br2})
        self._save_state()
        return n1, n2

    @property
    def links(self) -> List[dict]:
        return [dict(l) for l in self._links]

    # -- lifecycle -------------------------------------------------------------

    def down(self) -> None:
        """Tear everything down: hosts, their processes/interfaces/mounts, and ROOT's files."""
        errors = []
        names = list(self._hosts)
        if names:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                for fut in [pool.submit(self.remove_host, n) for n in names]:
                    try:
                        fut.result()
                    except Exception as exc:
                        errors.append(exc)
        for name, pid in find_holders(self.root).items():
            try:
                kill_holder(pid, root=self.root, name=name)
            except Exception as exc:
                errors.append(exc)
        _cleanup_root(self.root)
        if errors:
            raise errors[0]

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    @classmethod
    def load(cls, root: Optional[str] = None) -> "Lab":
        """Re-attach to a running lab from ``ROOT/state.json``.

        Hosts whose holder is gone are dropped (and their files removed).
        """
        lab = cls(root, _attach=True)
        try:
            with open(lab.state_file) as f:
                state = json.load(f)
        except FileNotFoundError:
            raise LabError("no lab state in %s" % lab.root) from None
        live = find_holders(lab.root)
        for name, info in state.get("hosts", {}).items():
            pid = info["pid"]
            if live.get(name) != pid:
                hdir = os.path.join(lab.root, name)
                if os.path.isdir(hdir):
                    _rmtree(hdir)
                continue
            pidfd = open_holder(pid, lab.root, name)
            if pidfd is None:
                continue
            lab._hosts[name] = LabHost(lab, name, pid, libvirt=info.get("libvirt", False), pidfd=pidfd)
        lab._links = [l for l in state.get("links", [])
                      if l["host1"] in lab._hosts and l["host2"] in lab._hosts]
        lab._link_seq = state.get("link_seq", 0)
        lab._write_configs()
        lab._save_state()
        return lab

    def status(self) -> Dict[str, dict]:
        """Per host: pid, alive, libvirt flag, SSH sessions served."""
        return {n: {"pid": h.pid, "alive": h.alive(), "libvirt": h.libvirt,
                    "ssh_sessions": h.ssh_sessions()} for n, h in sorted(self._hosts.items())}

    # -- files -----------------------------------------------------------------

    def _save_state(self) -> None:
        with self._lock:
            state = {
                "version": STATE_VERSION,
                "root": self.root,
                "ssh_config": self.ssh_config,
                "inventory": self.inventory,
                "ssh_wrapper": self.ssh_wrapper,
                "hosts": {n: {"pid": h.pid, "libvirt": h.libvirt}
                          for n, h in self._hosts.items() if h is not None},
                "links": self._links,
                "link_seq": self._link_seq,
            }
            if not os.path.isdir(self.root):
                return
            tmp = self.state_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(state, f, indent=2, sort_keys=True)
            os.rename(tmp, self.state_file)

    def _ensure_keys(self) -> None:
        for key, comment in (("id_ed25519", "knc-lab-client"), ("ssh_host_ed25519_key", "knc-lab-host")):
            path = os.path.join(self.root, key)
            if not os.path.exists(path):
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                               check=True, capture_output=True)
        shutil.copyfile(os.path.join(self.root, "id_ed25519.pub"), os.path.join(self.root, "authorized_keys"))
        os.chmod(os.path.join(self.root, "authorized_keys"), 0o600)

    def _write_scripts(self) -> None:
        proxy = """#!/bin/sh
# ProxyCommand of the lab's ssh_config: serve one SSH session of lab host
# $1 with sshd -i inside the host's namespaces (no network socket at all).
# sshd's stderr goes to a log so that it never mixes with the SSH stream.
root=%(root)s
name="$1"
dir="$root/$name"
pid=$(cat "$dir/pid" 2>/dev/null) || { echo "knc-lab: no host $name in $root" >&2; exit 255; }
# The pid must still be this host's holder: after a host was killed its pid
# may belong to any process, and nsenter would then enter the wrong machine.
argv=$({ tr '\\0' '\\n' < "/proc/$pid/cmdline"; } 2>/dev/null)
case "$argv" in
  *"%(marker)s
$root
$name") ;;
  *) echo "knc-lab: host $name is down" >&2; exit 255 ;;
esac
echo "$(date +%%s.%%N) $$" >> "$dir/sessions"
exec nsenter -t "$pid" -n -m -u -p -- /usr/sbin/sshd -i -f "$dir/sshd_config" -E "$dir/sshd.log" 2>>"$dir/sshd.log"
""" % {"root": shlex.quote(self.root), "marker": MARKER}
        wrapper = """#!/bin/sh
# ssh reaching the lab hosts by name; usable as libvirt's ?command= for
# qemu+ssh:// URIs and by anything else that wants to ssh to a lab host.
exec ssh -F %s "$@"
""" % shlex.quote(self.ssh_config)
        for path, text in ((self.proxy, proxy), (self.ssh_wrapper, wrapper)):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)

    def _write_sshd_config(self, name: str) -> None:
        hdir = os.path.join(self.root, name)
        text = """# sshd for lab host %(name)s, started per session as `sshd -i` by %(proxy)s
HostKey %(root)s/ssh_host_ed25519_key
AuthorizedKeysFile %(root)s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
LogLevel ERROR
PrintMotd no
PrintLastLog no
UseDNS no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
""" % {"name": name, "proxy": self.proxy, "root": self.root}
        with open(os.path.join(hdir, "sshd_config"), "w") as f:
            f.write(text)

    def _write_configs(self) -> None:
        """(Re)write ssh_config, known_hosts and the inventory for the current hosts."""
        with self._lock:
            names = sorted(n for n, h in self._hosts.items() if h is not None)
            hostkey = _read(os.path.join(self.root, "ssh_host_ed25519_key.pub")).split()
            hostkey = " ".join(hostkey[:2])
            cfg = ["# knc-lab hosts; use with: ssh -F %s NAME" % self.ssh_config, ""]
            known = []
            inv = ["# knc-lab inventory", "[lab]"]
            for n in names:
                cfg += [
                    "Host %s" % n,
                    "  HostName %s" % n,
                    "  User root",
                    "  IdentityFile %s/id_ed25519" % self.root,
                    "  IdentitiesOnly yes",
                    "  UserKnownHostsFile %s/known_hosts" % self.root,
                    "  GlobalKnownHostsFile /dev/null",
                    "  StrictHostKeyChecking yes",
                    "  BatchMode yes",
                    "  LogLevel ERROR",
                    "  ProxyCommand %s %s" % (self.proxy, n),
                    "",
                ]
                known.append("%s %s" % (n, hostkey))
                line = ("%s ansible_host=%s ansible_user=root ansible_ssh_common_args='-F %s'"
                        % (n, n, self.ssh_config))
                if os.path.exists(SYSTEM_PYTHON):
                    # Interpreter discovery would otherwise follow root's
                    # PATH (which may point at a pyenv shim).
                    line += " ansible_python_interpreter=%s" % SYSTEM_PYTHON
                inv.append(line)
            for path, lines in ((self.ssh_config, cfg), (os.path.join(self.root, "known_hosts"), known),
                                (self.inventory, inv)):
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    f.write("\n".join(lines) + "\n")
                os.rename(tmp, path)


# --------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _copy_dir_skeleton(src: str, dst: str) -> None:
    """Recreate the directory tree of ``src`` (dirs only, same mode/owner) at ``dst``."""
    for dirpath, dirnames, _ in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(target, exist_ok=True)
        st = os.lstat(dirpath)
        os.chown(target, st.st_uid, st.st_gid)
        os.chmod(target, stat.S_IMODE(st.st_mode))


def _rmtree(path: str) -> None:
    # Overlay upper/work dirs hold whiteouts (0:0 char devices) and mode-000
    # dirs; root removes them like anything else.
    shutil.rmtree(path)


def _cleanup_root(root: str) -> None:
    """Remove everything the lab created under ``root`` and ``root`` itself if empty."""
    if not os.path.isdir(root):
        return
    marker = os.path.exists(os.path.join(root, ".knc-lab"))
    for entry in os.listdir(root):
        path = os.path.join(root, entry)
        if entry in ROOT_FILES or entry.endswith(".tmp"):
            os.unlink(path)
        elif marker and os.path.isdir(path) and os.path.exists(os.path.join(path, "holder.json")):
            _rmtree(path)
    try:
        os.rmdir(root)
    except OSError:
        pass
