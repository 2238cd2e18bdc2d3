"""Shards of one fleet run (`--shard=K/N`) and their merge (`kvm-netcheck merge DIR...`).

A shard run keeps, beside its results.json, its results one JSON line each (results.jsonl) and
shard.json: its slice, the policy it judged by, each host's digest with where its results are in
the spool and how many it had of each outcome, and a sha256 of results.jsonl's bytes and of the
host list. A merge first checks every shard against its own shard.json (digests, spans, counts,
each line a result) and refuses, in one line, one that does not hold together; it then reads them
back host by host in the order one run over all hosts would have made them (each host's place in
the unsharded run), so its results.json, JUnit, HTML, fix scripts and gate are those of that one run.

The digests sit beside the data they describe: they catch a shard changed by accident or by hand,
not one rewritten by someone who recomputes them. Where only the CI job writes, that is enough.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Iterator, Optional

from .. import __version__
from ..raw import open_regular, why
from .results import Result
from .stream import BUCKETS, HostDigest, ResultStream

SHARD_FORMAT = 2  # 2: digests of results.jsonl and of the host list, counts per host

# what every line of results.jsonl is: a Result, field by field (selftests compare this with Result)
RESULT_FIELDS: dict[str, tuple] = {
    "check": (str,),
    "host": (str,),
    "object": (str,),
    "outcome": (str,),
    "severity": (str,),
    "message": (str,),
    "remediation": (str,),
    "fix_script": (str,),
    "fix_steps": (list,),
    "observed": (dict,),
    "limit": (str, type(None)),
    "test": (str,),
    "waiver": (dict, type(None)),
}
REQUIRED = tuple(f.name for f in fields(Result) if f.default is MISSING and f.default_factory is MISSING)


class MergeError(ValueError):
    """Shards that cannot be merged into one run, and why."""


def _canonical_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def shard_meta(
    shard: tuple[int, int], fingerprint: dict[str, Any], digests: list[HostDigest], stream: ResultStream
) -> dict[str, Any]:
    """shard.json, once the stream is closed (its spool complete)."""
    hosts = [
        {**d.as_json(), "spans": stream.spans.get(d.host, []), "counts": stream.host_counts(d.host)} for d in digests
    ]
    hosts = json.loads(json.dumps(hosts))  # as a merge will read it back (tuples become lists)
    return {
        "format": SHARD_FORMAT,
        "tool": f"kvm-netcheck {__version__}",
        "shard": {"k": shard[0], "n": shard[1]},
        "policy": fingerprint,
        "results": stream.total,
        "results_sha256": stream.spool_sha256,
        "hosts_sha256": _canonical_sha256(hosts),
        "hosts": hosts,
    }


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


def _is_int(v) -> bool:
    return type(v) is int


def _meta_problem(meta: Any) -> Optional[str]:
    """What is wrong with the shape of a format-2 shard.json, or None."""
    s = meta.get("shard")
    if not (isinstance(s, dict) and _is_int(s.get("k")) and _is_int(s.get("n")) and 1 <= s["k"] <= s["n"]):
        return "shard is not {k, n} with 1 <= k <= n"
    if not isinstance(meta.get("policy"), dict):
        return "policy is not an object"
    if not (_is_int(meta.get("results")) and meta["results"] >= 0):
        return "results is not a count"
    for key in ("results_sha256", "hosts_sha256"):
        if not isinstance(meta.get(key), str):
            return f"{key} is missing"
    if not isinstance(meta.get("hosts"), list):
        return "hosts is not a list"
    for i, h in enumerate(meta["hosts"]):
        if not (isinstance(h, dict) and isinstance(h.get("host"), str)):
            return f"hosts[{i}] is not a host's entry"
        spans = h.get("spans")
        if not (
            isinstance(spans, list)
            and all(isinstance(x, list) and len(x) == 2 and all(map(_is_int, x)) and 0 <= x[0] < x[1] for x in spans)
        ):
            return f"hosts[{i}].spans is not a list of [start, end) byte spans"
        counts = h.get("counts")
        if not (isinstance(counts, dict) and all(k in BUCKETS and _is_int(v) for k, v in counts.items())):
            return f"hosts[{i}].counts is not a count per outcome"
    return None


def _read_meta(d: str) -> tuple[dict[str, Any], list[HostDigest]]:
    """A shard directory's shard.json, checked for shape and against its host list's digest."""
    path = os.path.join(d, "shard.json")
    try:
        with open_regular(path) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise MergeError(f"{d}: no shard.json (not the output directory of a --shard run)") from None
    except (OSError, ValueError) as e:
        raise MergeError(f"{path}: {why(e)}") from None
    except RecursionError:
        raise MergeError(f"{path}: JSON nested too deeply") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt != SHARD_FORMAT:
        raise MergeError(
            f"{path}: shard format {fmt!r}; kvm-netcheck {__version__} merges format {SHARD_FORMAT}: "
            "run the shard again with this version"
        )
    problem = _meta_problem(meta)
    if problem:
        raise MergeError(f"{path}: {problem}")
    if _canonical_sha256(meta["hosts"]) != meta["hosts_sha256"]:
        raise MergeError(f"{path}: its host list does not match its digest (changed after the shard ran)")
    try:
        digests = [HostDigest.from_json(h) for h in meta["hosts"]]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MergeError(f"{path}: a host's digest cannot be read: {type(e).__name__}: {e}") from None
    return meta, digests


def _result_problem(obj: Any) -> Optional[str]:
    """What keeps one parsed line from being a result, or None."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    for key in REQUIRED:
        if key not in obj:
            return f"no {key}"
    for key, v in obj.items():
        kinds = RESULT_FIELDS.get(key)
        if kinds is None:
            return f"a field no result has: {key!r}"
        if type(v) not in kinds:
            return f"{key} is a {type(v).__name__}"
    if obj["outcome"] not in BUCKETS:
        return f"outcome {obj['outcome']!r} is none of {', '.join(BUCKETS)}"
    return None


def _verify_results(d: str, meta: dict[str, Any], spool: str) -> None:
    """results.jsonl as shard.json describes it: the same bytes (sha256), each host's results inside
    that host's spans and the spans covering the file, each line a result, and per host as many of
    each outcome as shard.json counts. Every line is read once; the first problem is named."""
    path = os.path.join(d, "shard.json")
    spans = sorted((s, e, h["host"]) for h in meta["hosts"] for s, e in h["spans"])
    end = 0
    for s, e, _host in spans:
        if s != end:
            raise MergeError(f"{path}: the spans {'overlap' if s < end else 'leave a gap'} at byte {min(s, end)}")
        end = e
    sha = hashlib.sha256()
    counts: dict[str, Counter] = {h["host"]: Counter() for h in meta["hosts"]}
    problem, n, pos, si = None, 0, 0, 0
    try:
        with open_regular(spool) as f:
            for line in f:
                sha.update(line)
                if problem:
                    continue  # read on: a digest that differs says more than the first bad line
                n += 1
                start, pos = pos, pos + len(line)
                while si < len(spans) and spans[si][1] <= start:
                    si += 1
                if si == len(spans) or pos > spans[si][1]:
                    problem = f"line {n} lies outside the spans shard.json gives its hosts"
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError) as e:
                    problem = f"line {n} is not JSON ({type(e).__name__})"
                    continue
                bad = _result_problem(obj)
                if bad:
                    problem = f"line {n} is not a result: {bad}"
                elif obj["host"] != spans[si][2]:
                    problem = f"line {n} is about host {obj['host']!r} but lies in {spans[si][2]!r}'s span"
                else:
                    counts[obj["host"]][obj["outcome"]] += 1
    except FileNotFoundError:
        raise MergeError(f"{d}: no results.jsonl beside shard.json") from None
    except (OSError, ValueError) as e:
        raise MergeError(f"{spool}: {why(e)}") from None
    if sha.hexdigest() != meta["results_sha256"]:
        raise MergeError(f"{spool}: does not match the digest in shard.json (changed after the shard ran)")
    if problem:
        raise MergeError(f"{spool}: {problem}")
    if pos != end:
        raise MergeError(f"{spool}: {pos} bytes, but shard.json's spans cover {end}")
    if n != meta["results"]:
        raise MergeError(f"{spool}: {n} results, but shard.json counts {meta['results']}")
    for h in meta["hosts"]:
        held = dict(counts[h["host"]])
        if held != h["counts"]:
            raise MergeError(
                f"{path}: host {h['host']} has {_counted(h['counts'])} but results.jsonl holds {_counted(held)}"
            )


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[b]} {b}" for b in BUCKETS if counts.get(b)) or "no result"


def load_shards(dirs: list[str], fingerprint: Optional[dict[str, Any]] = None) -> Shards:
    metas = []
    for d in dirs:
        meta, digests = _read_meta(d)
        # what is checked of each host from here on; the rest is in its digest (ten shards' whole
        # host entries at once would weigh more than the merge itself)
        meta["hosts"] = [{"host": h["host"], "spans": h["spans"], "counts": h["counts"]} for h in meta["hosts"]]
        metas.append((d, meta, os.path.join(d, "results.jsonl"), digests))
    ns = {m["shard"]["n"] for _, m, _, _ in metas}
    if len(ns) != 1:
        raise MergeError(f"the shards come from different splits: N = {sorted(ns)}")
    n = ns.pop()
    ks = sorted(m["shard"]["k"] for _, m, _, _ in metas)
    if ks != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(ks))
        twice = sorted({k for k in ks if ks.count(k) > 1})
        raise MergeError(
            "shards "
            + (f"missing: {', '.join(f'{k}/{n}' for k in missing)}" if missing else "")
            + ("; " if missing and twice else "")
            + (f"given twice: {', '.join(f'{k}/{n}' for k in twice)}" if twice else "")
        )
    policies = [m["policy"] for _, m, _, _ in metas]
    for (d, _, _, _), p in zip(metas, policies):
        if p != policies[0]:
            raise MergeError(f"{d} was judged by another policy than {metas[0][0]}: {_diff(policies[0], p)}")
    if fingerprint is not None and fingerprint != policies[0]:
        raise MergeError(
            "merge with the options the shards ran with (--fail-on, --policy, --waivers, "
            f"--max-port-block): {_diff(policies[0], fingerprint)}"
        )
    entries = []
    seen: dict[str, str] = {}
    for d, m, spool, digests in metas:
        for h, digest in zip(m["hosts"], digests):
            if h["host"] in seen:
                raise MergeError(f"host {h['host']} is in two shards: {seen[h['host']]} and {d}")
            seen[h["host"]] = d
            entries.append((digest.position, digest, spool, h["spans"]))
    for d, m, spool, _ in metas:
        _verify_results(d, m, spool)
    entries.sort(key=lambda e: e[0])
    out = Shards(dirs=list(dirs), n=n)
    for _, digest, spool, spans in entries:
        out.digests.append(digest)
        out._where.append((spool, spans))
    return out


def _diff(a: dict, b: dict) -> str:
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "; ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys) or "(the same)"
