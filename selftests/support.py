"""Shared pieces of the project's own tests: paths, and running the suite as a user would."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)


@dataclass
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    results: dict
    html_path: str
    junit_path: str

    def result(self, check: str, host: str, obj: Optional[str] = None) -> Optional[dict]:
        for r in self.results.get("results", []):
            if r["check"] == check and r["host"] == host and (obj is None or r["object"] == obj):
                return r
        return None

    def for_host(self, host: str) -> list[dict]:
        return [r for r in self.results.get("results", []) if r["host"] == host]


def run_suite(out_dir: str, *args: str, timeout: float = 900) -> SuiteRun:
    """Run the compliance suite from the repository root, as `pytest` with the given options."""
    os.makedirs(out_dir, exist_ok=True)
    rj = os.path.join(out_dir, "results.json")
    html = os.path.join(out_dir, "compliance.html")
    junit = os.path.join(out_dir, "junit.xml")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--results-json={rj}",
           f"--html={html}", "--self-contained-html", f"--junitxml={junit}", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    results = {}
    if os.path.exists(rj):
        with open(rj) as f:
            results = json.load(f)
    return SuiteRun(p.returncode, p.stdout, p.stderr, results, html, junit)


def html_report_data(path: str) -> dict:
    """pytest-html keeps its results as a JSON blob in the page; return it decoded."""
    import html as _html
    import re

    text = open(path).read()
    m = re.search(r'data-jsonblob="([^"]*)"', text)
    assert m, "no data blob in the HTML report"
    return json.loads(_html.unescape(m.group(1)))
