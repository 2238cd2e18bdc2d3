"""Fleet benchmark: the suite against a lab of hypervisors, side by side with the naive testinfra way.

    .venv/bin/python bench/fleet_bench.py [--hosts 50] [--guests 20] [--eval-hosts 1000] [--ansible]

Builds a lab of HOSTS hosts (each: a libvirt NAT network with DHCP, a host bridge with STP,
GUESTS defined diskless guests), then, one after the other on the same hosts:

1. the full suite (`pytest --hosts=ssh://... --ssh-config=...`, every report) with --save-facts;
2. the naive suite in bench/naive (one `host.run`/`host.file` per check and object);
3. with --ansible, gathering the same hosts through Ansible (kvmnetcheck.collect.ansible_gather);
4. the checks alone on saved facts cloned to EVAL_HOSTS hosts (`pytest --facts=DIR`).

For each it prints wall time, CPU time, the peak memory of the pytest (or ansible) process and
the SSH sessions each lab host served, then writes the figures as JSON (--json). Run it as root
on an otherwise idle machine: other work on the machine shows in the wall times.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path[:0] = [REPO, BENCH]

from clone_facts import clone_facts  # noqa: E402
from fleetlab import build_fleet  # noqa: E402

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


def measure(cmd: list[str], log: str, env: dict | None = None) -> dict:
    p = subprocess.run([sys.executable, "-c", MEASURE, log, *cmd], cwd=REPO, capture_output=True, text=True,
                       env=env)
    if p.returncode != 0:
        raise SystemExit(f"measuring {cmd[:3]} failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def pytest_env() -> dict:
    # the suite as a user runs it: no variables of an enclosing pytest, buffered output
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONUNBUFFERED"}


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--guests", type=int, default=20)
    ap.add_argument("--eval-hosts", type=int, default=1000)
    ap.add_argument("--build-workers", type=int, default=8)
    ap.add_argument("--ansible", action="store_true", help="also gather the lab through Ansible")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--json", default=None, help="write the figures here too")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, reports, facts)")
    ap.add_argument("--eval-only", metavar="FACTS_DIR",
                    help="no lab: only time the checks on FACTS_DIR (saved facts) cloned to --eval-hosts hosts")
    a = ap.parse_args()
    if a.eval_only:
        return eval_only(a)
    if os.geteuid() != 0:
        raise SystemExit("the lab needs root")

    from lab import Lab

    work = tempfile.mkdtemp(prefix=f"knc-fleet-bench-{os.getpid()}-", dir="/tmp")
    figures: dict = {"machine": machine(), "hosts": a.hosts, "guests_per_host": a.guests}
    print(f"machine: {figures['machine']}", flush=True)
    names = [f"bh{i:03d}" for i in range(a.hosts)]
    hosts_arg = "--hosts=" + ",".join(f"ssh://{n}" for n in names)
    py = sys.executable
    try:
        with Lab(os.path.join(work, "lab")) as lab:
            t = time.monotonic()
            build_fleet(lab, names, a.guests, workers=a.build_workers)
            figures["lab_build_s"] = round(time.monotonic() - t, 1)
            print(f"lab: {a.hosts} hosts x {a.guests} guests built in {figures['lab_build_s']} s", flush=True)

            facts = os.path.join(work, "facts")
            rep = os.path.join(work, "suite")
            before = sessions(lab, names)
            suite = measure([py, "-m", "pytest", "-q", hosts_arg, f"--ssh-config={lab.ssh_config}",
                             f"--save-facts={facts}", f"--results-json={rep}/results.json",
                             f"--html={rep}/compliance.html", f"--junitxml={rep}/junit.xml"],
                            os.path.join(work, "suite.log"), pytest_env())
            suite["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
            with open(os.path.join(rep, "results.json")) as f:
                res = json.load(f)
            suite["results"] = len(res["results"])
            suite["unreachable"] = sum(1 for h in res["hosts"] if not h["reachable"])
            figures["suite"] = suite
            print(f"suite: {suite}", flush=True)

            if not a.skip_naive:
                before = sessions(lab, names)
                naive = measure([py, "-m", "pytest", "-q", "-c", os.path.join(BENCH, "naive", "pytest.ini"),
                                 "-p", "no:kvmnetcheck", os.path.join(BENCH, "naive"), hosts_arg,
                                 f"--ssh-config={lab.ssh_config}"],
                                os.path.join(work, "naive.log"), pytest_env())
                naive["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
                figures["naive"] = naive
                figures["naive_over_suite"] = round(naive["wall_s"] / suite["wall_s"], 1)
                print(f"naive: {naive}", flush=True)
                print(f"the suite is {figures['naive_over_suite']}x faster than the naive way", flush=True)

            if a.ansible:
                out = os.path.join(work, "ansible-facts")
                env = dict(pytest_env(), PATH=os.path.dirname(py) + os.pathsep + os.environ.get("PATH", ""))
                before = sessions(lab, names)
                ans = measure([py, "-m", "kvmnetcheck.collect.ansible_gather", "-i", lab.inventory, "lab",
                               "--out", out, "--forks", str(min(50, a.hosts))],
                              os.path.join(work, "ansible.log"), env)
                ans["ssh_sessions_per_host"] = per_host(before, sessions(lab, names))
                figures["ansible_gather"] = ans
                print(f"ansible gather: {ans}", flush=True)

        # evaluation alone: no lab any more, saved facts cloned to many hosts
        figures["eval"] = evaluate(facts, a.eval_hosts, work)
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


def evaluate(facts: str, count: int, work: str) -> dict:
    big = os.path.join(work, f"facts-{count}")
    clone_facts(facts, big, count)
    rep = os.path.join(work, "eval")
    ev = measure([sys.executable, "-m", "pytest", "-q", f"--facts={big}", f"--results-json={rep}/results.json",
                  f"--html={rep}/compliance.html", f"--junitxml={rep}/junit.xml"],
                 os.path.join(work, "eval.log"), pytest_env())
    with open(os.path.join(rep, "results.json")) as f:
        ev["results"] = len(json.load(f)["results"])
    ev["hosts"] = count
    print(f"evaluation of {count} saved hosts: {ev}", flush=True)
    return ev


def eval_only(a) -> int:
    work = tempfile.mkdtemp(prefix=f"knc-fleet-bench-{os.getpid()}-", dir="/tmp")
    try:
        ev = evaluate(a.eval_only, a.eval_hosts, work)
    finally:
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Machine: {machine()}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine(), "eval": ev}, f, indent=1)
    return 0


def table(f: dict) -> str:
    rows = [("run", "wall", "CPU", "peak RSS", "SSH sessions per host")]

    def row(label, m):
        s = m.get("ssh_sessions_per_host")
        ss = "" if s is None else (f"{s['min']}" if s["min"] == s["max"] else f"{s['min']}..{s['max']}")
        rows.append((label, f"{m['wall_s']:.1f} s", f"{m['cpu_s']:.1f} s", f"{m['peak_rss_mib']:.0f} MiB", ss))

    row(f"kvm-netcheck, {f['hosts']} hosts x {f['guests_per_host']} guests ({f['suite']['results']} results)",
        f["suite"])
    if "naive" in f:
        row("naive testinfra suite, same hosts", f["naive"])
    if "ansible_gather" in f:
        row("gathering through Ansible (forks 50)", f["ansible_gather"])
    row(f"checks alone, {f['eval']['hosts']} saved hosts ({f['eval']['results']} results)", f["eval"])
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    out = f"Machine: {f['machine']}\n\n" + "\n".join(lines)
    if "naive_over_suite" in f:
        out += f"\n\nkvm-netcheck vs the naive way, same hosts, same run: {f['naive_over_suite']}x faster"
    return out


if __name__ == "__main__":
    sys.exit(main())
