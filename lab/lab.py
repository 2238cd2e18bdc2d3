"""A lab: a set of namespaced hosts sharing one state directory, its life cycle and its state.

A *host* is a set of Linux namespaces (pid, net, mount, uts) held open by
:mod:`lab.holder`.  It has its own interfaces, bridges, iptables rules,
hostname, /run, /dev, a copy-on-write /etc with libvirt's packaged
configuration in /etc/libvirt and, on request, its own virtlogd and libvirtd.
Nothing listens on a network socket: SSH reaches a host through a
``ProxyCommand`` that runs ``sshd -i`` inside the namespaces, so the
compliance suite talks to lab hosts exactly as it would to real ones (ssh,
testinfra, ansible, ``qemu+ssh://`` libvirt URIs).

All state lives under one directory (``ROOT``): keys, ``ssh_config``,
the Ansible inventory, ``state.json`` and one ``ROOT/NAME`` directory per
host (overlay upper dir of /etc, private libvirt dirs, logs).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

from . import configs, releases
from .errors import LabError
from .host import LabHost, _s
from .procs import MARKER, _all_pids, _ppid, find_holders, kill_holder, open_holder

HOLDER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "holder.py")
DEFAULT_ROOT = "/tmp/knc-lab"
SYSTEM_PYTHON = "/usr/bin/python3"
STATE_VERSION = 1

# Private, initially empty copies (directory skeleton only) of these dirs
# are bind-mounted in each host so its libvirtd starts from a clean state.
PRIVATE_DIRS = ("/var/lib/libvirt", "/var/log/libvirt", "/var/cache/libvirt")
DEFAULT_NETWORK_XML = "/usr/share/libvirt/networks/default.xml"

# Entries under ROOT that the lab creates (and therefore removes on down()).
ROOT_FILES = (
    "id_ed25519",
    "id_ed25519.pub",
    "ssh_host_ed25519_key",
    "ssh_host_ed25519_key.pub",
    "authorized_keys",
    "known_hosts",
    "ssh_config",
    "inventory.ini",
    "proxy",
    "ssh",
    "state.json",
    ".knc-lab",
)

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")

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
        self._conffiles: Dict[str, Dict[str, str]] = {}  # per root ("" the machine's)
        if not _attach:
            live = find_holders(self.root)
            if live:
                raise LabError(
                    "a lab is already running in %s (hosts: %s); use Lab.load(root) "
                    "or `python -m lab down`" % (self.root, ", ".join(sorted(live)))
                )
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

    def add_host(
        self,
        name: str,
        libvirt: bool = False,
        default_network: bool = False,
        timeout: float = 30,
        release: Optional[str] = None,
    ) -> LabHost:
        """Build host ``name`` (and start its libvirt daemons if ``libvirt``).

        ``default_network=True`` keeps libvirt's ``default`` network defined
        (never autostarted); otherwise the host has no network defined.
        ``release`` (e.g. "trixie", "bullseye"): the host runs that Debian release's programs from
        its root (lab.releases; built once and cached); None or the machine's own: the machine's.
        """
        if not _NAME_RE.match(name):
            raise LabError("bad host name %r (want [a-z][a-z0-9-]*)" % name)
        with self._lock:
            if name in self._hosts:
                raise LabError("host %r already exists" % name)
            self._hosts[name] = None  # reserve the name
        try:
            host = self._spawn(name, default_network, timeout, releases.ensure_root(release) if release else None)
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

    def _spawn(self, name: str, default_network: bool, timeout: float, rootfs: Optional[str] = None) -> LabHost:
        hdir = os.path.join(self.root, name)
        if os.path.exists(hdir):
            _rmtree(hdir)
        os.makedirs(hdir)
        os.makedirs(os.path.join(hdir, "etc-upper"))
        os.makedirs(os.path.join(hdir, "etc-work"))
        binds = {}
        base = rootfs or ""
        for real in PRIVATE_DIRS:
            if not os.path.isdir(base + real):
                continue
            private = os.path.join(hdir, real.strip("/").replace("/", "-"))
            _copy_dir_skeleton(base + real, private)
            binds[real] = private
        # libvirt's packaged configuration, not the machine's own networks and guests
        binds["/etc/libvirt"] = os.path.join(hdir, "etc-libvirt")
        self._libvirt_etc(binds["/etc/libvirt"], default_network, rootfs)
        with open(os.path.join(hdir, "holder.json"), "w") as f:
            json.dump({"binds": binds, "private_dev": True, "rootfs": rootfs}, f)
        self._write_sshd_config(name)
        log = open(os.path.join(hdir, "holder.log"), "wb")
        try:
            launcher = subprocess.Popen(
                [
                    "unshare",
                    "--pid",
                    "--fork",
                    "--mount-proc",
                    "--net",
                    "--mount",
                    "--uts",
                    "--propagation",
                    "private",
                    "--",
                    sys.executable,
                    HOLDER_SCRIPT,
                    MARKER,
                    self.root,
                    name,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
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
            raise LabError(
                "host %s failed to set up: %s" % (name, status or "holder pid not found"),
                stderr=_read(os.path.join(hdir, "holder.log")),
            )
        pidfd = open_holder(pid, self.root, name)
        if pidfd is None:
            launcher.kill()
            launcher.wait()
            raise LabError("host %s: holder %d vanished" % (name, pid), stderr=_read(os.path.join(hdir, "holder.log")))
        with open(os.path.join(hdir, "pid"), "w") as f:
            f.write("%d\n" % pid)
        release = os.path.basename(rootfs).rsplit("-", 1)[0] if rootfs else None
        return LabHost(self, name, pid, libvirt=False, launcher=launcher, pidfd=pidfd, release=release)

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
            self._links = [ln for ln in self._links if name not in (ln["host1"], ln["host2"])]
            self._write_configs()
        hdir = os.path.join(self.root, name)
        if os.path.isdir(hdir):
            _rmtree(hdir)
        self._save_state()

    def link(
        self,
        h1: HostRef,
        br1: Optional[str],
        h2: HostRef,
        br2: Optional[str],
        name1: Optional[str] = None,
        name2: Optional[str] = None,
    ) -> Tuple[str, str]:
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
            subprocess.run(
                ["nsenter", "-t", str(a.pid), "-n", "--", "ip", "link", "set", tmp, "netns", str(b.pid)],
                check=True,
                capture_output=True,
                text=True,
            )
            b.exec(["ip", "link", "set", tmp, "name", n2])
        except (subprocess.CalledProcessError, LabError) as exc:
            a.exec(["ip", "link", "del", n1], check=False)
            raise LabError(
                "link %s:%s <-> %s:%s failed" % (a.name, br1, b.name, br2),
                stderr=_s(getattr(exc, "stderr", "")) or str(exc),
            ) from None
        for host, ifname, br in ((a, n1, br1), (b, n2, br2)):
            if br:
                host.exec(["ip", "link", "set", ifname, "master", br])
            host.exec(["ip", "link", "set", ifname, "up"])
        with self._lock:
            self._links.append({"host1": a.name, "if1": n1, "br1": br1, "host2": b.name, "if2": n2, "br2": br2})
        self._save_state()
        return n1, n2

    @property
    def links(self) -> List[dict]:
        return [dict(ln) for ln in self._links]

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
            lab._hosts[name] = LabHost(
                lab, name, pid, libvirt=info.get("libvirt", False), pidfd=pidfd, release=info.get("release")
            )
        lab._links = [ln for ln in state.get("links", []) if ln["host1"] in lab._hosts and ln["host2"] in lab._hosts]
        lab._link_seq = state.get("link_seq", 0)
        lab._write_configs()
        lab._save_state()
        return lab

    def status(self) -> Dict[str, dict]:
        """Per host: pid, alive, libvirt flag, SSH sessions served."""
        return {
            n: {"pid": h.pid, "alive": h.alive(), "libvirt": h.libvirt, "ssh_sessions": h.ssh_sessions()}
            for n, h in sorted(self._hosts.items())
        }

    # -- files -----------------------------------------------------------------

    def _save_state(self) -> None:
        with self._lock:
            state = {
                "version": STATE_VERSION,
                "root": self.root,
                "ssh_config": self.ssh_config,
                "inventory": self.inventory,
                "ssh_wrapper": self.ssh_wrapper,
                "hosts": {
                    n: {"pid": h.pid, "libvirt": h.libvirt, "release": h.release}
                    for n, h in self._hosts.items()
                    if h is not None
                },
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
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                    check=True,
                    capture_output=True,
                )
        shutil.copyfile(os.path.join(self.root, "id_ed25519.pub"), os.path.join(self.root, "authorized_keys"))
        os.chmod(os.path.join(self.root, "authorized_keys"), 0o600)

    def _write_scripts(self) -> None:
        for path, text in (
            (self.proxy, configs.proxy_script(self.root, MARKER)),
            (self.ssh_wrapper, configs.ssh_wrapper(self.ssh_config)),
        ):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)

    def _write_sshd_config(self, name: str) -> None:
        with open(os.path.join(self.root, name, "sshd_config"), "w") as f:
            f.write(configs.sshd_config(name, self.root, self.proxy))

    def _write_configs(self) -> None:
        """(Re)write ssh_config, known_hosts and the inventory for the current hosts."""
        with self._lock:
            names = [n for n, h in self._hosts.items() if h is not None]
            texts = configs.client_files(
                self.root,
                names,
                _read(os.path.join(self.root, "ssh_host_ed25519_key.pub")),
                self.ssh_config,
                self.proxy,
                SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else None,
            )
            for path, text in zip((self.ssh_config, os.path.join(self.root, "known_hosts"), self.inventory), texts):
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    f.write(text)
                os.rename(tmp, path)

    def _libvirt_etc(self, target: str, default_network: bool, rootfs: Optional[str] = None) -> None:
        """Write a host's /etc/libvirt at `target`: libvirt's packaged configuration (lab.configs), the
        machine's or, for a host of another release, that release's root's."""
        base = rootfs or ""
        if base not in self._conffiles:
            admindir = ["--admindir=" + base + "/var/lib/dpkg"] if rootfs else []
            try:
                out = subprocess.run(
                    ["dpkg-query", *admindir, "-W", "-f=${Conffiles}\n", *configs.LIBVIRT_PACKAGES],
                    capture_output=True,
                    text=True,
                ).stdout
            except OSError:  # not a Debian machine: libvirt's built-in defaults
                out = ""
            self._conffiles[base] = configs.parse_conffiles(out)
        files = configs.libvirt_etc(
            self._conffiles[base],
            lambda p: _read_bytes(base + p),
            default_network,
            _read_bytes(base + DEFAULT_NETWORK_XML),
        )
        os.makedirs(target, mode=0o755)
        for d in configs.conffile_dirs(files):
            os.makedirs(os.path.join(target, d), mode=0o755, exist_ok=True)
        for rel, data in files.items():
            with open(os.path.join(target, rel), "wb") as f:
                f.write(data)


# --------------------------------------------------------------------------


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _copy_dir_skeleton(src: str, dst: str) -> None:
    """Recreate the directory tree of ``src`` (dirs only, same mode/owner) at ``dst``."""
    for dirpath, _, _ in os.walk(src):
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
