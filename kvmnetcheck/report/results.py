"""One Result per (check, host, object), and results.json."""

from __future__ import annotations

import datetime
import gzip
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .. import __version__
from ..facts.model import HostFacts
from ..raw import public_uri

OUTCOMES = ("passed", "failed", "skipped", "error", "waived")
# results.json's layout (report/results.schema.json describes it): bump when a field changes meaning or
# goes; adding a field keeps the number
SCHEMA_VERSION = 1


@dataclass
class Result:
    check: str
    host: str
    object: str
    outcome: str
    severity: str
    message: str = ""
    remediation: str = ""
    fix_script: str = ""  # the remediation as commands needing no editor, where that is safe
    fix_steps: list = field(default_factory=list)  # the same as [phase, commands] pairs, for fix scripts
    observed: dict[str, Any] = field(default_factory=dict)
    limit: Optional[str] = None
    test: str = ""
    waiver: Optional[dict[str, Any]] = None  # the waiver entry that applied (outcome waived) or had expired

    # a Result is a dict only where it is written or read as JSON: the spool, results.json, shard files
    # and pytest-xdist's wire
    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Result":
        return cls(**d)


def host_summary(f: HostFacts) -> dict[str, Any]:
    v = f.libvirt
    return {
        "host": f.host,
        "spec": f.spec,
        "reachable": f.reachable,
        "error": f.error,
        "hostname": f.hostname,
        "libvirt_source": v.source if f.reachable else None,
        "libvirt_uri": public_uri(v.uri) if f.reachable else None,
        "libvirt_version": ".".join(map(str, v.libvirt_version)) if v.libvirt_version else None,
        "libvirt_error": v.error if f.reachable and v.source == "none" else None,
        # read through virsh or the state files: why not through libvirt-python (and virsh)
        "libvirt_fallback": v.fallback if f.reachable else None,
        "notes": list(v.notes) + list(f.parse_errors),
        "counts": {
            "bridges": len(f.bridges),
            "networks": len(v.networks),
            "guests": len(v.guests),
            "nics": sum(len(g.nics) for g in v.guests),
        },
    }


def open_text(path: str, gz: bool):
    """A text file to write; gzip-compressed when the user named a .gz file (--results-json=FILE.gz)."""
    if gz:
        return gzip.open(path, "wt", encoding="utf-8", compresslevel=6)
    return open(path, "w", encoding="utf-8")


def write_results(
    path: str,
    hosts: Iterable[dict[str, Any]],
    result_lines: Iterable[str],
    policy: dict[str, Any],
    sections: Optional[dict[str, Any]] = None,
) -> None:
    """Write results.json from host summaries and results' JSON lines (streamed from the spool, never
    all held at once); `sections` adds top-level parts (gate, waivers, drift, fix scripts)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    head = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "kvm-netcheck", "version": __version__},
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "policy": policy,
        **(sections or {}),
        "hosts": list(hosts),
    }
    tmp = path + ".tmp"
    with open_text(tmp, path.endswith(".gz")) as f:
        # the head streamed as it is encoded (a fleet's host summaries made into one string, and the
        # encoder's list of pieces before it, were the largest thing a merge held); the object's
        # closing "\n}" is held back: it comes after the results
        held = ""
        for piece in json.JSONEncoder(indent=1, default=str).iterencode(head):
            held += piece
            if len(held) > 1 << 16:
                f.write(held[:-8])
                held = held[-8:]
        if not held.endswith("\n}"):
            raise ValueError("results.json's head did not end as a JSON object does")
        f.write(held[:-2] + ',\n "results": [')
        first = True
        for line in result_lines:
            f.write(("\n  " if first else ",\n  ") + line)
            first = False
        f.write("\n ]\n}\n")
    os.replace(tmp, path)
