"""PID 1 of one lab host.

Started by :class:`lab.lab.Lab` as::

    unshare --pid --fork --mount-proc --net --mount --uts --propagation private \\
        -- PYTHON holder.py --knc-lab-holder ROOT NAME

so it runs as PID 1 of fresh pid/net/mount/uts namespaces.  It shapes the
mount namespace into a private "host" (own /sys, /run, /dev, an overlay over
/etc, private libvirt state dirs), writes ``ROOT/NAME/ready`` (``ok`` or the
error text) and then reaps orphans forever.

Why a reaper and not ``sleep infinity``: daemons that fork into the
background (libvirtd, virtlogd, dnsmasq, sshd sessions) are re-parented to
PID 1 of their pid namespace; without a reaper their corpses stay as zombies
that ``pgrep`` still matches, which would confuse checks like "dnsmasq is no
longer running".  Killing this process (SIGKILL from outside) makes the
kernel kill every process of the host, which is how a host is torn down.

The ``--knc-lab-holder ROOT NAME`` words in argv are the marker ``python -m
lab down`` uses to find holders even when the state file is gone.

Only the stdlib is used: this file runs with whatever interpreter started
the lab and must not import the ``lab`` package.
"""

import glob
import grp
import json
import os
import signal
import socket
import stat
import subprocess
import sys

MARKER = "--knc-lab-holder"

# Device nodes recreated in the private /dev (copied with the real node's
# mode, owner and device number).  QEMU guests need null/urandom/ptmx and
# libvirt opens /dev/net/tun; kvm is kept (root:kvm 0660) as on a Debian
# KVM host.
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun", "kvm")


def run(*argv):
    """Run a command, raising with its output when it fails."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError("%s -> rc=%d: %s" % (" ".join(argv), proc.returncode, proc.stdout.strip()))


def make_private_dev(dev="/dev", kvm_gid=None):
    """Replace /dev (or mount at ``dev``, a release root's /dev) a small tmpfs so /dev can differ per host.

    Needed so a test can add e.g. /dev/vhost-net to one host only.  Node
    metadata is read from the real /dev before it is covered.
    """
    if kvm_gid is None:
        try:
            kvm_gid = grp.getgrnam("kvm").gr_gid
        except KeyError:
            kvm_gid = None
    nodes = {}
    for name in DEV_NODES:
        try:
            st = os.stat("/dev/" + name)
        except FileNotFoundError:
            continue
        if stat.S_ISCHR(st.st_mode):
            nodes[name] = st
    if dev == "/dev":  # drop the real /dev and its submounts (devpts, shm) from this namespace
        run("umount", "--recursive", "--lazy", "/dev")
    os.makedirs(dev, exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,size=4m", "knc-dev", dev)
    for name, st in nodes.items():
        path = dev + "/" + name
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        if name == "kvm" and kvm_gid is not None:
            # As udev sets it on a Debian KVM host.  With the real node's
            # 0600 root:root, libvirtd finds KVM "usable when probed but
            # not now" and re-probes QEMU on every define (~5 s each).
            mode, gid = 0o660, kvm_gid
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mknod(path, stat.S_IFCHR | mode, st.st_rdev)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    os.makedirs(dev + "/pts", exist_ok=True)
    # A new devpts instance: ptys allocated in this host stay in this host.
    run("mount", "-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=0620,gid=5", "devpts", dev + "/pts")
    os.symlink("pts/ptmx", dev + "/ptmx")
    os.makedirs(dev + "/shm", exist_ok=True)
    run("mount", "-t", "tmpfs", "-o", "mode=1777,nosuid,nodev,size=64m", "shm", dev + "/shm")
    os.makedirs(dev + "/mqueue", exist_ok=True)
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink("/proc/self/fd/%d" % fd, dev + "/" + name)
    os.symlink("/proc/self/fd", dev + "/fd")


def _group_gid(group_file, name):
    try:
        with open(group_file) as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == name and len(fields) > 2:
                    return int(fields[2])
    except (OSError, ValueError):
        pass
    return None


def enter_release_root(root, hostdir, cfg):
    """Make the host run another release: chroot into a copy-on-write view of its root.

    The release's root (built by lab.releases, shared read-only by all hosts of that release)
    is the lower dir of an overlay whose upper dir is ROOT/NAME/root-upper, so a host's changes
    (its /etc included) stay its own.  /proc, a fresh /sys, a private /run and /dev, the host's
    private libvirt dirs and the lab's state dir (ssh keys, sshd_config) are mounted inside it;
    then this process chroots, and `nsenter -r -w` puts every command of the host there too.
    """
    new = os.path.join(hostdir, "rootfs")
    for d in (new, os.path.join(hostdir, "root-upper"), os.path.join(hostdir, "root-work")):
        os.makedirs(d, exist_ok=True)
    run(
        "mount",
        "-t",
        "overlay",
        "-o",
        "lowerdir=%s,upperdir=%s,workdir=%s"
        % (cfg["rootfs"], os.path.join(hostdir, "root-upper"), os.path.join(hostdir, "root-work")),
        "knc-root",
        new,
    )
    run("mount", "-t", "proc", "-o", "nosuid,nodev,noexec", "proc", new + "/proc")
    run("mount", "-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs", new + "/sys")
    run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev,size=64m", "knc-run", new + "/run")
    make_private_dev(new + "/dev", _group_gid(new + "/etc/group", "kvm"))
    for target, src in list(cfg.get("binds", {}).items()) + [(root, root)]:
        os.makedirs(new + target, exist_ok=True)
        run("mount", "--bind", src, new + target)
    os.chroot(new)
    os.chdir("/")


def setup(root, name):
    """Build the host's private view of the filesystem."""
    hostdir = os.path.join(root, name)
    with open(os.path.join(hostdir, "holder.json")) as f:
        cfg = json.load(f)
    if cfg.get("rootfs"):
        enter_release_root(root, hostdir, cfg)
    else:
        setup_machine_root(hostdir, cfg)
    for d, mode in (("sshd", 0o755), ("libvirt", 0o755), ("lock", 0o1777), ("user", 0o755)):
        os.makedirs("/run/" + d, exist_ok=True)
        os.chmod("/run/" + d, mode)
    forget_machine_network_config(name)
    socket.sethostname(name)
    run("ip", "link", "set", "lo", "up")


def setup_machine_root(hostdir, cfg):
    """A host of the machine's own release: the machine's root with private /sys, /run, /etc, /dev."""
    # Fresh sysfs: /sys/class/net then lists only this netns' interfaces.
    # The real /sys and its cgroup submounts are dropped first so nothing
    # here (libvirtd in particular) sees or touches the real cgroups.
    run("umount", "--recursive", "--lazy", "/sys")
    run("mount", "-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs", "/sys")

    # Private /run: sockets and pid files of this host's daemons.
    run("mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev,size=64m", "knc-run", "/run")

    # Copy-on-write /etc: scenario files are created in ROOT/NAME/etc-upper.
    run(
        "mount",
        "-t",
        "overlay",
        "-o",
        "lowerdir=/etc,upperdir=%s,workdir=%s"
        % (os.path.join(hostdir, "etc-upper"), os.path.join(hostdir, "etc-work")),
        "knc-etc",
        "/etc",
    )
    # Private libvirt configuration (libvirt's packaged one, written by the lab), state, caches
    # and logs. A target missing on the machine is made in the host's /etc overlay.
    for target, src in cfg.get("binds", {}).items():
        if not os.path.isdir(target) and target.startswith("/etc/"):
            os.makedirs(target)
        if os.path.isdir(target):
            run("mount", "--bind", src, target)

    if cfg.get("private_dev", True):
        make_private_dev()


def forget_machine_network_config(name):
    """The host's /etc (an overlay either way) without the machine's network services and config."""
    # A host starts with no network service enabled, whatever the machine enables: a scenario
    # enables the ones it models (removing the links here leaves whiteouts in the overlay only)
    for pattern in (
        "/etc/systemd/system/*.wants/NetworkManager*",
        "/etc/systemd/system/*.wants/systemd-networkd*",
        "/etc/systemd/system/*.wants/networking.service",
        "/etc/systemd/system/*.wants/network.service",
        "/etc/systemd/system/*.wants/wicked*",
        "/etc/rc[0-6S].d/[SK][0-9]*network*",
        "/etc/rc.d/rc[0-6].d/[SK][0-9]*network*",
    ):
        for path in glob.glob(pattern):
            os.unlink(path)
    # ... and with none of the machine's own persistent network config (its bridges are not the host's)
    for pattern in (
        "/etc/network/interfaces",
        "/etc/network/interfaces.d/*",
        "/etc/netplan/*",
        "/etc/NetworkManager/system-connections/*",
        "/etc/systemd/network/*",
        "/etc/sysconfig/network-scripts/ifcfg-*",
        "/etc/sysconfig/network/ifcfg-*",
    ):
        for path in glob.glob(pattern):
            if os.path.isfile(path) or os.path.islink(path):
                os.unlink(path)
    with open("/etc/hostname", "w") as f:
        f.write(name + "\n")
    # Let the host resolve its own name (libvirtd and sudo-like tools ask).
    with open("/etc/hosts") as f:
        hosts = f.read()
    if not any(name in line.split()[1:] for line in hosts.splitlines() if not line.startswith("#")):
        with open("/etc/hosts", "a") as f:
            f.write("%s127.0.1.1\t%s\n" % ("" if hosts.endswith("\n") or not hosts else "\n", name))


def reap_forever():
    """Reap every child (including re-parented orphans) until killed."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        signal.sigtimedwait({signal.SIGCHLD}, 5.0)
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def main(argv):
    if len(argv) != 4 or argv[1] != MARKER:
        sys.stderr.write("usage: holder.py %s ROOT NAME\n" % MARKER)
        return 2
    root, name = argv[2], argv[3]
    ready = os.path.join(root, name, "ready")
    try:
        setup(root, name)
    except Exception as exc:  # reported to the parent through the ready file
        with open(ready + ".tmp", "w") as f:
            f.write("error: %s\n" % exc)
        os.rename(ready + ".tmp", ready)
        return 1
    with open(ready + ".tmp", "w") as f:
        f.write("ok\n")
    os.rename(ready + ".tmp", ready)
    # Keep no handle on the launcher's stdio.
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    reap_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
