"""The run: one object, registered in pytest_configure, that owns everything a run of the suite has.

It holds the options and team policy (with this run's severities: a copy of the catalog's, never
the catalog itself), the hosts (what was gathered or saved, read one host at a time), the stream of
Results as they are made (report/stream.py), and, once the session ends, the gate's verdict. Its
methods are the pytest hooks.

A run over a fleet stays flat in memory: pytest holds one item per check and host
(objects.py), a host's facts are parsed when its first item runs and replaced by its digest after its
last one, each Result goes to a spool file as it is made, and results.json, JUnit and the HTML are
written from the spool, the findings and counts. `pytest_sessionfinish` reads top to bottom in the
order the end of a run happens: the hosts not yet digested, verdict, waivers used, drift, fix scripts,
results.json, JUnit, summaries, exit status; then the reports are published, or kept out of place.

`kvm-netcheck merge` is a run too (--merge): no item, the shards' hosts and results read back in the
order one run over all hosts would have made them, and the same end.
"""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from . import __version__
from . import raw as raw_store
from .catalog import CHECKS, SEVERITIES, Finding, Limits, running
from .catalog.docs import check_record
from .collect.gather import GatherOptions, gather_all
from .facts.host import facts_from_raw
from .facts.model import HostFacts, Unreadable
from .objects import KIND_ARGS, CheckItem, objects_of, result_test_id
from .policy import PolicyError, TeamPolicy, WaiverSet, find_policy, load_policy, load_waivers
from .raw import RawHost
from .report import fleet, guests, html as html_report, terminal
from .report.drift import Baseline, BaselineError, Drift, compare, load_baseline
from .report.fixscripts import is_ours, write_fix_scripts
from .report.junit import write_junit
from .report.merge import MergeError, Shards, load_shards, shard_meta
from .report.publish import DEFAULT_OUTPUT_DIR, Outputs
from .report.results import Result, host_summary, write_results
from .report.stream import FINDING, HostDigest, ResultStream
from .report.summaries import write_prom_textfile, write_summary_md
from .report.verdict import PYTEST_CODES_KEPT, Verdict, decide

DEFAULT_MAX_PORT_BLOCK_S = 4.0  # kernel STP with the minimum forward delay (2 s), see DOMAIN.md s.6
DEFAULT_FAIL_ON = SEVERITIES[-1]  # any failure
WORKER_FACTS_DIR = "kvmnetcheck_facts_dir"
TOOL = f"kvm-netcheck {__version__}"


@dataclass(frozen=True)
class Gate:
    """What this run holds findings to."""

    fail_on: str
    allow_unreachable: bool
    waivers: WaiverSet
    policy: TeamPolicy
    today: datetime.date
    baseline_path: Optional[str]
    baseline: Optional[Baseline]
    dated_copies: bool

    def note(self) -> str:
        parts = [f"fail-on {self.fail_on}", "unreachable hosts " + ("allowed" if self.allow_unreachable else "fail")]
        if self.policy.path:
            parts.append(f"policy {self.policy.path}")
        if self.waivers.source:
            parts.append(f"waivers {self.waivers.source} ({len(self.waivers.entries)} entries)")
        if self.policy.severities:
            parts.append("re-rated: " + ", ".join(f"{c}={s}" for c, s in self.policy.severities.items()))
        return "; ".join(parts)

    def fingerprint(self, severity: dict[str, str], max_port_block_s: float) -> dict[str, Any]:
        """What must be the same in every shard of a fleet for their merge to be one run's judgement."""
        return {"fail_on": self.fail_on, "allow_unreachable": self.allow_unreachable,
                "severities": dict(sorted(severity.items())), "max_port_block_s": max_port_block_s,
                "waivers": [w.describe() for w in self.waivers.entries]}


def _ini_true(config, name: str) -> bool:
    try:
        return str(config.getini(name)).strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        return False


def _check_ids(config, option: str) -> set[str]:
    """--check / --skip-check values (repeatable, comma-separated), each a known check id."""
    ids = {x.strip() for v in config.getoption(option) or () for x in v.split(",") if x.strip()}
    unknown = sorted(ids - set(CHECKS))
    if unknown:
        raise pytest.UsageError(f"{option}: no check {', '.join(unknown)} (kvm-netcheck --list-checks names them)")
    return ids


class KvmRun:
    """One run of the suite (see the module docstring)."""

    def __init__(self, config: pytest.Config):
        self.config = config
        try:
            self.gate = self._gate(config)
        except (PolicyError, BaselineError) as e:
            raise pytest.UsageError(str(e)) from None
        self.limits = Limits(max_port_block_s=self._max_port_block(config))
        try:
            self.shard = raw_store.parse_shard(config.getoption("--shard")) if config.getoption("--shard") else None
        except ValueError as e:
            raise pytest.UsageError(str(e)) from None
        self.merge_dirs = [d for v in config.getoption("--merge") or () for d in v.split(",") if d]
        if self.merge_dirs and (self.shard or config.getoption("--facts") or getattr(config.option, "hosts", None)):
            raise pytest.UsageError("merge joins shards' reports: it takes no --shard, --facts or --hosts")
        # this run's catalog severities: the policy re-rates checks for this fleet
        self.severity = {cid: self.gate.policy.severities.get(cid, c.severity) for cid, c in CHECKS.items()}
        self.is_worker = hasattr(config, "workerinput")
        # where the reports go; staged until the run has checked something and ended on its own
        self.outputs = None if self.is_worker else self._outputs(config)
        if self.outputs is not None:
            self.outputs.stage()
            # pytest-html writes compliance.html (staged); JUnit is written from the results, not by pytest
            config.option.htmlpath = self.outputs.at(self.outputs.html)
            config.option.xmlpath = None
        self.published: Optional[bool] = None  # True: reports moved into place; False: left as they were
        self.keep_reason: Optional[str] = None
        self.session = None
        self.stream: Optional[ResultStream] = None
        self._stubs: Optional[list[RawHost]] = None  # every host: name, spec, error
        self._load: Optional[Callable[[int], RawHost]] = None  # one host's raw facts, read when wanted
        self._positions: list[int] = []  # each host's place among all hosts (the order of an unsharded run)
        self._facts: dict[int, HostFacts] = {}  # parsed hosts whose checks are not all done
        self._left: dict[int, int] = {}  # host -> its items not yet torn down
        self.digests: dict[int, HostDigest] = {}
        self.quieted = False  # pytest's own failure lists left out at fleet size
        self.other_failures = 0  # failed tests that are no check: nothing vouches for them
        self.verdict: Optional[Verdict] = None
        self.drift: Optional[Drift] = None
        self.waiver_usage: list[dict] = []
        self.fix_scripts: dict[str, str] = {}
        self._worker_dir: Optional[str] = None
        self._shards: Optional[Shards] = None
        self.exit_code: Optional[int] = None  # what the process returns (results.json's gate.exit_code)
        self.started = time.monotonic()

    # ------------------------------------------------------------ outputs

    def _outputs(self, config) -> Optional[Outputs]:
        """The run's report paths: --results-json, --html, --junitxml, --fix-scripts, --summary-md and
        --prom-textfile where given, else in --output-dir (or the ini's output_dir, `reports`). A pytest
        run that is no kvm-netcheck run (no such ini, no output option) writes none."""
        given_dir = config.getoption("--output-dir")
        if not (given_dir or config.getoption("--results-json") or _ini_true(config, "kvm_netcheck_reports")):
            return None
        out_dir = given_dir or config.getini("output_dir") or DEFAULT_OUTPUT_DIR
        results = config.getoption("--results-json") or (
            os.path.join(out_dir, "results.json") if given_dir else config.getini("results_json")
            or os.path.join(out_dir, "results.json"))
        fix_dir = config.getoption("--fix-scripts")
        if fix_dir is None:
            fix_dir = os.path.join(os.path.dirname(results) or ".", "fix")
        o = config.option
        base = os.path.dirname(results) or "."
        return Outputs(
            results=results,
            html=getattr(o, "htmlpath", None) or os.path.join(out_dir, "compliance.html"),
            junit=getattr(o, "xmlpath", None) or os.path.join(out_dir, "junit.xml"),
            fix_dir=None if fix_dir == "none" else fix_dir,
            summary_md=config.getoption("--summary-md"), prom=config.getoption("--prom-textfile"),
            # a shard keeps its results one per line and what merging needs of its hosts
            spool=os.path.join(base, "results.jsonl") if self.shard else None,
            shard_meta=os.path.join(base, "shard.json") if self.shard else None)

    @property
    def results_path(self) -> Optional[str]:
        """Where results.json is written during the run (its staged place)."""
        return self.outputs.at(self.outputs.results) if self.outputs else None

    # ------------------------------------------------------------ policy

    @staticmethod
    def _gate(config) -> Gate:
        o = config.option
        policy_path = config.getoption("--policy") or find_policy(
            [getattr(o, "ansible_inventory", None), getattr(o, "ssh_config", None)])
        policy = load_policy(policy_path) if policy_path else TeamPolicy()
        waivers_path = config.getoption("--waivers")
        waivers = load_waivers(waivers_path) if waivers_path else (policy.waivers or WaiverSet())
        baseline_path = config.getoption("--baseline")
        allow = config.getoption("--allow-unreachable")
        return Gate(
            fail_on=config.getoption("--fail-on") or policy.fail_on or DEFAULT_FAIL_ON,
            allow_unreachable=bool(allow if allow is not None else policy.allow_unreachable),
            waivers=waivers, policy=policy, today=datetime.date.today(),
            baseline_path=baseline_path, baseline=load_baseline(baseline_path) if baseline_path else None,
            dated_copies=config.getoption("--dated-copies"),
        )

    def _max_port_block(self, config) -> float:
        v = config.getoption("--max-port-block")
        if v is None:
            v = self.gate.policy.max_port_block_s
        if v is None:
            ini = config.getini("max_port_block_s")
            try:
                v = float(ini)
            except ValueError:
                raise pytest.UsageError(f"ini max_port_block_s = {ini!r} is not a number of seconds") from None
        if v < 0:
            raise pytest.UsageError("--max-port-block must not be negative")
        return v

    # ------------------------------------------------------------ hosts

    def host_list(self) -> list[RawHost]:
        """Every host of the run (name, spec, error: no facts), gathered or loaded once."""
        if self._stubs is not None:
            return self._stubs
        if self.merge_dirs:
            self._stubs, self._positions = [], []
            return self._stubs
        config = self.config
        tr = config.pluginmanager.get_plugin("terminalreporter")
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
                    with self._uncaptured():
                        tr.write(f"\rgathering facts: {done}/{total} hosts, {time.monotonic() - started:.0f} s",
                                 flush=True)

            raws = gather_all(self._host_specs(), self._gather_options(), progress)
            save_dir = config.getoption("--save-facts")
            if save_dir:
                raw_store.save(save_dir, raws, TOOL)
            self._stubs = [raw_store._stub(r) for r in raws]
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
            with self._uncaptured():
                tr.write_line(f"\nkvm-netcheck: {len(self._stubs)} host(s) {verb} in "
                              f"{time.monotonic() - started:.1f} s" + (f", {bad} unreachable" if bad else ""))
        return self._stubs

    @property
    def gathered(self) -> bool:
        return self._stubs is not None and (bool(self._stubs) or bool(self.merge_dirs) or self.empty_shard)

    @property
    def empty_shard(self) -> bool:
        """A --shard slice that holds none of the hosts: a complete shard with nothing in it, which the
        merge needs as much as the others (a small fleet split N ways can leave a slice empty)."""
        return bool(self.shard) and self._stubs == [] and not self.merge_dirs

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
            connection=getattr(o, "connection", None), ssh_config=getattr(o, "ssh_config", None),
            ssh_identity_file=getattr(o, "ssh_identity_file", None),
            ssh_extra_args=getattr(o, "ssh_extra_args", None), sudo=getattr(o, "sudo", False),
            sudo_user=getattr(o, "sudo_user", None), ansible_inventory=getattr(o, "ansible_inventory", None),
            force_ansible=getattr(o, "force_ansible", False), libvirt_uris=uris,
            workers=config.getoption("--gather-workers"), host_timeout=config.getoption("--host-timeout"),
            shard=self.shard,
        )

    def _uncaptured(self):
        """Facts are gathered during collection, while pytest captures output: write past it."""
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()

    def digest(self, i: int) -> HostDigest:
        """What the end of the run keeps of host i; its facts are let go."""
        d = self.digests.get(i)
        if d is not None:
            return d
        f = self.facts_at(i)
        mine = self.stream.findings_of(f.host) if self.stream is not None else []
        d = HostDigest(
            host=f.host, summary=host_summary(f), hostname=f.hostname if f.reachable else None,
            tools=(f.commands if f.netstack.known else None) if f.reachable else None,
            libvirt_source=f.libvirt.source if f.reachable else None,
            libvirt_error=f.libvirt.error if f.reachable else None,
            libvirt_installed=bool(f.reachable and f.libvirt_installed), parse_errors=tuple(f.parse_errors),
            stories=tuple(guests.host_stories(f, mine)), position=self._positions[i] if self._positions else i)
        self.digests[i] = d
        self._facts.pop(i, None)
        return d

    def all_digests(self) -> list[HostDigest]:
        """Every host's digest, in the run's host order (hosts not digested yet are, now)."""
        if self._shards is not None:
            return self._shards.digests
        return [self.digest(i) for i in range(len(self.host_list()))]

    # ------------------------------------------------------------ start

    def pytest_sessionstart(self, session):
        self.session = session
        if self.is_worker:
            self.stream = ResultStream()
            return
        out = self.outputs
        baseline = self.gate.baseline
        keys = frozenset(k for k, r in baseline.outcomes.items() if r["outcome"] in FINDING) if baseline else frozenset()
        spool = None
        if out is not None:
            spool = out.at(out.spool) if out.spool else os.path.join(os.path.dirname(self.results_path),
                                                                       ".results.jsonl")
        self.stream = ResultStream(spool, keys)
        if self.merge_dirs:
            try:
                self._shards = load_shards(self.merge_dirs, self.gate.fingerprint(self.severity,
                                                                                   self.limits.max_port_block_s))
            except MergeError as e:
                raise pytest.UsageError(str(e)) from None
        elif self.config.getoption("--facts"):
            self.host_list()  # a directory this version cannot read stops the run here, in one line

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        """pytest-xdist: the controller gathers once and hands the saved facts to every worker."""
        self.host_list()
        if getattr(self, "_saved_dir", None) and not self.shard:
            node.workerinput[WORKER_FACTS_DIR] = self._saved_dir
            return
        if self._worker_dir is None:
            self._worker_dir = tempfile.mkdtemp(prefix="kvmnetcheck-facts-")
            raw_store.save(self._worker_dir, [self._load_copy(i) for i in range(len(self._stubs))], TOOL)
        node.workerinput[WORKER_FACTS_DIR] = self._worker_dir

    def _load_copy(self, i: int) -> RawHost:
        held = getattr(self, "_held", None)
        return held[i] if held is not None else self._load(i)

    def pytest_ignore_collect(self, collection_path, config):
        return True if self.merge_dirs else None  # a merge runs no check

    @pytest.hookimpl(tryfirst=True)  # before -m and -k select: the severity markers are set here
    def pytest_collection_modifyitems(self, session, config, items):
        only, skip = _check_ids(config, "--check"), _check_ids(config, "--skip-check")
        gone = [i for i in items if isinstance(i, CheckItem) and ((only and i.check_id not in only)
                                                                     or i.check_id in skip)]
        if gone:
            config.hook.pytest_deselected(items=gone)
            dropped = set(map(id, gone))
            items[:] = [i for i in items if id(i) not in dropped]
        for item in items:
            if isinstance(item, CheckItem):
                item.add_marker(self.severity[item.check_id])  # -m high, -m "critical or high"
        # host by host (stable): each host's facts are parsed once and let go after its last check
        order = {id(it): n for n, it in enumerate(items)}
        items.sort(key=lambda it: (it.host_index if isinstance(it, CheckItem) else -1, order[id(it)]))

    def pytest_collection_finish(self, session):
        self._left = {}
        for it in session.items:
            if isinstance(it, CheckItem):
                self._left[it.host_index] = self._left.get(it.host_index, 0) + 1

    # ------------------------------------------------------------ each check on each host

    def evaluate(self, item: CheckItem) -> list[dict]:
        """The check of `item` on every object of its kind on its host: one result each."""
        h = self.facts_at(item.host_index)
        if not item.wants_target and not h.reachable:
            pytest.skip(f"{h.host} could not be read: see host-reachable")
        common = {"host_facts": h, "target": h, "limits": self.limits, "pytestconfig": self.config}
        subjects = [(h.host, ())] if item.kind is None else objects_of(item.kind, h)
        out = []
        sev = self.severity[item.check_id]
        for label, values in subjects:
            r = Result(check=item.check_id, host=h.host, object=label, outcome="passed", severity=sev,
                       test=result_test_id(item, label))
            args = dict(common)
            if item.kind:
                args.update(zip(KIND_ARGS[item.kind], values))
            try:
                with running(item.check_id):
                    item.call(args)
            except Finding as f:
                r.outcome = "failed"
                r.message, r.remediation, r.observed, r.limit = f.message, f.remediation, f.observed, f.limit
                r.fix_script = f.script
                r.fix_steps = [list(s) for s in f.steps]
            except pytest.skip.Exception as s:
                r.outcome = "skipped"
                r.message = str(s.msg)
            except AssertionError as e:
                r.outcome = "failed"
                r.message = str(e).split("\nassert ")[0].strip()
            except (KeyboardInterrupt, SystemExit, pytest.exit.Exception):
                raise
            except Exception as e:  # an Unreadable fact, or a bug in the check: that object's error
                r.outcome = "error"
                r.message = f"the check could not run: {type(e).__name__}: {' '.join(str(e).split())[:2000]}"
            self._apply_waiver(r)
            out.append(vars(r))
        return out

    def failure_text(self, item: CheckItem) -> str:
        """What the terminal shows for an item with findings: each finding's own text, no traceback."""
        parts = []
        for d in item.kvm_results:
            r = Result(**d)
            if r.outcome == "failed":
                c = CHECKS[r.check]
                parts.append(terminal.finding_text(r, c.rationale, c.guide))
            elif r.outcome == "error":
                parts.append(terminal.printable(f"[{r.severity}] {r.check} on {r.host}: {r.object}\n{r.message}"))
        return "\n\n".join(parts)

    def _apply_waiver(self, r: Result) -> None:
        g = self.gate
        if not g.waivers or r.outcome != "failed":
            return
        m = g.waivers.match(r.check, r.host, r.object, g.today)
        if m.applied:
            r.outcome = "waived"
            r.waiver = {"status": "applied", **m.applied.describe()}
        elif m.expired:
            r.waiver = {"status": "expired", **m.expired.describe()}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        if isinstance(item, CheckItem):
            rep.kvm_check_item = True  # (speedups: slimmed once every plugin has seen it)
            rep.kvm_host_index = item.host_index  # plain data: travels from xdist workers to the controller
            if rep.when == "call":
                rep.kvm_results = item.kvm_results

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        results = getattr(report, "kvm_results", None)
        if results and report.when == "call" and report.passed and any(d["outcome"] == "waived" for d in results):
            return "waived", "w", "WAIVED"
        return None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_logreport(self, report):
        yield
        results = getattr(report, "kvm_results", None)
        if results is not None:
            for d in results:
                r = Result(**d)
                self.stream.add(r)
                if r.outcome in FINDING:
                    self._html_row(r)
            report.kvm_results = []  # the stream has them; the report is kept by pytest to the end
        elif report.failed and not getattr(report, "kvm_synthetic", False):
            self.other_failures += 1
        html = self._html_plugin()
        if html is not None and report.when == "teardown":
            getattr(html, "_reports", {}).pop(report.nodeid, None)  # pytest-html keeps every report otherwise
        if report.when == "teardown" and not self.is_worker:
            self._item_done(report)

    def _item_done(self, report) -> None:
        i = getattr(report, "kvm_host_index", None)
        if i is None or i not in self._left:
            return
        self._left[i] -= 1
        if self._left[i] == 0:
            del self._left[i]
            self.digest(i)

    # ------------------------------------------------------------ pytest-html: one row per finding

    def _html_plugin(self):
        if not hasattr(self, "_html"):
            self._html = next((p for p in self.config.pluginmanager.get_plugins() if hasattr(p, "_report_path")),
                              None)
        return self._html

    def _html_row(self, r: Result) -> None:
        """A finding becomes its own row of pytest-html's table (the items' own rows are not drawn)."""
        html = self._html_plugin()
        if html is None:
            return
        from _pytest.reports import TestReport
        try:
            from pytest_html import extras
        except ImportError:
            return
        blocks = [extras.html(b) for b in html_report.finding_blocks(r, CHECKS.get(r.check))]
        outcome = {"failed": "failed", "error": "failed", "waived": "skipped"}[r.outcome]
        # the row's log is one line: the finding in full is its HTML above it (a fleet's page stays small)
        longrepr = f"[{r.severity}] {r.check} on {r.host}: {r.object}: {r.message}"
        location = (r.test.split("::", 1)[0], None, r.test)
        call = TestReport(r.test, location, {}, outcome, longrepr if outcome == "failed" else None, "call",
                          [], 0.0)
        if r.outcome == "waived":
            call.wasxfail = r.waiver.get("reason", "waived") if r.waiver else "waived"
        call.extras, call.kvm_result, call.kvm_synthetic = blocks, vars(r), True
        done = TestReport(r.test, location, {}, "passed", None, "teardown", [], 0.0)
        done.kvm_synthetic = True
        html.pytest_runtest_logreport(report=call)
        html.pytest_runtest_logreport(report=done)
        getattr(html, "_reports", {}).pop(r.test, None)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report):
        report.title = "kvm-netcheck compliance report"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells):
        html_report.table_header(cells)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report, cells):
        if getattr(report, "kvm_check_item", False):
            del cells[:]  # a check item's row: its findings have rows of their own, its passes are counted
            return
        html_report.table_row(report, cells, fleet.status_cell(
            getattr(report, "kvm_result", None), self.gate.fail_on, self.gate.allow_unreachable))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        if self.verdict is None:
            return
        s, g = self.stream, self.gate
        digests = self.all_digests()
        prefix.insert(0, html_report.static_findings_html(s.findings))
        prefix.append(fleet.fleet_html(
            s, digests, self.verdict, g.note(), self.waiver_usage, g.waivers.source,
            self.drift, g.baseline_path if g.baseline_path and self.drift is None else None, self.fix_scripts))
        stories = guests.stories_html([st for d in digests for st in d.stories])
        if stories:
            prefix.append(stories)
        unread = html_report.unread_html(digests)
        if unread:
            prefix.append(unread)
        html = self._html_plugin()
        if html is not None:
            _set_html_counts(html, s)

    # ------------------------------------------------------------ end of the run

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        # around pytest-html's own sessionfinish: the verdict before it writes its file (the file
        # carries it), the reports moved into place after (and before the terminal summary)
        self._finish(session)
        if self.stream is not None and not self.is_worker:
            self.quieted = terminal.quiet_pytest_lists(
                self.config, sum(1 for r in self.stream.findings if r.outcome in ("failed", "error")))
        try:
            return (yield)
        finally:
            self._publish_or_keep(session)

    def _finish(self, session) -> None:
        if self.is_worker or self.stream is None:
            return
        if self._shards is not None:
            self._merge_results()
        elif not self.gathered:
            return  # no check ran (e.g. the project's own tests)
        if self.checked_something(session) is not None:
            return  # nothing to judge: no verdict, no report (the previous ones stay)
        g, s = self.gate, self.stream
        digests = self.all_digests()
        self.verdict = decide(s.findings, g.fail_on, g.allow_unreachable, self.other_failures)
        matched: dict[str, int] = {}
        for r in s.findings:
            if r.waiver:
                matched[r.waiver["where"]] = matched.get(r.waiver["where"], 0) + 1
        self.waiver_usage = g.waivers.usage(matched, g.today)
        if g.baseline is not None:
            self.drift = compare(g.baseline, s.findings, s.now, digests,
                                 only=(lambda host: raw_store.in_shard(host, self.shard)) if self.shard else None)
        out = self.outputs
        if out is not None and out.fix_dir:
            staged = write_fix_scripts(
                out.at(out.fix_dir), s.findings, digests,
                f"the run of {datetime.datetime.now().isoformat(timespec='seconds')}")
            self.fix_scripts = {h: out.final_of(p) for h, p in staged.items()}
        # a run cut short (-x, --maxfail) did not check everything: pytest's own code stands
        if self._shards is not None or self.empty_shard or (session.exitstatus not in PYTEST_CODES_KEPT
                                                            and not (session.shouldfail or session.shouldstop)):
            session.exitstatus = self.verdict.exit_code
        self.exit_code = int(session.exitstatus)
        if out is None:
            return  # a pytest run of the checks without the suite's ini or an output option: no files
        sections = self._report_sections()
        write_results(self.results_path, [d.summary for d in digests], s.lines(),
                      {"max_port_block_s": self.limits.max_port_block_s}, sections)
        if out.junit:
            write_junit(out.at(out.junit), s, {
                "kvm-netcheck-gate": self.verdict.word, "kvm-netcheck-exit-code": str(self.exit_code),
                "kvm-netcheck-fail-on": g.fail_on, "kvm-netcheck-waived": str(len(self.verdict.waived))},
                time.monotonic() - self.started)
        if out.summary_md:
            write_summary_md(out.at(out.summary_md), s, digests, self.verdict, self.exit_code, out.html,
                             out.results)
        if out.prom:
            write_prom_textfile(out.at(out.prom), s, digests, self.verdict, self.exit_code,
                                time.monotonic() - self.started)
        if out.shard_meta:
            with open(out.at(out.shard_meta), "w", encoding="utf-8") as f:
                json.dump(shard_meta(self.shard, self.gate.fingerprint(self.severity, self.limits.max_port_block_s),
                                     digests, s), f)
        if self._worker_dir:
            shutil.rmtree(self._worker_dir, ignore_errors=True)

    def _merge_results(self) -> None:
        """The shards' results, host by host in the order one run over all of them would have made."""
        for line in self._shards.lines():
            r = Result(**json.loads(line))
            self.stream.add(r, line)
            if r.outcome in FINDING:
                self._html_row(r)

    def checked_something(self, session) -> Optional[str]:
        """None for a run whose reports should replace the last ones; else why not."""
        if self.config.option.collectonly:
            return "a collect-only run checks nothing"
        if self.empty_shard and session is not None and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            return None
        if self.stream is None or not self.stream.total:
            return "no check ran (nothing selected, no host, or the run stopped before)"
        if self._shards is not None:
            return None
        if session is None or session.exitstatus in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR,
                                                     pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED):
            return "the run did not end on its own"
        if session.shouldfail or session.shouldstop:
            return "the run was cut short (-x, --maxfail)"
        return None

    def _publish_or_keep(self, session) -> None:
        out = self.outputs
        if out is None or self.published is not None:
            return
        self.keep_reason = self.checked_something(session)
        if self.keep_reason is None and self.verdict is not None:
            out.publish(keep_in_dirs=lambda p: not (p.endswith(".sh") and is_ours(p)))
            self.published = True
            html = self._html_plugin()
            if html is not None and out.html:
                from pathlib import Path
                html._report_path = Path(os.path.abspath(out.html))
        else:
            out.discard()
            self.published = False
            html = self._html_plugin()
            if html is not None:
                self.config.pluginmanager.unregister(html)  # a report not written is not announced

    def _report_sections(self) -> dict[str, Any]:
        s, g = self.stream, self.gate
        out: dict[str, Any] = {
            "gate": {**self.verdict.as_dict(), "exit_code": self.exit_code, "policy_file": g.policy.path,
                     "severities": dict(g.policy.severities)},
            "counts": {o: s.counts.get(o, 0) for o in ("failed", "waived", "error", "passed", "skipped")},
            "waivers": {"file": g.waivers.source or None, "entries": self.waiver_usage},
            "fix_scripts": self.fix_scripts,
            # each check that has a result: its record and reference page (docs/checks/ID.md)
            "checks": {cid: {**check_record(CHECKS[cid]), "severity": self.severity[cid]}
                       for cid in sorted(s.checks & set(CHECKS))},
        }
        if self.shard:
            out["shard"] = {"k": self.shard[0], "n": self.shard[1]}
        if self._shards is not None:
            out["merged"] = self._shards.describe()
        if g.baseline_path:
            out["drift"] = self.drift.as_dict() if self.drift else {"baseline": g.baseline_path, "missing": True}
        return out

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if self.is_worker or self.stream is None or not (self.stream.total or self.gathered):
            return
        out = self.outputs
        digests = self.all_digests() if (self.verdict is not None or self._stubs) else []
        terminal.findings(terminalreporter, self.stream, digests,
                          out.results if out is not None and self.published else None, self.quieted)
        if out is not None and self.published is False:
            terminalreporter.write_line(f"kvm-netcheck: reports not written, the previous ones are kept: "
                                        f"{self.keep_reason}", yellow=True)
        terminal.guests(terminalreporter, [st for d in digests for st in d.stories])
        if self.verdict is None:
            return
        terminal.waivers(terminalreporter, self.verdict.waived, self.waiver_usage)
        if self.gate.baseline_path:
            terminal.drift(terminalreporter, self.drift, self.gate.baseline_path)
        terminal.gate(terminalreporter, self.verdict, self.gate.note(), self.fix_scripts)

    def pytest_unconfigure(self, config):
        if self.outputs is not None and self.published is None:
            self.outputs.discard()  # the session never finished (a usage error, a crash)
            self.published = False
        if self.gate.dated_copies and self.published:
            self._copy_dated()

    def _copy_dated(self) -> None:
        """Keep this run's reports in YYYY-MM-DD/ beside results.json (written last: HTML and JUnit are done)."""
        out = self.outputs
        dest = os.path.join(os.path.dirname(os.path.abspath(out.results)), self.gate.today.isoformat())
        os.makedirs(dest, exist_ok=True)
        for path in (out.results, out.html, out.junit, out.summary_md):
            if path and os.path.isfile(path):
                shutil.copy2(path, dest)
        assets = os.path.join(os.path.dirname(os.path.abspath(out.html)), "assets") if out.html else None
        if assets and os.path.isdir(assets):
            shutil.copytree(assets, os.path.join(dest, "assets"), dirs_exist_ok=True)
        if self.fix_scripts:
            fix_dest = os.path.join(dest, "fix")
            if os.path.isdir(fix_dest):
                shutil.rmtree(fix_dest)
            os.makedirs(fix_dest)
            for p in self.fix_scripts.values():
                shutil.copy2(p, fix_dest)


def _set_html_counts(html, stream: ResultStream) -> None:
    """pytest-html's outcome counts: every result's, not only those of the rows it draws."""
    outcomes = getattr(getattr(html, "_report", None), "_outcomes", None)
    if not isinstance(outcomes, dict):
        return
    want = {"passed": stream.counts.get("passed", 0), "failed": stream.counts.get("failed", 0),
            "skipped": stream.counts.get("skipped", 0), "error": stream.counts.get("error", 0),
            "xfailed": stream.counts.get("waived", 0)}
    for k, v in want.items():
        if k in outcomes and isinstance(outcomes[k], dict):
            outcomes[k]["value"] = v
    report = getattr(html, "_report", None)
    if report is not None and hasattr(report, "collected_items"):
        report.collected_items = stream.total
