"""The command line: what `kvm-netcheck` hands pytest, and that its help, man page and completion are
made from the same parsers."""

from __future__ import annotations

import argparse
import json
import types

import pytest

from kvmnetcheck import catalog
from kvmnetcheck.cli import main, pytest_args, suite_dirs
from kvmnetcheck.cli import options as cli_options
from kvmnetcheck.cli.manual import bash_completion, man_page, options_of
from kvmnetcheck.facts.conclusions.libvirt import libvirt_start, not_a_kvm_host
from kvmnetcheck.facts.model import NetStack
from kvmnetcheck.items import _check_ids
from kvmnetcheck.policy import find_policy
from kvmnetcheck.report.trend import findings_per_check, read_series, trend_svg


def _tail(argv):
    """What follows the ini, rootdir, warning filter and the checks' directories."""
    args = pytest_args(argv)
    n = len(suite_dirs())
    dirs_at = args.index(str(suite_dirs()[0]))
    return args[:dirs_at], args[dirs_at : dirs_at + n], args[dirs_at + n :]


def test_the_checks_directories_come_before_every_option_of_the_user():
    head, dirs, tail = _tail(["--hosts=ssh://a", "--list-checks"])
    assert dirs == [str(d) for d in suite_dirs()]
    assert tail == ["--hosts=ssh://a", "--list-checks=text"]  # no directory after an optional value
    assert "-c" in head and any(a.startswith("--rootdir=") for a in head)


def test_known_options_are_handed_on_with_their_value_attached_and_others_as_given():
    _, _, tail = _tail(
        ["--facts", "saved", "--check", "bridge-*", "-k", "br0", "--tb", "short", "-qq", "--", "--co", "x"]
    )
    assert tail == [
        "--facts=saved",
        "--check=bridge-*",
        "-k",
        "br0",
        "--quiet",
        "--quiet",
        "--tb",
        "short",
        "--co",
        "x",
    ]


def test_results_to_standard_output_sends_the_run_lines_to_stderr(monkeypatch, capsys):
    seen = {}

    def fake_main(args):
        import sys

        print("progress line")
        seen["args"] = args
        sys.__stdout__  # noqa: B018 (what publishing writes results.json to)
        return 0

    monkeypatch.setattr("pytest.main", fake_main)
    assert main(["--results-json=-", "--hosts=ssh://a"]) == 0
    out, err = capsys.readouterr()
    assert "progress line" in err and "progress line" not in out
    assert "--results-json=-" in seen["args"]


def test_version_names_pytest_testinfra_and_libvirt(capsys):
    assert main(["--version"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("kvm-netcheck ") and "pytest " in line and "pytest-testinfra " in line
    assert "libvirt-python " in line


def test_checks_and_show(capsys):
    assert main(["checks", "--format=json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)] == list(catalog.CHECKS)
    assert main(["show", "bridge-stp-root"]) == 0
    assert capsys.readouterr().out.startswith("# bridge-stp-root\n")
    assert main(["show", "bridge-stp-rot"]) == 2
    assert "did you mean bridge-stp-root" in capsys.readouterr().err


def test_help_fits_a_screen(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) <= 48 and "pytest.main()" not in out


def test_the_man_page_and_completion_name_every_option_of_every_parser():
    man, comp = man_page(), bash_completion()
    top = cli_options.command_parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices
    parsers = {name: (cli_options.run_parser() if name == "run" else p) for name, p in subs.items()}
    assert set(parsers) == set(cli_options.COMMANDS)
    for name, p in parsers.items():
        assert f"{name})" in comp, name
        for opt in options_of(p):
            assert opt.replace("-", "\\-") in man, (name, opt)
            assert opt in comp, (name, opt)
    for o in cli_options.RUN_OPTIONS:  # every option handed to pytest is one the parser reads
        assert set(o.flags) <= set(options_of(cli_options.run_parser())) or o.help.startswith("(hidden) ")


def test_the_command_knows_the_catalogs_severities():
    assert cli_options.SEVERITIES == catalog.SEVERITIES


def _config(**opts):
    return types.SimpleNamespace(getoption=lambda name: opts.get(name))


def test_check_selection_takes_waiver_patterns_and_suggests_the_nearest_id():
    assert _check_ids(_config(**{"--check": ["bridge-forward-delay"]}), "--check") == {"bridge-forward-delay"}
    bridges = _check_ids(_config(**{"--check": ["bridge-*,ovs-*"]}), "--check")
    assert bridges == {c for c in catalog.CHECKS if c.startswith(("bridge-", "ovs-"))}
    with pytest.raises(pytest.UsageError, match="did you mean bridge-stp-root"):
        _check_ids(_config(**{"--skip-check": ["bridge-stp-rot"]}), "--skip-check")
    with pytest.raises(pytest.UsageError, match="no check matches nothing-\\*"):
        _check_ids(_config(**{"--check": ["nothing-*"]}), "--check")


def test_policy_discovery_order(tmp_path):
    inv, cwd, etc = tmp_path / "inv", tmp_path / "cwd", tmp_path / "etc"
    for d in (inv, cwd, etc):
        d.mkdir()
    system = etc / "policy.yaml"
    assert find_policy([None], cwd=str(cwd), system=str(system)) is None
    system.write_text("fail_on: high\n")
    assert find_policy([None], cwd=str(cwd), system=str(system)) == str(system)
    (cwd / "kvmnetcheck.yaml").write_text("fail_on: high\n")
    assert find_policy([None], cwd=str(cwd), system=str(system)) == str(cwd / "kvmnetcheck.yaml")
    (inv / "hosts.ini").write_text("")
    (inv / "kvmnetcheck.yaml").write_text("fail_on: high\n")
    assert find_policy([str(inv / "hosts.ini")], cwd=str(cwd), system=str(system)) == str(inv / "kvmnetcheck.yaml")


@pytest.mark.parametrize(
    "ns, variant",
    [
        (NetStack(known=True, systemd=True, libvirt_units=frozenset({"libvirtd"})), "libvirtd"),
        (NetStack(known=True, systemd=True, libvirt_units=frozenset({"virtqemud", "virtnetworkd"})), "modular"),
        (  # both installed (Fedora, RHEL 9): the enabled ones tell
            NetStack(
                known=True,
                systemd=True,
                libvirt_units=frozenset({"libvirtd", "virtqemud", "virtnetworkd"}),
                libvirt_enabled=frozenset({"virtqemud", "virtnetworkd"}),
            ),
            "modular",
        ),
        (
            NetStack(
                known=True,
                systemd=True,
                libvirt_units=frozenset({"libvirtd", "virtqemud", "virtnetworkd"}),
                libvirt_enabled=frozenset({"libvirtd"}),
            ),
            "libvirtd",
        ),
        (  # both, neither enabled: not a guess
            NetStack(known=True, systemd=True, libvirt_units=frozenset({"libvirtd", "virtqemud", "virtnetworkd"})),
            None,
        ),
        (
            NetStack(known=True, systemd=False, libvirt_units=frozenset(), libvirt_initscripts=frozenset({"libvirtd"})),
            "sysv",
        ),
        (NetStack(known=True, systemd=False, libvirt_units=frozenset()), None),
        (NetStack(known=True, systemd=True, libvirt_units=None), None),  # saved by an older collector
    ],
)
def test_how_libvirt_is_started(ns, variant):
    start = libvirt_start(ns)
    assert start.variant == variant, start
    assert start.reason


def test_older_facts_say_how_libvirt_starts_is_unknown_not_a_guess():
    assert "older" in libvirt_start(NetStack(known=True, systemd=True)).reason


def test_trend_chart_draws_a_line_per_check(tmp_path):
    for day, outcomes in (("2026-01-01", ["failed", "failed"]), ("2026-01-02", ["failed", "passed"])):
        (tmp_path / day).mkdir()
        results = [{"check": "bridge-forward-delay", "outcome": o} for o in outcomes]
        (tmp_path / day / "results.json").write_text(json.dumps({"results": results}))
    (tmp_path / "2026-01-04").mkdir()
    (tmp_path / "2026-01-04" / "results.json").write_text("{not json")
    series = read_series(
        str(tmp_path), ("2026-01-03", findings_per_check([{"check": "ovs-bridge-stp", "outcome": "error"}]))
    )
    assert [d for d, _ in series] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    svg = trend_svg(series)
    assert (
        svg.count("<polyline") == 2
        and "<script" not in svg
        and "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert "bridge-forward-delay: 2 1 0" in svg and "ovs-bridge-stp: 0 0 1" in svg
    assert trend_svg(series[:1]) == ""  # one run: no movement to draw


def test_a_host_with_no_libvirt_and_no_bridge_is_no_kvm_host():
    from kvmnetcheck.facts.model import HostFacts, LibvirtView

    bare = HostFacts(host="web1", spec="ssh://web1")
    assert not_a_kvm_host(bare)
    assert not not_a_kvm_host(HostFacts(host="kvm1", spec="ssh://kvm1", libvirt_installed=True))
    assert not not_a_kvm_host(HostFacts(host="h", spec="ssh://h", error="ssh exited 255"))  # unknown: not said
    assert not not_a_kvm_host(HostFacts(host="h", spec="ssh://h", bridges_error="cut short"))
    files = LibvirtView("files", None, None, None, (), (), error=None)
    assert not not_a_kvm_host(HostFacts(host="h", spec="ssh://h", libvirt=files))


def test_trend_reads_only_the_head_of_a_dated_results_json(tmp_path):
    """A fleet's dated results.json weighs hundreds of MB: the trend takes findings_per_check from the
    sections ahead of the hosts and results, and never parses the rest (here it is not even JSON)."""
    from kvmnetcheck.report import trend
    from kvmnetcheck.report.results import write_results

    day = tmp_path / "2026-12-01"
    day.mkdir()
    path = str(day / "results.json")
    write_results(path, [{"host": "a"}], ['{"check": "x", "outcome": "failed"}'], {}, {"findings_per_check": {"x": 7}})
    with open(path, "a", encoding="utf-8") as f:
        f.write("not json" * 1000)  # anything past the head is never read
    old = tmp_path / "2026-12-02"
    old.mkdir()  # a copy from before findings_per_check: read whole, as it is small
    write_results(str(old / "results.json"), [], ['{"check": "y", "outcome": "error"}'], {}, {})
    assert trend.read_series(str(tmp_path), ("2026-12-03", {"x": 1})) == [
        ("2026-12-01", {"x": 7}),
        ("2026-12-02", {"y": 1}),
        ("2026-12-03", {"x": 1}),
    ]
