"""Gather a fleet through Ansible, then check it offline with `pytest --facts=DIR`.

    python -m kvmnetcheck.collect.ansible_gather -i inventory.ini hypervisors --out facts/ --forks 50
    pytest --facts=facts/

Ansible runs the collector (collector.sh, read-only) on every host of the pattern with the
`script` module: its forks set how many hosts at once, its ssh connection keeps one
multiplexed SSH connection per host (ControlPersist), and the inventory's users, ports, keys,
become settings and group vars apply as in any other play. Each host's output becomes a saved
host in the --save-facts format, so the suite's own checks evaluate what Ansible gathered.

Ansible is driven through ansible-runner's Python API: each host's result is read from the
run's events (no `--tree` files). Install both from a checkout with: pip install -e '.[ansible]'.

Libvirt is read by the collector's `virsh --readonly` on each host (no second connection).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Optional

from .. import __version__
from .. import raw as raw_store
from ..raw import RawHost
from .gather import COLLECTOR, command_timeout

# the supported releases, as pyproject.toml's `ansible` extra pins them: (lowest, first unsupported)
ANSIBLE_CORE = ((2, 15), (2, 20))
ANSIBLE_RUNNER = ((2, 3, 6), (2, 5))


def _spec(name: str, span) -> str:
    low, high = (".".join(map(str, v)) for v in span)
    return f"{name}>={low},<{high}"


INSTALL = (
    f"pip install '{_spec('ansible-runner', ANSIBLE_RUNNER)}' '{_spec('ansible-core', ANSIBLE_CORE)}'"
    " (in a checkout: pip install -e '.[ansible]')"
)

# the host results among ansible-runner's events; event_data carries the host and Ansible's result
RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")
# ansible-runner's callback empties a result larger than this (700,000 characters by default,
# which a host with many guests can pass); past this bound the host gets an error, never a pass
MAX_RESULT = 256 * 1024 * 1024
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _bin_dir() -> Optional[str]:
    """The directory of the ansible beside this Python (a venv's), when there is one."""
    here = os.path.dirname(sys.executable)
    return here if os.access(os.path.join(here, "ansible"), os.X_OK) else None


def _ansible() -> str:
    """The ansible beside this Python (a venv's), else the one on PATH."""
    here = _bin_dir()
    return os.path.join(here, "ansible") if here else (shutil.which("ansible") or "ansible")


def _path() -> str:
    """PATH for the ansible that ansible-runner starts: the one beside this Python first."""
    path = os.environ.get("PATH", "")
    here = _bin_dir()
    return here + os.pathsep + path if here else path


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def _require_ansible():
    """ansible_runner, once ansible-runner and ansible-core are importable; else stop saying what to install."""
    try:
        import ansible_runner
    except ImportError:
        raise SystemExit(f"ansible-runner is not installed: {INSTALL}") from None
    try:
        from ansible.release import __version__ as core
    except ImportError:
        raise SystemExit(f"ansible-core is not installed: {INSTALL}") from None
    try:
        from importlib.metadata import version

        runner = version("ansible-runner")
    except Exception:
        runner = ""
    for name, have, (low, high) in (("ansible-core", core, ANSIBLE_CORE), ("ansible-runner", runner, ANSIBLE_RUNNER)):
        if _version(have) and not low <= _version(have) < high:
            print(
                f"warning: {name} {have} is outside the supported range ({_spec(name, (low, high))})", file=sys.stderr
            )
    return ansible_runner


def _host_key_checking() -> Optional[str]:
    """Ansible's own host key checking, for ANSIBLE_HOST_KEY_CHECKING: ansible-runner turns it
    off unless that variable is set, and an unknown host key must stay a refusal."""
    if "ANSIBLE_HOST_KEY_CHECKING" in os.environ:
        return None  # the user's own, which ansible-runner keeps
    try:
        from ansible import constants as C
    except Exception:  # an ansible.cfg Ansible cannot read: Ansible says so itself when it runs
        return "True"
    try:  # the ssh connection's setting ([defaults] and [ssh_connection] of the ansible.cfg in use)
        from ansible.plugins.loader import connection_loader

        connection_loader.get("ssh", class_only=True)
        value = C.config.get_config_value("host_key_checking", plugin_type="connection", plugin_name="ssh")
    except Exception:
        value = C.HOST_KEY_CHECKING
    return "True" if value else "False"


# the ansible command's one-letter options that take a value (the rest of a cluster like -eK=1 is it)
_SHORT_WITH_VALUE = set("aBcefilMmPtTu")


def password_prompts(extra: list[str]) -> list[str]:
    """The password prompts Ansible would show, from the options after -- and from ansible.cfg
    or the environment. Under ansible-runner Ansible has a terminal no one types into: a prompt
    would wait forever, so these are refused before Ansible starts."""
    found = []
    args = iter(extra)
    for a in args:
        if a.startswith("--ask"):  # --ask-pass, --ask-become-pass, --ask-vault-pass(word), abbreviated or not
            found.append(a.split("=", 1)[0])
        elif a == "--vault-id" or a.startswith("--vault-id="):
            v = a.split("=", 1)[1] if "=" in a else next(args, "")
            if v == "prompt" or v.endswith("@prompt"):
                found.append(f"--vault-id {v}")
        elif a.startswith("-") and not a.startswith("--"):
            for ch in a[1:]:
                if ch in "kKJ":
                    found.append(f"-{ch}")
                    break
                if ch in _SHORT_WITH_VALUE:
                    break
    try:
        from ansible import constants as C
    except Exception:  # an ansible.cfg Ansible cannot read: Ansible says so itself when it runs
        return found
    for name, setting in (
        ("DEFAULT_ASK_PASS", "ask_pass"),
        ("DEFAULT_BECOME_ASK_PASS", "become_ask_pass"),
        ("DEFAULT_ASK_VAULT_PASS", "ask_vault_pass"),
    ):
        if getattr(C, name, False):
            found.append(f"{setting} = True")
    for v in getattr(C, "DEFAULT_VAULT_IDENTITY_LIST", None) or []:
        if str(v) == "prompt" or str(v).endswith("@prompt"):
            found.append(f"vault_identity_list {v}")
    return found


def list_hosts(inventory: Optional[str], pattern: str, extra: list[str]) -> list[str]:
    cmd = [_ansible(), pattern, "--list-hosts"] + (["-i", inventory] if inventory else []) + extra
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, PATH=_path()))
    if p.returncode != 0:
        raise SystemExit(f"ansible could not list the hosts of {pattern!r}: {p.stderr.strip()[-500:]}")
    lines = [ln.strip() for ln in p.stdout.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("hosts (")]


def runner_args(
    inventory: Optional[str],
    pattern: str,
    script: str,
    nonce: str,
    private_data_dir: str,
    forks: int,
    timeout: int,
    connect_timeout: int,
    extra: list[str],
    host_key_checking: Optional[str] = None,
) -> dict:
    """The arguments of ansible_runner.run() for one collector run per host of the pattern."""
    # no tty: the collector's stdout and stderr must stay apart, lines without \r
    cmdline = ["-T", str(connect_timeout), "-e", "ansible_ssh_use_tty=false"]
    inv = None
    if inventory:
        if os.path.exists(inventory):
            inv = os.path.abspath(inventory)  # ansible-runner reads any other string as inventory text
        else:
            cmdline += ["-i", inventory]  # a host list ("kvm1,kvm2,") or a source Ansible resolves
    envvars = {"PATH": _path(), "ANSIBLE_TASK_TIMEOUT": str(timeout), "MAX_EVENT_RES": str(MAX_RESULT)}
    if host_key_checking is not None:
        envvars["ANSIBLE_HOST_KEY_CHECKING"] = host_key_checking
    return dict(
        private_data_dir=private_data_dir,
        module="script",
        module_args=f"{shlex.quote(script)} {nonce} 1 {command_timeout(timeout)} executable=/bin/sh",
        host_pattern=pattern,
        inventory=inv,
        forks=forks,
        cmdline=shlex.join(cmdline + extra),
        envvars=envvars,
        # each host's result is kept from its event; no copy of Ansible's output on disk
        settings={"suppress_output_file": True},
        quiet=True,
    )


class Results:
    """ansible-runner's event handler: each host's last result, and the tail of Ansible's own
    messages (why a run that reached no host failed). It keeps no event on disk."""

    def __init__(self) -> None:
        self.by_host: dict[str, tuple[str, dict]] = {}
        self._tail: collections.deque = collections.deque(maxlen=40)

    def __call__(self, event: dict) -> bool:
        kind = event.get("event")
        data = event.get("event_data") or {}
        if kind in RESULT_EVENTS and data.get("host") is not None:
            res = data.get("res") or {}
            self.by_host[str(data["host"])] = (kind, {k: res[k] for k in ("stdout", "stderr", "rc", "msg") if k in res})
        elif event.get("stdout"):
            self._tail.append(_ANSI.sub("", str(event["stdout"]))[-1000:])
        return False

    def messages(self) -> str:
        """Ansible's last messages, about 1000 characters of whole lines."""
        text = "\n".join(self._tail).strip()
        if len(text) > 1000:
            text = (text[-1000:].partition("\n")[2] or text[-1000:]).strip()
        return text


def raw_from_result(host: str, result: Optional[tuple[str, dict]], nonce: str, when: str) -> RawHost:
    """One host's saved facts from its result event (kind, Ansible's result)."""
    spec = f"ansible://{host}"
    if result is None:
        return RawHost(host=host, spec=spec, error="ansible gave no result for this host", gathered_at=when)
    kind, res = result
    if kind == "runner_on_unreachable":
        return RawHost(
            host=host, spec=spec, error=f"cannot reach {spec}: {_one_line(res.get('msg'))}", gathered_at=when
        )
    if not res:
        return RawHost(
            host=host,
            spec=spec,
            gathered_at=when,
            error=f"ansible's result for {spec} is missing (larger than {MAX_RESULT} characters?)",
        )
    out = res.get("stdout") or ""
    if f"@@{nonce}@@ meta" not in out:
        why = _one_line(res.get("stderr") or res.get("msg") or out)
        return RawHost(
            host=host,
            spec=spec,
            gathered_at=when,
            error=f"cannot run the collector on {spec} (exit {res.get('rc')}): {why}",
        )
    return RawHost(
        host=host, spec=spec, nonce=nonce, output=out, libvirt=None, gathered_at=when, extra={"gathered_by": "ansible"}
    )


def _run(ansible_runner, args: dict, handler: Results):
    """ansible_runner.run() in the current directory, as the `ansible` command would run: its
    ansible.cfg, and relative paths among the options after -- (-e @vars.yml, vault files)."""
    here = os.getcwd()

    def on_status(data: dict, runner_config=None) -> None:
        # ansible-runner starts ad-hoc commands in private_data_dir; its status "starting"
        # comes before the command is started
        if data.get("status") == "starting" and runner_config is not None:
            runner_config.cwd = here

    main = threading.current_thread() is threading.main_thread()
    # on SIGINT/SIGTERM ansible-runner stops Ansible and its forks; it keeps those handlers after
    # the run, so put back the ones this process had
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} if main else {}
    try:
        return ansible_runner.run(event_handler=handler, status_handler=on_status, **args)
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def gather(
    inventory: Optional[str],
    pattern: str,
    out_dir: str,
    forks: int = 50,
    timeout: int = 300,
    connect_timeout: int = 10,
    extra: Optional[list[str]] = None,
) -> list[RawHost]:
    extra = list(extra or [])
    ansible_runner = _require_ansible()
    prompts = password_prompts(extra)
    if prompts:
        raise SystemExit(
            f"ansible_gather cannot answer Ansible's password prompts ({', '.join(prompts)}): "
            "give the passwords in files after -- instead (--connection-password-file, "
            "--become-password-file, --vault-password-file)"
        )
    hosts = list_hosts(inventory, pattern, extra)
    nonce = secrets.token_hex(12)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    work = tempfile.mkdtemp(prefix="kvmnetcheck-ansible-")
    try:
        script = os.path.join(work, "kvmnetcheck-collector.sh")
        with open(script, "w") as f:
            f.write(COLLECTOR)
        private = os.path.join(work, "runner")
        os.mkdir(private, 0o700)
        results = Results()
        args = runner_args(
            inventory, pattern, script, nonce, private, forks, timeout, connect_timeout, extra, _host_key_checking()
        )
        r = _run(ansible_runner, args, results)
        if r.status == "canceled":
            raise SystemExit("ansible was interrupted; nothing saved")
        # exit 2 (some hosts failed) and 4 (some unreachable) still leave every other host's result
        if r.rc not in (0, 2, 4) and not results.by_host:
            raise SystemExit(f"ansible failed (exit {r.rc}): {results.messages()}")
        raws = [raw_from_result(h, results.by_host.get(h), nonce, when) for h in hosts]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    raw_store.save(out_dir, raws, f"kvm-netcheck {__version__}")
    return raws


def _one_line(s) -> str:
    return " ".join(str(s or "").split())[:500] or "no message"


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m kvmnetcheck.collect.ansible_gather",
        description=__doc__,
        epilog="More ansible options go after --, e.g. -- --limit 'rack7*'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("pattern", help="Ansible host pattern (group or hosts)")
    ap.add_argument("-i", "--inventory", help="Ansible inventory (default: Ansible's own setting)")
    ap.add_argument("--out", required=True, help="directory to write the saved facts to (for pytest --facts=DIR)")
    ap.add_argument("-f", "--forks", type=int, default=50, help="hosts at once (default 50)")
    ap.add_argument(
        "--timeout",
        type=int,
        default=300,
        help="longest the collector may run on one host (300 s); a tenth of it bounds each command",
    )
    ap.add_argument("-T", "--connect-timeout", type=int, default=10, help="SSH connection timeout (10 s)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []  # after `--`: more ansible options (--limit, -e, --vault-password-file...)
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
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
