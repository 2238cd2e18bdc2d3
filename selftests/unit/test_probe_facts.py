"""The probe (collect/probe.py): the packets it builds and reads, under Python 3.6 too, and the parser of what
it prints (facts/parsers/probe.py), on output a lab host printed, empty and garbled output."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time

import pytest

from kvmnetcheck.collect.probe import PROGRAM, command_args
from kvmnetcheck.facts.parsers.gathered import Gathered
from kvmnetcheck.facts.parsers.probe import parse_bridge_probe, read_probe
from kvmnetcheck.facts.parsers.sections import split_sections

NONCE = "N1"
# what the probe printed on a lab host: libvirt network, STP off, libvirt's CHECKSUM rule removed
OUTPUT = (
    "@@N1@@ probe_meta\t\n"
    '{"bridges": ["virbr7"], "leftovers_removed": [], "python": "3.11.2", "run": "ab12", "uid": 0}\n'
    "\n@@N1@@ rc\t0\n"
    "@@N1@@ probe_bridge\tvirbr7\n"
    '{"bridge": "virbr7", "discovers_at_s": [0.079, 1.0, 3.001], "forward_delay_s": 0.0, '
    '"forwarding_after_s": 0.006, "offers": [{"at_s": 3.087, "checksum_verifies": false, "csum_notready": true, '
    '"csum_valid_flag": false, "discover": 0, "file": "", "netmask": "255.255.255.0", "opt_bootfile": "", '
    '"opt_tftp_server": "", "router": null, "server_id": "10.98.7.1", "siaddr": "10.98.7.1", "sname": "", '
    '"src_ip": "10.98.7.1", "src_mac": "52:54:00:3d:cc:d3", "tp_status": 9, "udp_checksum": 4776, '
    '"yiaddr": "10.98.7.39"}], "port_states": [[0.006, 3]], "stp_state": 0, "tftp": null, "window_s": 20.0}\n'
    "\n@@N1@@ rc\t0\n"
    "@@N1@@ probe_done\t\n"
    '{"left_behind": []}\n'
    "\n@@N1@@ rc\t0\n"
)


def _gathered(text: str) -> Gathered:
    by_kind: dict = {}
    for s in split_sections(text, NONCE):
        by_kind.setdefault(s.kind, []).append(s)
    return Gathered(by_kind, None, meta={}, listed_before={})


def test_read_probe_on_lab_output():
    run = read_probe(_gathered(OUTPUT))
    assert run.error is None and run.uid == 0 and run.targets == ("virbr7",) and run.left_behind == ()
    b = run.of("virbr7")
    assert b.forwarding_after_s == 0.006 and b.stp_state == 0 and b.window_s == 20.0
    o = b.first_offer
    assert o.at_s == 3.087 and o.discover == 0 and o.in_ipxe_time
    assert o.csum_notready and not o.checksum_filled and o.udp_checksum == 4776
    assert b.servers == ("10.98.7.1 (52:54:00:3d:cc:d3)",)


def test_no_probe_is_none_and_a_cut_probe_says_so():
    assert read_probe(_gathered("")) is None
    cut = read_probe(_gathered(OUTPUT.split("@@N1@@ probe_done")[0]))
    assert cut.left_behind is None  # unknown, not "nothing"


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"offers": [{"at_s": "x"}, 3], "tftp": 5}'])
def test_garbled_bridge_answers_never_raise(text):
    b = parse_bridge_probe("br0", text)
    assert b.bridge == "br0" and b.offers == ()
    assert b.error or text.startswith("{")


def test_garbled_meta_is_an_error():
    run = read_probe(_gathered("@@N1@@ probe_meta\t\n{oops\n\n@@N1@@ rc\t0\n"))
    assert run.error and "could not be read" in run.error


def _program() -> dict:
    ns: dict = {}
    exec(PROGRAM, ns)
    return ns


def _offer_frame(p: dict, discover: bytes, fill: bool) -> bytes:
    """The OFFER a DHCP server sends back for `discover`, with its UDP checksum filled in or not."""
    xid, mac = discover[14 + 20 + 8 + 4 : 14 + 20 + 8 + 8], discover[6:12]
    bootp = bytearray(240)
    bootp[0:4] = b"\x02\x01\x06\x00"
    bootp[4:8] = xid
    bootp[16:20] = bytes([10, 98, 7, 39])
    bootp[20:24] = bytes([10, 98, 7, 1])
    bootp[28:34] = mac
    bootp[108:119] = b"pxelinux.0\0"
    bootp[236:240] = b"\x63\x82\x53\x63"
    bootp += b"\x35\x01\x02\x36\x04\x0a\x62\x07\x01\xff"
    src, dst = bytes([10, 98, 7, 1]), bytes([10, 98, 7, 39])
    ulen = 8 + len(bootp)
    udp = struct.pack("!HHHH", 67, 68, ulen, 0) + bytes(bootp)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    c = 0xFFFF - p["csum"](pseudo + udp) if fill else 0x1234
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64, 17, 0, src, dst)
    return mac + b"\x52\x54\x00\x00\x00\x01" + b"\x08\x00" + iph + udp


def test_discover_is_a_pxe_roms_and_its_checksums_verify():
    p = _program()
    mac = bytes.fromhex("02aabbccddee")
    frame = p["discover"](mac, 0x01020304, os.urandom(16), 3)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac
    iph, udp = frame[14:34], frame[34:]
    assert p["csum"](iph) == 0xFFFF
    pseudo = iph[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    assert p["csum"](pseudo + udp) == 0xFFFF
    opts = p["dhcp_options"](udp[8 + 240 :])
    assert opts[53] == b"\x01" and opts[60] == b"PXEClient:Arch:00000:UNDI:002001"
    assert opts[93] == b"\x00\x00" and len(opts[97]) == 17 and opts[97][0] == 0


@pytest.mark.parametrize("fill", [True, False])
def test_offer_read_with_its_checksum_status(fill):
    p = _program()
    mac = bytes.fromhex("02aabbccddee")
    d = p["discover"](mac, 7, os.urandom(16), 0)
    xids = [int.from_bytes(d[46:50], "big")]
    o = p["parse_offer"](_offer_frame(p, d, fill), 0 if fill else 8, xids, mac)
    assert o["yiaddr"] == "10.98.7.39" and o["server_id"] == "10.98.7.1" and o["file"] == "pxelinux.0"
    assert o["checksum_verifies"] is fill and o["csum_notready"] is not fill
    assert p["parse_offer"](_offer_frame(p, d, fill), 0, [xids[0] + 1], mac) is None  # not our xid
    assert p["boot_file"](o) == {"outcome": "pending", "file": "pxelinux.0", "server": "10.98.7.1"}


PY36 = "/root/.pyenv/versions/3.6.15/bin/python3.6"


@pytest.mark.skipif(not os.access(PY36, os.X_OK), reason="no Python 3.6 on this machine")
def test_leftovers_are_told_by_the_pid_of_their_probe():
    """A leftover's name carries the pid of the probe that made it: it is removed only once that pid no longer
    runs the probe (a pid reused by another program, or by this very probe, is no owner); names of older
    probes, without a pid, are removed."""
    g = _program()
    assert [g["owner_of"](n) for n in ("kncp-4194304-ab12-0", "kncp4194304h0", "kncp12g3", "kncp-ab12-0")] == [
        4194304,
        4194304,
        12,
        None,
    ]
    assert len("kncp4194304h99") <= 15  # IFNAMSIZ
    other = subprocess.Popen([sys.executable, "-c", PROGRAM + "\nimport time\ntime.sleep(60)", "N0"])
    try:
        deadline = time.monotonic() + 10
        while not g["alive"](other.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # its command line is there once it has exec'd
        assert g["alive"](other.pid)
    finally:
        other.kill()
        other.wait()
    assert not g["alive"](other.pid)
    assert not g["alive"](os.getpid()) and not g["alive"](os.getppid()) and not g["alive"](None)


def test_program_runs_under_python_36():
    """RHEL 8's platform-python is 3.6: the program loads there and its packet code runs."""
    check = (
        "import os, socket\ng = {}\nexec(compile(os.environ['P'], 'probe', 'exec'), g)\n"
        "f = g['discover'](b'\\x02' * 6, 1, b'\\0' * 16, 0)\nassert g['csum'](f[14:34]) == 0xFFFF\n"
        "assert g['parse_offer'](f, 0, [1], b'\\x02' * 6) is None\nprint('ok')\n"
    )
    r = subprocess.run([PY36, "-c", check], env={"P": PROGRAM}, capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "ok", r.stderr
    cmd, args = command_args("N9", "ab12", 30, ["br0"])
    assert args[:4] == [PROGRAM, "N9", "ab12", "30"] and cmd.count("%s") == len(args)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to drop it")
def test_probe_refuses_without_root_and_says_so():
    """Run as an unprivileged user, the probe touches nothing and its first section says why."""
    r = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-c",
            PROGRAM,
            "N7",
            "ab12",
            "30",
            "br0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    run = read_probe(_gathered(r.stdout.replace("@@N7@@", "@@N1@@")))
    assert run is not None and run.error and "needs root" in run.error, (r.stdout, r.stderr)
    assert run.bridges == () and "probe_bridge" not in r.stdout
