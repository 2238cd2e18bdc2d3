"""Shards and their merge: a shard's results.jsonl and shard.json hold together (digests of the
results' bytes and of the host list, each host's spans and counts per outcome), and a merge refuses,
in one line, a shard that does not.

The shards are made by the suite itself: the saved facts of samples/facts_format1 (kvm01 with
findings, kvm02 unreachable) checked as three slices (slice 1 holds kvm01, slice 2 kvm02, slice 3
nothing), and once whole. Each test tampers with copies of them the way a person could by hand.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from kvmnetcheck.raw import in_shard
from kvmnetcheck.report import merge
from kvmnetcheck.report.merge import MergeError, load_shards
from kvmnetcheck.report.results import Result

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMAT1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "facts_format1")
N = 3
SLICES = {1: ["kvm01.example.com"], 2: ["kvm02.example.com"], 3: []}


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


def _suite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _merge(dirs: list, out) -> subprocess.CompletedProcess:
    """`kvm-netcheck merge DIR... --output-dir=OUT`, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kvmnetcheck.cli",
            "merge",
            *map(str, dirs),
            f"--output-dir={out}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The three shards and the whole run, as the suite writes them."""
    base = tmp_path_factory.mktemp("shards")
    for k, hosts in SLICES.items():
        assert [h for h in ("kvm01.example.com", "kvm02.example.com") if in_shard(h, (k, N))] == hosts
        run = _suite(f"--facts={FORMAT1}", f"--shard={k}/{N}", f"--output-dir={base / f's{k}'}")
        assert run.returncode in (0, 1, 6), run.stdout[-2000:] + run.stderr[-2000:]
    whole = _suite(f"--facts={FORMAT1}", f"--output-dir={base / 'whole'}")
    assert whole.returncode == 1, whole.stdout[-2000:] + whole.stderr[-2000:]
    return base, whole.returncode


@pytest.fixture
def shards(made, tmp_path):
    """Copies of the three shard directories, to tamper with."""
    base, _ = made
    dirs = []
    for k in SLICES:
        shutil.copytree(base / f"s{k}", tmp_path / f"s{k}")
        dirs.append(tmp_path / f"s{k}")
    return dirs


def _meta(d) -> dict:
    return json.loads((d / "shard.json").read_text())


def _write_meta(d, meta: dict) -> None:
    (d / "shard.json").write_text(json.dumps(meta))


def _lines(d) -> list:
    return (d / "results.jsonl").read_bytes().splitlines(keepends=True)


def _reseal(d, results: bool = False, hosts: bool = False) -> None:
    """Recompute a digest in shard.json, as someone who knows the format would after an edit."""
    meta = _meta(d)
    if results:
        meta["results_sha256"] = hashlib.sha256((d / "results.jsonl").read_bytes()).hexdigest()
    if hosts:
        meta["hosts_sha256"] = hashlib.sha256(
            json.dumps(meta["hosts"], sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    _write_meta(d, meta)


def _refused(dirs) -> str:
    with pytest.raises(MergeError) as e:
        load_shards([str(d) for d in dirs])
    text = str(e.value)
    assert "\n" not in text and "Traceback" not in text
    return text


def _all_passed(d) -> None:
    """results.jsonl rewritten with every result passed, and shard.json's spans moved to match."""
    meta = _meta(d)
    out, spans, pos = b"", {}, 0
    for line in _lines(d):
        r = json.loads(line)
        r.update(outcome="passed", message="", remediation="", fix_script="", fix_steps=[])
        data = (json.dumps(r, separators=(",", ":")) + "\n").encode()
        span = spans.setdefault(r["host"], [])
        if span and span[-1][1] == pos:
            span[-1][1] += len(data)
        else:
            span.append([pos, pos + len(data)])
        out, pos = out + data, pos + len(data)
    (d / "results.jsonl").write_bytes(out)
    for h in meta["hosts"]:
        h["spans"] = spans.get(h["host"], [])
    _write_meta(d, meta)


def _flip_first_failed(d) -> int:
    """`"outcome":"failed"` made `"outcome":"passed"` in place (same length: no span moves)."""
    lines = _lines(d)
    n = next(i for i, ln in enumerate(lines) if b'"outcome":"failed"' in ln)
    lines[n] = lines[n].replace(b'"outcome":"failed"', b'"outcome":"passed"')
    (d / "results.jsonl").write_bytes(b"".join(lines))
    return n + 1


# ---------------------------------------------------------------- what a shard writes


def test_a_shard_json_carries_digests_and_counts_that_match_its_results(shards):
    s1 = shards[0]
    meta = _meta(s1)
    assert meta["format"] == merge.SHARD_FORMAT == 2
    data = (s1 / "results.jsonl").read_bytes()
    assert meta["results_sha256"] == hashlib.sha256(data).hexdigest()
    assert (
        meta["hosts_sha256"]
        == hashlib.sha256(json.dumps(meta["hosts"], sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    )
    [kvm01] = meta["hosts"]
    outcomes = [json.loads(ln)["outcome"] for ln in data.splitlines()]
    assert kvm01["counts"] == {o: outcomes.count(o) for o in set(outcomes)}
    assert kvm01["counts"]["failed"] >= 1 and meta["results"] == len(outcomes)
    empty = _meta(shards[2])
    assert empty["hosts"] == [] and empty["results"] == 0
    assert empty["results_sha256"] == hashlib.sha256(b"").hexdigest()


def test_every_field_of_a_result_is_checked_on_merge():
    assert set(merge.RESULT_FIELDS) == {f.name for f in dataclasses.fields(Result)}
    assert merge.REQUIRED == ("check", "host", "object", "outcome", "severity")


def test_untampered_shards_load(shards):
    loaded = load_shards([str(d) for d in shards])
    assert [d.host for d in loaded.digests] == ["kvm01.example.com", "kvm02.example.com"]
    assert sum(1 for _ in loaded.lines()) == sum(_meta(d)["results"] for d in shards)


def test_untampered_shards_merge_to_the_whole_run(made, shards, tmp_path):
    base, whole_rc = made
    run = _merge(shards, tmp_path / "merged")
    assert run.returncode == whole_rc, run.stdout[-2000:] + run.stderr[-2000:]

    def normalized(path):
        out = json.loads(path.read_text())
        for key in ("generated", "merged", "shard"):
            out.pop(key, None)
        out["fix_scripts"] = {h: os.path.basename(p) for h, p in out["fix_scripts"].items()}
        return out

    assert normalized(tmp_path / "merged" / "results.json") == normalized(base / "whole" / "results.json")


# ---------------------------------------------------------------- tampered shards: each refused in one line


def test_results_rewritten_to_all_passed_with_spans_moved_are_refused(shards):
    _all_passed(shards[0])
    assert (
        _refused(shards)
        == f"{shards[0]}/shard.json: its host list does not match its digest (changed after the shard ran)"
    )


def test_results_rewritten_to_all_passed_are_refused_even_with_the_host_list_resealed(shards):
    _all_passed(shards[0])
    _reseal(shards[0], hosts=True)
    assert _refused(shards) == (
        f"{shards[0]}/results.jsonl: does not match the digest in shard.json (changed after the shard ran)"
    )


def test_results_rewritten_to_all_passed_are_refused_by_the_counts_with_both_digests_resealed(shards):
    counts = _meta(shards[0])["hosts"][0]["counts"]
    _all_passed(shards[0])
    _reseal(shards[0], results=True, hosts=True)
    held = ", ".join(f"{counts[o]} {o}" for o in ("failed", "waived", "error", "passed", "skipped") if counts.get(o))
    assert _refused(shards) == (
        f"{shards[0]}/shard.json: host kvm01.example.com has {held} but results.jsonl "
        f"holds {sum(counts.values())} passed"
    )


def test_a_failed_result_flipped_to_passed_in_place_is_refused(shards):
    _flip_first_failed(shards[0])
    assert _refused(shards) == (
        f"{shards[0]}/results.jsonl: does not match the digest in shard.json (changed after the shard ran)"
    )


def test_a_flip_in_place_with_the_digest_resealed_is_refused_by_the_counts(shards):
    _flip_first_failed(shards[0])
    _reseal(shards[0], results=True)
    assert "host kvm01.example.com has " in _refused(shards)


def test_a_host_removed_from_shard_json_is_refused(shards):
    meta = _meta(shards[0])
    meta["hosts"] = []
    _write_meta(shards[0], meta)
    assert (
        _refused(shards)
        == f"{shards[0]}/shard.json: its host list does not match its digest (changed after the shard ran)"
    )


def test_a_host_removed_with_the_host_list_resealed_is_refused_by_its_results(shards):
    meta = _meta(shards[0])
    meta["hosts"] = []
    _write_meta(shards[0], meta)
    _reseal(shards[0], hosts=True)
    assert _refused(shards) == f"{shards[0]}/results.jsonl: line 1 lies outside the spans shard.json gives its hosts"


def test_a_line_that_is_not_json_is_refused(shards):
    lines = _lines(shards[0])
    lines[2] = b"x" * (len(lines[2]) - 1) + b"\n"
    (shards[0] / "results.jsonl").write_bytes(b"".join(lines))
    assert "does not match the digest" in _refused(shards)
    _reseal(shards[0], results=True)
    assert _refused(shards) == f"{shards[0]}/results.jsonl: line 3 is not JSON (JSONDecodeError)"


@pytest.mark.parametrize("key", ["check", "host", "object", "outcome", "severity"])
def test_a_line_missing_a_required_key_is_refused(shards, key):
    lines = _lines(shards[0])
    r = json.loads(lines[1])
    del r[key]
    lines[1] = (json.dumps(r, separators=(",", ":")) + "\n").encode()
    (shards[0] / "results.jsonl").write_bytes(b"".join(lines))
    _reseal(shards[0], results=True)
    assert _refused(shards) == f"{shards[0]}/results.jsonl: line 2 is not a result: no {key}"


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda r: [r], "not a JSON object"),
        (lambda r: {**r, "outcome": "fine"}, "outcome 'fine' is none of failed, waived, error, passed, skipped"),
        (lambda r: {**r, "message": 5}, "message is a int"),
        (lambda r: {**r, "verdict": "ok"}, "a field no result has: 'verdict'"),
    ],
)
def test_a_line_that_is_no_result_is_refused(shards, edit, reason):
    lines = _lines(shards[0])
    lines[0] = (json.dumps(edit(json.loads(lines[0])), separators=(",", ":")) + "\n").encode()
    (shards[0] / "results.jsonl").write_bytes(b"".join(lines))
    _reseal(shards[0], results=True)
    assert _refused(shards) == f"{shards[0]}/results.jsonl: line 1 is not a result: {reason}"


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda m: {k: v for k, v in m.items() if k != "shard"}, "shard is not {k, n} with 1 <= k <= n"),
        (lambda m: {k: v for k, v in m.items() if k != "results_sha256"}, "results_sha256 is missing"),
        (lambda m: {**m, "hosts": {"kvm01.example.com": {}}}, "hosts is not a list"),
        (lambda m: {**m, "hosts": [None]}, "hosts[0] is not a host's entry"),
        (
            lambda m: {**m, "hosts": [{**m["hosts"][0], "spans": [[5, 2]]}]},
            "hosts[0].spans is not a list of [start, end) byte spans",
        ),
        (
            lambda m: {**m, "hosts": [{k: v for k, v in m["hosts"][0].items() if k != "counts"}]},
            "hosts[0].counts is not a count per outcome",
        ),
        (lambda m: [m], "shard format None; kvm-netcheck {v} merges format 2: run the shard again with this version"),
    ],
)
def test_a_shard_json_of_the_wrong_shape_is_refused(shards, edit, reason):
    from kvmnetcheck import __version__

    _write_meta(shards[0], edit(_meta(shards[0])))
    assert _refused(shards) == f"{shards[0]}/shard.json: " + reason.replace("{v}", __version__)


def test_a_host_digest_that_cannot_be_read_is_refused(shards):
    meta = _meta(shards[0])
    del meta["hosts"][0]["summary"]
    _write_meta(shards[0], meta)
    _reseal(shards[0], hosts=True)
    assert _refused(shards) == f"{shards[0]}/shard.json: a host's digest cannot be read: KeyError: 'summary'"


def test_a_shard_of_the_previous_format_is_refused_with_what_to_do(shards):
    from kvmnetcheck import __version__

    meta = _meta(shards[1])
    meta["format"] = 1
    for key in ("results_sha256", "hosts_sha256"):
        del meta[key]
    _write_meta(shards[1], meta)
    assert _refused(shards) == (
        f"{shards[1]}/shard.json: shard format 1; kvm-netcheck {__version__} merges "
        "format 2: run the shard again with this version"
    )


def test_spans_that_overlap_are_refused(shards):
    meta = _meta(shards[0])
    start, end = meta["hosts"][0]["spans"][0]
    meta["hosts"][0]["spans"] = [[start, end - 10], [end - 20, end]]
    _write_meta(shards[0], meta)
    _reseal(shards[0], hosts=True)
    assert _refused(shards) == f"{shards[0]}/shard.json: the spans overlap at byte {end - 20}"


def test_a_fifo_as_shard_json_is_refused_without_blocking(shards):
    path = shards[0] / "shard.json"
    path.unlink()
    os.mkfifo(path)
    box = {}

    def run():
        try:
            load_shards([str(d) for d in shards])
        except MergeError as e:
            box["error"] = str(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # let the blocked reader go
        t.join(5)
        pytest.fail("merge blocked on a FIFO as shard.json")
    assert box == {"error": f"{path}: a FIFO, not a regular file"}


def test_results_linked_to_dev_zero_are_refused_unread(shards):
    (shards[0] / "results.jsonl").unlink()
    (shards[0] / "results.jsonl").symlink_to("/dev/zero")
    assert _refused(shards) == f"{shards[0]}/results.jsonl: a character device, not a regular file"


def test_a_tampered_shard_stops_the_merge_in_one_line_and_writes_nothing(shards, tmp_path):
    _flip_first_failed(shards[0])
    run = _merge(shards, tmp_path / "merged")
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout + run.stderr
    assert [ln for ln in run.stderr.splitlines() if ln.strip()] == [
        f"ERROR: {shards[0]}/results.jsonl: does not match the digest in shard.json (changed after the shard ran)"
    ]
    assert not (tmp_path / "merged" / "results.json").exists()


def test_an_invalid_line_stops_the_merge_in_one_line(shards, tmp_path):
    lines = _lines(shards[0])
    lines[0] = b"{" + b" " * (len(lines[0]) - 2) + b"\n"
    (shards[0] / "results.jsonl").write_bytes(b"".join(lines))
    _reseal(shards[0], results=True)
    run = _merge(shards, tmp_path / "merged")
    assert run.returncode == 4, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout + run.stderr
    assert [ln for ln in run.stderr.splitlines() if ln.strip()] == [
        f"ERROR: {shards[0]}/results.jsonl: line 1 is not JSON (JSONDecodeError)"
    ]
