"""libvirt's own files: the firewall backend /etc/libvirt/network.conf sets, qemu.conf's user= (who libvirt
runs QEMU as), and the pid libvirt keeps for each running guest (/run/libvirt/qemu/GUEST.pid).

    firewall_backend = "nftables"        (network.conf, libvirt >= 10.4)
    user = "+107"                        (qemu.conf, as `grep -E '^\\s*user\\s*='` prints it)
"""

from __future__ import annotations

import re
from typing import Optional

from ..model import LibvirtQemu
from .gathered import Gathered
from .servers import parse_pid_file


def parse_firewall_backend(text: str) -> Optional[str]:
    """network.conf's firewall_backend, as written (the first line that sets it); None when unset."""
    for line in text.splitlines():
        m = re.match(r'\s*firewall_backend\s*=\s*["\']?([a-z]+)["\']?', line)
        if m:
            return m.group(1)
    return None


def parse_qemu_conf_user(text: str) -> Optional[str]:
    """qemu.conf's user= (the first one: virConfGetValue returns the first entry of a name)."""
    for line in text.splitlines():
        m = re.match(r"""\s*user\s*=\s*(["'])(.*?)\1""", line)
        if m:
            return m.group(2)
    return None


def read_firewall_backend_config(g: Gathered) -> Optional[str]:
    """The `libvirt_network_conf` section; None when the file is missing, refused or sets no backend."""
    s = g.one("libvirt_network_conf")
    if s is None or not g.readable(s):
        return None
    return parse_firewall_backend(s.text)


def read_libvirt_qemu(g: Gathered) -> LibvirtQemu:
    """qemu.conf's user= and the pid libvirt keeps for each running guest (`qemu_conf`, `libvirt_qemu_pid`); a
    file that could not be read says nothing."""
    conf = g.one("qemu_conf")
    conf_read = conf is not None and conf.rc in (0, 1)  # grep: 1 is no user= line
    user = parse_qemu_conf_user(conf.text) if conf_read else None
    pids = [
        (s.arg.rsplit("/", 1)[-1].removesuffix(".pid"), parse_pid_file(s.text) if s.ok else None)
        for s in g.all("libvirt_qemu_pid")
    ]
    return LibvirtQemu(conf_user=user, conf_read=conf_read, pids=tuple(pids))
