"""Root filesystems of other Debian releases, for lab hosts that run that release's programs.

A lab host of release R (``Lab.add_host(name, release="trixie")``) runs R's libvirtd, dnsmasq,
iptables, nftables, sshd and shell from a root built once with mmdebstrap from the same package
registry the machine's apt uses; the machine's own release ("bookworm" here) needs no root.

Roots are cached outside the repository, one directory per release and package list::

    /var/cache/kvm-netcheck-lab/roots/trixie-<hash of the package list and mirror>

(``KNC_LAB_ROOTS`` chooses another cache dir).  A root is built at most once: concurrent builders
wait on a file lock, and a root is only used once its build finished (``.knc-root-complete``).
A changed package list gives another hash, hence a new build.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
from typing import Dict, Optional, Tuple

from .errors import LabError

CACHE_DIR = "/var/cache/kvm-netcheck-lab/roots"
COMPLETE = ".knc-root-complete"

# What a lab host of another release runs: libvirt's daemon and network driver with its helpers,
# the firewall tools, sshd for the suite's SSH sessions, and what the collector reads with.
PACKAGES: Tuple[str, ...] = (
    "libvirt-daemon-system",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",  # libvirt 7.0 answers `virsh version` only with an emulator; PXE boots need one
    "ipxe-qemu",
    "dnsmasq-base",
    "iptables",
    "nftables",
    "iproute2",
    "openssh-server",
    "netcat-openbsd",
    "procps",
    "kmod",
    "tcpdump",  # lab.pxe_boot watches DHCP on the bridge with it
    "busybox",  # the DHCP client and LAN-side server of the real-client truth tests (udhcpc, udhcpd)
    "isc-dhcp-server",  # dhcpd on its LPF packet socket: the macvtap truth test's server on the host's own NIC
    "python3",
)

# The programs that apply persistent bridge config (selftests/test_netconfig_truth.py runs them).
NETCONFIG: Tuple[str, ...] = ("network-manager", "netplan.io", "ifupdown", "bridge-utils", "dbus")

# A control node of that release: its own Python with venv and pip (python3-venv), and what
# libvirt-python (published on PyPI as source only) builds with.  A root of its own, so the lab
# roots above are not rebuilt for it (selftests/test_packaging.py installs the wheel in it).
CONTROL_NODE: Tuple[str, ...] = ("python3", "python3-venv", "python3-dev", "gcc", "pkg-config", "libvirt-dev")

# firewalld with its zones and policies (libvirt's own zone file comes with libvirt's network driver).
FIREWALL: Tuple[str, ...] = ("firewalld",)

# Releases the registry serves besides the machine's own (DOMAIN: bullseye 11, trixie 13).
RELEASES: Dict[str, Tuple[str, ...]] = {
    "bullseye": PACKAGES + NETCONFIG + FIREWALL,
    "trixie": PACKAGES + NETCONFIG + FIREWALL,
}


def machine_release() -> str:
    """The machine's own Debian codename (its programs need no root of their own)."""
    try:
        with open("/etc/os-release") as f:
            m = re.search(r"^VERSION_CODENAME=(\S+)", f.read(), re.MULTILINE)
    except OSError:
        m = None
    return m.group(1).strip('"') if m else "bookworm"


def mirror(sources_dirs: Tuple[str, ...] = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")) -> str:
    """The Debian archive the machine's apt uses (first `deb.debian.org`-like main archive)."""
    files = []
    for p in sources_dirs:
        if os.path.isdir(p):
            files += [os.path.join(p, n) for n in sorted(os.listdir(p)) if n.endswith((".list", ".sources"))]
        elif os.path.isfile(p):
            files.append(p)
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        for uri in re.findall(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def root_key(release: str, packages: Tuple[str, ...], archive: str) -> str:
    """The cache key of a root: its release and a hash of what it is built from."""
    h = hashlib.sha256(("\n".join([release, archive, "minbase"] + sorted(packages))).encode()).hexdigest()
    return "%s-%s" % (release, h[:12])


def root_path(release: str, cache: Optional[str] = None, packages: Optional[Tuple[str, ...]] = None) -> Optional[str]:
    """Where release's root is (or will be) cached; None for the machine's own release.

    ``packages`` (default: the lab host's list) chooses another root of the same release.
    """
    if release in (None, "", machine_release()):
        return None
    if release not in RELEASES:
        raise LabError("no lab root for release %r (have: %s)" % (release, ", ".join(sorted(RELEASES))))
    cache = cache or os.environ.get("KNC_LAB_ROOTS") or CACHE_DIR
    return os.path.join(cache, root_key(release, packages or RELEASES[release], mirror()))


def ensure_root(
    release: str, cache: Optional[str] = None, timeout: float = 1800, packages: Optional[Tuple[str, ...]] = None
) -> Optional[str]:
    """Build release's root once (mmdebstrap, under a file lock) and return its path.

    None for the machine's own release.  A finished root is reused as is; a half-built one (a
    build that died) is removed and built again.
    """
    path = root_path(release, cache, packages)
    if path is None:
        return None
    if os.path.exists(os.path.join(path, COMPLETE)):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError("timed out waiting for the build of %s" % path) from None
                time.sleep(1)
        if os.path.exists(os.path.join(path, COMPLETE)):
            return path
        _build(release, path, packages or RELEASES[release])
    return path


def _build(release: str, path: str, packages: Tuple[str, ...]) -> None:
    if shutil.which("mmdebstrap") is None:
        raise LabError("building a %s lab root needs mmdebstrap (apt-get install mmdebstrap)" % release)
    tmp = path + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    if os.path.exists(path):
        shutil.rmtree(path)
    argv = [
        "mmdebstrap",
        "--mode=root",
        "--variant=minbase",
        "--include=" + ",".join(packages),
        # no service starts inside the build; no docs or manuals to save space
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        release,
        tmp,
        mirror(),
    ]
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LabError("mmdebstrap of %s failed" % release, stdout=proc.stdout, stderr=proc.stderr[-4000:])
    with open(os.path.join(tmp, COMPLETE), "w") as f:
        f.write("%s built in %.0f s by: %s\n" % (release, time.monotonic() - start, " ".join(argv)))
    os.rename(tmp, path)


def overlay_run(
    root: str,
    state: str,
    script: str,
    binds: Tuple[Tuple[str, str], ...] = (),
    env: Optional[Dict[str, str]] = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess:
    """Run ``script`` (sh) as root in a throwaway overlay of a cached root.

    What the script writes is kept in ``state`` (the overlay's upper dir), so calls with the same
    state see each other's work and the cached root stays as built.  ``binds`` are (machine path,
    path inside) pairs; the machine's resolv.conf and CA bundle are copied in, so the release's
    pip reaches the registry the machine's pip does.  A private mount namespace ends every mount
    with the call.
    """
    upper, work, merged = (os.path.join(state, d) for d in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        os.makedirs(d, exist_ok=True)
    q = shlex.quote
    lines = [
        "set -e",
        "mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s" % (q(root), q(upper), q(work), q(merged)),
        "mount -t proc proc %s/proc" % q(merged),
        "mount --rbind /dev %s/dev" % q(merged),
        "cp /etc/resolv.conf %s/etc/resolv.conf" % q(merged),
        "mkdir -p %s/etc/ssl/certs" % q(merged),
        "cp /etc/ssl/certs/ca-certificates.crt %s/etc/ssl/certs/knc-machine-ca.crt" % q(merged),
    ]
    for src, dst in binds:
        inside = q(merged + "/" + dst.lstrip("/"))
        lines += ["mkdir -p %s" % inside, "mount --bind %s %s" % (q(src), inside)]
    lines.append("exec chroot %s /bin/sh -c %s" % (q(merged), q(script)))
    full_env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
    }
    full_env["PIP_CERT"] = "/etc/ssl/certs/knc-machine-ca.crt"
    full_env.update(env or {})
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )
