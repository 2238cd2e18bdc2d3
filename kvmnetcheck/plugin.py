"""The pytest plugin: options, the per-host fact store, and every report the suite writes.

Checks are plain test functions marked with @check(ID); each parametrized item
carries a `subject(host, object)` mark. This plugin turns each item's outcome
into a Result, replaces a failing check's traceback by its finding (observed
values, limit, fix), and writes results.json, JUnit properties, pytest-html
extras and a terminal summary grouped by host.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import html
import json
import os
import re
import sys
import time
from typing import Optional

import pytest

from .checks import CHECKS, Finding, Policy
from .checks.derive import Unreadable
from .collect import raw as raw_store
from .collect.gather import GatherOptions, facts_from_raw, gather_all
from .facts.model import HostFacts
from .report.results import Result, write_results

DEFAULT_MAX_PORT_BLOCK_S = 4.0  # kernel STP with the minimum forward delay (2 s), see DOMAIN.md s.6

RAWS = pytest.StashKey[list]()
FACTS = pytest.StashKey[list]()
RESULTS = pytest.StashKey[list]()
REPORT_SECTIONS = pytest.StashKey[dict]()  # more top-level parts of results.json (the gate's)
WORKER_FACTS_DIR = "kvmnetcheck_facts_dir"
_CONFIG: Optional[pytest.Config] = None  # logreport gets no config argument


# ---------------------------------------------------------------- options

def pytest_addoption(parser: pytest.Parser, pluginmanager) -> None:
    from . import gate

    if not pluginmanager.is_registered(gate):
        pluginmanager.register(gate, "kvmnetcheck-gate")
    g = parser.getgroup("kvm-netcheck")
    g.addoption("--max-port-block", type=float, default=None, metavar="SECONDS",
                help="longest a new bridge port may pass no traffic (2 x forward_delay with kernel STP); "
                     f"default from ini max_port_block_s, else {DEFAULT_MAX_PORT_BLOCK_S:g}")
    parser.addini("max_port_block_s", "longest a new bridge port may stay blocked, in seconds",
                  default=str(DEFAULT_MAX_PORT_BLOCK_S))
    g.addoption("--libvirt-uri", action="append", default=[], metavar="HOST=URI",
                help="libvirt URI to read HOST through (repeatable); URI 'none' uses virsh on the host only")
    g.addoption("--gather-workers", type=int, default=16, metavar="N",
                help="hosts gathered at once (default 16)")
    g.addoption("--host-timeout", type=float, default=300.0, metavar="SECONDS",
                help="time one host may take to answer (default 300)")
    g.addoption("--results-json", default=None, metavar="PATH",
                help="where to write results.json (default from ini results_json)")
    parser.addini("results_json", "where to write results.json", default="reports/results.json")
    g.addoption("--save-facts", default=None, metavar="DIR",
                help="also write each host's raw gathered facts to DIR (for --facts later)")
    g.addoption("--facts", default=None, metavar="DIR",
                help="check the facts saved in DIR instead of reaching any host")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id): the compliance check a test implements")
    config.addinivalue_line("markers", "subject(host, object): the host and object one result is about")
    _refuse_path_taken_as_rootdir(config)
    config.stash[RESULTS] = []
    global _CONFIG
    _CONFIG = config
    meta = _metadata(config)
    if meta is not None:
        _keep_safe_metadata(config, meta)
        meta["kvm-netcheck policy"] = f"max port block {policy_of(config).max_port_block_s:g} s"


def _refuse_path_taken_as_rootdir(config) -> None:
    # pytest picks its rootdir before plugin options are known, so `--facts DIR` (with a space)
    # makes DIR the rootdir and collects the wrong tests; only `--facts=DIR` is safe
    for opt in ("--facts", "--save-facts"):
        value = config.getoption(opt)
        if value and config.inipath is None and os.path.realpath(value) == os.path.realpath(config.rootpath):
            raise pytest.UsageError(f"pytest took {value} for the directory to test: write {opt}={value}")


_METADATA_KEPT = ("Python", "Platform", "Packages", "Plugins")


def _keep_safe_metadata(config, meta: dict) -> None:
    """The HTML report's environment table shows pytest-metadata's dict, which copies CI variables
    (GIT_URL, BUILD_URL... may carry credentials): keep what describes the run, the suite's own
    entries and what the user passed with --metadata*, nothing else."""
    given = {k for k, _ in (config.getoption("metadata", None) or [])}
    try:
        given |= set(json.loads(config.getoption("metadata_from_json", None) or "{}"))
        path = config.getoption("metadata_from_json_file", None)
        if path:
            with open(path) as f:
                given |= set(json.load(f))
    except (OSError, ValueError, TypeError):
        pass
    for key in [k for k in meta if k not in _METADATA_KEPT and not k.startswith("kvm-netcheck") and k not in given]:
        del meta[key]


def _metadata(config) -> Optional[dict]:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def policy_of(config: pytest.Config) -> Policy:
    v = config.getoption("--max-port-block")
    if v is None:
        raw = config.getini("max_port_block_s")
        try:
            v = float(raw)
        except ValueError:
            raise pytest.UsageError(f"ini max_port_block_s = {raw!r} is not a number of seconds") from None
    if v < 0:
        raise pytest.UsageError("--max-port-block must not be negative")
    return Policy(max_port_block_s=v)


def gather_options(config: pytest.Config) -> GatherOptions:
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
    )


def host_specs(config: pytest.Config) -> list[Optional[str]]:
    hosts = getattr(config.option, "hosts", None)
    if not hosts:
        return [None]  # testinfra's local://
    return [h.strip() for h in hosts.split(",") if h.strip()]


def raws_for(config: pytest.Config) -> list:
    """Every host's raw facts, gathered (or loaded) once for the whole run."""
    if RAWS in config.stash:
        return config.stash[RAWS]
    tr = config.pluginmanager.get_plugin("terminalreporter")
    worker_dir = getattr(config, "workerinput", {}).get(WORKER_FACTS_DIR)
    source = worker_dir or config.getoption("--facts")
    started = time.monotonic()
    if source:
        try:
            raws = raw_store.load(source)
        except raw_store.FactsFormatError as e:
            raise pytest.UsageError(str(e)) from None
    else:
        def progress(done, total, name):
            if tr is not None and total > 1 and tr.isatty():  # sys.stdout is pytest's capture here
                with _uncaptured(config):
                    tr.write(f"\rgathering facts: {done}/{total} hosts, {time.monotonic() - started:.0f} s",
                             flush=True)

        raws = gather_all(host_specs(config), gather_options(config), progress)
        save_dir = config.getoption("--save-facts")
        if save_dir:
            raw_store.save(save_dir, raws)
    config.stash[RAWS] = raws
    if tr is not None and not worker_dir:
        bad = sum(1 for r in raws if r.error)
        verb = f"loaded from {source}" if source else "gathered"
        with _uncaptured(config):
            tr.write_line(f"\nkvm-netcheck: {len(raws)} host(s) {verb} in {time.monotonic() - started:.1f} s"
                          + (f", {bad} unreachable" if bad else ""))
    return raws


def _uncaptured(config):
    """Facts are gathered during collection, while pytest captures output: write past it."""
    capman = config.pluginmanager.get_plugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()


def facts_for(config: pytest.Config) -> list[HostFacts]:
    """Every host's parsed facts (parsed once per process)."""
    if FACTS not in config.stash:
        raws = raws_for(config)
        config.stash[FACTS] = [facts_from_raw(r) for r in raws]
        # parsed: keep which hosts were read, not their text (tens of MB over a fleet)
        config.stash[RAWS] = [dataclasses.replace(r, output="", libvirt=None) for r in raws]
    return config.stash[FACTS]


def pytest_sessionstart(session):
    config = session.config
    _index_teardown_reports(config.pluginmanager.get_plugin("terminalreporter"))
    if config.getoption("--facts") and not hasattr(config, "workerinput"):
        raws_for(config)  # a directory this version cannot read stops the run here, in one line


def _index_teardown_reports(tr) -> None:
    """pytest's failure summary finds each failure's teardown report by scanning every passed
    report: with thousands of findings among 150,000 reports that takes minutes. Same answer,
    from an index built once."""
    if tr is None or not callable(getattr(tr, "_get_teardown_reports", None)):
        return
    index: dict = {}
    seen = [-1]

    def teardown_reports(node_id):
        if seen[0] != len(tr.stats.get("", ())):  # built again only if reports came meanwhile
            index.clear()
            for rep in tr.getreports(""):
                if rep.when == "teardown":
                    index.setdefault(rep.id, []).append(rep)
            seen[0] = len(tr.stats.get("", ()))
        return index.get(node_id, [])

    tr._get_teardown_reports = teardown_reports


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """pytest-xdist: the controller gathers once and hands the saved facts to every worker."""
    config = node.config
    raws = raws_for(config)
    if not hasattr(config, "_kvmnetcheck_worker_dir"):
        import tempfile

        d = tempfile.mkdtemp(prefix="kvmnetcheck-facts-")
        raw_store.save(d, raws)
        config._kvmnetcheck_worker_dir = d
    node.workerinput[WORKER_FACTS_DIR] = config._kvmnetcheck_worker_dir


# ---------------------------------------------------------------- results

def _check_id(item) -> Optional[str]:
    m = item.get_closest_marker("check")
    return m.args[0] if m and m.args else None


def _subject(item) -> tuple[str, str]:
    m = item.get_closest_marker("subject")
    if m and len(m.args) == 2:
        return m.args[0], m.args[1]
    return "", ""


def pytest_collection_modifyitems(session, config, items):
    shared: dict[tuple, tuple] = {}
    for item in items:
        cid = _check_id(item)
        if cid is None:
            continue
        host, obj = _subject(item)
        props = [("check", cid), ("host", host), ("object", obj), ("severity", CHECKS[cid].severity)]
        item.user_properties.extend(shared.setdefault(p, p) for p in props)  # one tuple per value


_GC_THRESHOLDS = pytest.StashKey[tuple]()


def pytest_collection_finish(session):
    # Items, facts and every report live until the end: a full collection walks all of them,
    # and the run triggers one each time they grow by a quarter (seconds over a fleet). Young
    # garbage is still collected; what reaches the oldest generation waits for the end.
    config = session.config
    config.stash[_GC_THRESHOLDS] = gc.get_threshold()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1000)


def pytest_unconfigure(config):
    if _GC_THRESHOLDS in config.stash:
        gc.set_threshold(*config.stash[_GC_THRESHOLDS])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    replaced = (call.when == "call" and isinstance(getattr(call.excinfo, "value", None), (Finding, Unreadable))
                and _check_id(item) is not None)
    if replaced:
        # pytest formats a traceback that is replaced below: let it make the cheap (native) one;
        # its default style parses the test's source for every failure, minutes over a fleet
        opt = item.config.option
        style, opt.tbstyle = getattr(opt, "tbstyle", "auto"), "native"
    try:
        outcome = yield
    finally:
        if replaced:
            opt.tbstyle = style
    rep = outcome.get_result()
    cid = _check_id(item)
    if cid is None:
        return
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        result = _result(item, call, rep, cid)
        # plain data: travels from xdist workers to the controller (the fields are plain values
        # already; asdict's deep copy costs seconds over 50,000 results)
        rep.kvm_result = vars(result)
        exc = getattr(call.excinfo, "value", None)
        if result.outcome == "failed" and isinstance(exc, Finding):
            rep.longrepr = _finding_text(result)
        elif result.outcome == "error" and isinstance(exc, Unreadable):
            # a fact missing on the host, not a bug in the check: what is missing, no traceback
            rep.longrepr = _printable(f"[{result.severity}] {result.check} on {result.host}: {result.object}\n"
                                      f"{result.message}")
        _html_extras(rep, result)


def pytest_runtest_logreport(report):
    d = getattr(report, "kvm_result", None)
    if d is not None and _CONFIG is not None:
        r = Result(**d)
        _CONFIG.stash[RESULTS].append(r)
        report.kvm_result = vars(r)  # one dict for the report and its Result


def _result(item, call, rep, cid: str) -> Result:
    host, obj = _subject(item)
    r = Result(check=cid, host=host, object=obj, outcome="passed", severity=CHECKS[cid].severity,
               test=item.nodeid)
    exc = call.excinfo.value if call.excinfo is not None else None
    if rep.skipped:
        r.outcome = "skipped"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        r.message = reason.removeprefix("Skipped: ")
    elif isinstance(exc, Finding):
        r.outcome = "failed"
        r.message, r.remediation, r.observed, r.limit = exc.message, exc.remediation, exc.observed, exc.limit
        r.fix_script = exc.script
    elif rep.failed and isinstance(exc, AssertionError) and rep.when == "call":
        r.outcome = "failed"
        r.message = str(exc).split("\nassert ")[0].strip()
    elif rep.failed:
        r.outcome = "error"
        r.message = f"the check could not run: {type(exc).__name__}: {exc}" if exc else str(rep.longrepr)[-500:]
    return r


def _finding_text(r: Result) -> str:
    c = CHECKS[r.check]
    lines = [f"[{r.severity}] {r.check} on {r.host}: {r.object}", r.message]
    if r.limit:
        lines.append(f"limit: {r.limit}")
    lines.append(f"why: {c.rationale}")
    lines.append(f"source: {c.guide}")
    lines.append("fix:")
    lines += ["    " + ln for ln in r.remediation.splitlines()]
    return "\n".join(_printable(ln) for ln in lines)


def _html_extras(rep, r: Result) -> None:
    if r.outcome not in ("failed", "error", "skipped"):
        return
    try:
        from pytest_html import extras
    except ImportError:
        return
    e = html.escape
    c = CHECKS[r.check]
    parts = [f'<div class="kvm-finding" data-check="{e(r.check)}">',
             f"<p><b>[{e(r.severity)}] {e(r.check)}</b> on <b>{e(r.host)}</b>: {e(r.object)}</p>",
             f"<p>{e(r.message)}</p>"]
    if r.outcome == "failed":
        if r.observed:
            parts.append("<table class='kvm-observed'>" + "".join(
                f"<tr><th>{e(str(k))}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in r.observed.items())
                + "</table>")
        if r.limit:
            parts.append(f"<p><b>Limit:</b> {e(r.limit)}</p>")
        parts.append(f"<p><b>Why:</b> {e(c.rationale)}</p>")
        parts.append(f"<p><b>Source:</b> {e(c.guide)}</p>")
        parts.append(f"<p><b>Fix:</b></p><pre class='kvm-remediation'>{e(r.remediation)}</pre>")
    parts.append("</div>")
    rep.extras = getattr(rep, "extras", []) + [extras.html("".join(parts))]


def pytest_html_report_title(report):
    report.title = "kvm-netcheck compliance report"


def pytest_html_results_table_header(cells):
    cells.insert(1, '<th class="sortable" data-column-type="severity">Severity</th>')
    cells.insert(1, '<th class="sortable" data-column-type="object">Object</th>')
    cells.insert(1, '<th class="sortable" data-column-type="host">Host</th>')
    cells.insert(1, '<th class="sortable" data-column-type="check">Check</th>')


def pytest_html_results_table_row(report, cells):
    r = getattr(report, "kvm_result", None)
    vals = (r["check"], r["host"], r["object"], r["severity"]) if r else ("", "", "", "")
    for v, col in reversed(list(zip(vals, ("check", "host", "object", "severity")))):
        cells.insert(1, f'<td class="col-{col}">{html.escape(v)}</td>')
    # pytest-html writes the test id into its row unescaped, and ids carry names read from hosts
    for i, cell in enumerate(cells):
        if cell.startswith('<td class="col-testId">'):
            test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
            cells[i] = f'<td class="col-testId">{html.escape(test_id)}</td>'


def pytest_html_results_summary(prefix, summary, postfix, session):
    """What could not be parsed has no result of its own: name it at the top of the report."""
    config = session.config
    if RAWS not in config.stash:
        return
    unread = [(f.host, p) for f in facts_for(config) for p in f.parse_errors]
    if unread:
        prefix.append("<div class='kvm-unread'><p><b>Facts that could not be read</b> (no check saw them):</p><ul>"
                      + "".join(f"<li>{html.escape(h)}: {html.escape(p)}</li>" for h, p in unread) + "</ul></div>")


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """Control characters shown as \\xNN: names from a host may carry terminal escape sequences."""
    return "\n".join(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", ln) for ln in text.split("\n"))


class _PrintableTerminal:
    """Lines with control characters written escaped: names from a host may carry terminal escapes."""

    def __init__(self, tr):
        self._tr = tr

    def write_line(self, line: str, **markup) -> None:
        self._tr.write_line(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line), **markup)

    def __getattr__(self, name):
        return getattr(self._tr, name)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results: list[Result] = config.stash.get(RESULTS, [])
    facts: list[HostFacts] = config.stash.get(FACTS, [])
    if not results and not facts:
        return
    tr = _PrintableTerminal(terminalreporter)
    tr.section("kvm-netcheck findings")
    failed = [r for r in results if r.outcome in ("failed", "error")]
    order = {s: i for i, s in enumerate(("critical", "high", "medium", "low"))}
    by_host: dict[str, list[Result]] = {}
    for r in failed:
        by_host.setdefault(r.host, []).append(r)
    for host in sorted(by_host):
        tr.write_line(f"{host}:", bold=True)
        for r in sorted(by_host[host], key=lambda r: (order.get(r.severity, 9), r.check, r.object)):
            tag = "ERROR" if r.outcome == "error" else "FAIL"
            tr.write_line(f"  {tag} [{r.severity}] {r.check} {r.object}: {r.message}", red=True)
            for ln in r.remediation.splitlines():
                tr.write_line(f"      {ln}")
    counts = {o: sum(1 for r in results if r.outcome == o) for o in ("passed", "failed", "skipped", "error")}
    tr.write_line(f"hosts: {len(facts)} ({sum(1 for f in facts if not f.reachable)} unreachable); "
                  + ", ".join(f"{n} {o}" for o, n in counts.items()))
    for f in facts:
        if f.reachable:
            src = f.libvirt.source if f.libvirt.source != "none" else f"none ({f.libvirt.error})"
            tr.write_line(f"  {f.host}: libvirt read through {src}")
            for problem in f.parse_errors:
                tr.write_line(f"  {f.host}: could not read: {problem}", yellow=True)
    path = _results_path(config)
    if path:
        tr.write_line(f"results: {path}")


def _results_path(config) -> str:
    return config.getoption("--results-json") or config.getini("results_json")


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput"):
        return
    if RAWS not in config.stash and not config.stash.get(RESULTS, []):
        return
    facts_for(config)
    d = getattr(config, "_kvmnetcheck_worker_dir", None)
    if d:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    write_results(_results_path(config), config.stash.get(FACTS, []), config.stash.get(RESULTS, []),
                  {"max_port_block_s": policy_of(config).max_port_block_s}, config.stash.get(REPORT_SECTIONS, None))
