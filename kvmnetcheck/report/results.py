"""One Result per (check, host, object), and results.json."""
from __future__ import annotations

import datetime
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

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
        "notes": list(v.notes) + list(f.parse_errors),
        "counts": {"bridges": len(f.bridges), "networks": len(v.networks), "guests": len(v.guests),
                   "nics": sum(len(g.nics) for g in v.guests)},
    }


def write_results(path: str, hosts: list[HostFacts], results: list[Result], policy: dict[str, Any],
                  sections: Optional[dict[str, Any]] = None) -> None:
    """Write results.json; `sections` adds top-level parts (gate, waivers, drift, fix scripts)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "kvm-netcheck", "version": __version__},
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "policy": policy,
        **(sections or {}),
        "hosts": [host_summary(h) for h in hosts],
        "results": [asdict(r) for r in results],
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
    os.replace(tmp, path)
