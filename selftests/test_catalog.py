"""The check set stays complete: every check has each of its pieces, and nothing is wired twice.

What a check needs (docs/ARCHITECTURE.md, "Add a check"): a catalog entry, exactly one test
function marked with its id whose docstring is the entry's requirement, remediation calls whose values
fill every placeholder, a fix phase for every scripted step, a pass and a fail scenario, and its row
in the README's generated table. A check's words are written once: in its catalog entry.
"""

from __future__ import annotations

import ast
import glob
import os
import re

import pytest
from support import REPO

from kvmnetcheck.catalog import CHECKS, PHASES, SEVERITIES, docs, placeholders, remedy, running

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
SCENARIOS = os.path.join(REPO, "selftests", "scenarios")
CHECK_DIRS = ("tests_host", "tests_guest")

# Bumped by hand with each new check: a check added or lost by accident fails here.
NUMBER_OF_CHECKS = 26


def _check_functions() -> dict[str, list[tuple[str, ast.FunctionDef]]]:
    found: dict[str, list] = {}
    for d in CHECK_DIRS:
        for path in glob.glob(os.path.join(REPO, d, "*.py")):
            tree = ast.parse(open(path).read())
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    for dec in node.decorator_list:
                        if isinstance(dec, ast.Call) and getattr(dec.func, "id", None) == "check":
                            found.setdefault(dec.args[0].value, []).append((path, node))
    return found


FUNCTIONS = _check_functions()


def test_the_number_of_checks():
    assert len(CHECKS) == NUMBER_OF_CHECKS, sorted(CHECKS)


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_catalog_entry_is_complete(cid):
    c = CHECKS[cid]
    assert cid == c.id and KEBAB.match(cid), cid
    assert c.severity in SEVERITIES
    for name in ("per", "requirement", "rationale", "fails_when"):
        assert getattr(c, name).strip(), f"{cid}: empty {name}"
    assert "\n" not in c.requirement and "\n" not in c.fails_when
    assert c.sources and all(s.strip() for s in c.sources), f"{cid}: no source"
    assert c.fixes, f"{cid}: no fix"
    for variant, fix in c.fixes.items():
        assert fix.text.strip(), (cid, variant)
        for step in fix.steps:
            assert step.phase in PHASES and step.script.strip(), (cid, variant, step)


def test_every_check_is_exactly_one_documented_test_function():
    assert set(FUNCTIONS) == set(CHECKS), set(FUNCTIONS) ^ set(CHECKS)
    for cid, defs in FUNCTIONS.items():
        assert len(defs) == 1, (cid, [p for p, _ in defs])
        path, fn = defs[0]
        assert fn.name.startswith("test_"), fn.name
        doc = ast.get_docstring(fn)
        assert doc and "\n" not in doc.strip(), f"{fn.name} needs a one-line docstring"


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_docstring_is_the_catalog_requirement(cid):
    """The catalog entry holds a check's words; the test function's docstring repeats its requirement exactly,
    so a reader of either sees the same sentence."""
    path, fn = FUNCTIONS[cid][0]
    assert ast.get_docstring(fn) == CHECKS[cid].requirement, (
        f"{os.path.relpath(path, REPO)}:{fn.name}: its docstring differs from the requirement in "
        f"kvmnetcheck/catalog/: {CHECKS[cid].requirement!r}"
    )


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_check_lives_beside_its_catalog_module(cid):
    """tests_host/test_bridges.py implements the checks of kvmnetcheck/catalog/bridges.py."""
    path, _ = FUNCTIONS[cid][0]
    area = os.path.basename(path).removeprefix("test_").removesuffix(".py")
    module = __import__(f"kvmnetcheck.catalog.{area}", fromlist=["CHECKS"])
    assert cid in {c.id for c in module.CHECKS}, (cid, path)


def _remedy_calls(fn: ast.FunctionDef):
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "remedy":
            yield node


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_remediation_gets_every_value_it_names(cid):
    """Each remedy() call (of the check it runs in: the run sets which) passes, by name, every placeholder
    of the fix it renders (of every fix it may render, when the variant is chosen at run time): a missing
    value is found here, not as a KeyError in a user's run."""
    _, fn = FUNCTIONS[cid][0]
    calls = list(_remedy_calls(fn))
    assert calls, f"{fn.name} renders no fix"
    used = set()
    for call in calls:
        assert len(call.args) == 1, f"{fn.name}: remedy() takes the variant alone, its check is the one running"
        assert all(k.arg is not None for k in call.keywords), f"{fn.name}: remedy(**values) hides the names"
        given = {k.arg for k in call.keywords}
        variant = call.args[0]
        variants = [variant.value] if isinstance(variant, ast.Constant) else list(CHECKS[cid].fixes)
        for v in variants:
            assert v in CHECKS[cid].fixes, f"{fn.name}: no fix variant {v!r}"
            fix = CHECKS[cid].fixes[v]
            needed = placeholders(fix.text).union(*(placeholders(s.script) for s in fix.steps))
            assert needed <= given, f"{fn.name}: fix {v!r} needs {sorted(needed - given)} (line {call.lineno})"
            used.add(v)
    assert used == set(CHECKS[cid].fixes), f"{cid}: fix variants never rendered: {set(CHECKS[cid].fixes) - used}"


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_every_check_has_a_pass_and_a_fail_scenario(cid):
    d = os.path.join(SCENARIOS, cid)
    assert glob.glob(os.path.join(d, "*.pass")), f"{cid} has no .pass scenario"
    assert glob.glob(os.path.join(d, "*.fail")), f"{cid} has no .fail scenario"


def test_scenario_folders_name_known_checks():
    for d in glob.glob(os.path.join(SCENARIOS, "*", "")):
        assert os.path.basename(d.rstrip("/")) in CHECKS, d


def test_readme_check_table_is_the_catalogs():
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    assert docs.with_table(readme) == readme, "README's check table is out of date: run `make docs`"
    for cid in CHECKS:
        assert f"| [`{cid}`](docs/checks/{cid}.md) |" in readme


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_remediation_quotes_hostile_names(cid):
    hostile = "b$(touch /tmp/pwned);x'\"<i>"
    fields = dict(
        bridge=hostile,
        network=hostile,
        guest=hostile,
        path="/etc/x " + hostile,
        keyfile_dir="/etc/d " + hostile,
        zone=hostile,
        service="dhcp",
        mac="52:54:00:00:00:01",
        target=hostile,
        host=hostile,
        connection=hostile,
        conn_by="id",
        rule_match=hostile,
        config_hint="hint",
        where=" somewhere",
        bridge_xml="<bridge/>",
        reach="ssh host true",
        loop="a loop is possible",
        chain="LIBVIRT_PRT",
        daemon="libvirtd",
        tap="vnet0",
        version="10.4.0",
        process=hostile,
        old_range=hostile,
        new_range=hostile,
        suggestion=hostile,
        file=hostile,
        root="/srv/" + hostile,
        element=hostile,
        emulator=hostile,
        rom=hostile,
        dirs=hostile,
        vid="10",
        dev=hostile,
        server=hostile,
        client=hostile,
        by=hostile,
        family="inet",
        table="filter",
        limit="15",
        forwarding="30 s",
        servers=hostile,
        detail=hostile,
    )
    for variant in CHECKS[cid].fixes:
        with running(cid):
            r = remedy(variant, **fields)
        for text in (r.text, r.script):
            for line in text.splitlines():
                if line.lstrip().startswith("#"):
                    continue
                # outside comments, the name may only appear inside single quotes
                assert "$(touch" not in _outside_single_quotes(line), (variant, line)


def _outside_single_quotes(line: str) -> str:
    """What the shell would expand in a line: everything but single-quoted text and escaped characters."""
    out, q, i = [], None, 0
    while i < len(line):
        c = line[i]
        if q == "'":
            q = None if c == "'" else q
        elif c == "\\":
            i += 1
        elif c == "'" and q is None:
            q = "'"
        elif c == '"':
            q = None if q == '"' else '"'
        else:
            out.append(c)
        i += 1
    return "".join(out)


def test_troubleshooting_order_names_every_check_once():
    from kvmnetcheck.catalog import TROUBLESHOOTING

    assert sorted(TROUBLESHOOTING) == sorted(CHECKS), set(TROUBLESHOOTING) ^ set(CHECKS)
    assert len(set(TROUBLESHOOTING)) == len(TROUBLESHOOTING)


def test_remedy_renders_the_fix_of_the_check_that_runs():
    with running("bridge-forward-delay"):
        unmanaged = remedy("unmanaged", bridge="br0")
        with running("ovs-bridge-stp"):  # a check run inside another: the inner one's fixes
            ovs = remedy("stp-off", bridge="br0")
        again = remedy("unmanaged", bridge="br0")
    assert "ip link set dev br0 type bridge stp_state 0" in unmanaged.script
    assert ovs.script == "ovs-vsctl set Bridge br0 stp_enable=false"
    assert again == unmanaged
    with pytest.raises(KeyError, match="no-such-check"):
        with running("no-such-check"):
            pass


def test_remedy_outside_a_running_check_says_so():
    with pytest.raises(RuntimeError, match="outside a running check"):
        remedy("default")


def _catalog_modules() -> dict[str, str]:
    return {
        os.path.basename(p)[:-3]: open(p).read()
        for p in sorted(glob.glob(os.path.join(REPO, "kvmnetcheck", "catalog", "*.py")))
    }


def _literals(source: str) -> list[list[str]]:
    """The lines of each string literal of a module, stripped."""
    return [
        [line.strip() for line in node.value.splitlines()]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_every_fix_step_is_defined_once():
    """Checks that run the same step share one Step (catalog/shared.py for steps of several modules)."""
    steps: dict[tuple, list] = {}
    for c in CHECKS.values():
        for fix in c.fixes.values():
            for s in fix.steps:
                same = steps.setdefault((s.phase, s.script, s.needs), [])
                if not any(s is other for other in same):
                    same.append(s)
    twice = [key for key, objects in steps.items() if len(objects) > 1]
    assert not twice, f"defined more than once, share one Step: {twice}"
    written = {}
    for name, source in _catalog_modules().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Step":
                key = ast.unparse(node)
                assert key not in written, f"{key} written in {written[key]} and {name}"
                written[key] = name


def test_fix_text_of_several_modules_is_written_once():
    """A step's script is written in one module (other modules' fix texts show `STEP.script`), and no
    three lines of fix text are written in two modules."""
    modules = _catalog_modules()
    scripts: dict[str, str] = {}
    for name, source in modules.items():
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "Step"
                and isinstance(node.args[1], ast.Constant)
            ):
                for line in node.args[1].value.splitlines():
                    scripts.setdefault(line.strip(), name)
    runs: dict[tuple, str] = {}
    for name, source in modules.items():
        for lines in _literals(source):
            for line in lines:
                home = scripts.get(line)
                assert home in (None, name) or not line, f"{name} writes {home}'s step again: {line!r}"
            for i in range(len(lines) - 2):
                run = tuple(lines[i : i + 3])
                if all(run):
                    assert runs.setdefault(run, name) == name, f"{name} and {runs[run]} both write: {run}"


# a tool that fails without its daemon (nmcli: "Could not create NMClient object"; firewall-cmd, also
# with --permanent: "FirewallD is not running"; virsh; ovs-vsctl: "database connection failed"; systemctl
# where systemd is not init) and the daemon a step calling it must name
_TOOL_DAEMON = {
    "nmcli": "NetworkManager",
    "firewall-cmd": "firewalld",
    "virsh": "libvirt",
    "ovs-vsctl": "ovsdb-server",
    "systemctl": "systemd",
}


def test_every_step_whose_tool_needs_a_daemon_names_it():
    """A step is scripted only where what it needs runs: so each step that calls such a tool says which
    (or is the way that works with that daemon stopped, like `nmcli --offline`)."""
    seen = 0
    for cid, c in CHECKS.items():
        for variant, fix in c.fixes.items():
            for step in fix.steps:
                for tool, daemon in _TOOL_DAEMON.items():
                    if not re.search(rf"(^|[\s;|&(]){re.escape(tool)}\s", step.script):
                        continue
                    seen += 1
                    offline = daemon in step.without and "--offline" in step.script
                    assert daemon in step.daemons or offline, (
                        f"{cid} fix {variant!r}: its step calls {tool} but does not name {daemon} in daemons=:\n"
                        + step.script
                    )
    assert seen >= 8, seen
