"""Gather a fleet through Ansible, then check it offline with `pytest --facts=DIR`.

    python -m kvmnetcheck.collect.ansible_gather -i inventory.ini hypervisors --out facts/ --forks 50
    pytest --facts=facts/

Ansible runs the collector (collector.sh, read-only) on every host of the pattern with the
`script` module: its forks set how many hosts at once, its ssh connection keeps one
multiplexed SSH connection per host (ControlPersist), and the inventory's users, ports, keys,
become settings and group vars apply as in any other play. Each host's output becomes a saved
host in the --save-facts format, so the suite's own checks evaluate what Ansible gathered.

Libvirt is read by the collector's `virsh --readonly` on each host (no second connection).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from typing import Optional

from .. import __version__
from .. import raw as raw_store
from ..raw import RawHost
from .gather import COLLECTOR


def _ansible() -> str:
    """The ansible beside this Python (a venv's), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "ansible")
    return here if os.access(here, os.X_OK) else (shutil.which("ansible") or "ansible")


def ansible_command(inventory: Optional[str], pattern: str, script: str, nonce: str, tree: str,
                    forks: int, connect_timeout: int, extra: list[str]) -> list[str]:
    cmd = [_ansible(), pattern, "-m", "script", "-a", f"{script} {nonce} 1 executable=/bin/sh",
           "--forks", str(forks), "-T", str(connect_timeout), "--tree", tree, "--one-line",
           # no tty: the collector's stdout and stderr must stay apart, lines without \r
           "-e", "ansible_ssh_use_tty=false"]
    if inventory:
        cmd += ["-i", inventory]
    return cmd + extra


def list_hosts(inventory: Optional[str], pattern: str, extra: list[str]) -> list[str]:
    cmd = [_ansible(), pattern, "--list-hosts"] + (["-i", inventory] if inventory else []) + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"ansible could not list the hosts of {pattern!r}: {p.stderr.strip()[-500:]}")
    lines = [ln.strip() for ln in p.stdout.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("hosts (")]


def raw_from_tree(host: str, tree: str, nonce: str, when: str) -> RawHost:
    """One host's saved facts from Ansible's per-host result file."""
    spec = f"ansible://{host}"
    path = os.path.join(tree, host)
    try:
        with open(path) as f:
            res = json.load(f)
    except FileNotFoundError:
        return RawHost(host=host, spec=spec, error="ansible gave no result for this host", gathered_at=when)
    except (OSError, ValueError) as e:
        return RawHost(host=host, spec=spec, error=f"ansible's result unreadable: {e}", gathered_at=when)
    out = res.get("stdout") or ""
    if res.get("unreachable"):
        return RawHost(host=host, spec=spec, error=f"cannot reach {spec}: {_one_line(res.get('msg'))}",
                       gathered_at=when)
    if f"@@{nonce}@@ meta" not in out:
        why = _one_line(res.get("stderr") or res.get("msg") or out)
        return RawHost(host=host, spec=spec, gathered_at=when,
                       error=f"cannot run the collector on {spec} (exit {res.get('rc')}): {why}")
    return RawHost(host=host, spec=spec, nonce=nonce, output=out, libvirt=None, gathered_at=when,
                   extra={"gathered_by": "ansible"})


def gather(inventory: Optional[str], pattern: str, out_dir: str, forks: int = 50, timeout: int = 300,
           connect_timeout: int = 10, extra: Optional[list[str]] = None) -> list[RawHost]:
    extra = list(extra or [])
    if not os.access(_ansible(), os.X_OK) and shutil.which("ansible") is None:
        raise SystemExit("ansible is not installed (pip install ansible-core)")
    hosts = list_hosts(inventory, pattern, extra)
    nonce = secrets.token_hex(12)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    work = tempfile.mkdtemp(prefix="kvmnetcheck-ansible-")
    try:
        script = os.path.join(work, "kvmnetcheck-collector.sh")
        with open(script, "w") as f:
            f.write(COLLECTOR)
        tree = os.path.join(work, "tree")
        env = dict(os.environ, ANSIBLE_TASK_TIMEOUT=str(timeout))
        # exit 2 (some hosts failed) and 4 (some unreachable) still leave every other host's result
        p = subprocess.run(ansible_command(inventory, pattern, script, nonce, tree, forks, connect_timeout, extra),
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode not in (0, 2, 4) and not os.path.isdir(tree):
            raise SystemExit(f"ansible failed (exit {p.returncode}): {p.stderr.strip()[-1000:]}")
        raws = [raw_from_tree(h, tree, nonce, when) for h in hosts]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raw_store.save(out_dir, raws, f"kvm-netcheck {__version__}")
    return raws


def _one_line(s) -> str:
    return " ".join(str(s or "").split())[:500] or "no message"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kvmnetcheck.collect.ansible_gather", description=__doc__,
                                 epilog="More ansible options go after --, e.g. -- --limit 'rack7*'",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pattern", help="Ansible host pattern (group or hosts)")
    ap.add_argument("-i", "--inventory", help="Ansible inventory (default: Ansible's own setting)")
    ap.add_argument("--out", required=True, help="directory to write the saved facts to (for pytest --facts=DIR)")
    ap.add_argument("-f", "--forks", type=int, default=50, help="hosts at once (default 50)")
    ap.add_argument("--timeout", type=int, default=300, help="longest the collector may run on one host (300 s)")
    ap.add_argument("-T", "--connect-timeout", type=int, default=10, help="SSH connection timeout (10 s)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []  # after `--`: more ansible options (--limit, -e, --vault-password-file...)
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    a = ap.parse_args(argv)
    raws = gather(a.inventory, a.pattern, a.out, a.forks, a.timeout, a.connect_timeout, extra)
    bad = [r for r in raws if r.error]
    print(f"{len(raws)} host(s) gathered through ansible into {a.out}" + (f", {len(bad)} unreachable" if bad else ""))
    for r in bad:
        print(f"  {r.host}: {r.error}", file=sys.stderr)
    print(f"check them with: pytest --facts={a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
