"""A fix script is code a person runs as root: no value from a host may leave its line or its quotes.

Every fix of every check is rendered with hostile names, put into a host's fix script the way a run
writes it, and the script is run by `sh` against stub commands that log their argv
(selftests/stubrun.py): only the commands the steps meant ran, each with the names as single,
exact arguments; nothing else ran, nothing was created, nothing was "not found".
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stubrun import expected_commands, run_script

from kvmnetcheck.catalog import CHECKS, DAEMONS, NEEDS_RUNNING, NEEDS_STOPPED, placeholders, remedy, running
from kvmnetcheck.catalog.fixtext import nm_selector
from kvmnetcheck.report.fixscripts import file_name, host_script, stays_on_its_lines, write_fix_scripts
from kvmnetcheck.report.results import Result
from kvmnetcheck.report.stream import HostDigest
from kvmnetcheck.text import unsafe

# placeholders whose values the suite makes itself (raw fragments, keywords, constants)
MADE = {
    "conn_by": "uuid",
    "chain": "LIBVIRT_PRT",
    "daemon": "libvirtd",
    "family": "inet",
    "version": "1.4.7",
    "mac": "52:54:00:00:00:01",
    "vid": "10",
    "service": "dhcp",
    "zone": "libvirt",
    "by": "a rule",
    "where": ": somewhere",
    "loop": "a loop",
    "reach": "ssh kvm01 true",
    "config_hint": "a hint",
    "bridge_xml": "<bridge name='b' stp='off'/>",
    "element": "<rom bar='off'/>",
    "root": "8000.1",
    "table": "t",
    "x": "x",
    "host": "kvm01",
    "tap": "vnet0",
    "limit": "4",
    "connection": "6a1f6a8e-0000-4000-8000-000000000001",
}

NEWLINE_NAMES = ["n2\ntouch PWNED #", "n3\rtouch PWNED", "n4\u2028x", "n5\x0btouch PWNED", "n6\x1b[31m"]
QUOTED_NAMES = ["b$(touch PWNED)", "b`touch PWNED`", "b;touch PWNED", "b'q", 'b"q', "b|touch PWNED", "a b"]
DASH_NAMES = ["--help", "-x"]


def _fix(check_id: str, variant: str, **values):
    """A fix as check `check_id` renders it when it runs."""
    with running(check_id):
        return remedy(variant, **values)


def _variants():
    for c in CHECKS.values():
        for variant, fix in c.fixes.items():
            yield c.id, variant, fix


def _render(check_id: str, variant: str, fix, name: str):
    names = placeholders(fix.text) | {n for s in fix.steps for n in placeholders(s.script)}
    values = {n: MADE.get(n, name) for n in names}
    if "conn_by" in names:
        values["connection"] = name
        values["conn_by"] = nm_selector(name)
    return _fix(check_id, variant, **values), values


def _result(check_id, obj, rem, host="kvm01") -> Result:
    return Result(
        check=check_id,
        host=host,
        object=obj,
        outcome="failed",
        severity="high",
        message=f"{check_id} fails on {obj}",
        remediation=rem.text,
        fix_script=rem.script,
        fix_steps=[list(s) for s in rem.steps],
    )


def _assert_only_meant(run, scripted_steps: list[str], names: list[str]) -> None:
    assert run.returncode == 0, run
    assert "not found" not in run.stderr, run.stderr
    assert run.created == [], run.created
    assert sorted(run.ran()) == sorted(expected_commands(scripted_steps)), (run.ran(), scripted_steps)
    for argv in run.ran():
        for arg in argv:
            for name in names:
                # a name is one whole argument, never cut, merged or spread over several
                if name in arg:
                    assert arg == name or arg.endswith("=" + name), (arg, name)


# every daemon a step may need running, or none of them: each step runs under one of the two
DAEMONS_UP = {d: True for d in DAEMONS}
DAEMONS_DOWN = {d: False for d in DAEMONS}


def _runs_with(needs, daemons: dict) -> bool:
    """Whether a step's daemon conditions hold under `daemons` (every tool taken as there)."""
    return all(
        daemons[n[len(NEEDS_RUNNING) :]] if n.startswith(NEEDS_RUNNING) else not daemons[n[len(NEEDS_STOPPED) :]]
        for n in needs
        if n.startswith((NEEDS_RUNNING, NEEDS_STOPPED))
    )


@pytest.mark.parametrize("daemons", [DAEMONS_UP, DAEMONS_DOWN], ids=["daemons-up", "daemons-down"])
@pytest.mark.parametrize("check_id,variant,fix", list(_variants()), ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("name", NEWLINE_NAMES + QUOTED_NAMES + DASH_NAMES)
def test_every_fix_runs_only_what_it_meant(check_id, variant, fix, name, daemons):
    rem, values = _render(check_id, variant, fix, name)
    r = _result(check_id, name, rem)
    script = host_script("kvm01", "kvm01", [r], "test", daemons=daemons)
    # nothing from the name spans a line: every line of the script is a comment, a fixed line of the
    # script's own, or a line of a step that parses on its own
    for line in script.split("\n"):
        assert "PWNED" not in line or line.startswith("#") or "'" in line or '"' in line, line
    run = run_script(script, hostname="kvm01")
    in_steps = any(values[n] == name for s in fix.steps for n in placeholders(s.script))
    if unsafe(name) and in_steps:
        assert rem.steps == () and run.ran() == [], (rem, run)
        assert "not scripted" in rem.text
    _assert_only_meant(run, [s for _, s, needs in rem.steps if _runs_with(needs, daemons)], [name])


def test_a_network_named_with_a_newline_runs_nothing():
    """The reviewer's case: `n2\\ntouch PWNED #` as a network, host and guest name."""
    name = "n2\ntouch PWNED #"
    rem = _fix("libvirt-network-stp-delay", "edit", network=name, bridge="virbr1", bridge_xml="<b/>", loop="")
    guest = _fix("guest-nic-dhcp-checksum", "default", guest=name, mac="52:54:00:00:00:01", network=name)
    results = [
        _result("libvirt-network-stp-delay", name, rem, host=name),
        _result("guest-nic-dhcp-checksum", f"{name}/52:54:00:00:00:01", guest, host=name),
    ]
    script = host_script(name, name, results, name)
    assert not [ln for ln in script.split("\n") if ln.startswith("touch")], script
    assert "n2\\x0atouch PWNED #" in script
    run = run_script(script, hostname=name)
    assert run.returncode == 2 and run.ran() == [] and "not found" not in run.stderr, run


def test_the_host_guard_quotes_the_host_name():
    """A kernel host name `k";touch PWNED;"` is compared and echoed as data, and a run on the wrong
    host stops before any fix."""
    rem = _fix("bridge-forward-delay", "unmanaged", bridge="br0")
    script = host_script("kvm01", 'k";touch PWNED;"', [_result("bridge-forward-delay", "br0", rem)], "test")
    wrong = run_script(script, hostname="other")
    assert wrong.returncode == 2 and wrong.ran() == [] and wrong.created == [], wrong
    assert (
        wrong.stderr.strip()
        == 'this script fixes k";touch PWNED;", not other (KVMNETCHECK_ANY_HOST=1 to run it anyway)'
    )
    right = run_script(script, hostname='k";touch PWNED;"')
    assert right.returncode == 0 and right.ran() == [
        ["ip", "link", "set", "dev", "br0", "type", "bridge", "stp_state", "0"]
    ], right


def test_script_names_are_unique_per_host(tmp_path):
    """kvm_01 and kvm~01 (and KVM~01) get a script each, and results point each host at its own."""
    rem = _fix("bridge-forward-delay", "unmanaged", bridge="br0")
    hosts = ["kvm_01", "kvm~01", "KVM~01", "kvm/01", "..", "kvm01.sh"]
    results = [_result("bridge-forward-delay", "br0", rem, host=h) for h in hosts]
    digests = [HostDigest(host=h, summary={"reachable": True}, hostname=h) for h in hosts]
    written = write_fix_scripts(str(tmp_path), results, digests, "test")
    assert set(written) == set(hosts)
    assert len({p.lower() for p in written.values()}) == len(hosts), written
    for h, path in written.items():
        assert os.path.dirname(path) == str(tmp_path)
        assert open(path).read().split("\n")[1].endswith(f"for {h}, made from test"), path
    assert os.path.basename(written["kvm_01"]) == "kvm_01.sh"  # a plain name stays as it is
    assert re.fullmatch(r"kvm_01-[0-9a-f]{8}\.sh", file_name("kvm~01"))


def test_names_that_look_like_options_come_after_double_dash():
    guest = _fix("guest-nic-dhcp-checksum", "default", guest="--help", mac="52:54:00:00:00:01", network="n")
    assert "virsh dumpxml --inactive -- --help" in guest.script
    run = run_script(guest.script)
    assert ["virsh", "dumpxml", "--inactive", "--", "--help"] in run.ran(), run
    # an NM profile id that nmcli would read as its option: no script, the person is told why
    nm = _fix(
        "bridge-persistent-config",
        "nmconnection",
        connection="--temporary",
        conn_by=nm_selector("--temporary"),
        path="/etc/x.nmconnection",
        keyfile_dir="/etc",
        bridge="br0",
        loop="",
    )
    assert nm.steps == () and "starts with '-'" in nm.text
    uuid = "6a1f6a8e-0000-4000-8000-000000000001"
    nm = _fix(
        "bridge-persistent-config",
        "nmconnection",
        connection=uuid,
        conn_by=nm_selector(uuid),
        path="/etc/x.nmconnection",
        keyfile_dir="/etc",
        bridge="br0",
        loop="",
    )
    assert nm.steps[0][1] == f"nmcli connection modify uuid {uuid} bridge.stp no"
    # an Open vSwitch bridge named like an option: ovs-vsctl has no `--` for a record, so no script
    ovs = _fix("ovs-bridge-stp", "stp-off", bridge="--help")
    assert ovs.steps == ()


def test_a_step_read_back_with_an_open_quote_is_not_scripted():
    """Steps from an older results.json or a shard are held to the same rule: a step whose quote
    spans a line break goes to a person as comments."""
    bad = "virsh net-edit 'n2\ntouch PWNED #'"
    assert not stays_on_its_lines(bad)
    assert stays_on_its_lines("f=$(mktemp) && virsh net-dumpxml --inactive -- n \\\n  | sed -e 's/a/b/' > \"$f\"")
    r = Result(
        check="libvirt-network-stp-delay",
        host="kvm01",
        object="n2",
        outcome="failed",
        severity="high",
        message="m",
        remediation="r",
        fix_script=bad,
        fix_steps=[["libvirt-definition", bad, ["virsh"]]],
    )
    script = host_script("kvm01", None, [r], "test")
    assert not [ln for ln in script.split("\n") if ln.startswith("touch")], script
    run = run_script(script)
    assert run.ran() == [] and run.returncode == 0, run


HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list("ab-$`;'\"|&<>(){}*?\\ \n\r\t\x0b\x1b\u2028\u202e#=/.")), min_size=1, max_size=12
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=HOSTILE_TEXT, which=st.integers(min_value=0))
def test_fuzzed_names_never_run_anything_unmeant(name, which):
    variants = list(_variants())
    check_id, variant, fix = variants[which % len(variants)]
    rem, _ = _render(check_id, variant, fix, name)
    daemons = DAEMONS_UP if which // len(variants) % 2 else DAEMONS_DOWN
    script = host_script(name, name, [_result(check_id, name, rem, host=name)], name, daemons=daemons)
    run = run_script(script, hostname=name)
    assert "not found" not in run.stderr and run.created == [], (script, run)
    if run.returncode == 2:  # the guard: a name it cannot compare as it is never matches
        assert run.ran() == [] and "this script fixes" in run.stderr, run
        assert unsafe(name)
    else:
        assert run.returncode == 0, run
        meant = [s for _, s, needs in rem.steps if _runs_with(needs, daemons)]
        assert sorted(run.ran()) == sorted(expected_commands(meant)), run
