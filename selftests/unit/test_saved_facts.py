"""Saved facts (--save-facts / --facts): a directory saved in format 1 is read, one in a format this
version cannot read is refused in one line. A host's file of the wrong shape or kind (a JSON list, a
FIFO, a link to /dev/zero, too large) is that host's error in one line and the others are read; an
index like that is refused in one line; --save-facts never writes through a link planted in its way.

samples/facts_format1/ is laid out as `raw.save` of the first format-1 version wrote it: index.json
naming each host's file, one JSON per host; kvm01 gathered by collector format 1 (the Debian 12
sample, with the section kinds that collector printed) and read through libvirt-python (no `note`
in its libvirt view, which later versions add), kvm02 unreachable.
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import pytest

from kvmnetcheck import raw as raw_store
from kvmnetcheck.facts.host import facts_from_raw
from kvmnetcheck.facts.model import LibvirtQemu, Unreadable

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FORMAT1 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples", "facts_format1")


def test_format_1_is_among_the_formats_read():
    assert 1 in raw_store.READABLE_FORMATS
    assert raw_store.FORMAT in raw_store.READABLE_FORMATS


def test_a_directory_saved_in_format_1_is_read():
    raws = raw_store.load(FORMAT1)
    assert [r.host for r in raws] == ["kvm01.example.com", "kvm02.example.com"]
    kvm01, kvm02 = raws
    assert kvm01.error is None and kvm01.nonce == "9c1e5b7a03d24f68" and "collector=1" in kvm01.output
    assert kvm01.libvirt.source == "libvirt-python" and kvm01.libvirt.note is None
    assert kvm01.libvirt.lib_version == (9, 0, 0)
    assert len(kvm01.libvirt.networks) == 2 and all(n.xml for n in kvm01.libvirt.networks)
    assert [active for active, _ in kvm01.libvirt.domains] == [True, True, False]
    assert kvm02.error.endswith("Connection refused") and kvm02.libvirt is None


def test_facts_saved_in_format_1_are_parsed_by_this_version():
    kvm01, kvm02 = (facts_from_raw(r) for r in raw_store.load(FORMAT1))
    assert kvm01.reachable and kvm01.error is None, kvm01.error
    assert kvm01.hostname == "kvm01"
    assert {b.name for b in kvm01.bridges} == {"br0", "virbr0"}
    assert kvm01.libvirt.source == "libvirt-python"
    assert {n.name for n in kvm01.libvirt.networks} == {"default", "isolated"}
    assert len(kvm01.libvirt.guests) == 3
    # what collector format 1 did not gather is unknown, not a default
    assert kvm01.br_netfilter is None
    assert not kvm02.reachable and "Connection refused" in kvm02.error


def test_the_format_is_read_from_the_index_as_written_by_hand(tmp_path):
    saved = tmp_path / "facts"
    shutil.copytree(FORMAT1, saved)
    index = json.loads((saved / "index.json").read_text())
    index["format"] = "1"
    (saved / "index.json").write_text(json.dumps(index))
    assert [r.host for r in raw_store.load(str(saved))] == ["kvm01.example.com", "kvm02.example.com"]


def _newer(tmp_path) -> str:
    newer = tmp_path / "newer"
    shutil.copytree(FORMAT1, newer)
    index = json.loads((newer / "index.json").read_text())
    index["format"] = 99
    index["tool"] = "kvm-netcheck 9.0"
    (newer / "index.json").write_text(json.dumps(index))
    return str(newer)


def test_a_format_this_version_cannot_read_is_refused_in_one_line(tmp_path):
    newer = _newer(tmp_path)
    with pytest.raises(raw_store.FactsFormatError) as e:
        raw_store.load(newer)
    assert str(e.value) == f"{newer} was saved by kvm-netcheck 9.0 in format 99; this version reads format 1"


def test_a_host_file_in_a_format_this_version_cannot_read_is_that_hosts_error(tmp_path):
    saved = tmp_path / "facts"
    shutil.copytree(FORMAT1, saved)
    host = json.loads((saved / "kvm01.example.com.json").read_text())
    host["format"] = 99
    (saved / "kvm01.example.com.json").write_text(json.dumps(host))
    kvm01, kvm02 = raw_store.load(str(saved))
    assert kvm01.host == "kvm01.example.com" and kvm01.libvirt is None
    assert kvm01.error == (
        f"saved facts unreadable: {saved / 'kvm01.example.com.json'}: "
        "saved facts format 99; this version reads format 1"
    )
    assert kvm02.error.endswith("Connection refused")


# ---------------------------------------------------------------- saved facts of the wrong shape


def _saved(tmp_path, edit_host=None, edit_index=None) -> str:
    """FORMAT1 with an index as `save` writes it today (each host's error in it, so a host's file is
    read only when that host is checked), kvm01's file edited by `edit_host` (which returns the new
    JSON, or writes the file itself and returns None) and the index by `edit_index`."""
    saved = tmp_path / "facts"
    shutil.copytree(FORMAT1, saved)
    index = json.loads((saved / "index.json").read_text())
    for entry in index["hosts"]:
        entry["spec"] = entry["host"]
        entry["error"] = json.loads((saved / entry["file"]).read_text())["error"]
    if edit_index:
        index = edit_index(index)
    (saved / "index.json").write_text(json.dumps(index))
    if edit_host:
        path = saved / "kvm01.example.com.json"
        new = edit_host(json.loads(path.read_text()), path)
        if new is not None:
            path.write_text(json.dumps(new) if not isinstance(new, str) else new)
    return str(saved)


def _libvirt(**changes):
    return lambda h, _: {**h, "libvirt": {**h["libvirt"], **changes}}


def _network0(**changes):
    return lambda h, _: {**h, "libvirt": {**h["libvirt"], "networks": [{**h["libvirt"]["networks"][0], **changes}]}}


def _without(key):
    return lambda h, _: {k: v for k, v in h.items() if k != key}


HOST_SHAPES = {
    "a JSON list": (lambda h, _: [h], "a list, not an object of saved facts"),
    "libvirt a string": (lambda h, _: {**h, "libvirt": "libvirt-python"}, "libvirt is a string, not an object"),
    "no host": (_without("host"), "host is missing"),
    "host a number": (lambda h, _: {**h, "host": 1}, "host is a number, not a string"),
    "output a list": (lambda h, _: {**h, "output": ["x"]}, "output is a list, not a string"),
    "extra a string": (lambda h, _: {**h, "extra": "x"}, "extra is a string, not an object or null"),
    "networks an object": (_libvirt(networks={"default": {}}), "libvirt.networks is an object, not a list"),
    "a null network": (_libvirt(networks=[None]), "libvirt.networks[0] is null, not an object"),
    "a network without xml": (
        lambda h, _: {
            **h,
            "libvirt": {
                **h["libvirt"],
                "networks": [{k: v for k, v in h["libvirt"]["networks"][0].items() if k != "xml"}],
            },
        },
        "libvirt.networks[0].xml is missing",
    ),
    "a network's xml a number": (_network0(xml=5), "libvirt.networks[0].xml is a number, not a string"),
    "active a string": (_network0(active="yes"), "libvirt.networks[0].active is a string, not true or false"),
    "domains a string": (_libvirt(domains="none"), "libvirt.domains is a string, not a list"),
    "a domain a number": (_libvirt(domains=[5]), "libvirt.domains[0] is a number, not a pair [active, XML]"),
    "a domain of three": (
        _libvirt(domains=[[True, "<domain/>", 1]]),
        "libvirt.domains[0] is not a pair [active (true or false), XML (a string)]",
    ),
    "no libvirt source": (
        lambda h, _: {**h, "libvirt": {k: v for k, v in h["libvirt"].items() if k != "source"}},
        "libvirt.source is missing",
    ),
    "lib_version a string": (_libvirt(lib_version="9.0.0"), "libvirt.lib_version is a string, not a list or null"),
    "lib_version of two": (_libvirt(lib_version=[9, 0]), "libvirt.lib_version is not three whole numbers"),
    "not JSON": (lambda h, _: "{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    "nested too deeply": (lambda h, _: "[" * 200_000 + "]" * 200_000, "JSON nested too deeply"),
    "not UTF-8": (lambda h, p: p.write_bytes(b'{"host": "\xff"}'), None),
    "a directory": (lambda h, p: (p.unlink(), p.mkdir()) and None, "a directory, not a regular file"),
    "a link to /dev/zero": (
        lambda h, p: (p.unlink(), p.symlink_to("/dev/zero")) and None,
        "a character device, not a regular file",
    ),
    "missing": (lambda h, p: p.unlink(), "No such file or directory"),
}


@pytest.mark.parametrize("case", sorted(HOST_SHAPES))
def test_a_host_file_of_the_wrong_shape_is_that_hosts_error_in_one_line(tmp_path, case):
    """Whatever a host's file holds, that host is unreachable with one line saying what is wrong with
    which file; the other host is read as ever."""
    edit, reason = HOST_SHAPES[case]
    saved = _saved(tmp_path, edit_host=edit)
    kvm01, kvm02 = raw_store.load(saved)
    path = os.path.join(saved, "kvm01.example.com.json")
    assert kvm01.host == "kvm01.example.com" and kvm01.libvirt is None and not kvm01.output
    assert kvm01.error.startswith(f"saved facts unreadable: {path}: "), kvm01.error
    if reason:
        assert kvm01.error == f"saved facts unreadable: {path}: {reason}"
    assert "\n" not in kvm01.error and len(kvm01.error) < 300
    assert kvm02.host == "kvm02.example.com" and kvm02.error.endswith("Connection refused")
    facts = facts_from_raw(kvm01)
    assert not facts.reachable and facts.error == kvm01.error


def test_a_host_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    saved = _saved(tmp_path)
    size = os.path.getsize(os.path.join(saved, "kvm01.example.com.json"))
    monkeypatch.setattr(raw_store, "HOST_FILE_MAX_BYTES", size - 1)
    kvm01, _ = raw_store.load(saved)
    assert kvm01.error.endswith(f"kvm01.example.com.json: {size} bytes, over the limit of {size - 1} bytes")


def test_at_most_one_byte_past_the_limit_is_read(tmp_path, monkeypatch):
    """A file that grows while it is read (its size said it was small) is read up to cap + 1 bytes."""
    asked = []

    class Growing:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def fileno(self):
            return self.f.fileno()

        def read(self, n):
            asked.append(n)
            return b"x" * n

    path = tmp_path / "small"
    path.write_bytes(b"{}")
    real = raw_store.open_regular
    monkeypatch.setattr(raw_store, "open_regular", lambda p: Growing(real(p)))
    with pytest.raises(ValueError, match="over the limit of 10 bytes"):
        raw_store.read_regular(str(path), 10)
    assert sum(asked) == 11


INDEX_SHAPES = {
    "hosts a string": (lambda i: {**i, "hosts": "kvm01"}, "hosts is a string, not a list"),
    "no hosts": (lambda i: {k: v for k, v in i.items() if k != "hosts"}, "hosts is missing"),
    "an entry without file": (
        lambda i: {**i, "hosts": [{k: v for k, v in i["hosts"][0].items() if k != "file"}]},
        "hosts[0].file is missing",
    ),
    "an empty file name": (lambda i: {**i, "hosts": [{**i["hosts"][0], "file": ""}]}, "hosts[0].file is empty"),
    "a null entry": (lambda i: {**i, "hosts": i["hosts"] + [None]}, "hosts[2] is null, not an object"),
    "a host named by a number": (
        lambda i: {**i, "hosts": [{**i["hosts"][0], "host": 7}]},
        "hosts[0].host is a number, not a string",
    ),
    "an error that is a list": (
        lambda i: {**i, "hosts": [{**i["hosts"][0], "error": ["x"]}]},
        "hosts[0].error is a list, not a string or null",
    ),
    "a list": (lambda i: [i], "a list, not a saved facts index"),
}


@pytest.mark.parametrize("case", sorted(INDEX_SHAPES))
def test_an_index_of_the_wrong_shape_is_refused_in_one_line(tmp_path, case):
    edit, reason = INDEX_SHAPES[case]
    saved = _saved(tmp_path, edit_index=edit)
    with pytest.raises(raw_store.FactsFormatError) as e:
        raw_store.SavedHosts(saved)
    assert str(e.value) == f"{saved}/index.json: {reason}"


def test_an_index_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    saved = _saved(tmp_path)
    monkeypatch.setattr(raw_store, "INDEX_MAX_BYTES", 100)
    with pytest.raises(raw_store.FactsFormatError, match=r"index.json: \d+ bytes, over the limit of 100 bytes$"):
        raw_store.SavedHosts(saved)


def test_an_index_linked_to_dev_zero_is_refused_unread(tmp_path):
    saved = _saved(tmp_path)
    os.unlink(os.path.join(saved, "index.json"))
    os.symlink("/dev/zero", os.path.join(saved, "index.json"))
    with pytest.raises(raw_store.FactsFormatError) as e:
        raw_store.SavedHosts(saved)
    assert str(e.value) == f"{saved}/index.json: a character device, not a regular file"


def _within(seconds: float, fn, fifo: str):
    """fn() in a thread; if it has not returned in time, open the FIFO for writing so that a reader
    blocked on it gets end-of-file and the test suite does not hang, and fail."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except Exception as e:
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(5)
        pytest.fail(f"reading saved facts blocked on the FIFO {fifo} for {seconds} s")
    return box


def test_a_fifo_as_index_is_refused_without_blocking(tmp_path):
    saved = _saved(tmp_path)
    index = os.path.join(saved, "index.json")
    os.unlink(index)
    os.mkfifo(index)
    box = _within(10, lambda: raw_store.SavedHosts(saved), index)
    assert isinstance(box.get("error"), raw_store.FactsFormatError), box
    assert str(box["error"]) == f"{index}: a FIFO, not a regular file"


def test_a_fifo_as_host_file_is_that_hosts_error_without_blocking(tmp_path):
    saved = _saved(tmp_path)
    path = os.path.join(saved, "kvm01.example.com.json")
    os.unlink(path)
    os.mkfifo(path)
    box = _within(10, lambda: raw_store.load(saved), path)
    assert "error" not in box, box
    kvm01, kvm02 = box["value"]
    assert kvm01.error == f"saved facts unreadable: {path}: a FIFO, not a regular file"
    assert kvm02.error.endswith("Connection refused")


def test_a_fifo_swapped_in_after_the_type_check_is_refused_on_the_open_descriptor(tmp_path, monkeypatch):
    """The type is checked again on the descriptor (opened non-blocking), so a FIFO put in place
    between the check and the open neither blocks nor is read."""
    path = str(tmp_path / "host.json")
    regular = tmp_path / "regular"
    regular.write_text("{}")
    os.mkfifo(path)
    real_stat = os.stat
    monkeypatch.setattr(
        raw_store.os, "stat", lambda p, *a, **k: real_stat(str(regular)) if p == path else real_stat(p, *a, **k)
    )
    box = _within(10, lambda: raw_store.read_regular(path, 100), path)
    assert str(box.get("error")) == "a FIFO, not a regular file", box


# ---------------------------------------------------------------- --save-facts and what is already there


def _raws() -> list:
    return raw_store.load(FORMAT1)


def test_save_replaces_a_planted_symlink_and_leaves_its_target_untouched(tmp_path):
    """A symlink planted where a host's file or the index goes is replaced by the file (rename acts
    on the link); the file it pointed at keeps its content, and the link's target is not followed."""
    out = tmp_path / "facts"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (out / "kvm01.example.com.json").symlink_to(victim)
    (out / "index.json").symlink_to(victim)
    raw_store.save(str(out), _raws(), "kvm-netcheck test")
    assert victim.read_text() == "precious\n"
    for name in ("kvm01.example.com.json", "index.json"):
        assert not (out / name).is_symlink() and (out / name).is_file(), name
    assert [r.host for r in raw_store.load(str(out))] == ["kvm01.example.com", "kvm02.example.com"]
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "kvm01.example.com.json", "kvm02.example.com.json"]


def test_save_through_a_symlink_to_the_directory_is_allowed(tmp_path):
    """A facts directory may itself be a link (a dated directory behind `latest`)."""
    real = tmp_path / "2026-11-25"
    real.mkdir()
    (tmp_path / "latest").symlink_to(real)
    raw_store.save(str(tmp_path / "latest"), _raws(), "kvm-netcheck test")
    assert (real / "index.json").is_file()
    assert [r.host for r in raw_store.load(str(tmp_path / "latest"))] == ["kvm01.example.com", "kvm02.example.com"]


def test_a_save_that_fails_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "facts"
    out.mkdir()
    (out / "kvm01.example.com.json").mkdir()  # rename cannot replace a directory
    with pytest.raises(OSError):
        raw_store.save(str(out), _raws(), "kvm-netcheck test")
    assert sorted(p.name for p in out.iterdir()) == ["kvm01.example.com.json"]


def _suite(tmp_path, facts: str, *more: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out = tmp_path / "report"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--facts={facts}",
            f"--results-json={out}/results.json",
            f"--junitxml={out}/junit.xml",
            f"--html={out}/compliance.html",
            "--self-contained-html",
            *more,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_suite_checks_facts_saved_in_format_1(tmp_path):
    run = _suite(tmp_path, FORMAT1)
    assert run.returncode in (0, 1), run.stdout[-2000:] + run.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert [h["host"] for h in results["hosts"]] == ["kvm01.example.com", "kvm02.example.com"]
    assert {r["host"] for r in results["results"]} == {"kvm01.example.com", "kvm02.example.com"}
    assert "loaded from" in run.stdout
    # what collector format 1 did not gather ends as an error that says so, never as a pass
    outcome = {(r["check"], r["object"]): r for r in results["results"] if r["host"] == "kvm01.example.com"}
    for key in (("bridge-netfilter-dhcp", "br0"), ("network-dhcp-server", "default")):
        assert outcome[key]["outcome"] == "error" and "older version" in outcome[key]["message"], outcome[key]


def test_a_garbled_host_file_leaves_the_other_hosts_reported(tmp_path):
    """Three saved hosts, one file garbled: the run reports the two others exactly as without it,
    and the garbled one as unreachable, with the reason, in one result; no traceback."""
    sys.path.insert(0, os.path.join(ROOT, "selftests"))
    from support import run_suite

    saved = tmp_path / "facts"
    _saved(tmp_path)  # an index as save writes it: each host's file is read when it is checked
    index = json.loads((saved / "index.json").read_text())
    kvm03 = json.loads((saved / "kvm01.example.com.json").read_text())
    kvm03.update(host="kvm03.example.com", spec="kvm03.example.com", libvirt="libvirt-python")
    (saved / "kvm03.example.com.json").write_text(json.dumps(kvm03))
    index["hosts"].insert(
        1, {"host": "kvm03.example.com", "spec": "kvm03.example.com", "file": "kvm03.example.com.json", "error": None}
    )
    (saved / "index.json").write_text(json.dumps(index))

    clean = run_suite(str(tmp_path / "clean"), f"--facts={FORMAT1}")
    run = run_suite(str(tmp_path / "garbled"), f"--facts={saved}")
    assert run.returncode == clean.returncode, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout + run.stderr
    assert [h["host"] for h in run.results["hosts"]] == ["kvm01.example.com", "kvm03.example.com", "kvm02.example.com"]
    for host in ("kvm01.example.com", "kvm02.example.com"):
        assert run.for_host(host) == clean.for_host(host)
    assert len(clean.for_host("kvm01.example.com")) > 20
    why = f"saved facts unreadable: {saved / 'kvm03.example.com.json'}: libvirt is a string, not an object"
    [only] = run.for_host("kvm03.example.com")
    assert (only["check"], only["outcome"]) == ("host-reachable", "failed") and why in only["message"], only
    assert next(h for h in run.results["hosts"] if h["host"] == "kvm03.example.com")["error"] == why


def test_the_suite_refuses_an_index_of_the_wrong_shape_in_one_line(tmp_path):
    saved = _saved(tmp_path, edit_index=lambda i: {**i, "hosts": "kvm01"})
    run = _suite(tmp_path, saved)
    assert run.returncode == 4, run.stdout[-1000:] + run.stderr[-1000:]
    assert "Traceback" not in run.stdout + run.stderr and "INTERNALERROR" not in run.stdout + run.stderr
    assert [ln for ln in run.stderr.splitlines() if ln.strip()] == [
        f"ERROR: {saved}/index.json: hosts is a string, not a list"
    ], run.stderr


def test_the_suite_refuses_a_format_it_cannot_read_in_one_line(tmp_path):
    run = _suite(tmp_path, _newer(tmp_path))
    assert run.returncode == 4, run.stdout[-1000:] + run.stderr[-1000:]
    lines = [ln for ln in run.stderr.splitlines() if "format 99" in ln]
    assert lines == [
        f"ERROR: {tmp_path / 'newer'} was saved by kvm-netcheck 9.0 in format 99; this version reads format 1"
    ], run.stderr


def test_saved_facts_are_readable_by_their_owner_only(tmp_path):
    """The facts carry files a host keeps from its other users (NetworkManager keyfiles)."""
    import stat

    from kvmnetcheck.raw import RawHost, save

    save(str(tmp_path), [RawHost(host="kvm01", spec="ssh://kvm01", output="psk=secret")], "test")
    for name in os.listdir(tmp_path):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name


# ------------------------------------------------------- held out: what an old collector could not tell apart


def _format1_kvm01(uid: str, fds: dict):
    """kvm01 of the format-1 sample as a run by user `uid` would have saved it, with the QEMU fd counts that
    collector printed (it counted the fds of a process it could not list as 0)."""
    (kvm01, _) = raw_store.load(FORMAT1)
    out = kvm01.output.replace("\nuid=0\n", f"\nuid={uid}\n")
    for pid, n in fds.items():
        out = re.sub(rf"pid={pid} vhost_fds=\d+", f"pid={pid} vhost_fds={n}", out)
    return facts_from_raw(dataclasses.replace(kvm01, output=out))


def _outcome(check, *args):
    from test_unknown_facts import outcome

    return outcome(check, *args)


def test_format_1_from_a_user_run_never_passes_guest_nic_dhcp_checksum():
    """The first collector, run as a user, printed vhost_fds=0 for a QEMU whose fds it could not list: that 0
    is unknown, so no running virtio KVM NIC passes, even where libvirt's pid file vouches for its QEMU."""
    from tests_guest.test_guest_nics import test_guest_nic_gets_valid_dhcp_checksums as check

    user = _format1_kvm01("1000", {4242: 0, 4317: 0})
    assert user.uid == 1000 and user.vhost_net
    assert [(q.guest, q.vhost_fds) for q in user.qemu] == [("pxe-client", None), ("web01", None)]
    vouched = dataclasses.replace(
        user, libvirt_qemu=LibvirtQemu(pids=(("pxe-client", 4242), ("web01", 4317)))
    )  # as if the pid files had been read
    for f in (user, vouched):
        for guest in f.libvirt.guests:
            if not guest.active:
                continue
            for nic in guest.nics:
                r = _outcome(check, f, guest, nic)
                assert isinstance(r, Unreadable), (guest.name, nic.label, r)
    assert "could not be read" in str(_outcome(check, vouched, *_guest_nic(vouched, "web01")))
    # root's run of the same collector listed the fds: its counts stand (a 0 there is a 0)
    root = _format1_kvm01("0", {4242: 1, 4317: 0})
    assert [(q.guest, q.vhost_fds) for q in root.qemu] == [("pxe-client", 1), ("web01", 0)]
    vouched = dataclasses.replace(root, libvirt_qemu=LibvirtQemu(pids=(("pxe-client", 4242), ("web01", 4317))))
    assert _outcome(check, vouched, *_guest_nic(vouched, "web01")) == "passed"


def test_format_1_from_a_user_run_never_passes_libvirt_checksum_warning():
    """That collector also skipped the log files it could not read without a word (and a user's journal has
    only that user's lines): no warning found is no proof there was none."""
    from tests_host.test_checksum import test_libvirtd_log_has_no_checksum_warning as check

    user = _format1_kvm01("1000", {})
    clean = dataclasses.replace(user, libvirt_log_lines=())
    r = _outcome(check, clean)
    assert isinstance(r, Unreadable) and "collector format 1" in str(r), r
    assert _outcome(check, dataclasses.replace(_format1_kvm01("0", {}), libvirt_log_lines=())) == "passed"


def _guest_nic(f, name):
    guest = next(g for g in f.libvirt.guests if g.name == name)
    return guest, guest.nics[0]


@pytest.mark.parametrize("probe", [False, True])
def test_probe_checks_on_saved_facts_say_where_the_probe_runs(tmp_path, probe):
    """Saved facts (as kvmnetcheck.collect.ansible_gather writes them) hold no probe: with --probe the probe's
    checks say it runs only over the suite's own connection, not to run with --probe; without it, to run with it."""
    run = _suite(tmp_path, FORMAT1, "--check=probe-dhcp-offer", *(["--probe"] if probe else []))
    assert run.returncode in (0, 1, 5), run.stdout[-2000:] + run.stderr[-2000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    mine = [r for r in results["results"] if r["check"] == "probe-dhcp-offer" and r["host"] == "kvm01.example.com"]
    assert {r["object"] for r in mine} == {"br0", "virbr0"}, mine
    for r in mine:
        assert r["outcome"] == "skipped", r
        said = r["message"]
        if probe:
            assert "runs only over the suite's own connection" in said and "run with --probe" not in said, said
        else:
            assert said.startswith("run with --probe"), said
