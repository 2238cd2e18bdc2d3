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
import secrets
import stat
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
    """A saved facts directory this version cannot read (its index), or a host's file it cannot read."""


# What --facts reads at most. A host's file is the collector's output and its libvirt XML: collector.sh
# cuts each section at MAX (256 KiB), with a section per bridge, tc parent, firewall table, config file,
# lease file, network and guest, so a large hypervisor's output is a few MiB and only thousands of
# full sections would pass 256 MiB, the bound Ansible gathering puts on one host's output
# (collect/ansible_gather.py MAX_RESULT). The index holds a few hundred bytes per host: 64 MiB is over
# 100,000 hosts. Anything larger is refused before it is parsed, so no file can exhaust memory.
HOST_FILE_MAX_BYTES = 256 * 1024 * 1024
INDEX_MAX_BYTES = 64 * 1024 * 1024

_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(mode: int) -> str:
    return next((f"{word}, not a regular file" for test, word in _FILE_TYPES if test(mode)), "not a regular file")


def open_regular(path: str):
    """`path` opened for reading in binary, if it is a regular file once symlinks are followed (a user
    may link a facts directory or file). Anything else (a FIFO, /dev/zero, a directory) raises
    ValueError without being read: the type is checked before opening and again on the opened
    descriptor, which is opened non-blocking so that a FIFO swapped in meanwhile cannot block."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise ValueError(_not_regular(mode))
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(_not_regular(mode))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str, cap: int) -> bytearray:
    """All of a regular file (open_regular) of at most `cap` bytes; ValueError for a larger one. At
    most cap + 1 bytes are read, however large the file or however fast it grows."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > cap:
            raise ValueError(f"{size} bytes, over the limit of {cap} bytes")
        data = bytearray()
        while len(data) <= cap:
            chunk = f.read(min(1 << 20, cap + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        if len(data) > cap:
            raise ValueError(f"over the limit of {cap} bytes")
        return data


def why(e: BaseException) -> str:
    """An OSError's reason without the path it repeats; any other error's text."""
    return (e.strerror or str(e)) if isinstance(e, OSError) else str(e)


def _read_json(path: str, cap: int):
    """A JSON document from a regular file of at most `cap` bytes; ValueError or OSError saying why not."""
    try:
        return json.loads(read_regular(path, cap))
    except RecursionError:  # arrays nested deeper than the parser goes
        raise ValueError("JSON nested too deeply") from None


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


# ---------------------------------------------------------------- the shape of saved facts

_KINDS = {
    str: "a string",
    bool: "true or false",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


def _kind(v) -> str:
    return _KINDS.get(type(v), type(v).__name__)


def _want(kinds: tuple) -> str:
    return " or ".join(dict.fromkeys(_KINDS[k] for k in kinds))


_REQUIRED = object()


def _field(d: dict, key: str, where: str, kinds: tuple, default=_REQUIRED):
    """d[key] if it is of one of `kinds` (bool is not a number here), its default if absent and optional;
    FactsFormatError naming the field otherwise."""
    name = f"{where}.{key}" if where else key
    if key not in d:
        if default is _REQUIRED:
            raise FactsFormatError(f"{name} is missing")
        return default
    v = d[key]
    if type(v) not in kinds:
        raise FactsFormatError(f"{name} is {_kind(v)}, not {_want(kinds)}")
    return v


def _object(v, name: str) -> dict:
    if not isinstance(v, dict):
        raise FactsFormatError(f"{name} is {_kind(v)}, not an object")
    return v


def _list(v, name: str) -> list:
    if not isinstance(v, list):
        raise FactsFormatError(f"{name} is {_kind(v)}, not a list")
    return v


_STR, _OPT_STR, _BOOL, _OPT_BOOL = (str,), (str, type(None)), (bool,), (bool, type(None))


def _network(d, where: str) -> RawNetwork:
    d = _object(d, where)
    return RawNetwork(
        uuid=_field(d, "uuid", where, _OPT_STR),
        active=_field(d, "active", where, _BOOL),
        persistent=_field(d, "persistent", where, _BOOL),
        autostart=_field(d, "autostart", where, _OPT_BOOL),
        xml=_field(d, "xml", where, _STR),
        inactive_xml=_field(d, "inactive_xml", where, _OPT_STR),
    )


def _domain(d, where: str) -> tuple[bool, str]:
    if not isinstance(d, list):
        raise FactsFormatError(f"{where} is {_kind(d)}, not a pair [active, XML]")
    if not (len(d) == 2 and type(d[0]) is bool and isinstance(d[1], str)):
        raise FactsFormatError(f"{where} is not a pair [active (true or false), XML (a string)]")
    return d[0], d[1]


def _libvirt(d) -> Optional[RawLibvirt]:
    if d is None:
        return None
    d = _object(d, "libvirt")
    w = "libvirt"
    version = _field(d, "lib_version", w, (list, type(None)), None)
    if version is not None:
        if len(version) != 3 or any(type(x) is not int for x in version):
            raise FactsFormatError("libvirt.lib_version is not three whole numbers")
        version = tuple(version)
    return RawLibvirt(
        source=_field(d, "source", w, _STR),
        uri=_field(d, "uri", w, _OPT_STR),
        lib_version=version,
        hypervisor_version=_field(d, "hypervisor_version", w, _OPT_STR, None),
        networks=[
            _network(n, f"libvirt.networks[{i}]")
            for i, n in enumerate(_list(d.get("networks", []), "libvirt.networks"))
        ],
        domains=[
            _domain(x, f"libvirt.domains[{i}]") for i, x in enumerate(_list(d.get("domains", []), "libvirt.domains"))
        ],
        error=_field(d, "error", w, _OPT_STR, None),
        note=_field(d, "note", w, _OPT_STR, None),
    )


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
    def from_json(cls, d, where: str = "") -> "RawHost":
        """A host as saved, checked field by field (fields a later version adds are ignored: one that
        changes what a field means bumps FORMAT); FactsFormatError names what is wrong."""
        at = f"{where}: " if where else ""
        if not isinstance(d, dict):
            raise FactsFormatError(f"{at}{_kind(d)}, not an object of saved facts")
        fmt = d.get("format")
        if not _readable(fmt):
            raise FactsFormatError(f"{at}saved facts format {fmt!r}; this version reads {_reads()}")
        try:
            extra = _field(d, "extra", "", (dict, type(None)), None)
            return cls(
                host=_field(d, "host", "", _STR),
                spec=_field(d, "spec", "", _STR),
                error=_field(d, "error", "", _OPT_STR, None),
                nonce=_field(d, "nonce", "", _STR, ""),
                output=_field(d, "output", "", _STR, ""),
                libvirt=_libvirt(d.get("libvirt")),
                gathered_at=_field(d, "gathered_at", "", _STR, ""),
                extra=extra or {},
            )
        except FactsFormatError as e:
            raise FactsFormatError(f"{at}{e}") from None


def file_name(host: str) -> str:
    """A file name for a host name (any name a host may have becomes a safe one)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host)[:100] or "host"


def _write_new(directory: str, name: str, data: str) -> None:
    """DIR/NAME replaced by a file holding `data`: written under a fresh name (O_EXCL|O_NOFOLLOW), then
    renamed over NAME. Nothing already in the directory is opened, so a symlink planted at NAME is
    replaced itself (rename acts on the link) and whatever it pointed at is left untouched. Mode 0600:
    the facts hold files a host keeps from its other users (NetworkManager keyfiles may carry secrets)."""
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(directory: str, raws: list[RawHost], tool: str) -> None:
    """Write each host as DIR/NAME.json and an index.json naming them; `tool` says who wrote it.
    Every file is written anew (_write_new), never through a link or a file already in DIR."""
    os.makedirs(directory, exist_ok=True)
    names = []
    for r in raws:
        base = file_name(r.host)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
        _write_new(directory, name + ".json", json.dumps(r.to_json()))
    _write_new(
        directory,
        "index.json",
        json.dumps(
            {
                "format": FORMAT,
                "tool": tool,
                "hosts": [
                    {"host": r.host, "spec": r.spec, "file": n + ".json", "error": r.error} for r, n in zip(raws, names)
                ],
            },
            indent=1,
        ),
    )


def _read_index(directory: str) -> dict:
    """A --save-facts directory's index.json, or the one-line refusal of one this version cannot read:
    not a regular file, too large, not JSON, or not the shape `save` writes (the run stops; a host's
    own file that cannot be read is only that host's error: SavedHosts)."""
    index_path = os.path.join(directory, "index.json")
    try:
        index = _read_json(index_path, INDEX_MAX_BYTES)
    except FileNotFoundError:
        raise FactsFormatError(f"{directory}: no index.json (not a --save-facts directory)") from None
    except (OSError, ValueError) as e:
        raise FactsFormatError(f"{index_path}: {why(e)}") from None
    if not isinstance(index, dict):
        raise FactsFormatError(f"{index_path}: {_kind(index)}, not a saved facts index")
    if not _readable(index.get("format")):
        raise FactsFormatError(
            f"{directory} was saved by {index.get('tool', 'an unknown version')} in format "
            f"{index.get('format')!r}; this version reads {_reads()}"
        )
    try:
        for i, entry in enumerate(_field(index, "hosts", "", (list,))):
            where = f"hosts[{i}]"
            entry = _object(entry, where)
            if not _field(entry, "file", where, _STR):
                raise FactsFormatError(f"{where}.file is empty")
            _field(entry, "host", where, _STR, None)
            _field(entry, "spec", where, _OPT_STR, None)
            _field(entry, "error", where, _OPT_STR, None)
    except FactsFormatError as e:
        raise FactsFormatError(f"{index_path}: {e}") from None
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
    without what was gathered) for the whole run, `load(i)` for the one host being checked. A host's
    file that cannot be read (missing, not a regular file, too large, not JSON, not the shape `save`
    writes, another format) makes that host unreachable with the reason, never stops the run."""

    def __init__(self, directory: str):
        index = _read_index(directory)
        self.directory = directory
        self.paths: list[str] = []
        self.stubs: list[RawHost] = []
        for entry in index["hosts"]:
            path = os.path.join(directory, os.path.basename(entry["file"]))
            self.paths.append(path)
            host = entry.get("host", path)
            if "error" in entry:  # written since the index names each host's error
                self.stubs.append(RawHost(host=host, spec=entry.get("spec") or host, error=entry["error"]))
            else:  # an older index: the error is in the host's file
                self.stubs.append(stub(self._read(len(self.paths) - 1, host)))

    def _read(self, i: int, host: str) -> RawHost:
        path = self.paths[i]
        try:
            return RawHost.from_json(_read_json(path, HOST_FILE_MAX_BYTES), where=path)
        except FactsFormatError as e:
            return RawHost(host=host, spec=host, error=f"saved facts unreadable: {e}")
        except (OSError, ValueError) as e:
            return RawHost(host=host, spec=host, error=f"saved facts unreadable: {path}: {why(e)}")

    def load(self, i: int) -> RawHost:
        r = self._read(i, self.stubs[i].host)
        if r.host != self.stubs[i].host:  # the index and the file disagree: trust neither silently
            return RawHost(
                host=self.stubs[i].host,
                spec=self.stubs[i].spec,
                error=f"saved facts of {self.paths[i]} are about {r.host!r}",
            )
        return r


def stub(r: RawHost) -> RawHost:
    """A host without its facts: name, spec, error, when it was gathered."""
    return RawHost(host=r.host, spec=r.spec, error=r.error, gathered_at=r.gathered_at, extra=r.extra)
