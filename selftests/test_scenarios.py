"""Every check against real lab hosts: each scenario sets one host into a known state, the suite
checks all of them over real SSH in one run, and each scenario's (check, object) must come out as
its file name says (.pass, .fail, .skip where the check must not apply, or .error where the host
cannot tell and the check must say what is missing)."""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from stubrun import assert_fix_scripts_run_only_their_steps
from support import run_suite

SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")


@dataclass(frozen=True)
class Scenario:
    check: str
    name: str
    expect: str  # passed | failed | skipped | error
    path: str
    object: str
    needs: frozenset
    state: str
    body: str
    message: str  # a phrase the result's message must contain, if any
    fix: str  # a phrase the result's fix script must contain; "none": it must have no script at all
    remedy: str = ""  # a phrase the fix's text must contain (its comment lines joined into one)
    release: str = ""  # the Debian release the host runs (lab.releases); "": the machine's own

    @property
    def id(self) -> str:
        return f"{self.check}/{self.name}.{EXTENSIONS_BACK[self.expect]}"


EXTENSIONS = {".pass": "passed", ".fail": "failed", ".skip": "skipped", ".error": "error"}
EXTENSIONS_BACK = {v: k[1:] for k, v in EXTENSIONS.items()}


def load_scenarios() -> list[Scenario]:
    out = []
    for path in sorted(p for ext in EXTENSIONS for p in glob.glob(os.path.join(SCENARIOS, "*", "*" + ext))):
        body = open(path).read()
        head = dict(re.findall(r"^# (object|needs|state|message|fix|remedy|release): (.*)$", body, re.MULTILINE))
        base, ext = os.path.splitext(os.path.basename(path))
        out.append(
            Scenario(
                check=os.path.basename(os.path.dirname(path)),
                name=base,
                expect=EXTENSIONS[ext],
                path=path,
                object=head.get("object", "").strip(),
                needs=frozenset(head.get("needs", "").split()),
                state=head.get("state", "up").strip(),
                body=body,
                message=head.get("message", "").strip(),
                fix=head.get("fix", "").strip(),
                release=head.get("release", "").strip(),
                remedy=head.get("remedy", "").strip(),
            )
        )
    return sorted(out, key=lambda s: s.id)


# KNC_SCENARIOS=GLOB (e.g. 'network-dhcp-*') builds and checks only the scenarios whose id matches
# (the probe's scenarios, probe-*, need a run with --probe: selftests/test_probe.py runs them)
ALL = [
    s
    for s in load_scenarios()
    if fnmatch.fnmatch(s.id, os.environ.get("KNC_SCENARIOS", "*")) and not s.check.startswith("probe-")
]


def _host_name(i: int) -> str:
    return f"sc{i:02d}"


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory):
    from lab import Lab

    root = str(tmp_path_factory.mktemp("lab"))
    lib = open(os.path.join(SCENARIOS, "lib.sh")).read()
    names = {s.id: _host_name(i) for i, s in enumerate(ALL)}
    with Lab(root) as lab:

        def build(s: Scenario):
            name = names[s.id]
            firewalld = "firewalld" in s.needs
            h = lab.add_host(name, libvirt="libvirt" in s.needs and not firewalld, release=s.release or None)
            if "vhost-net" in s.needs:
                h.add_vhost_net_standin()
            if firewalld:  # libvirtd must find firewalld on the bus when it starts
                h.sh(lib + "\nstart_firewalld", timeout=120)
                if "libvirt" in s.needs:
                    h.start_libvirt()
            h.sh(lib + "\n" + s.body, timeout=240)
            return name

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(build, ALL))
        for s in ALL:
            if s.state == "down":
                os.kill(lab.get(names[s.id]).pid, 9)
        run = run_suite(
            str(tmp_path_factory.mktemp("report")),
            "--hosts=" + ",".join(f"ssh://{n}" for n in names.values()),
            f"--ssh-config={lab.ssh_config}",
        )
        sessions = {n: lab.get(n).ssh_sessions() for n in names.values()}
        yield run, names, sessions


@pytest.mark.parametrize("scenario", ALL, ids=[s.id for s in ALL])
def test_scenario_outcome(scenario_run, scenario):
    run, names, _ = scenario_run
    host = names[scenario.id]
    obj = host if scenario.object == "HOST" else scenario.object
    r = run.result(scenario.check, host, obj)
    assert r is not None, (
        f"no result for {scenario.check} {host}:{obj}; results for the host: "
        + repr([(x["check"], x["object"], x["outcome"]) for x in run.for_host(host)])
        + "\n"
        + run.stdout[-3000:]
        + run.stderr[-2000:]
    )
    assert r["outcome"] == scenario.expect, f"{scenario.id}: {r['outcome']}: {r['message']}"
    assert scenario.message in r["message"], r["message"]
    if r["outcome"] == "failed":
        assert r["remediation"].strip(), "a failure must carry its fix"
    if r["outcome"] in ("failed", "error"):
        assert r["message"].strip(), "a failure or an error must say what it found or what is missing"
    if scenario.fix == "none":
        assert r["fix_script"] == "", f"no step may be scripted here, got:\n{r['fix_script']}"
    elif scenario.fix:
        assert scenario.fix in r["fix_script"], r["fix_script"]
    if scenario.remedy:
        said = " ".join(line.strip().lstrip("#").strip() for line in r["remediation"].splitlines())
        assert scenario.remedy in said, r["remediation"]


def test_every_result_is_about_a_host_and_an_object(scenario_run):
    """No row for a check whose objects a host lacks: no empty host, no pytest NOTSET item."""
    run, _, _ = scenario_run
    for r in run.results["results"]:
        assert r["host"] and r["object"], r
        assert "NOTSET" not in r["test"], r


def test_suite_exit_code_reflects_failures(scenario_run):
    run, names, _ = scenario_run
    assert run.returncode == 1, run.stdout[-2000:]
    expected = {(s.check, names[s.id]) for s in ALL if s.expect == "error"}
    unexpected = [
        r for r in run.results["results"] if r["outcome"] == "error" and (r["check"], r["host"]) not in expected
    ]
    assert not unexpected, unexpected


def test_every_reachable_host_costs_one_collector_session_and_one_libvirt_connection(scenario_run):
    run, names, sessions = scenario_run
    for s in ALL:
        if s.state == "down":
            continue
        # one for the libvirt connection (tried even where no libvirtd runs), one for the collector
        n = sessions[names[s.id]]
        assert n == 2, f"{names[s.id]} ({s.id}) served {n} SSH sessions"


def test_report_shows_every_failure_with_its_fix(scenario_run):
    """Every failure is reachable from the first page: its host's page is linked there and holds the
    failure's own block (its check, why, and its fix); and JUnit names each failing check."""
    import lxml.html

    from kvmnetcheck.report.pages import anchor

    run, names, _ = scenario_run
    front = lxml.html.parse(run.html_path).getroot()
    pages = {a.text_content(): a.get("href") for a in front.xpath("//details[@class='kvm-host-pages']//a")}
    base = os.path.dirname(run.html_path)
    seen = {}
    for r in run.results["results"]:
        if r["outcome"] == "failed":
            assert r["host"] in pages, r["test"]
            if r["host"] not in seen:
                seen[r["host"]] = lxml.html.parse(os.path.join(base, pages[r["host"]])).getroot()
            (section,) = seen[r["host"]].xpath(f"//section[@id='{anchor(r['check'], r['object'])}']")
            block = lxml.html.tostring(section, encoding="unicode")
            assert f'data-check="{r["check"]}"' in block, r["test"]
            assert "kvm-remediation" in block and "Why:" in block, r["test"]
    assert seen
    junit = open(run.junit_path).read()
    failed = {r["check"] for r in run.results["results"] if r["outcome"] == "failed"}
    assert failed and all(f'name="check" value="{c}"' in junit for c in failed)


def test_every_fix_script_runs_only_its_fix_steps(scenario_run):
    """Each host's fix script, run by sh against stub commands that log their argv, runs only the
    commands of that host's fix steps, with their arguments as written."""
    run, _, _ = scenario_run
    assert len(run.results["fix_scripts"]) >= 20, run.results["fix_scripts"]
    assert assert_fix_scripts_run_only_their_steps(run.results) > 20
