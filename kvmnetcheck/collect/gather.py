"""Gather every host's raw facts: one collector session and one libvirt connection per host.

Hosts are gathered concurrently with a bounded pool. A host that fails in any
way becomes a RawHost with `error` set; it never stops the others.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import queue
import secrets
import signal
import sys
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from importlib import resources
from typing import Callable, Optional

import testinfra

from ..raw import RawHost, RawLibvirt, in_shard
from .libvirt_conn import SshWrappers, read_libvirt, ssh_connect_timeout, uri_for_backend
from .probe import command_args as probe_command

COLLECTOR = resources.files(__package__).joinpath("collector.sh").read_text()


@dataclass
class GatherOptions:
    connection: Optional[str] = None
    ssh_config: Optional[str] = None
    ssh_identity_file: Optional[str] = None
    ssh_extra_args: Optional[str] = None
    sudo: bool = False
    sudo_user: Optional[str] = None
    ansible_inventory: Optional[str] = None
    force_ansible: bool = False
    libvirt_uris: dict[str, str] = field(default_factory=dict)  # host name -> URI, or "none"
    workers: int = 16
    host_timeout: float = 300.0
    shard: Optional[tuple[int, int]] = None  # --shard=K/N: only the hosts of slice K
    # --probe: the bridges to probe on a host, from what its collector printed (None: no probe)
    probe_targets: Optional[Callable[[RawHost], list[str]]] = None


def expand_hosts(specs: list[Optional[str]], opts: GatherOptions) -> list[tuple[str, object]]:
    """(display name, testinfra Host or an error string) for every host the specs name."""
    out = []
    if opts.ansible_inventory or any((s or "").startswith("ansible://") for s in specs):
        _ansible_on_path()
    for spec in specs:
        try:
            hosts = testinfra.get_hosts(
                [spec],
                connection=opts.connection,
                ssh_config=opts.ssh_config,
                ssh_identity_file=opts.ssh_identity_file,
                sudo=opts.sudo,
                sudo_user=opts.sudo_user,
                ansible_inventory=opts.ansible_inventory,
                force_ansible=opts.force_ansible,
                **({"ssh_extra_args": opts.ssh_extra_args} if opts.ssh_extra_args else {}),
            )
        except Exception as e:  # a bad spec or inventory is that host's result, not a crash
            out.append((display_name(spec or "local://"), f"cannot use host {spec!r}: {_short(e)}"))
            continue
        for h in hosts:
            out.append((display_name_of(h), h))
    return out


def _ansible_on_path() -> None:
    """testinfra reads inventories with `ansible-inventory` from PATH: `.venv/bin/pytest` run without
    the venv activated must still find the one installed beside it."""
    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if os.access(os.path.join(here, "ansible-inventory"), os.X_OK) and here not in path.split(os.pathsep):
        os.environ["PATH"] = here + os.pathsep + path


def display_name(spec: str) -> str:
    rest = spec.split("://", 1)[1] if "://" in spec else spec
    rest = rest.rsplit("@", 1)[-1]
    return rest or "localhost"


def display_name_of(host) -> str:
    b = host.backend
    if b.get_connection_type() == "local":
        return "localhost"
    return b.get_hostname()


def collect_raw(
    name: str, host, opts: GatherOptions, wrappers: SshWrappers, deadline: Optional[float] = None
) -> RawHost:
    """Everything read from one host: one libvirt connection, then one collector session.

    `deadline` (time.monotonic()) is the host's: past it, no further session is opened."""
    if deadline is None:
        deadline = time.monotonic() + opts.host_timeout
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if isinstance(host, str):
        return RawHost(host=name, spec=name, error=host, gathered_at=now)
    spec = host.backend.get_pytest_id()
    raw = libvirt_of(name, spec, host, opts, wrappers)
    left = deadline - time.monotonic()
    if left <= 0:  # the libvirt connection took the host's whole time
        return RawHost(host=name, spec=spec, error=f"no answer within {opts.host_timeout:g} s", gathered_at=now)
    nonce = secrets.token_hex(12)
    want_virsh = "1" if raw.error else "0"
    try:
        # the host's own `timeout` bounds a collector that hangs there
        result = host.run(
            'T=; command -v timeout >/dev/null 2>&1 && T="timeout %s"; exec $T sh -c %s kvmnetcheck-collector %s %s %s',
            str(max(1, int(left))),
            COLLECTOR,
            nonce,
            want_virsh,
            str(command_timeout(opts.host_timeout)),
        )
    except Exception as e:
        return RawHost(host=name, spec=spec, error=f"cannot reach {spec}: {_connection_error(e)}", gathered_at=now)
    # a host's files are not always UTF-8 (a Latin-1 comment): decode here, never in testinfra
    out = result.stdout_bytes.decode("utf-8", "replace")
    if f"@@{nonce}@@ meta" not in out:
        why = (result.stderr_bytes.decode("utf-8", "replace") or out).strip().splitlines()[-3:]
        return RawHost(
            host=name,
            spec=spec,
            gathered_at=now,
            error=f"cannot run the collector on {spec} (exit {result.rc}): " + " | ".join(why)[:500],
        )
    gathered = RawHost(host=name, spec=spec, nonce=nonce, output=out, libvirt=raw, gathered_at=now)
    if opts.probe_targets is not None:
        gathered.output += run_probe(host, gathered, opts.probe_targets, deadline)
    return gathered


def run_probe(host, gathered: RawHost, targets_of: Callable[[RawHost], list[str]], deadline: float) -> str:
    """The probe's sections (collect/probe.py), in the collector's framing, or one that says why it could
    not run; bounded by what is left of the host's time."""
    nonce = gathered.nonce
    left = deadline - time.monotonic() - 5

    def failed(why: str) -> str:
        return f"@@{nonce}@@ probe_meta\t\n" + json.dumps({"error": why}) + f"\n\n@@{nonce}@@ rc\t0\n"

    if left < 20:
        return failed(f"too little of the host's time left to probe ({left:.0f} s; raise --host-timeout)")
    cmd, args = probe_command(nonce, secrets.token_hex(2), left, targets_of(gathered))
    try:
        result = host.run(cmd, *args)
    except Exception as e:
        return failed(f"the probe could not be run: {_connection_error(e)}")
    out = result.stdout_bytes.decode("utf-8", "replace")
    if f"@@{nonce}@@ probe_meta" not in out:
        why = (result.stderr_bytes.decode("utf-8", "replace") or out).strip().splitlines()[-3:]
        return failed(f"the probe printed nothing (exit {result.rc}): " + " | ".join(why)[:500])
    return out


def libvirt_of(name: str, spec: str, host, opts: GatherOptions, wrappers: SshWrappers) -> RawLibvirt:
    """The host's libvirt view through libvirt-python, or why there is none (the collector's virsh
    --readonly is asked instead, and the report says why)."""
    override = opts.libvirt_uris.get(name)
    if override == "none":
        return RawLibvirt("none", None, error=f"not tried (--libvirt-uri={name}=none)")
    try:
        uri = override or uri_for_backend(host.backend, wrappers)
    except Exception as e:
        return RawLibvirt("none", None, error=f"no libvirt URI for {spec}: {_short(e)}")
    if not uri:
        return RawLibvirt(
            "none",
            None,
            error=f"no libvirt URI for testinfra's {host.backend.get_connection_type()} connection to {spec}",
        )
    return read_libvirt(uri, None if override else wrappers.limit_of(uri))


def command_timeout(host_timeout: float) -> int:
    """Seconds one command of the collector may run on the host (its `timeout`, virsh's included):
    a tenth of the host's time (--host-timeout), at least 20 s, never more than the host's whole time."""
    return max(1, math.ceil(min(host_timeout, max(20.0, host_timeout / 10))))


def gather_all(
    specs: list[Optional[str]], opts: GatherOptions, progress: Optional[Callable[[int, int, str], None]] = None
) -> list[RawHost]:
    # each host's place among all the specs name (a shard's hosts keep it, so merged shards keep the order)
    everything = expand_hosts(specs, opts)
    positions = [p for p, (name, _) in enumerate(everything) if in_shard(name, opts.shard)]
    hosts = [everything[p] for p in positions]
    wrappers = SshWrappers(ssh_connect_timeout(opts.host_timeout))
    results: dict[int, RawHost] = {}
    futures: dict[Future, int] = {}
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for i, (name, h) in enumerate(hosts):
        f = Future()
        futures[f] = i
        todo.put((f, name, h))

    started: dict[Future, float] = {}  # when a worker took the host: its own deadline runs from there
    abandoned: set[Future] = set()

    def worker():
        while True:
            try:
                f, name, h = todo.get_nowait()
            except queue.Empty:
                return
            started[f] = time.monotonic()
            if f.set_running_or_notify_cancel():
                try:
                    f.set_result(collect_raw(name, h, opts, wrappers, started[f] + opts.host_timeout))
                except BaseException as e:
                    f.set_exception(e)
            if f in abandoned:  # a replacement took this thread's place meanwhile
                return

    def start_worker():
        threading.Thread(target=worker, name=f"gather{len(threads)}", daemon=True).start()
        threads.append(1)

    # daemon threads: a host that never answers (a command stuck in the kernel ignores `timeout`)
    # must not keep the run from ending, as a pool's threads would at exit
    threads: list[int] = []
    for _ in range(min(max(1, opts.workers), len(hosts))):
        start_worker()
    pending = set(futures)
    timed_out = False
    try:
        done_count = 0
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when="FIRST_COMPLETED")
            now = time.monotonic()
            late = {f for f in pending if f in started and now - started[f] >= opts.host_timeout}
            pending -= late
            for f in list(done) + list(late):
                i = futures[f]
                if f in late:
                    results[i] = RawHost(
                        host=hosts[i][0], spec=hosts[i][0], error=f"no answer within {opts.host_timeout:g} s"
                    )
                    abandoned.add(f)
                    timed_out = True
                    start_worker()  # the late host keeps its thread; the rest keep their concurrency
                else:
                    try:
                        results[i] = f.result()
                    except Exception as e:
                        results[i] = RawHost(host=hosts[i][0], spec=hosts[i][0], error=_short(e))
                done_count += 1
                if progress:
                    progress(done_count, len(hosts), results[i].host)
    finally:
        for f in futures:
            f.cancel()
        if pending or timed_out:
            _stop_ssh_clients()
        wrappers.cleanup()
    for i in range(len(hosts)):
        results[i].extra = {**(results[i].extra or {}), "position": positions[i]}
    return _unique_names([results[i] for i in range(len(hosts))])


def _stop_ssh_clients() -> None:
    """End the ssh clients this process still runs (hosts past their deadline), so none lingers."""

    def children(pid: int) -> list[tuple[int, list[bytes]]]:
        out = []
        for d in os.listdir("/proc"):
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                out.append((int(d), argv))
        return out

    for pid, argv in children(os.getpid()):
        # testinfra runs `/bin/sh -c "ssh ..."`; libvirt runs the ssh wrapper, which execs ssh
        line = b" ".join(argv[2:3]) if argv[:2] == [b"/bin/sh", b"-c"] else argv[0]
        if os.path.basename(line.split(b" ", 1)[0]) not in (b"ssh", b"sshpass"):
            continue
        for victim in [c for c, _ in children(pid)] + [pid]:
            try:
                os.kill(victim, signal.SIGTERM)
            except OSError:
                pass


def _unique_names(facts: list[RawHost]) -> list[RawHost]:
    """Two specs may name the same host: keep the first, and keep ids unique."""
    seen: set[str] = set()
    out = []
    for f in facts:
        if f.host in seen:
            continue
        seen.add(f.host)
        out.append(f)
    return out


def _connection_error(e: BaseException) -> str:
    # testinfra's ssh backend raises RuntimeError(CommandResult) when ssh itself fails (exit 255)
    res = e.args[0] if e.args else None
    if hasattr(res, "stderr") and hasattr(res, "rc"):
        lines = [ln.strip() for ln in (res.stderr or "").splitlines() if ln.strip()]
        return f"ssh exited {res.rc}" + (": " + " | ".join(lines[-3:])[:500] if lines else " with no message")
    return _short(e)


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:500] or type(e).__name__
