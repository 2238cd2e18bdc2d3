"""What was gathered from one host, raw: the collector's output and the libvirt view.

Saved as JSON by --save-facts and read back by --facts; the parsers run on it
again at load time, so facts saved by one version are evaluated by the checks
of the version that loads them.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Optional

from .libvirt_source import RawLibvirt, RawNetwork

FORMAT = 1  # bump when a field changes meaning; the loader says what it can read


class FactsFormatError(ValueError):
    """A saved facts directory this version cannot read."""


@dataclass
class RawHost:
    host: str
    spec: str
    error: Optional[str] = None
    nonce: str = ""
    output: str = ""
    libvirt: Optional[RawLibvirt] = None
    gathered_at: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        d["format"] = FORMAT
        return d

    @classmethod
    def from_json(cls, d: dict, where: str = "") -> "RawHost":
        fmt = d.get("format")
        if fmt != FORMAT:
            raise FactsFormatError(f"{where}: saved facts format {fmt!r}; this version reads format {FORMAT}")
        lv = d.get("libvirt")
        libvirt = None
        if lv is not None:
            nets = [RawNetwork(**n) for n in lv.pop("networks", [])]
            doms = [tuple(x) for x in lv.pop("domains", [])]
            if lv.get("lib_version") is not None:
                lv["lib_version"] = tuple(lv["lib_version"])
            libvirt = RawLibvirt(networks=nets, domains=doms, **lv)
        try:
            return cls(host=d["host"], spec=d["spec"], error=d.get("error"), nonce=d.get("nonce", ""),
                       output=d.get("output", ""), libvirt=libvirt, gathered_at=d.get("gathered_at", ""),
                       extra=d.get("extra") or {})
        except (KeyError, TypeError) as e:
            raise FactsFormatError(f"{where}: not a saved host ({e})") from None


def _file_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100] or "host"


def save(directory: str, raws: list[RawHost]) -> None:
    os.makedirs(directory, exist_ok=True)
    names = []
    for r in raws:
        base = _file_name(r.host)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump(r.to_json(), f)
    from .. import __version__
    with open(os.path.join(directory, "index.json"), "w") as f:
        json.dump({"format": FORMAT, "tool": f"kvm-netcheck {__version__}",
                   "hosts": [{"host": r.host, "file": n + ".json"} for r, n in zip(raws, names)]}, f, indent=1)


def load(directory: str) -> list[RawHost]:
    index_path = os.path.join(directory, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except FileNotFoundError:
        raise FactsFormatError(f"{directory}: no index.json (not a --save-facts directory)") from None
    except (OSError, ValueError) as e:
        raise FactsFormatError(f"{index_path}: {e}") from None
    if index.get("format") != FORMAT:
        raise FactsFormatError(f"{directory} was saved by {index.get('tool', 'an unknown version')} in format "
                               f"{index.get('format')!r}; this version reads format {FORMAT}")
    out = []
    for entry in index.get("hosts", []):
        path = os.path.join(directory, os.path.basename(entry["file"]))
        try:
            with open(path) as f:
                out.append(RawHost.from_json(json.load(f), where=path))
        except (OSError, ValueError) as e:
            if isinstance(e, FactsFormatError):
                raise
            out.append(RawHost(host=entry.get("host", path), spec=entry.get("host", path),
                               error=f"saved facts unreadable: {path}: {e}"))
    return out
