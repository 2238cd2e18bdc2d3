"""The structure holds: layers import only downwards, no import circles, and the collector and the
parsers agree on every section kind (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import dataclasses
import glob
import os
import re

from support import REPO

from kvmnetcheck.facts.model import HostFacts
from kvmnetcheck.facts.sources import LEGACY_KINDS, LISTED_BEFORE, SOURCES

PACKAGE = os.path.join(REPO, "kvmnetcheck")
COLLECTOR = os.path.join(PACKAGE, "collect", "collector.sh")
PROBE = os.path.join(PACKAGE, "collect", "probe.py")

# layer -> the layers it may import (a layer is a top-level module or sub-package of kvmnetcheck;
# "kvmnetcheck" is the package root, which holds only the version)
ALLOWED = {
    "text": set(),  # cleaning text for each writer: every layer may use it
    "raw": set(),
    "facts": {"raw", "text"},
    "catalog": {"text"},
    "policy": {"catalog", "text"},
    "collect": {"kvmnetcheck", "raw", "text"},
    "report": {"kvmnetcheck", "raw", "facts", "catalog", "policy", "text"},
    "objects": {"catalog", "text"},
    # every contact with pytest's and pytest-html's internals: below everything that touches pytest
    "pytest_adapter": {"text"},
    "speedups": {"pytest_adapter", "text"},
    # the run's parts, each below the run object that hands them its hooks
    "gate": {"catalog", "policy", "report", "text"},
    "hosts": {"kvmnetcheck", "raw", "facts", "collect", "report", "pytest_adapter", "text"},
    "evaluation": {"catalog", "facts", "objects", "report", "gate", "text"},
    "items": {"catalog", "objects", "hosts", "evaluation", "text"},
    "views": {"catalog", "report", "gate", "hosts", "pytest_adapter", "text"},
    "publishing": {"catalog", "report", "gate", "hosts", "views", "pytest_adapter", "text"},
    "run": {
        "catalog",
        "objects",
        "report",
        "gate",
        "hosts",
        "evaluation",
        "items",
        "views",
        "publishing",
        "pytest_adapter",
        "text",
    },
    "plugin": {"run", "gate", "objects", "speedups", "catalog", "text"},
    "cli": {"kvmnetcheck", "catalog", "text"},  # the console script: runs pytest on the installed checks
    "suite": set(),  # where the checks are mapped at build time (only their ini lives here)
    "kvmnetcheck": set(),
}
# the checks themselves read facts and say what they found through the catalog
CHECKS_MAY_IMPORT = {"catalog", "facts"}

# inside facts: part -> what it may import besides itself. "wiring" is facts/__init__.py, sources.py and
# host.py: the table from section kind to parser to HostFacts field, and the builder that runs it.
FACTS_PARTS = {
    "model": set(),  # frozen dataclasses: nothing else of the package
    "parsers": {"model", "raw", "text"},  # text in, model out
    "conclusions": {"model", "parsers", "text"},  # over several facts; never parses a host's text
    "wiring": {"model", "parsers", "raw", "text"},
}
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 250


def _module_name(path: str) -> str:
    rel = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _imports(path: str) -> set[str]:
    """Every kvmnetcheck module the file imports (relative imports resolved)."""
    name = _module_name(path)
    package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "kvmnetcheck"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "kvmnetcheck":
                continue
            # `from . import x` names a module x when there is one
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if _exists(sub) else mod)
    return out


def _exists(module: str) -> bool:
    p = os.path.join(REPO, *module.split("."))
    return os.path.isfile(p + ".py") or os.path.isfile(os.path.join(p, "__init__.py"))


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "kvmnetcheck"


def _package_files() -> list[str]:
    return sorted(glob.glob(os.path.join(PACKAGE, "**", "*.py"), recursive=True))


def test_every_module_belongs_to_a_known_layer():
    assert {_layer(_module_name(p)) for p in _package_files()} <= set(ALLOWED)


def test_layers_import_only_downwards():
    wrong = []
    for path in _package_files():
        me = _layer(_module_name(path))
        for mod in _imports(path):
            other = _layer(mod)
            if other != me and other not in ALLOWED[me]:
                wrong.append(f"{os.path.relpath(path, REPO)} ({me}) imports {mod} ({other})")
    assert not wrong, "\n".join(wrong)


def _facts_part(module: str) -> str:
    """model, parsers, conclusions, or wiring (the rest of facts); the layer's name outside facts."""
    parts = module.split(".")
    if _layer(module) != "facts":
        return _layer(module)
    return parts[2] if len(parts) > 2 and parts[2] in ("model", "parsers", "conclusions") else "wiring"


def test_facts_parts_import_only_downwards():
    """The model imports nothing; parsers import the model (and raw); conclusions import the model and the
    parsers' types; only the wiring table brings parsers and fields together."""
    wrong = []
    for path in _package_files():
        name = _module_name(path)
        if _layer(name) != "facts":
            continue
        me = _facts_part(name)
        for mod in _imports(path):
            other = _facts_part(mod)
            if other != me and other not in FACTS_PARTS[me]:
                wrong.append(f"{os.path.relpath(path, REPO)} ({me}) imports {mod} ({other})")
    assert not wrong, "\n".join(wrong)


def test_the_model_is_frozen_dataclasses():
    """facts/model/ holds facts, nothing that acts: every class is a frozen dataclass (Unreadable, the error a
    check raises for a fact it lacks, aside)."""
    import kvmnetcheck.facts.model as model

    classes = [v for v in vars(model).values() if isinstance(v, type)]
    assert classes
    for cls in classes:
        if issubclass(cls, Exception):
            continue
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__


def test_modules_and_classes_stay_small():
    """A module a reader can take in: none of kvmnetcheck/ over MAX_MODULE_LINES lines, no class over
    MAX_CLASS_LINES (a class that grows past it is doing more than one job)."""
    big = []
    for path in _package_files():
        text = open(path).read()
        n = text.count("\n")
        if n > MAX_MODULE_LINES:
            big.append(f"{os.path.relpath(path, REPO)}: {n} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                big.append(
                    f"{os.path.relpath(path, REPO)}: class {node.name} {node.end_lineno - node.lineno + 1} lines"
                )
    assert not big, big


def test_checks_import_only_the_catalog_and_facts():
    wrong = []
    for path in glob.glob(os.path.join(REPO, "tests_*", "*.py")) + glob.glob(os.path.join(REPO, "fixtures", "*.py")):
        allowed = CHECKS_MAY_IMPORT | ({"objects"} if "fixtures" in path else set())
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kvmnetcheck"):
                if _layer(node.module) not in allowed:
                    wrong.append(f"{os.path.relpath(path, REPO)} imports {node.module}")
    assert not wrong, "\n".join(wrong)


def test_checks_raise_findings_not_asserts():
    """The suite runs with --assert=plain (pyproject.toml, kvmnetcheck/suite/pytest.ini): a check says
    what it found by raising a Finding with its fix, never by `assert`."""
    found = [
        f"{os.path.relpath(path, REPO)}:{node.lineno}"
        for path in glob.glob(os.path.join(REPO, "tests_*", "*.py"))
        for node in ast.walk(ast.parse(open(path).read()))
        if isinstance(node, ast.Assert)
    ]
    assert not found, found


def test_no_import_circles():
    graph = {_module_name(p): {m for m in _imports(p) if _exists(m)} for p in _package_files()}
    # a package's __init__ that gathers its own modules is not a circle with them
    for mod in graph:
        graph[mod] = {m for m in graph[mod] if not (mod.startswith(m + ".") and m + "." in mod + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert not cycles, cycles


# what only kvmnetcheck/pytest_adapter.py may use of pytest and pytest-html: their private modules and
# attributes, and plugins looked up by name
ADAPTER = os.path.join(PACKAGE, "pytest_adapter.py")
PYTEST_INTERNALS = re.compile(
    r"\b_pytest\b|[.'\"]_(reports|report_path|report|outcomes)\b|"
    r"\b_get_teardown_reports\b|\b_REPORTCHARS_DEFAULT\b|\.keywords\.node\b|"
    r"\bget_plugins?\(|\bgetplugin\("
)


def test_pytest_internals_are_touched_only_in_the_adapter():
    wrong = []
    for path in _package_files():
        if path == ADAPTER:
            continue
        for n, line in enumerate(open(path), 1):
            if PYTEST_INTERNALS.search(line):
                wrong.append(f"{os.path.relpath(path, REPO)}:{n}: {line.strip()}")
    assert not wrong, "pytest's or pytest-html's internals outside kvmnetcheck/pytest_adapter.py:\n" + "\n".join(wrong)


def collector_kinds() -> set[str]:
    """Section kinds collector.sh prints: `sec KIND`, `run KIND ...`, `capture KIND ...`, `show KIND ...` with a literal kind."""
    text = open(COLLECTOR).read()
    # comments start at a # that begins a word (not ${f##*/})
    code = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())
    printed = set(
        re.findall(
            r"(?:^|;|&&|\|\||\bthen|\bdo|\belse|\))\s*(?:sec|run|show|capture) ([a-z][a-z0-9_]*)\b", code, re.MULTILINE
        )
    )
    # and the probe's (collect/probe.py, --probe), printed by its section(nonce, "KIND", ...)
    return printed | set(re.findall(r'section\(nonce, "([a-z][a-z0-9_]*)"', open(PROBE).read()))


def test_every_section_the_collector_prints_is_parsed_and_every_parsed_one_printed():
    printed = collector_kinds()
    parsed = [k for s in SOURCES for k in s.kinds]
    assert len(parsed) == len(set(parsed)), "a kind is parsed by two rows of SOURCES"
    assert printed - set(parsed) == set(), f"printed by collector.sh, parsed by nothing: {printed - set(parsed)}"
    assert set(parsed) - printed == set(), f"in SOURCES, never printed by collector.sh: {set(parsed) - printed}"
    assert not printed & set(LEGACY_KINDS), "a legacy kind is still printed"


def test_a_listing_is_proven_ended_only_by_a_section_always_printed_after_it():
    """A cut output lacks what a listing never reached: sources.LISTED_BEFORE names, for each listing, a
    section collector.sh prints unconditionally (at the start of a line, outside any if or loop) after
    every place that prints the listing's kind."""
    code = [re.sub(r"(^|\s)#.*$", "", line) for line in open(COLLECTOR).read().splitlines()]
    for kind, after in LISTED_BEFORE.items():
        prints = [i for i, line in enumerate(code) if re.search(rf"\b(?:sec|run|show|capture) {kind}\b", line)]
        always = [i for i, line in enumerate(code) if re.match(rf"sec {after} ", line)]
        assert prints and len(always) == 1, (kind, after, prints, always)
        assert always[0] > max(prints), f"{after} is printed before the listing of {kind} ends"


def test_every_host_fact_has_exactly_one_source():
    filled = [f for s in SOURCES for f in s.fields]
    assert len(filled) == len(set(filled)), "a HostFacts field is filled by two rows"
    kept_apart = {"host", "spec", "error", "parse_errors", "unreadable"}  # set by the builder itself
    fields = {f.name for f in dataclasses.fields(HostFacts)} - kept_apart
    assert set(filled) == fields, set(filled) ^ fields


def test_every_path_architecture_names_exists():
    """docs/ARCHITECTURE.md stays true: each file or folder it names in backticks is there, and each
    `file.py:name` it points at is defined in that file."""
    text = open(os.path.join(REPO, "docs", "ARCHITECTURE.md")).read()
    missing = []
    for ref in sorted(set(re.findall(r"`((?:kvmnetcheck|tests_host|tests_guest|selftests|lab)/[^`\s|]*)`", text))):
        path, _, name = ref.partition(":")
        if re.search(r"AREA|/ID/|NAME\.|CHECK/", path):  # a pattern for a reader, not a file
            continue
        full = os.path.join(REPO, path)
        if not (os.path.exists(full) or glob.glob(full)):
            missing.append(ref)
        elif name and os.path.isfile(full):
            attr = name.split(".")[-1]
            if not re.search(
                rf"^\s*(?:def|class)\s+{re.escape(attr)}\b|^{re.escape(attr)}\s*=", open(full).read(), re.M
            ):
                missing.append(ref)
    assert not missing, f"docs/ARCHITECTURE.md names what is not there: {missing}"
