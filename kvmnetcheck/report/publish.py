"""Where a run's reports go, and the rule that keeps last night's evidence: a run writes every report
into a staging directory beside its final place, and only a run that checked something and ended on
its own moves them into place, each file with one rename. A run that checked nothing (collect-only,
no test selected, a usage error), was interrupted or cut short, or crashed, leaves the previous
reports exactly as they were.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Optional

DEFAULT_OUTPUT_DIR = "reports"
STAGING_PREFIX = ".kvm-netcheck-staging-"


@dataclass
class Outputs:
    """Final and staged paths of every report of one run (None: not written)."""

    results: str
    html: Optional[str]
    junit: Optional[str]
    fix_dir: Optional[str]
    summary_md: Optional[str] = None
    prom: Optional[str] = None
    spool: Optional[str] = None  # a shard's results, one JSON line each (what merge reads)
    shard_meta: Optional[str] = None  # a shard's slice, policy and host digests
    results_to_stdout: bool = False  # --results-json=-: results.json is written to standard output, not kept
    pages: Optional[str] = None  # hosts/ beside the HTML: a page per host with a finding
    staged: dict[str, str] = field(default_factory=dict)  # final path -> staged path
    _dirs: dict[str, str] = field(default_factory=dict)  # final directory -> its staging directory

    def stage(self) -> None:
        """Give every output a staged twin (the staging directory sits beside the final file, on its
        filesystem, so publishing is a rename)."""
        for final in (
            self.results,
            self.html,
            self.junit,
            self.fix_dir,
            self.summary_md,
            self.prom,
            self.spool,
            self.shard_meta,
            self.pages,
        ):
            if final:
                final = os.path.abspath(final)
                parent = os.path.dirname(final)
                if parent not in self._dirs:
                    os.makedirs(parent, exist_ok=True)
                    self._dirs[parent] = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent)
                self.staged[final] = os.path.join(self._dirs[parent], os.path.basename(final))

    def at(self, final: Optional[str]) -> Optional[str]:
        """Where to write `final` during the run."""
        if not final:
            return None
        return self.staged.get(os.path.abspath(final), final)

    def final_of(self, staged_path: str) -> str:
        """The final path of a file written under a staged output (e.g. a fix script)."""
        for final, staged in self.staged.items():
            if staged_path == staged or staged_path.startswith(staged + os.sep):
                return final + staged_path[len(staged) :]
        return staged_path

    def publish(self, keep_in_dirs: Optional[Callable[[str], bool]] = None) -> list[str]:
        """Move every staged output into place; returns the final paths published. A directory replaces
        the old one; files of the old one that `keep_in_dirs` says are not the suite's are carried over."""
        done = []
        for final, staged in self.staged.items():
            if self.results_to_stdout and final == os.path.abspath(self.results):
                _to_stdout(staged)
                done.append("-")
                continue
            if os.path.isdir(staged):
                if keep_in_dirs is not None and os.path.isdir(final):
                    for name in os.listdir(final):
                        old, new = os.path.join(final, name), os.path.join(staged, name)
                        if os.path.isfile(old) and not os.path.exists(new) and keep_in_dirs(old):
                            shutil.copy2(old, new)
                _replace_dir(staged, final)
            elif os.path.exists(staged):
                os.replace(staged, final)
            else:
                continue
            done.append(final)
        # pytest-html's assets/ beside a report that is not self-contained
        for parent, tmp in self._dirs.items():
            assets = os.path.join(tmp, "assets")
            if os.path.isdir(assets):
                _replace_dir(assets, os.path.join(parent, "assets"))
        self.discard()
        return done

    def discard(self) -> None:
        for tmp in self._dirs.values():
            shutil.rmtree(tmp, ignore_errors=True)
        self._dirs.clear()


def _to_stdout(path: str) -> None:
    """results.json on standard output (the process's own: `kvm-netcheck` sends the run's lines to stderr)."""
    out = sys.__stdout__
    if out is None or not os.path.exists(path):
        return
    out.flush()
    with open(path, "rb") as f:
        shutil.copyfileobj(f, out.buffer)
    out.flush()


def _replace_dir(new: str, final: str) -> None:
    """Put directory `new` at `final`: the old one is moved aside first and removed after."""
    old = None
    if os.path.isdir(final):
        old = tempfile.mkdtemp(prefix=STAGING_PREFIX + "old-", dir=os.path.dirname(final))
        os.rename(final, os.path.join(old, "was"))
    elif os.path.exists(final):
        os.unlink(final)
    os.rename(new, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)
