"""One lab host and the commands run in it: the API scenarios and tests use (sh, exec, write_file,
virsh, ssh...), each command entering the host's namespaces through nsenter."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Union

from .errors import LabError
from .procs import _all_pids, _is_holder, _ppid, kill_holder

if TYPE_CHECKING:
    from .lab import Lab

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


class LabHost:
    """One namespaced host.  ``pid`` is its holder (PID 1 inside the host)."""

    def __init__(
        self,
        lab: "Lab",
        name: str,
        pid: int,
        libvirt: bool = False,
        launcher: Optional[subprocess.Popen] = None,
        pidfd: Optional[int] = None,
        release: Optional[str] = None,
    ):
        self.lab = lab
        self.release = release  # None: the machine's own release; else its root's (lab.releases)
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
        if self.release:  # the holder's root and cwd: the release's root (lab.holder.enter_release_root)
            argv += ["-r", "-w"]
        return argv + ["--"]

    def exec(
        self,
        argv: Sequence[str],
        check: bool = True,
        timeout: Optional[float] = 60,
        input: Optional[Union[str, bytes]] = None,
        env: Optional[Dict[str, str]] = None,
        text: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run ``argv`` (no shell) inside the host; like :meth:`sh` otherwise."""
        self._check_alive()
        full_env = dict(HOST_ENV)
        if env:
            full_env.update(env)
        if isinstance(input, str) and not text:
            input = input.encode()
        try:
            proc = subprocess.run(
                self.nsenter_argv() + list(argv),
                input=input,
                capture_output=True,
                text=text,
                timeout=timeout,
                env=full_env,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise LabError(
                "%s: timed out after %ss: %s" % (self.name, timeout, " ".join(argv)),
                stdout=_s(exc.stdout),
                stderr=_s(exc.stderr),
            ) from None
        if check and proc.returncode != 0:
            raise LabError(
                "%s: command failed: %s" % (self.name, " ".join(argv)),
                stdout=_s(proc.stdout),
                stderr=_s(proc.stderr),
                returncode=proc.returncode,
            )
        return proc

    def sh(
        self,
        cmd: str,
        check: bool = True,
        timeout: Optional[float] = 60,
        input: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
    ) -> subprocess.CompletedProcess:
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

    def virsh(
        self, args: Union[str, Sequence[str]], check: bool = True, timeout: Optional[float] = 60
    ) -> subprocess.CompletedProcess:
        """``virsh -c qemu:///system ARGS`` inside the host (ARGS: shell words or a list)."""
        if isinstance(args, str):
            return self.sh("virsh -c qemu:///system " + args, check=check, timeout=timeout)
        return self.exec(["virsh", "-c", "qemu:///system"] + list(args), check=check, timeout=timeout)

    def ssh(self, cmd: str, check: bool = True, timeout: Optional[float] = 60) -> subprocess.CompletedProcess:
        """Run ``cmd`` over real SSH (through the lab's ssh_config)."""
        argv = ["ssh", "-F", self.lab.ssh_config, self.name, cmd]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise LabError(
                "%s: ssh timed out: %s" % (self.name, cmd), stdout=_s(exc.stdout), stderr=_s(exc.stderr)
            ) from None
        if check and proc.returncode != 0:
            raise LabError(
                "%s: ssh command failed: %s" % (self.name, cmd),
                stdout=proc.stdout,
                stderr=proc.stderr,
                returncode=proc.returncode,
            )
        return proc

    # -- features ------------------------------------------------------------

    def add_vhost_net_standin(self) -> None:
        """Create a /dev/vhost-net character device (10:238) in this host only.

        The kernel here has no vhost-net, so opening the node fails with
        ENODEV ("No such device"); it only makes "is /dev/vhost-net
        present" checks see a host that has it.  libvirt falls back to
        userspace virtio-net when the open fails, so guests still start.
        """
        self.sh(
            "test -c /dev/vhost-net || { mknod -m 0660 /dev/vhost-net c 10 238 && "
            "chgrp kvm /dev/vhost-net 2>/dev/null; test -c /dev/vhost-net; }"
        )

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
        self.sh(
            "test -e /run/virtlogd.pid && kill -0 $(cat /run/virtlogd.pid) 2>/dev/null || "
            "virtlogd -d -p /run/virtlogd.pid </dev/null >/dev/null 2>&1",
            env={"LIBVIRT_LOG_OUTPUTS": "3:file:/var/log/libvirt/virtlogd.log"},
        )
        self.sh(
            "test -e /run/libvirtd.pid && kill -0 $(cat /run/libvirtd.pid) 2>/dev/null || "
            "libvirtd -d -p /run/libvirtd.pid </dev/null >/dev/null 2>&1",
            env=log_env,
        )
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.sh(
                "test -S /run/libvirt/libvirt-sock-ro && virsh -c qemu:///system version", check=False, timeout=30
            )
            if last.returncode == 0:
                self.libvirt = True
                return
            time.sleep(0.2)
        raise LabError(
            "%s: libvirtd did not answer within %ss" % (self.name, timeout),
            stdout=last.stdout if last else "",
            stderr=last.stderr if last else "",
        )


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
