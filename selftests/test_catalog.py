"""The check set stays complete: ids, docs, one test function each, pass and fail scenarios, safe fixes."""
from __future__ import annotations

import ast
import glob
import os
import re

import pytest

from support import REPO
from kvmnetcheck.checks.catalog import CHECKS, SEVERITIES, render

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
SCENARIOS = os.path.join(REPO, "selftests", "scenarios")


def _check_functions() -> dict[str, list[tuple[str, ast.FunctionDef]]]:
    found: dict[str, list] = {}
    for path in glob.glob(os.path.join(REPO, "tests_host", "*.py")) + glob.glob(os.path.join(REPO, "tests_guest", "*.py")):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for d in node.decorator_list:
                    if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "check":
                        found.setdefault(d.args[0].value, []).append((path, node))
    return found


def test_ids_are_kebab_case_and_severities_known():
    assert len(CHECKS) >= 12
    for cid, c in CHECKS.items():
        assert cid == c.id and KEBAB.match(cid), cid
        assert c.severity in SEVERITIES, cid
        assert c.requirement.strip() and c.rationale.strip() and c.guide.strip() and c.remediation, cid


def test_every_check_is_exactly_one_documented_test_function():
    funcs = _check_functions()
    assert set(funcs) == set(CHECKS), set(funcs) ^ set(CHECKS)
    for cid, defs in funcs.items():
        assert len(defs) == 1, (cid, [p for p, _ in defs])
        path, fn = defs[0]
        assert fn.name.startswith("test_"), fn.name
        doc = ast.get_docstring(fn)
        assert doc and "\n" not in doc.strip(), f"{fn.name} needs a one-line docstring"


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_every_check_has_a_pass_and_a_fail_scenario(cid):
    d = os.path.join(SCENARIOS, cid)
    assert glob.glob(os.path.join(d, "*.pass")), f"{cid} has no .pass scenario"
    assert glob.glob(os.path.join(d, "*.fail")), f"{cid} has no .fail scenario"


def test_scenario_folders_name_known_checks():
    for d in glob.glob(os.path.join(SCENARIOS, "*", "")):
        assert os.path.basename(d.rstrip("/")) in CHECKS, d


@pytest.mark.parametrize("cid", sorted(CHECKS))
def test_remediation_quotes_hostile_names(cid):
    hostile = "b$(touch /tmp/pwned);x'\"<i>"
    fields = dict(bridge=hostile, network=hostile, guest=hostile, path="/etc/x " + hostile, zone=hostile,
                  service="dhcp", mac="52:54:00:00:00:01", target=hostile, host=hostile, connection=hostile,
                  rule_match=hostile, config_hint="hint", where=" somewhere", bridge_xml="<bridge/>",
                  reach="ssh host true")
    for variant in CHECKS[cid].remediation:
        text = render(cid, variant, **fields)
        for line in text.splitlines():
            if line.lstrip().startswith("#"):
                continue
            # outside comments, the name may only appear inside single quotes
            assert "$(touch" not in line.replace("'b$(touch /tmp/pwned);x'\"'\"'\"<i>'", ""), (variant, line)
