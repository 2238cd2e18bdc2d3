"""Command line: ``python -m lab up [N] | down | status | ssh NAME [CMD...]``.

``up`` leaves the hosts running after it exits (their holders are their own
sessions), so a shell, ansible or the suite can use them; ``down`` removes
them again, also when the state file is damaged or gone (holders are found
by the marker in their argv).
"""

import argparse
import os
import sys
import time

from .errors import LabError
from .lab import DEFAULT_ROOT, Lab, _cleanup_root
from .procs import find_holders, kill_holder


def _root(args) -> str:
    return os.path.abspath(args.root or os.environ.get("KNC_LAB_DIR") or DEFAULT_ROOT)


def cmd_up(args) -> int:
    root = _root(args)
    if find_holders(root):
        lab = Lab.load(root)
    else:
        lab = Lab(root)
    wanted = ["lab%d" % i for i in range(1, args.n + 1)]
    missing = [n for n in wanted if n not in lab.hosts]
    t0 = time.monotonic()
    try:
        lab.add_hosts(missing, libvirt=not args.no_libvirt)
    except LabError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    took = time.monotonic() - t0
    for name, host in sorted(lab.hosts.items()):
        print("host %-8s pid %d" % (name, host.pid))
    if missing:
        print("built %d host(s) in %.1fs" % (len(missing), took))
    print("ssh_config  %s" % lab.ssh_config)
    print("inventory   %s" % lab.inventory)
    print("ssh_wrapper %s" % lab.ssh_wrapper)
    print("state       %s" % lab.state_file)
    return 0


def cmd_down(args) -> int:
    root = _root(args)
    try:
        lab = Lab.load(root)
    except LabError:
        lab = None
    killed = sorted(lab.hosts) if lab else []
    if lab is not None:
        lab.down()
    for name, pid in find_holders(root).items():
        kill_holder(pid, root=root, name=name)
        killed.append(name)
    _cleanup_root(root)
    print("down: %s" % (", ".join(sorted(set(killed))) or "nothing was running"))
    return 0


def cmd_status(args) -> int:
    root = _root(args)
    try:
        lab = Lab.load(root)
    except LabError as exc:
        print(str(exc))
        return 1
    if not lab.hosts:
        print("no hosts running in %s" % root)
        return 1
    for name, st in lab.status().items():
        host = lab.get(name)
        libvirt = "-"
        if st["libvirt"]:
            ok = host.sh("virsh -c qemu:///system version", check=False, timeout=10).returncode == 0
            libvirt = "up" if ok else "DOWN"
        print(
            "%-8s pid %-7d alive %-5s libvirtd %-4s ssh_sessions %d"
            % (name, st["pid"], st["alive"], libvirt, st["ssh_sessions"])
        )
    print("ssh_config %s" % lab.ssh_config)
    print("inventory  %s" % lab.inventory)
    return 0


def cmd_ssh(args) -> int:
    root = _root(args)
    config = os.path.join(root, "ssh_config")
    os.execvp("ssh", ["ssh", "-F", config, args.name] + args.cmd)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="state dir (default: $KNC_LAB_DIR or %s)" % DEFAULT_ROOT)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build hosts lab1..labN (with libvirtd)")
    up.add_argument("n", nargs="?", type=int, default=2)
    up.add_argument("--no-libvirt", action="store_true", help="do not start libvirtd in the hosts")
    sub.add_parser("down", help="tear everything down")
    sub.add_parser("status", help="show the hosts")
    ssh = sub.add_parser("ssh", help="ssh to a lab host")
    ssh.add_argument("name")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    for p in sub.choices.values():
        p.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the lab needs root (namespaces, mounts)", file=sys.stderr)
        return 1
    return {"up": cmd_up, "down": cmd_down, "status": cmd_status, "ssh": cmd_ssh}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
