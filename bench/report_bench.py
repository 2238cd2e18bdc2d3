"""Report sizes and times for a large fleet: 200 hosts x 50 objects (10,000 results).

    .venv/bin/python bench/report_bench.py [--hosts 200] [--objects 50] [--browser]

Runs the real suite machinery (the kvm-netcheck plugin, its gate, pytest-html, JUnit) on a
generated test module: one check item per (host, object), about 1 in 10 failing with a full
finding (observed values, limit, remediation, fix script), 1 in 5 skipped, a few waived, and the
facts of every host loaded with --facts. It prints how long each report took to write and its
size; with --browser it also times chromium opening the HTML report and using its filter.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

TEST_MODULE = '''
import pytest

from kvmnetcheck.catalog import CHECKS, Finding, Remedy

HOSTS, OBJECTS = {hosts}, {objects}
IDS = sorted(c for c in CHECKS if c != "host-reachable")


def cases():
    for h in range(HOSTS):
        host = f"kvm{{h:03d}}"
        for o in range(OBJECTS):
            check = IDS[o % len(IDS)]
            yield pytest.param(h, o, id=f"{{host}}:obj{{o:02d}}",
                               marks=[pytest.mark.check(check), pytest.mark.subject(host, f"br{{o}}")])


@pytest.mark.parametrize("h, o", list(cases()))
def test_object(h, o):
    n = h * OBJECTS + o
    if n % 5 == 1:
        pytest.skip("does not apply to this object")
    if n % 10 == 3:
        raise Finding(
            f"br{{o}}: kernel STP on with forward_delay 15 s, so a new port passes no traffic for 30 s, "
            "over the limit of 4 s",
            observed={{"stp_state": 1, "forward_delay_s": 15.0, "new_port_blocked_s": 30.0, "ports": "vnet0=forwarding"}},
            limit="a new port may be blocked for at most 4 s",
            remediation=Remedy(f"# takes effect at once\\nip link set dev br{{o}} type bridge stp_state 0",
                               (("live-bridge", f"ip link set dev br{{o}} type bridge stp_state 0"),)))
'''

# times the writers from inside the run: pytest-html (with the fleet view), JUnit, results.json, fix scripts
TIMING_CONFTEST = '''
import functools, json, os, time

import _pytest.junitxml
import pytest_html.basereport
import kvmnetcheck.run

TIMES = {}


def timed(owner, name, label):
    fn = getattr(owner, name)

    @functools.wraps(fn)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            TIMES[label] = TIMES.get(label, 0.0) + time.perf_counter() - t

    setattr(owner, name, wrapper)


timed(pytest_html.basereport.BaseReport, "pytest_sessionfinish", "html")
timed(_pytest.junitxml.LogXML, "pytest_sessionfinish", "junit")
timed(kvmnetcheck.run, "write_results", "json")
timed(kvmnetcheck.run, "write_fix_scripts", "fix_scripts")


def pytest_unconfigure(config):
    with open(os.environ["KVM_BENCH_TIMES"], "w") as f:
        json.dump(TIMES, f)
'''

WAIVERS = """waivers:
  - check: bridge-forward-delay
    host: kvm00*
    reason: bench
    expires: 2999-12-31
"""


def facts(directory: str, hosts: int) -> None:
    from kvmnetcheck import raw

    raw.save(directory, [raw.RawHost(host=f"kvm{h:03d}", spec=f"kvm{h:03d}", output="") for h in range(hosts)],
             "kvm-netcheck bench")


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def browse(html: str) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("browser: chromium not installed")
        return
    every = "?visible=passed,skipped,failed,error,xfailed,xpassed,rerun"
    for label, query in (("open: failures first", ""), ("open: every result drawn", every),
                         ("open: filtered to one host", "?kvm-host=kvm007")):
        with tempfile.TemporaryDirectory() as profile:
            t = time.perf_counter()
            p = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                "--disable-sync", f"--user-data-dir={profile}", "--dump-dom",
                                "file://" + html + query], capture_output=True, text=True, timeout=600)
            took = time.perf_counter() - t
        dom = p.stdout
        rows = dom.count('class="results-table-row')
        matrix = "present" if 'id="kvm-fleet-matrix"' in dom else "MISSING"
        status = dom.split('id="kvm-filter-status"', 1)[-1].split(">", 1)[-1].split("<", 1)[0] if dom else ""
        print(f"browser ({label}): {took:.1f} s to load and render, {rows} result rows in the DOM, "
              f"fleet matrix {matrix}, filter: {status!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--objects", type=int, default=50)
    ap.add_argument("--browser", action="store_true", help="also time chromium opening the HTML report")
    ap.add_argument("--keep", action="store_true", help="keep the generated reports and print where")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kvm-report-bench-")
    try:
        with open(os.path.join(work, "test_fleet.py"), "w") as f:
            f.write(TEST_MODULE.format(hosts=args.hosts, objects=args.objects))
        with open(os.path.join(work, "conftest.py"), "w") as f:
            f.write(TIMING_CONFTEST)
        with open(os.path.join(work, "pytest.ini"), "w") as f:
            f.write("[pytest]\n")
        with open(os.path.join(work, "waivers.yaml"), "w") as f:
            f.write(WAIVERS)
        facts(os.path.join(work, "facts"), args.hosts)
        out = os.path.join(work, "reports")
        paths = {"html": os.path.join(out, "compliance.html"), "json": os.path.join(out, "results.json"),
                 "junit": os.path.join(out, "junit.xml")}
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
               "KVM_BENCH_TIMES": os.path.join(work, "times.json"), "PYTHONPATH": REPO}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.path.join(work, "pytest.ini"),
               f"--rootdir={work}", f"--facts={os.path.join(work, 'facts')}", f"--html={paths['html']}",
               "--self-contained-html", f"--junitxml={paths['junit']}", f"--results-json={paths['json']}",
               f"--waivers={os.path.join(work, 'waivers.yaml')}", "--fail-on=high", "test_fleet.py"]
        started = time.perf_counter()
        p = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        total = time.perf_counter() - started
        if p.returncode not in (0, 1):
            print(p.stdout[-3000:], p.stderr[-3000:])
            return 1
        with open(os.path.join(work, "times.json")) as f:
            times = json.load(f)
        with open(paths["json"]) as f:
            counts = json.load(f)["counts"]
        n = args.hosts * args.objects
        print(f"{args.hosts} hosts x {args.objects} objects = {n} results "
              f"({', '.join(f'{v} {k}' for k, v in counts.items())}); whole run {total:.1f} s, exit {p.returncode}")
        print(f"{'report':<14}{'write time':>12}{'size':>12}")
        for label in ("html", "json", "junit"):
            print(f"{label:<14}{times.get(label, 0):>10.2f} s{human(os.path.getsize(paths[label])):>12}")
        fix_dir = os.path.join(out, "fix")
        fix_size = sum(os.path.getsize(os.path.join(fix_dir, x)) for x in os.listdir(fix_dir))
        print(f"{'fix scripts':<14}{times.get('fix_scripts', 0):>10.2f} s{human(fix_size):>12}"
              f"  ({len(os.listdir(fix_dir))} files)")
        if args.browser:
            browse(paths["html"])
        if args.keep:
            print(f"reports kept in {out}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
