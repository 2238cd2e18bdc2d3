"""Shards of one fleet run (`--shard=K/N`) and their merge (`kvm-netcheck merge DIR...`).

A shard run keeps, beside its results.json, its results one JSON line each (results.jsonl) and
shard.json: its slice, the policy it judged by, and each host's digest with where its results are
in the spool. A merge reads them back host by host in the order one run over all hosts would have
made them (each host's place in the unsharded run), so its results.json, JUnit, HTML, fix scripts
and gate are those of that one run.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from .. import __version__
from .stream import HostDigest, ResultStream

SHARD_FORMAT = 1


class MergeError(ValueError):
    """Shards that cannot be merged into one run, and why."""


def shard_meta(shard: tuple[int, int], fingerprint: dict[str, Any], digests: list[HostDigest],
               stream: ResultStream) -> dict[str, Any]:
    return {"format": SHARD_FORMAT, "tool": f"kvm-netcheck {__version__}", "shard": {"k": shard[0], "n": shard[1]},
            "policy": fingerprint, "results": stream.total,
            "hosts": [{**d.as_json(), "spans": stream.spans.get(d.host, [])} for d in digests]}


@dataclass
class Shards:
    dirs: list[str]
    n: int
    digests: list[HostDigest] = field(default_factory=list)  # every host, in the unsharded run's order
    _where: list[tuple[str, list[list[int]]]] = field(default_factory=list)  # per host: its spool, its spans

    def lines(self) -> Iterator[str]:
        """Every result's JSON line, host by host in the unsharded run's order."""
        files: dict[str, Any] = {}
        try:
            for spool, spans in self._where:
                f = files.get(spool)
                if f is None:
                    f = files[spool] = open(spool, "rb")
                for start, end in spans:
                    f.seek(start)
                    for line in f.read(end - start).decode("utf-8").splitlines():
                        if line.strip():
                            yield line
        finally:
            for f in files.values():
                f.close()

    def describe(self) -> dict[str, Any]:
        return {"shards": self.n, "dirs": self.dirs, "hosts": len(self.digests)}


def load_shards(dirs: list[str], fingerprint: Optional[dict[str, Any]] = None) -> Shards:
    metas = []
    for d in dirs:
        path = os.path.join(d, "shard.json")
        try:
            with open(path, encoding="utf-8") as f:
                meta = json.load(f)
        except FileNotFoundError:
            raise MergeError(f"{d}: no shard.json (not the output directory of a --shard run)") from None
        except (OSError, ValueError) as e:
            raise MergeError(f"{path}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != SHARD_FORMAT:
            raise MergeError(f"{path}: shard format {meta.get('format') if isinstance(meta, dict) else None!r}; "
                             f"this version merges format {SHARD_FORMAT}")
        spool = os.path.join(d, "results.jsonl")
        if not os.path.isfile(spool):
            raise MergeError(f"{d}: no results.jsonl beside shard.json")
        metas.append((d, meta, spool))
    ns = {m["shard"]["n"] for _, m, _ in metas}
    if len(ns) != 1:
        raise MergeError(f"the shards come from different splits: N = {sorted(ns)}")
    n = ns.pop()
    ks = sorted(m["shard"]["k"] for _, m, _ in metas)
    if ks != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(ks))
        twice = sorted({k for k in ks if ks.count(k) > 1})
        raise MergeError("shards " + (f"missing: {', '.join(f'{k}/{n}' for k in missing)}" if missing else "")
                         + ("; " if missing and twice else "")
                         + (f"given twice: {', '.join(f'{k}/{n}' for k in twice)}" if twice else ""))
    policies = [m["policy"] for _, m, _ in metas]
    for (d, m, _), p in zip(metas, policies):
        if p != policies[0]:
            raise MergeError(f"{d} was judged by another policy than {metas[0][0]}: {_diff(policies[0], p)}")
    if fingerprint is not None and fingerprint != policies[0]:
        raise MergeError("merge with the options the shards ran with (--fail-on, --policy, --waivers, "
                         f"--max-port-block): {_diff(policies[0], fingerprint)}")
    entries = []
    seen: dict[str, str] = {}
    for d, m, spool in metas:
        for h in m["hosts"]:
            if h["host"] in seen:
                raise MergeError(f"host {h['host']} is in two shards: {seen[h['host']]} and {d}")
            seen[h["host"]] = d
            entries.append((int(h.get("position", 0)), h, spool))
    entries.sort(key=lambda e: e[0])
    out = Shards(dirs=list(dirs), n=n)
    for _, h, spool in entries:
        out.digests.append(HostDigest.from_json(h))
        out._where.append((spool, h.get("spans", [])))
    return out


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys) or "(the same)"
