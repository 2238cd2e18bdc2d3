"""The files a lab writes, as pure functions of their inputs (a unit test checks them without root).

- the ProxyCommand script and the ssh wrapper, the per-host sshd_config;
- the client side: ssh_config, known_hosts and the Ansible inventory for the current hosts;
- a host's /etc/libvirt: libvirt's packaged configuration, never the machine's own definitions.
"""

from __future__ import annotations

import hashlib
import shlex
from typing import Callable, Dict, Iterable, List, Optional, Tuple


def proxy_script(root: str, marker: str) -> str:
    return """#!/bin/sh
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
# -r -w: the holder's root, which is another release's root on a host of that release
exec nsenter -t "$pid" -n -m -u -p -r -w -- /usr/sbin/sshd -i -f "$dir/sshd_config" -E "$dir/sshd.log" 2>>"$dir/sshd.log"
""" % {"root": shlex.quote(root), "marker": marker}


def ssh_wrapper(ssh_config: str) -> str:
    return """#!/bin/sh
# ssh reaching the lab hosts by name; usable as libvirt's ?command= for
# qemu+ssh:// URIs and by anything else that wants to ssh to a lab host.
exec ssh -F %s "$@"
""" % shlex.quote(ssh_config)


def sshd_config(name: str, root: str, proxy: str) -> str:
    return """# sshd for lab host %(name)s, started per session as `sshd -i` by %(proxy)s
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
""" % {"name": name, "proxy": proxy, "root": root}


def client_files(
    root: str, names: Iterable[str], host_key: str, ssh_config: str, proxy: str, python: Optional[str]
) -> Tuple[str, str, str]:
    """(ssh_config, known_hosts, inventory.ini) reaching each named host through the proxy.

    `host_key` is the hosts' public key line; `python`, when given, pins Ansible's interpreter
    (discovery would otherwise follow root's PATH, which may point at a pyenv shim)."""
    key = " ".join(host_key.split()[:2])
    cfg = ["# knc-lab hosts; use with: ssh -F %s NAME" % ssh_config, ""]
    known = []
    inv = ["# knc-lab inventory", "[lab]"]
    for n in sorted(names):
        cfg += [
            "Host %s" % n,
            "  HostName %s" % n,
            "  User root",
            "  IdentityFile %s/id_ed25519" % root,
            "  IdentitiesOnly yes",
            "  UserKnownHostsFile %s/known_hosts" % root,
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
            "  LogLevel ERROR",
            "  ProxyCommand %s %s" % (proxy, n),
            "",
        ]
        known.append("%s %s" % (n, key))
        line = "%s ansible_host=%s ansible_user=root ansible_ssh_common_args='-F %s'" % (n, n, ssh_config)
        if python:
            line += " ansible_python_interpreter=%s" % python
        inv.append(line)
    return "\n".join(cfg) + "\n", "\n".join(known) + "\n", "\n".join(inv) + "\n"


# Packages whose files under /etc/libvirt make up libvirt's packaged configuration.
LIBVIRT_PACKAGES = (
    "libvirt-clients",
    "libvirt-daemon",
    "libvirt-daemon-system",
    "libvirt-daemon-driver-qemu",
    "libvirt-daemon-config-network",
    "libvirt-daemon-config-nwfilter",
    "libvirt-daemon-driver-lxc",
    "libvirt-daemon-driver-xen",
    "libvirt-daemon-driver-vbox",
    # where later releases (trixie) split them: network.conf, libvirt.conf, virtlogd.conf
    "libvirt-daemon-driver-network",
    "libvirt-common",
    "libvirt-daemon-log",
)


def parse_conffiles(dpkg_query_output: str) -> Dict[str, str]:
    """path -> packaged md5 from `dpkg-query -W -f='${Conffiles}\\n' PKG...` (obsolete entries skipped)."""
    out = {}
    for line in dpkg_query_output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].startswith("/") and "obsolete" not in words[2:]:
            out[words[0]] = words[1]
    return out


def libvirt_etc(
    conffiles: Dict[str, str],
    read: Callable[[str], Optional[bytes]],
    default_network: bool,
    default_network_xml: Optional[bytes],
) -> Dict[str, bytes]:
    """A host's /etc/libvirt, as relative path -> content: libvirt's packaged configuration.

    Each packaged config file as the package shipped it: the machine's copy when it is unchanged
    (its md5 is the packaged one), else empty, which libvirt reads as its built-in defaults (the
    packaged files only comment the defaults). No network, guest, pool or secret of the machine's
    own comes along; libvirt's `default` network only when asked for (never autostarted).
    """
    files: Dict[str, bytes] = {}
    for path, md5 in conffiles.items():
        if not path.startswith("/etc/libvirt/"):
            continue
        rel = path[len("/etc/libvirt/") :]
        if rel.startswith("qemu/") and rel.endswith(".xml"):
            continue  # definitions, not configuration
        data = read(path)
        files[rel] = data if data is not None and hashlib.md5(data).hexdigest() == md5 else b""
    if default_network and default_network_xml is not None:
        files["qemu/networks/default.xml"] = default_network_xml
    return files


def conffile_dirs(files: Dict[str, bytes]) -> List[str]:
    """The directories a libvirt_etc tree needs, parents first (libvirt expects qemu/networks to exist)."""
    dirs = {"qemu", "qemu/networks", "qemu/networks/autostart", "hooks", "nwfilter", "storage", "secrets"}
    for rel in files:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return sorted(dirs, key=lambda d: (d.count("/"), d))
