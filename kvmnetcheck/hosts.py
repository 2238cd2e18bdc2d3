"""Where a run's hosts and their facts come from, and what is kept of each once it is checked.

The hosts are gathered (collect/gather.py: one collector session per host), or read from saved
facts (--facts, one file when its host is checked), or, in a pytest-xdist worker, from the facts
the controller saved for it; --shard keeps the hosts of one slice; a merge (--merge) has no host of
its own but the shards' digests. A host's facts are parsed when its first check runs and let go for
its digest (report/stream.py HostDigest) after its last one.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import Callable, Optional

import pytest

from . import __version__, pytest_adapter
from . import raw as raw_store
from .collect.gather import GatherOptions, gather_all
from .facts.conclusions.libvirt import not_a_kvm_host
from .facts.conclusions.probe import probe_targets
from .facts.host import facts_from_raw
from .facts.model import HostFacts
from .raw import RawHost
from .report import guests
from .report.fixscripts import daemon_states
from .report.merge import MergeError, Shards, load_shards
from .report.results import host_summary
from .report.stream import HostDigest, ResultStream, shared_tools, story_refs

WORKER_FACTS_DIR = "kvmnetcheck_facts_dir"
TOOL = f"kvm-netcheck {__version__}"


class Hosts:
    """The run's hosts: listed once, their facts parsed one host at a time, their digests kept."""

    def __init__(self, config):
        self.config = config
        try:
            self.shard = raw_store.parse_shard(config.getoption("--shard")) if config.getoption("--shard") else None
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.merge_dirs = [d for v in config.getoption("--merge") or () for d in v.split(",") if d]
        if self.merge_dirs and (self.shard or config.getoption("--facts") or getattr(config.option, "hosts", None)):
            raise pytest.UsageError("merge joins shards' reports: it takes no --shard, --facts or --hosts")
        self.stream: Optional[ResultStream] = None  # the run's results (a digest keeps its host's findings)
        self.shards: Optional[Shards] = None  # a merge's shards
        self.digests: dict[int, HostDigest] = {}
        self._stubs: Optional[list[RawHost]] = None  # every host: name, spec, error
        self._load: Optional[Callable[[int], RawHost]] = None  # one host's raw facts, read when wanted
        self._held: Optional[list[RawHost]] = None  # gathered hosts not parsed yet
        self._saved_dir: Optional[str] = None  # where the hosts' facts were read from (--facts)
        self._positions: list[int] = []  # each host's place among all hosts (the order of an unsharded run)
        self._facts: dict[int, HostFacts] = {}  # parsed hosts whose checks are not all done
        self._worker_dir: Optional[str] = None

    def host_list(self) -> list[RawHost]:
        """Every host of the run (name, spec, error: no facts), gathered or loaded once."""
        if self._stubs is not None:
            return self._stubs
        if self.merge_dirs:
            self._stubs, self._positions = [], []
            return self._stubs
        config = self.config
        tr = pytest_adapter.terminal_reporter(config)
        worker_dir = getattr(config, "workerinput", {}).get(WORKER_FACTS_DIR)
        source = worker_dir or config.getoption("--facts")
        started = time.monotonic()
        if source:
            try:
                saved = raw_store.SavedHosts(source)
            except raw_store.FactsFormatError as e:
                raise pytest.UsageError(str(e)) from None
            keep = [i for i, s in enumerate(saved.stubs) if worker_dir or raw_store.in_shard(s.host, self.shard)]
            self._stubs = [saved.stubs[i] for i in keep]
            self._positions = keep
            self._load = lambda i: saved.load(keep[i])
            self._saved_dir = source
        else:

            def progress(done, total, name):
                if tr is not None and total > 1 and tr.isatty():  # sys.stdout is pytest's capture here
                    with pytest_adapter.uncaptured(config):
                        tr.write(
                            f"\rgathering facts: {done}/{total} hosts, {time.monotonic() - started:.0f} s", flush=True
                        )

            raws = gather_all(self._host_specs(), self._gather_options(), progress)
            save_dir = config.getoption("--save-facts")
            if save_dir:
                raw_store.save(save_dir, raws, TOOL)
            self._stubs = [raw_store.stub(r) for r in raws]
            self._positions = [int(r.extra.get("position", i)) for i, r in enumerate(raws)]
            held = list(raws)

            def load(i: int) -> RawHost:
                r, held[i] = held[i], self._stubs[i]  # parsed once: its text is let go
                return r

            self._load = load
            self._held = held
            self._saved_dir = None
        if tr is not None and not worker_dir:
            bad = sum(1 for r in self._stubs if r.error)
            verb = f"loaded from {source}" if source else "gathered"
            with pytest_adapter.uncaptured(config):
                tr.write_line(
                    f"\nkvm-netcheck: {len(self._stubs)} host(s) {verb} in "
                    f"{time.monotonic() - started:.1f} s" + (f", {bad} unreachable" if bad else "")
                )
        return self._stubs

    @property
    def listed(self) -> bool:
        """The hosts have been gathered or loaded (not: how many)."""
        return self._stubs is not None

    @property
    def gathered(self) -> bool:
        return self._stubs is not None and (bool(self._stubs) or bool(self.merge_dirs) or self.empty_shard)

    @property
    def empty_shard(self) -> bool:
        """A --shard slice that holds none of the hosts: a complete shard with nothing in it, which the
        merge needs as much as the others (a small fleet split N ways can leave a slice empty)."""
        return bool(self.shard) and self._stubs == [] and not self.merge_dirs

    def in_my_shard(self) -> Optional[Callable[[str], bool]]:
        """Whether a host is in this run's slice (None: every host is)."""
        return (lambda host: raw_store.in_shard(host, self.shard)) if self.shard else None

    def facts_at(self, i: int) -> HostFacts:
        """Host i's facts, parsed the first time they are asked for (and kept until it is digested)."""
        f = self._facts.get(i)
        if f is None:
            f = self._facts[i] = facts_from_raw(self._load(i))
        return f

    def _host_specs(self) -> list[Optional[str]]:
        hosts = getattr(self.config.option, "hosts", None)
        if not hosts:
            return [None]  # testinfra's local://
        return [h.strip() for h in hosts.split(",") if h.strip()]

    def _gather_options(self) -> GatherOptions:
        config = self.config
        uris = {}
        for item in config.getoption("--libvirt-uri") or []:
            host, sep, uri = item.partition("=")
            if not sep or not host or not uri:
                raise pytest.UsageError(f"--libvirt-uri wants HOST=URI, got {item!r}")
            uris[host] = uri
        o = config.option
        return GatherOptions(
            connection=getattr(o, "connection", None),
            ssh_config=getattr(o, "ssh_config", None),
            ssh_identity_file=getattr(o, "ssh_identity_file", None),
            ssh_extra_args=getattr(o, "ssh_extra_args", None),
            sudo=getattr(o, "sudo", False),
            sudo_user=getattr(o, "sudo_user", None),
            ansible_inventory=getattr(o, "ansible_inventory", None),
            force_ansible=getattr(o, "force_ansible", False),
            libvirt_uris=uris,
            workers=config.getoption("--gather-workers"),
            host_timeout=config.getoption("--host-timeout"),
            shard=self.shard,
            probe_targets=_probe_targets if config.getoption("--probe") else None,
        )

    def digest(self, i: int) -> HostDigest:
        """What the end of the run keeps of host i; its facts are let go."""
        d = self.digests.get(i)
        if d is not None:
            return d
        f = self.facts_at(i)
        mine = self.stream.findings_of(f.host) if self.stream is not None else []
        summary = host_summary(f)
        if f.reachable:
            summary["guests_boot"] = guests.guest_boots(f)
        d = HostDigest(
            host=f.host,
            summary=summary,
            hostname=f.hostname if f.reachable else None,
            tools=(shared_tools(f.commands) if f.netstack.known else None) if f.reachable else None,
            daemons=daemon_states(f) if f.reachable else None,
            libvirt_source=f.libvirt.source if f.reachable else None,
            libvirt_error=f.libvirt.error if f.reachable else None,
            libvirt_installed=bool(f.reachable and f.libvirt_installed),
            not_kvm=not_a_kvm_host(f),
            parse_errors=tuple(f.parse_errors),
            stories_packed=story_refs(guests.host_stories(f, mine)),
            position=self._positions[i] if self._positions else i,
        )
        self.digests[i] = d
        self._facts.pop(i, None)
        return d

    def all_digests(self) -> list[HostDigest]:
        """Every host's digest, in the run's host order (hosts not digested yet are, now)."""
        if self.shards is not None:
            return self.shards.digests
        return [self.digest(i) for i in range(len(self.host_list()))]

    def load_shards(self, fingerprint: dict) -> None:
        """A merge's shards, refused unless they are every slice of one split under this gate."""
        try:
            self.shards = load_shards(self.merge_dirs, fingerprint)
        except MergeError as e:
            raise pytest.UsageError(str(e)) from None

    def hand_to_worker(self, node) -> None:
        """pytest-xdist: the controller gathers once and hands the saved facts to every worker."""
        self.host_list()
        if self._saved_dir and not self.shard:
            node.workerinput[WORKER_FACTS_DIR] = self._saved_dir
            return
        if self._worker_dir is None:
            self._worker_dir = tempfile.mkdtemp(prefix="kvmnetcheck-facts-")
            raw_store.save(self._worker_dir, [self._load_copy(i) for i in range(len(self._stubs))], TOOL)
        node.workerinput[WORKER_FACTS_DIR] = self._worker_dir

    def _load_copy(self, i: int) -> RawHost:
        return self._held[i] if self._held is not None else self._load(i)

    def remove_worker_copy(self) -> None:
        if self._worker_dir:
            shutil.rmtree(self._worker_dir, ignore_errors=True)


def _probe_targets(raw: RawHost) -> list[str]:
    """--probe: the bridges to probe on a host, from what its collector printed."""
    h = facts_from_raw(raw)
    return probe_targets(h) if h.reachable else []
