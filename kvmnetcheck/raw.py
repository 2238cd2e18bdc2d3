"""What was gathered from one host, raw, and the saved-facts format (--save-facts / --facts).

The bottom layer: it imports nothing else of the package, and everything above it
(the collectors that fill it, the parsers that read it, the reports) may use it.

A RawHost is the collector's output and the libvirt view, unparsed. Facts are saved
raw, so a newer suite parses facts saved by an older one with its own parsers.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Optional

FORMAT = 1  # bump when a field changes meaning; the loader says what it can read
# every saved format this version reads (a newer FORMAT keeps the older ones here, with what
# from_json does to read them): facts saved by an older version stay readable
READABLE_FORMATS: tuple[int, ...] = (1,)


def _readable(fmt) -> bool:
    if isinstance(fmt, str) and fmt.strip().isdigit():
        fmt = int(fmt)  # "1" as written by hand or by another tool
    return fmt in READABLE_FORMATS


def _reads() -> str:
    if len(READABLE_FORMATS) == 1:
        return f"format {READABLE_FORMATS[0]}"
    return "formats " + ", ".join(str(f) for f in READABLE_FORMATS)


class FactsFormatError(ValueError):
    """A saved facts directory this version cannot read."""


@dataclass
class RawNetwork:
    uuid: Optional[str]
    active: bool
    persistent: bool
    autostart: Optional[bool]
    xml: str
    inactive_xml: Optional[str]


@dataclass
class RawLibvirt:
    """libvirt's view of a host as read: network and domain XML, or why it could not be read."""

    source: str  # libvirt-python | virsh | files | none
    uri: Optional[str]
    lib_version: Optional[tuple[int, int, int]] = None
    hypervisor_version: Optional[str] = None
    networks: list[RawNetwork] = field(default_factory=list)
    domains: list[tuple[bool, str]] = field(default_factory=list)  # (active, xml)
    error: Optional[str] = None
    note: Optional[str] = None  # how the view was obtained, when not the usual way


def public_uri(uri: Optional[str]) -> Optional[str]:
    """The URI without its query (the ssh wrapper's temporary path means nothing to a reader)."""
    return uri.split("?", 1)[0] if uri else uri


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
        if not _readable(fmt):
            raise FactsFormatError(f"{where}: saved facts format {fmt!r}; this version reads {_reads()}")
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


def file_name(host: str) -> str:
    """A file name for a host name (any name a host may have becomes a safe one)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100] or "host"


def save(directory: str, raws: list[RawHost], tool: str) -> None:
    """Write each host as DIR/NAME.json and an index.json naming them; `tool` says who wrote it."""
    os.makedirs(directory, exist_ok=True)
    names = []
    for r in raws:
        base = file_name(r.host)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
        with open(os.path.join(directory, name + ".json"), "w") as f:
            json.dump(r.to_json(), f)
    with open(os.path.join(directory, "index.json"), "w") as f:
        json.dump({"format": FORMAT, "tool": tool,
                   "hosts": [{"host": r.host, "spec": r.spec, "file": n + ".json", "error": r.error}
                             for r, n in zip(raws, names)]},
                  f, indent=1)


def _read_index(directory: str) -> dict:
    """A --save-facts directory's index.json, or the one-line refusal of one this version cannot read."""
    index_path = os.path.join(directory, "index.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except FileNotFoundError:
        raise FactsFormatError(f"{directory}: no index.json (not a --save-facts directory)") from None
    except (OSError, ValueError) as e:
        raise FactsFormatError(f"{index_path}: {e}") from None
    if not isinstance(index, dict):
        raise FactsFormatError(f"{index_path}: not a saved facts index")
    if not _readable(index.get("format")):
        raise FactsFormatError(f"{directory} was saved by {index.get('tool', 'an unknown version')} in format "
                               f"{index.get('format')!r}; this version reads {_reads()}")
    return index


def load(directory: str) -> list[RawHost]:
    """Every host of a --save-facts directory at once (a run reads them one by one: SavedHosts)."""
    saved = SavedHosts(directory)
    return [saved.load(i) for i in range(len(saved.stubs))]


def parse_shard(text: str) -> tuple[int, int]:
    """--shard=K/N: slice K (1..N) of N."""
    k, sep, n = (text or "").partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()) or not 1 <= int(k) <= int(n):
        raise ValueError(f"--shard wants K/N with 1 <= K <= N, got {text!r}")
    return int(k), int(n)


def in_shard(host: str, shard: Optional[tuple[int, int]]) -> bool:
    """Whether a host belongs to slice K of N: by a hash of its name, so the slices stay the same from
    one night to the next whatever the order of the inventory, and N slices cover every host once."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(host.encode("utf-8", "surrogateescape")).hexdigest()[:16], 16) % n == k - 1


class SavedHosts:
    """A --save-facts directory read one host at a time: `stubs` (each host's name, spec and error,
    without what was gathered) for the whole run, `load(i)` for the one host being checked."""

    def __init__(self, directory: str):
        index = _read_index(directory)
        self.directory = directory
        self.paths: list[str] = []
        self.stubs: list[RawHost] = []
        for entry in index.get("hosts", []):
            path = os.path.join(directory, os.path.basename(entry["file"]))
            self.paths.append(path)
            if "error" in entry:  # written since the index names each host's error
                host = entry.get("host", path)
                self.stubs.append(RawHost(host=host, spec=entry.get("spec") or host, error=entry["error"]))
            else:  # an older index: the error is in the host's file
                self.stubs.append(stub(self._read(len(self.paths) - 1, entry.get("host", path))))

    def _read(self, i: int, host: str) -> RawHost:
        path = self.paths[i]
        try:
            with open(path) as f:
                return RawHost.from_json(json.load(f), where=path)
        except FactsFormatError:
            raise
        except (OSError, ValueError) as e:
            return RawHost(host=host, spec=host, error=f"saved facts unreadable: {path}: {e}")

    def load(self, i: int) -> RawHost:
        r = self._read(i, self.stubs[i].host)
        if r.host != self.stubs[i].host:  # the index and the file disagree: trust neither silently
            return RawHost(host=self.stubs[i].host, spec=self.stubs[i].spec,
                           error=f"saved facts of {self.paths[i]} are about {r.host!r}")
        return r


def stub(r: RawHost) -> RawHost:
    """A host without its facts: name, spec, error, when it was gathered."""
    return RawHost(host=r.host, spec=r.spec, error=r.error, gathered_at=r.gathered_at, extra=r.extra)
