"""Fleet benchmark: every figure of a nightly fleet run, side by side, in one run.

    .venv/bin/python bench/fleet_bench.py [--hosts 50] [--guests 20] [--fleet 1000]
                                          [--big-fleet 10000] [--shards 10] [--ansible]

1. Live, on a lab of HOSTS hosts shaped like hypervisors (bench/fleetlab.py: two libvirt networks,
   four bridges, GUESTS defined guests, one finding each), reached over real SSH:
   - the full suite with every report and --save-facts, and how long its gathering took;
   - the collector alone on the same hosts over plain `ssh`, as many at once as the suite gathers
     (--gather-workers, 16): the floor gathering cannot go under;
   - the naive testinfra suite in bench/naive (one `host.run`/`host.file` per check and object);
   - with --ansible, gathering the same hosts through Ansible (kvmnetcheck.collect.ansible_gather).
2. From the saved facts cloned to FLEET hosts: one process, every report written, then headless
   chromium opening the HTML report (--dump-dom: load, scripts and layout). Once per shape: the lab's
   hosts (one finding each), a lab host with 24 guests and about 25 findings, one with about 50
   (bench/fleetlab.py SHAPES: what a first run on a real fleet finds), and the first saved-facts
   format (selftests/unit/samples/facts_format1: an error per fact that format did not hold).
3. Cloned to BIG_FLEET hosts: SHARDS `--shard=K/N` runs one after another, then `kvm-netcheck merge`.

Each run's wall time, CPU time and peak RSS (of the largest process it waited for) are printed,
next to the target each has. --facts DIR skips the lab and starts at step 2 from saved facts.
Run it as root on an otherwise idle machine: other work on the machine shows in the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path[:0] = [REPO, BENCH]

from clone_facts import clone_facts  # noqa: E402
from fleetlab import SHAPES, build_fleet  # noqa: E402

FORMAT1 = os.path.join(REPO, "selftests", "unit", "samples", "facts_format1")
DENSE_GUESTS = 24
# what one process over FLEET saved hosts is held to, whatever their shape
TARGET = {"wall_s": 30, "peak_rss_mib": 512, "html_mb": 15, "chromium_s": 5}

# Runs a command and reports its wall time, CPU time and peak RSS (the largest process it waited for).
MEASURE = r"""
import json, resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[1], "w") as out:
    rc = subprocess.call(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
wall = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024}))
"""
MIB = 2**20


def measure(cmd: list[str], log: str, env: dict | None = None) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", MEASURE, log, *cmd], cwd=REPO, capture_output=True, text=True, env=env or pytest_env()
    )
    if p.returncode != 0:
        raise SystemExit(f"measuring {cmd[:3]} failed: {p.stderr[-2000:]}")
    m = json.loads(p.stdout)
    if m["rc"] not in (0, 1):  # 1: the gate failed on the fleet's findings, as it should
        with open(log) as f:
            raise SystemExit(f"{' '.join(cmd[:4])}... exited {m['rc']}:\n{f.read()[-3000:]}")
    return m


def pytest_env() -> dict:
    # the suite as a user runs it: no variables of an enclosing pytest, buffered output
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONUNBUFFERED"}


def suite(*args: str) -> list[str]:
    # the suite as a user's install runs it: hypothesis (a dev extra of this repository, for its own
    # tests) registers a pytest plugin that a user's install does not have
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args]


def sessions(lab, names) -> dict[str, int]:
    return {n: lab.get(n).ssh_sessions() for n in names}


def per_host(before: dict, after: dict) -> dict:
    used = [after[n] - before[n] for n in before]
    return {"min": min(used), "max": max(used), "total": sum(used)}


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model or platform.machine()}), {mem_gib:.0f} GiB, Linux {platform.release()}"


def sizes(out_dir: str) -> dict:
    def size(name):
        p = os.path.join(out_dir, name)
        return os.path.getsize(p) if os.path.exists(p) else 0

    fix = os.path.join(out_dir, "fix")
    pages = os.path.join(out_dir, "hosts")
    return {
        "host_pages_mb": sum(os.path.getsize(os.path.join(pages, n)) for n in os.listdir(pages)) / MIB
        if os.path.isdir(pages)
        else 0,
        "html_mb": size("compliance.html") / MIB,
        "results_json_mb": size("results.json") / MIB,
        "junit_mb": size("junit.xml") / MIB,
        "fix_scripts": len(os.listdir(fix)) if os.path.isdir(fix) else 0,
    }


def results_count(out_dir: str) -> int:
    with open(os.path.join(out_dir, "results.json")) as f:
        return len(json.load(f)["results"])


# ---------------------------------------------------------------- 1. live, on a lab


def collector_over_plain_ssh(ssh_config: str, names: list[str], workers: int) -> float:
    """The collector alone, host by host over `ssh HOST sh -s`, `workers` at a time: seconds."""
    from kvmnetcheck.collect.gather import COLLECTOR

    def one(name):
        p = subprocess.run(
            ["ssh", "-F", ssh_config, "-o", "BatchMode=yes", name, "sh", "-s", "--", "benchnonce0000", "0"],
            input=COLLECTOR.encode(),
            capture_output=True,
            timeout=600,
        )
        if b"@@benchnonce0000@@ meta" not in p.stdout:
            raise SystemExit(f"the collector did not run on {name}: {p.stderr.decode(errors='replace')[-500:]}")

    t = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, names))
    return time.monotonic() - t


def gathered_seconds(log: str) -> float:
    with open(log) as f:
        m = re.search(r"kvm-netcheck: \d+ host\(s\) gathered in ([0-9.]+) s", f.read())
    if not m:
        raise SystemExit(f"no gathering line in {log}")
    return float(m.group(1))


def live(a, work: str, figures: dict) -> str:
    from lab import Lab

    names = [f"bh{i:03d}" for i in range(a.hosts)]
    hosts_arg = "--hosts=" + ",".join(f"ssh://{n}" for n in names)
    facts = os.path.join(work, "facts")
    with Lab(os.path.join(work, "lab")) as lab:
        t = time.monotonic()
        build_fleet(lab, names, a.guests, workers=a.build_workers)
        figures["lab_build_s"] = round(time.monotonic() - t, 1)
        print(f"lab: {a.hosts} hosts x {a.guests} guests built in {figures['lab_build_s']} s", flush=True)

        rep = os.path.join(work, "live")
        before = sessions(lab, names)
        log = os.path.join(work, "live.log")
        run = measure(
            suite(hosts_arg, f"--ssh-config={lab.ssh_config}", f"--save-facts={facts}", f"--output-dir={rep}"), log
        )
        run["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
        run["results"] = results_count(rep)
        run["gather_s"] = gathered_seconds(log)
        figures["live"] = run
        print(f"suite, live: {run}", flush=True)

        collector = collector_over_plain_ssh(lab.ssh_config, names, a.gather_workers)
        figures["plain_ssh_collector_s"] = collector
        figures["gather_over_plain_ssh"] = run["gather_s"] / collector
        print(
            f"collector alone over plain ssh: {collector:.1f} s; the suite's gathering took "
            f"{figures['gather_over_plain_ssh']:.2f}x that",
            flush=True,
        )

        if not a.skip_naive:
            before = sessions(lab, names)
            naive = measure(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-c",
                    os.path.join(BENCH, "naive", "pytest.ini"),
                    "-p",
                    "no:kvmnetcheck",
                    os.path.join(BENCH, "naive"),
                    hosts_arg,
                    f"--ssh-config={lab.ssh_config}",
                ],
                os.path.join(work, "naive.log"),
            )
            naive["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
            figures["naive"] = naive
            figures["naive_over_suite"] = naive["wall_s"] / run["wall_s"]
            print(f"naive: {naive}", flush=True)

        for shape in a.shapes:
            if shape == 1:
                continue
            name = f"bd{shape}"
            build_fleet(lab, [name], DENSE_GUESTS, workers=1, findings=shape)
            saved = os.path.join(work, f"facts-shape{shape}")
            measure(
                suite(
                    f"--hosts=ssh://{name}",
                    f"--ssh-config={lab.ssh_config}",
                    f"--save-facts={saved}",
                    f"--output-dir={os.path.join(work, name)}",
                ),
                os.path.join(work, f"{name}.log"),
            )
            figures.setdefault("shape_facts", {})[shape] = saved

        if a.ansible:
            out = os.path.join(work, "ansible-facts")
            env = dict(pytest_env(), PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
            before = sessions(lab, names)
            ans = measure(
                [
                    sys.executable,
                    "-m",
                    "kvmnetcheck.collect.ansible_gather",
                    "-i",
                    lab.inventory,
                    "lab",
                    "--out",
                    out,
                    "--forks",
                    str(min(50, a.hosts)),
                ],
                os.path.join(work, "ansible.log"),
                env,
            )
            ans["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
            figures["ansible_gather"] = ans
            print(f"ansible gather: {ans}", flush=True)
    return facts


# ---------------------------------------------------------------- 2. one process, a fleet of saved hosts


def browse(html: str) -> float | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        t = time.monotonic()
        p = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--dump-dom",
                "file://" + html,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        took = time.monotonic() - t
    if 'id="kvm-fleet-matrix"' not in p.stdout:
        raise SystemExit("chromium drew no fleet matrix from the report")
    return took


def one_process(facts: str, count: int, work: str, label: str = "") -> dict:
    big = os.path.join(work, f"facts-{count}{label}")
    clone_facts(facts, big, count)
    rep = os.path.join(work, f"fleet-{count}{label}")
    run = measure(suite(f"--facts={big}", f"--output-dir={rep}"), os.path.join(work, f"fleet-{count}{label}.log"))
    run.update(hosts=count, results=results_count(rep), findings=findings_count(rep), **sizes(rep))
    run["chromium_s"] = browse(os.path.join(rep, "compliance.html"))
    print(f"one process, {count} saved hosts{label}: {run}", flush=True)
    shutil.rmtree(big, ignore_errors=True)
    return run


def findings_count(out_dir: str) -> int:
    with open(os.path.join(out_dir, "results.json")) as f:
        return sum(1 for r in json.load(f)["results"] if r["outcome"] in ("failed", "error"))


# ---------------------------------------------------------------- 3. shards and their merge


def sharded(facts: str, count: int, shards: int, work: str) -> dict:
    big = os.path.join(work, f"facts-{count}")
    clone_facts(facts, big, count)
    t = time.monotonic()
    runs = []
    for k in range(1, shards + 1):
        out = os.path.join(work, f"shard-{k}")
        runs.append(
            measure(
                suite(f"--facts={big}", f"--shard={k}/{shards}", f"--output-dir={out}"),
                os.path.join(work, f"shard-{k}.log"),
            )
        )
        print(f"shard {k}/{shards}: {runs[-1]}", flush=True)
    merged = os.path.join(work, "merged")
    merge = measure(
        [
            sys.executable,
            "-m",
            "kvmnetcheck.cli",
            "merge",
            *(os.path.join(work, f"shard-{k}") for k in range(1, shards + 1)),
            f"--output-dir={merged}",
        ],
        os.path.join(work, "merge.log"),
    )
    total = time.monotonic() - t
    out = {
        "hosts": count,
        "shards": shards,
        "wall_s": total,
        "shard_wall_s": max(r["wall_s"] for r in runs),
        "merge": merge,
        "peak_rss_mib": max([r["peak_rss_mib"] for r in runs] + [merge["peak_rss_mib"]]),
        "cpu_s": sum(r["cpu_s"] for r in runs) + merge["cpu_s"],
        "results": results_count(merged),
        **sizes(merged),
    }
    print(f"{count} hosts in {shards} shards, merged: {out}", flush=True)
    shutil.rmtree(big, ignore_errors=True)
    return out


# ---------------------------------------------------------------- the table


def table(f: dict) -> str:
    rows = [("run", "wall", "CPU", "peak RSS", "target", "")]

    def row(label, m, target="", ok=None):
        rows.append(
            (
                label,
                f"{m['wall_s']:.1f} s",
                f"{m['cpu_s']:.1f} s" if "cpu_s" in m else "",
                f"{m['peak_rss_mib']:.0f} MiB",
                target,
                "" if ok is None else ("met" if ok else "MISSED"),
            )
        )

    if "live" in f:
        lv = f["live"]
        row(
            f"kvm-netcheck live, {f['hosts']} hosts x {f['guests_per_host']} guests ({lv['results']:,} results, "
            f"every report; {lv['ssh_sessions_per_host']['max']} SSH sessions per host)",
            lv,
        )
        if "naive" in f:
            row(
                f"naive testinfra suite, same hosts ({f['naive']['ssh_sessions_per_host']['max']} SSH sessions "
                "per host)",
                f["naive"],
            )
        if "ansible_gather" in f:
            row("gathering the same hosts through Ansible (forks 50)", f["ansible_gather"])
    for label, m in f.get("shapes", {}).items():
        row(
            f"one process, {m['hosts']:,} saved hosts, {label} ({m['results']:,} results, {m['findings']:,} "
            "findings, every report)",
            m,
            f"{TARGET['wall_s']} s, {TARGET['peak_rss_mib']} MiB",
            m["wall_s"] <= TARGET["wall_s"] and m["peak_rss_mib"] <= TARGET["peak_rss_mib"],
        )
    if "big" in f:
        b = f["big"]
        rows.append(
            (
                f"{b['hosts']:,} saved hosts: {b['shards']} shards one after another, then merge "
                f"({b['results']:,} results)",
                f"{b['wall_s']:.1f} s",
                f"{b['cpu_s']:.1f} s",
                f"{b['peak_rss_mib']:.0f} MiB",
                "600 s, 512 MiB",
                "met" if b["wall_s"] <= 600 and b["peak_rss_mib"] <= 512 else "MISSED",
            )
        )
        row("  of which the merge", b["merge"], "512 MiB", b["merge"]["peak_rss_mib"] <= 512)
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    out = [f"Machine: {f['machine']}", "", *lines, ""]
    for label, m in f.get("shapes", {}).items():
        drawn = (
            f"chromium draws it in {m['chromium_s']:.1f} s (target {TARGET['chromium_s']} s: "
            f"{'met' if m['chromium_s'] <= TARGET['chromium_s'] else 'MISSED'})"
            if m.get("chromium_s") is not None
            else "chromium not installed, not timed"
        )
        out.append(
            f"{label}: compliance.html {m['html_mb']:.1f} MB (target {TARGET['html_mb']} MB: "
            f"{'met' if m['html_mb'] <= TARGET['html_mb'] else 'MISSED'}), {drawn}; host pages "
            f"{m['host_pages_mb']:.0f} MB, results.json {m['results_json_mb']:.1f} MB, junit.xml "
            f"{m['junit_mb']:.1f} MB, {m['fix_scripts']} fix scripts"
        )
    if "big" in f:
        b = f["big"]
        out.append(
            f"merged report at {b['hosts']:,} hosts: HTML {b['html_mb']:.1f} MB (target 50 MB: "
            f"{'met' if b['html_mb'] <= 50 else 'MISSED'}), host pages {b['host_pages_mb']:.0f} MB, results.json "
            f"{b['results_json_mb']:.1f} MB, junit.xml {b['junit_mb']:.1f} MB, {b['fix_scripts']} fix scripts"
        )
    if "gather_over_plain_ssh" in f:
        r = f["gather_over_plain_ssh"]
        out.append(
            f"live gathering {f['live']['gather_s']:.1f} s vs the collector alone over plain ssh "
            f"{f['plain_ssh_collector_s']:.1f} s: {r:.2f}x (target 1.5x: {'met' if r <= 1.5 else 'MISSED'})"
        )
    if "naive_over_suite" in f:
        out.append(
            f"kvm-netcheck vs the naive testinfra way at {f['hosts']} hosts, same run: "
            f"{f['naive_over_suite']:.1f}x faster"
        )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50, help="lab hosts (live runs, the naive comparison)")
    ap.add_argument("--guests", type=int, default=20)
    ap.add_argument("--fleet", type=int, default=1000, help="saved hosts checked in one process (0: skip)")
    ap.add_argument("--big-fleet", type=int, default=10000, help="saved hosts checked in shards (0: skip)")
    ap.add_argument("--shards", type=int, default=10)
    ap.add_argument(
        "--shapes",
        default=",".join(map(str, SHAPES)),
        help="findings per host of the fleets checked in one process (1: the lab's hosts; 25, 50: a dense lab host)",
    )
    ap.add_argument("--no-old-format", action="store_true", help="skip the fleet of the first saved-facts format")
    ap.add_argument(
        "--shape-facts", action="append", default=[], metavar="N=DIR", help="saved facts of shape N (no lab for it)"
    )
    ap.add_argument(
        "--big-shape", type=int, default=50, help="the shape cloned to BIG_FLEET hosts for shards and merge"
    )
    ap.add_argument("--build-workers", type=int, default=8)
    ap.add_argument("--gather-workers", type=int, default=16, help="as the suite's --gather-workers default")
    ap.add_argument("--ansible", action="store_true", help="also gather the lab through Ansible")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--facts", metavar="DIR", help="no lab: start from these saved facts")
    ap.add_argument("--json", default=None, help="write the figures here too")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, reports, facts)")
    a = ap.parse_args()
    if not a.facts and os.geteuid() != 0:
        raise SystemExit("the lab needs root (or give --facts DIR)")

    work = tempfile.mkdtemp(prefix=f"knc-fleet-bench-{os.getpid()}-", dir="/tmp")
    figures: dict = {"machine": machine(), "hosts": a.hosts, "guests_per_host": a.guests}
    print(f"machine: {figures['machine']}", flush=True)
    a.shapes = [int(x) for x in a.shapes.split(",") if x]
    try:
        facts = a.facts or live(a, work, figures)
        shape_facts = {1: facts, **figures.pop("shape_facts", {})}
        for item in a.shape_facts:
            n, _, d = item.partition("=")
            shape_facts[int(n)] = d
        if a.fleet:
            shapes = figures.setdefault("shapes", {})
            for n in a.shapes:
                if n in shape_facts:
                    shapes[f"{n} finding(s) per host"] = one_process(shape_facts[n], a.fleet, work, f"-shape{n}")
            if not a.no_old_format:
                shapes["first facts format"] = one_process(FORMAT1, a.fleet, work, "-format1")
        if a.big_fleet:
            figures["big"] = sharded(shape_facts.get(a.big_shape, facts), a.big_fleet, a.shards, work)
    finally:
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(table(figures))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
