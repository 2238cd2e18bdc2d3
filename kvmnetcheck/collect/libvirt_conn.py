"""The libvirt view of a host, through a read-only libvirt-python connection (raw XML, unparsed).

`qemu:///system` for the local host; `qemu+ssh://` derived from the testinfra
host for a remote one, reusing its ssh_config, identity file and extra ssh
arguments through a small ssh wrapper (libvirt's `command=` URI parameter).
Only read-only calls are made: openReadOnly, list*, XMLDesc, isActive.

What bounds a read: ssh's ConnectTimeout (the wrapper's, from --host-timeout), then
nothing but the host's own deadline. libvirt-python registers no event loop here, so the
remote driver never asks the daemon for keepalive (remote_driver.c doRemoteOpen asks only
when virNetClientKeepAliveIsSupported), and its calls wait as long as the daemon takes.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import stat
import tempfile
import threading
import time
import urllib.parse
from typing import Optional

from ..raw import RawLibvirt, RawNetwork, public_uri

try:
    import libvirt
except ImportError:  # the suite still works through the virsh fallback
    libvirt = None

# libvirt prints every error to stderr unless told otherwise
if libvirt is not None:
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def _version_tuple(v: int) -> tuple[int, int, int]:
    return (v // 1000000, (v // 1000) % 1000, v % 1000)


def ssh_connect_timeout(host_timeout: float) -> int:
    """Seconds ssh may take to reach a host for libvirt (its ConnectTimeout, which ssh_config(5)
    applies to the connection and to the initial handshake and key exchange): a tenth of the
    host's time (--host-timeout), at least ssh's usual 10 s, never more than the host's whole time.
    A fixed 10 s lost libvirt-python's view of loaded hosts, whose sshd took that long to start."""
    return max(1, math.ceil(min(host_timeout, max(10.0, host_timeout / 10))))


# ssh's words when its ConnectTimeout passed: "Connection timed out during banner exchange"
# (sshconnect.c ssh_login), or the TCP connect's ETIMEDOUT
_SSH_TIMED_OUT = re.compile(r"timed out during banner exchange|Connection timed out|Operation timed out")


def read_libvirt(uri: str, ssh_timeout: Optional[int] = None) -> RawLibvirt:
    """libvirt's view through `uri`; `ssh_timeout`: the ConnectTimeout its ssh wrapper sets, if any."""
    if libvirt is None:
        return RawLibvirt("none", uri, error="libvirt-python is not installed on the control node")
    started = time.monotonic()
    try:
        conn = libvirt.openReadOnly(uri)
    except libvirt.libvirtError as e:
        return RawLibvirt("none", uri, error=open_error(uri, _one_line(e), ssh_timeout, time.monotonic() - started))
    try:
        raw = RawLibvirt("libvirt-python", uri)
        raw.lib_version = _version_tuple(conn.getLibVersion())

        # (no getVersion(): the QEMU driver answers it by probing QEMU's capabilities, and no check uses it)
        # a network's state from three listings (virConnectListAllNetworks' filter flags), not three
        # calls per network; each is one round trip to the daemon
        def uuids(flags: int) -> set:
            return {n.UUIDString() for n in conn.listAllNetworks(flags)}

        active_nets = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE)
        persistent_nets = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_PERSISTENT)
        autostart_nets = uuids(libvirt.VIR_CONNECT_LIST_NETWORKS_AUTOSTART)
        for net in conn.listAllNetworks():
            u = net.UUIDString()
            active, persistent = u in active_nets, u in persistent_nets
            try:
                xml = net.XMLDesc(0)
                inactive = net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE) if persistent and active else None
                raw.networks.append(RawNetwork(u, active, persistent, u in autostart_nets, xml, inactive))
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:  # vanished meanwhile
                    raise
        for dom in conn.listAllDomains():
            try:
                # the id came with the listing (libvirt-domain.c virDomainGetID returns it, no call to
                # the daemon): -1 for a domain that is not running
                raw.domains.append((dom.ID() not in (-1, 0xFFFFFFFF), dom.XMLDesc(0)))
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
        return raw
    except libvirt.libvirtError as e:
        return RawLibvirt("none", uri, error=f"reading {public_uri(uri)} failed: {_one_line(e)}")
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass


def open_error(uri: str, message: str, ssh_timeout: Optional[int], took: float) -> str:
    """Why openReadOnly failed, naming ssh's time limit when that is what ended it."""
    through_ssh = urllib.parse.urlsplit(uri).scheme.endswith(("+ssh", "+libssh", "+libssh2"))
    if through_ssh and _SSH_TIMED_OUT.search(message):
        limit = (
            f"{ssh_timeout} s (ssh's ConnectTimeout; a longer --host-timeout raises it)"
            if ssh_timeout
            else f"{took:.0f} s"
        )
        return f"connecting to {public_uri(uri)} through ssh timed out after {limit}: {message}"
    return f"cannot open {public_uri(uri)} read-only: {message}"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())[:300]


# libvirt runs `ssh ... -- HOST 'REMOTE COMMAND'`: the last argument is the command, run as
# the privileged user (ansible_become, --sudo) the same way the collector is
_BECOME_WRAPPER = r"""n=$#; i=0
for a do
    i=$((i+1)); shift
    if [ "$i" -lt "$n" ]; then set -- "$@" "$a"; else cmd=$a; fi
done
q=$(printf '%s' "$cmd" | sed "s/'/'\\\\''/g")
exec SSH "$@" "BECOME sh -c '$q'"
"""


class SshWrappers:
    """One small ssh wrapper script per distinct set of ssh options, for libvirt's command=.
    `connect_timeout`: ssh's ConnectTimeout, unless the host's own ssh arguments set one."""

    def __init__(self, connect_timeout: int):
        self.connect_timeout = connect_timeout
        self._dir: Optional[str] = None
        self._made: dict[tuple, str] = {}
        self._limits: dict[str, Optional[int]] = {}  # wrapper path -> the ConnectTimeout it sets
        self._lock = threading.Lock()

    def get(self, extra_args: tuple[str, ...], become: Optional[tuple[str, ...]] = None) -> str:
        """A wrapper running ssh with extra_args; with `become` (the sudo words, e.g. ("sudo", "-n")),
        the remote command libvirt asks for (its last argument) runs through them."""
        key = (extra_args, become)
        with self._lock:
            if key in self._made:
                return self._made[key]
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="kvmnetcheck-ssh-")
            path = os.path.join(self._dir, f"ssh{len(self._made)}")
            # the host's own ConnectTimeout (ssh_extra_args) wins, as testinfra lets it
            own = any("connecttimeout" in a.lower() for a in extra_args)
            limit = ["-o", f"ConnectTimeout={self.connect_timeout}"] if not own else []
            words = ["ssh", "-o", "BatchMode=yes", *limit, *extra_args]
            ssh = " ".join(shlex.quote(w) for w in words)
            with open(path, "w") as f:
                if become:
                    f.write(
                        "#!/bin/sh\n"
                        + _BECOME_WRAPPER.replace("SSH", ssh).replace(
                            "BECOME", " ".join(shlex.quote(w) for w in become)
                        )
                    )
                else:
                    f.write("#!/bin/sh\nexec " + ssh + ' "$@"\n')
            os.chmod(path, stat.S_IRWXU)
            self._made[key] = path
            self._limits[path] = None if own else self.connect_timeout
            return path

    def limit_of(self, uri: str) -> Optional[int]:
        """The ConnectTimeout of the wrapper `uri` runs (None: not one of these wrappers, or the
        host's ssh arguments set their own)."""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
        command = (query.get("command") or [""])[0]
        with self._lock:
            return self._limits.get(command)

    def cleanup(self):
        if self._dir:
            for p in self._made.values():
                try:
                    os.unlink(p)
                except OSError:
                    pass
            try:
                os.rmdir(self._dir)
            except OSError:
                pass


def uri_for_backend(backend, wrappers: SshWrappers) -> Optional[str]:
    """The read-only libvirt URI that reaches the same host as a testinfra backend."""
    name = backend.get_connection_type()
    if name == "local":
        return "qemu:///system"
    if name == "ansible":
        # (an inventory testinfra cannot read raises: the caller names the error)
        inner = backend.ansible_runner.get_host(
            backend.host, ssh_config=backend.ssh_config, ssh_identity_file=backend.ssh_identity_file
        )
        return uri_for_backend(inner.backend, wrappers) if inner is not None else None
    if name not in ("ssh", "safe-ssh", "paramiko"):
        return None
    host = backend.host
    extra: list[str] = []
    ssh_config = getattr(backend, "ssh_config", None)
    if ssh_config:
        extra += ["-F", os.path.abspath(os.path.expanduser(ssh_config))]
    identity = getattr(backend, "ssh_identity_file", None)
    if identity:
        extra += ["-i", os.path.abspath(os.path.expanduser(identity))]
    ssh_extra = getattr(backend, "ssh_extra_args", None)
    if ssh_extra:
        extra += shlex.split(ssh_extra)
    netloc = urllib.parse.quote(host.name, safe=":[]")
    if host.user:
        netloc = urllib.parse.quote(host.user, safe="") + "@" + netloc
    if host.port:
        netloc += f":{host.port}"
    become = None
    if getattr(backend, "sudo", False):
        user = getattr(backend, "sudo_user", None)
        become = ("sudo", "-n") + (("-u", user) if user else ()) + ("--",)
    params = {"no_tty": "1", "command": wrappers.get(tuple(extra), become)}
    return f"qemu+ssh://{netloc}/system?" + urllib.parse.urlencode(params)
