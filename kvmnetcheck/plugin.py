"""The pytest plugin: the suite's options, and registration of the run object and its helpers.

Checks are plain test functions marked with @check(ID) (kvmnetcheck.catalog); the
parametrization in kvmnetcheck.objects gives each one test item per (check, host), the
evaluator (kvmnetcheck.evaluation) turns each call on an object into a Result, and the run
object (kvmnetcheck.run.KvmRun) hands each pytest hook to the part of the run that does it.
docs/ARCHITECTURE.md follows one fact through all of it.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import pytest

from . import objects
from .catalog import SEVERITIES
from .catalog.docs import list_checks
from .gate import DEFAULT_MAX_PORT_BLOCK_S
from .run import KvmRun
from .speedups import Speedups

RUN_PLUGIN = "kvm-netcheck-run"  # the name the run object is registered under


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("kvm-netcheck")
    g.addoption(
        "--max-port-block",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest a new bridge port may pass no traffic (2 x forward_delay with kernel STP); "
        f"default from the policy file, else ini max_port_block_s, else {DEFAULT_MAX_PORT_BLOCK_S:g}",
    )
    parser.addini(
        "max_port_block_s",
        "longest a new bridge port may stay blocked, in seconds",
        default=str(DEFAULT_MAX_PORT_BLOCK_S),
    )
    g.addoption(
        "--libvirt-uri",
        action="append",
        default=[],
        metavar="HOST=URI",
        help="libvirt URI to read HOST through (repeatable); URI 'none' uses virsh on the host only",
    )
    g.addoption(
        "--probe",
        action="store_true",
        default=False,
        help="also PROBE each bridge guests use (needs root on the host): a throwaway port joins it for "
        "up to a minute and asks for a DHCP offer and the first block of the boot file, as a PXE guest "
        "would (README: what the probe does to a host)",
    )
    g.addoption("--gather-workers", type=int, default=16, metavar="N", help="hosts gathered at once (default 16)")
    g.addoption(
        "--host-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="time one host may take to answer (default 300); a tenth of it bounds ssh's "
        "connection for libvirt and each command on the host",
    )
    g.addoption(
        "--output-dir",
        default=None,
        metavar="DIR",
        help="write every report into DIR: compliance.html, junit.xml, results.json, fix/ "
        "(default from ini output_dir, else reports)",
    )
    parser.addini("output_dir", "where the reports go", default="")
    parser.addini("kvm_netcheck_reports", "write the suite's reports (set in the suite's own ini)", default="false")
    g.addoption(
        "--results-json",
        default=None,
        metavar="PATH",
        help="where to write results.json (default: in the output directory)",
    )
    parser.addini("results_json", "where to write results.json", default="")
    g.addoption(
        "--summary-md",
        default=None,
        metavar="PATH",
        help="also write a Markdown summary of the run to PATH (a CI job summary)",
    )
    g.addoption(
        "--prom-textfile",
        default=None,
        metavar="PATH",
        help="also write the run's figures in Prometheus' text format to PATH (node_exporter's "
        "textfile collector reads *.prom)",
    )
    g.addoption(
        "--shard",
        default=None,
        metavar="K/N",
        help="check only slice K of N of the hosts (stable by host name); `kvm-netcheck merge` joins "
        "the slices' reports into one",
    )
    g.addoption(
        "--merge",
        action="append",
        default=[],
        metavar="DIR[,DIR]",
        help="join the reports of --shard runs (their output directories) into one run's reports; "
        "`kvm-netcheck merge DIR...` says the same",
    )
    g.addoption(
        "--check",
        action="append",
        default=[],
        metavar="ID[,ID]",
        help="run only these checks: ids or patterns such as bridge-* (repeatable; `kvm-netcheck checks` names them)",
    )
    g.addoption(
        "--skip-check",
        action="append",
        default=[],
        metavar="ID[,ID]",
        help="do not run these checks: ids or patterns (repeatable)",
    )
    g.addoption(
        "--list-checks",
        nargs="?",
        const="text",
        default=None,
        choices=("text", "json"),
        help="print every check (id, severity, one result per, requirement, reference page) as text or json, and exit",
    )
    g.addoption(
        "--save-facts",
        default=None,
        metavar="DIR",
        help="also write each host's raw gathered facts to DIR (for --facts later)",
    )
    g.addoption(
        "--facts", default=None, metavar="DIR", help="check the facts saved in DIR instead of reaching any host"
    )
    g.addoption(
        "--fail-on",
        choices=SEVERITIES,
        default=None,
        metavar="SEVERITY",
        help="lowest severity that fails the run: critical, high, medium or low "
        "(default from the policy file, else low: any failure); lower findings are still reported",
    )
    g.addoption(
        "--allow-unreachable",
        action="store_true",
        default=None,
        help="hosts that cannot be reached (and checks that cannot run) do not fail the run",
    )
    g.addoption(
        "--waivers",
        default=None,
        metavar="FILE",
        help="YAML file of waivers: check, host and object patterns, reason, expires (YYYY-MM-DD)",
    )
    g.addoption(
        "--policy",
        default=None,
        metavar="FILE",
        help="policy file (fail_on, allow_unreachable, max_port_block_s, severities, waivers); default: "
        "kvmnetcheck.yaml beside --ansible-inventory or --ssh-config, else ./kvmnetcheck.yaml, else "
        "/etc/kvm-netcheck/policy.yaml",
    )
    g.addoption(
        "--baseline",
        default=None,
        metavar="PATH",
        help="a previous results.json: report what is new, fixed and still failing since",
    )
    g.addoption(
        "--fix-scripts",
        default=None,
        metavar="DIR",
        help="where to write HOST.sh fix scripts (default: fix/ beside results.json; 'none': do not)",
    )
    g.addoption(
        "--docs-url",
        default=None,
        metavar="URL",
        help="link each finding to its check's reference page under URL (URL/CHECK-ID.md, e.g. where a "
        "team publishes docs/checks); default: the pages are embedded in the HTML report",
    )
    g.addoption(
        "--dated-copies",
        action="store_true",
        default=False,
        help="also keep this run's reports in YYYY-MM-DD/ beside results.json (for nightly runs)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config):
    fmt = config.getoption("--list-checks")
    if fmt:
        print(list_checks(fmt), end="")
        return 0
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(id): the compliance check a test implements")
    for sev in SEVERITIES:
        config.addinivalue_line("markers", f"{sev}: a check of severity {sev} in this run (select with -m {sev})")
    _refuse_path_taken_as_rootdir(config)
    run = KvmRun(config)  # a bad policy, waiver or baseline file stops the run here (exit 4)
    config.pluginmanager.register(run, RUN_PLUGIN)
    config.pluginmanager.register(objects, "kvm-netcheck-objects")
    config.pluginmanager.register(Speedups(), "kvm-netcheck-speedups")
    meta = _metadata(config)
    if meta is not None:
        _keep_safe_metadata(config, meta)
        meta["kvm-netcheck policy"] = f"max port block {run.limits.max_port_block_s:g} s"


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
