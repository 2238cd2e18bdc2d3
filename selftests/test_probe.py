"""The probe (--probe) against real lab hosts: each probe-* scenario comes out as its file name says in one
run with --probe, with the probe's figures in its result; the probe leaves no namespace, veth or port
behind, also when it is stopped mid-way or killed; and a run with --probe changes nothing else on a host."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support import run_suite, settled_snapshot, snapshot, wait_sessions_closed
from test_scenarios import SCENARIOS, load_scenarios

from kvmnetcheck.collect.probe import PROGRAM

LIB = open(os.path.join(SCENARIOS, "lib.sh")).read()
ALL = [
    s
    for s in load_scenarios()
    if s.check.startswith("probe-") and fnmatch.fnmatch(s.id, os.environ.get("KNC_SCENARIOS", "*"))
]
LEFTOVERS = "ip netns list; ip -o link show"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("lab-probe"))) as lab:
        yield lab


@pytest.fixture(scope="module")
def probe_run(lab, tmp_path_factory):
    names = {s.id: f"pr{i:02d}" for i, s in enumerate(ALL)}

    def build(s):
        h = lab.add_host(names[s.id], libvirt="libvirt" in s.needs)
        if "vhost-net" in s.needs:
            h.add_vhost_net_standin()
        h.sh(LIB + "\n" + s.body, timeout=240)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(build, ALL))
    run = run_suite(
        str(tmp_path_factory.mktemp("report")),
        "--probe",
        "--hosts=" + ",".join(f"ssh://{n}" for n in names.values()),
        f"--ssh-config={lab.ssh_config}",
        *[f"--check={c}" for c in sorted({s.check for s in ALL})],
    )
    figures = {s.id: (run.result(s.check, names[s.id], s.object) or {}).get("observed") for s in ALL}
    if os.environ.get("KNC_PROBE_FIGURES"):  # where the figures of each scenario are kept for a note
        with open(os.environ["KNC_PROBE_FIGURES"], "w") as f:
            json.dump(figures, f, indent=1, sort_keys=True)
    return run, names


@pytest.mark.parametrize("scenario", ALL, ids=[s.id for s in ALL])
def test_probe_scenario_outcome(probe_run, scenario):
    run, names = probe_run
    r = run.result(scenario.check, names[scenario.id], scenario.object)
    assert r is not None, run.stdout[-3000:] + run.stderr[-2000:]
    assert r["outcome"] == scenario.expect, f"{scenario.id}: {r['outcome']}: {r['message']} {r.get('observed')}"
    assert scenario.message in r["message"], r["message"]
    if r["outcome"] == "failed":
        assert r["remediation"].strip() and r["observed"], r
    if scenario.fix == "none":
        assert r["fix_script"] == "", r["fix_script"]


def _observed(run, names, sid: str, check: str = "probe-dhcp-offer", obj: str = "virbr7") -> dict:
    if sid not in names:
        pytest.skip(f"{sid} not selected")
    return run.result(check, names[sid], obj)["observed"]


def test_probe_measures_the_forward_delay(probe_run):
    """STP with a 15 s delay: the port forwards after 30 s and the OFFER comes after that; the kernel's 2 s
    minimum: after 4 s, and the OFFER answers the DISCOVER iPXE sends at 7 s."""
    run, names = probe_run
    slow = _observed(run, names, "probe-dhcp-offer/delay-15.fail")
    assert 29.0 <= slow["forwarding_after_s"] <= 31.5, slow
    assert slow["first_offer_after_s"] is not None and slow["first_offer_after_s"] >= slow["forwarding_after_s"], slow
    fast = _observed(run, names, "probe-dhcp-offer/kernel-minimum.pass")
    assert 3.5 <= fast["forwarding_after_s"] <= 5.0, fast
    assert fast["offer_answers_discover"] == 4 and fast["first_offer_after_s"] <= 15, fast
    off = _observed(run, names, "probe-dhcp-offer/checksum-rule-present-vhost-guest.pass")
    assert off["forwarding_after_s"] < 0.5, off


def test_probe_reads_the_checksum_status_and_names_every_server(probe_run):
    run, names = probe_run
    unfilled = _observed(run, names, "probe-dhcp-offer/checksum-rule-removed-no-vhost-guest.pass")
    assert unfilled["checksum"].startswith("not filled (TP_STATUS_CSUMNOTREADY)"), unfilled
    assert unfilled["tp_status"] & 8, unfilled
    filled = _observed(run, names, "probe-dhcp-offer/checksum-rule-present-vhost-guest.pass")
    assert filled["checksum"] == "filled" and not filled["tp_status"] & 8, filled
    two = _observed(run, names, "probe-dhcp-offer/two-servers.fail")
    assert len(two["servers"]) == 2 and any("10.98.7.2" in s for s in two["servers"]), two


def test_probe_leaves_nothing_behind(lab, probe_run):
    """After the run, no host has a namespace or a link of the probe's."""
    _, names = probe_run
    for name in names.values():
        h = lab.get(name)
        out = h.sh(LEFTOVERS, check=False).stdout
        assert "kncp" not in out, f"{name}:\n{out}"


def _probe(h, *args):
    return h.spawn(["python3", "-c", PROGRAM, "N0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(h, pattern: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = h.sh(LEFTOVERS, check=False).stdout
        if re.search(pattern, out):
            return out
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_probe_stopped_midway_removes_its_port(lab, sig):
    """A probe stopped while its port waits on a 15 s-delay bridge removes its namespace and veth first."""
    h = lab.add_host(f"int{int(sig)}", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"", timeout=240)
    p = _probe(h, "ab12", "120", "virbr7")
    mid = _wait_for(h, r"kncp\d+h0@\S+ <[^>]*\bUP\b[^>]*> .* master virbr7")  # the port is up on the bridge
    assert re.search(r"kncp-\d+-ab12-0", mid), mid
    time.sleep(1)
    out, err = p.stop(sig, timeout=20)
    assert "probe_stopped" in out.decode(), (out, err)
    assert '"left_behind": []' in out.decode(), out
    assert "kncp" not in h.sh(LEFTOVERS, check=False).stdout


def test_probe_killed_outright_is_cleaned_by_the_next(lab):
    """SIGKILL leaves the namespace and veth; the next probe removes them before it starts, and says so."""
    h = lab.add_host("kill9", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"", timeout=240)
    p = _probe(h, "cd34", "120", "virbr7")
    ns = re.search(r"kncp-\d+-cd34-0", _wait_for(h, r"kncp-\d+-cd34-0")).group(0)
    p.stop(signal.SIGKILL, timeout=20)
    time.sleep(0.5)
    assert "kncp" in h.sh(LEFTOVERS, check=False).stdout  # what a killed probe leaves
    out = h.sh('python3 -c "$(cat)" N1 ef56 30', input=PROGRAM, check=False).stdout
    assert f'"leftovers_removed": ["{ns}"' in out, out
    assert "kncp" not in h.sh(LEFTOVERS, check=False).stdout


def test_two_probes_at_once_leave_each_other_alone(lab):
    """A second probe started while the first waits on its port removes nothing of the first's (its pid
    still runs the probe), and each ends having removed its own objects only."""
    h = lab.add_host("twice", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"", timeout=240)
    first = _probe(h, "aa11", "120", "virbr7")
    mine = re.search(r"kncp-(\d+)-aa11-0", _wait_for(h, r"kncp-\d+-aa11-0"))
    second = _probe(h, "bb22", "120", "virbr7")
    both = _wait_for(h, r"kncp-\d+-bb22-0")
    assert mine.group(0) in both and f"kncp{mine.group(1)}h0" in both, both  # the first's, still there
    out2, err2 = second.stop(signal.SIGTERM, timeout=20)
    assert '"leftovers_removed": []' in out2.decode(), (out2, err2)
    assert '"left_behind": []' in out2.decode(), out2
    left = h.sh(LEFTOVERS, check=False).stdout
    assert mine.group(0) in left and "bb22" not in left, left
    out1, err1 = first.stop(signal.SIGTERM, timeout=20)
    assert '"left_behind": []' in out1.decode() and "cleanup_error" not in out1.decode(), (out1, err1)
    assert "kncp" not in h.sh(LEFTOVERS, check=False).stdout


def test_probe_bounded_by_the_host_timeout_leaves_nothing(lab, tmp_path):
    """--host-timeout shorter than the wait a 15 s delay needs: the probe waits only what is left of the host's
    time (never less than iPXE's 15 s), ends on its own before the host's deadline, and leaves nothing."""
    h = lab.add_host("late1", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='on' delay='15'\"", timeout=240)
    run = run_suite(
        str(tmp_path), "--probe", "--hosts=ssh://late1", f"--ssh-config={lab.ssh_config}", "--host-timeout=40"
    )
    r = run.result("probe-dhcp-offer", "late1", "virbr7")
    assert r is not None and r["outcome"] == "failed", (r, run.stdout[-2000:])
    assert 15 <= r["observed"]["waited_s"] < 30 and r["observed"]["forwarding_after_s"] is None, r
    assert "kncp" not in h.sh(LEFTOVERS, check=False).stdout
    assert h.sh("pgrep -f 'IPXE_GIVES_U[P]'", check=False).stdout == ""  # no probe still running there


def test_probe_run_changes_nothing_else(lab, tmp_path):
    """A run with --probe: during it only the probe's own namespace and veth appear; after it, bridges, rules,
    libvirt objects, files and processes are as they were."""
    h = lab.add_host("ro2", libvirt=True)
    h.sh(LIB + "\nnet_define lan \"name='virbr7' stp='off'\"\nhost_bridge_with_guest", timeout=240)
    before = settled_snapshot(h)
    seen_before = set(_names(h.sh(LEFTOVERS, check=False).stdout))
    watch = h.spawn(["sh", "-c", f"while :; do {LEFTOVERS}; sleep 0.1; done"], stdout=subprocess.PIPE)
    run = run_suite(str(tmp_path), "--probe", "--hosts=ssh://ro2", f"--ssh-config={lab.ssh_config}")
    seen, _ = watch.stop(signal.SIGTERM, timeout=10)
    assert run.result("probe-dhcp-offer", "ro2", "virbr7")["outcome"] == "passed", run.stdout[-2000:]
    assert run.result("probe-dhcp-offer", "ro2", "br0")["outcome"] == "failed"  # no DHCP server across br0
    appeared = set(_names(seen.decode())) - seen_before
    assert appeared and all(n.startswith("kncp") for n in appeared), appeared
    wait_sessions_closed(h)
    after = snapshot(h)
    # the one trace a port leaves on a bridge that never had one: the kernel sets the bridge's tso_max_size
    # from its ports (net/bridge/br_if.c br_set_gso_limits, TSO_MAX_SIZE with none left), where a new
    # device starts at 65536; nothing can set it back from user space
    before["links"], n = re.subn(r"(virbr7: .*?tso_max_size) 65536 ", r"\1 524280 ", before["links"])
    assert n == 1, before["links"]
    for key in before:
        assert before[key] == after[key], f"{key} changed:\n--- before\n{before[key]}\n--- after\n{after[key]}"


def _names(listing: str) -> list[str]:
    """Namespace and link names in `ip netns list; ip -o link show` output."""
    out = []
    for line in listing.splitlines():
        m = re.match(r"\d+: ([^:@ ]+)", line) or re.match(r"([A-Za-z0-9_.-]+)( \(id: \d+\))?$", line)
        if m:
            out.append(m.group(1))
    return out


def _dhcp_packets(tcpdump_out: str, mac: str) -> list[tuple[float, str]]:
    """(time, Discover|Offer|Request|ACK) of each DHCP packet to or from `mac` in `tcpdump -tt -e -v` output."""
    out, head = [], None
    for line in tcpdump_out.splitlines():
        m = re.match(r"(\d+\.\d+) (\S+) > (\S+),", line)
        if m:
            head = (float(m.group(1)), mac in (m.group(2).lower(), m.group(3).lower()))
            continue
        m = re.search(r"DHCP-Message \(53\), length 1: (\w+)", line)
        if m and head and head[1]:
            out.append((head[0], m.group(1)))
    return out


def _port_times(watch_out: str) -> tuple[float, float]:
    """When a guest tap (vnet*) first showed on the bridge, and when it first forwarded (host clock)."""
    seen = fwd = None
    for line in watch_out.splitlines():
        fields = line.split()
        if len(fields) != 3:  # the port went away between listing and reading its state
            continue
        t, port, state = fields
        if port.startswith("vnet"):
            seen = seen or float(t)
            if state == "3":
                fwd = fwd or float(t)
    return seen, fwd


@pytest.mark.slow
def test_probe_agrees_with_a_real_pxe_guest(lab):
    """On the same network, the probe's port-forwarding time and the delay from the first DISCOVER that got
    through to the OFFER are within 1 s of a real PXE guest's (QEMU under TCG, its iPXE ROM, libvirt's dnsmasq)."""
    from lab import pxe_boot

    h = lab.add_host("truthp", libvirt=True)
    h.sh(LIB + "\nnet_define pxe \"name='virbr9' stp='on' delay='2'\"", timeout=240)
    ports = h.spawn(
        [
            "sh",
            "-c",
            'while :; do for p in /sys/class/net/virbr9/brif/*; do [ -e "$p" ] && '
            'echo "$(date +%s.%N) ${p##*/} $(cat "$p/state")"; done; sleep 0.05; done',
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    dump = h.spawn(
        ["tcpdump", "-l", "-tt", "-n", "-e", "-v", "-i", "virbr9", "udp and (port 67 or port 68)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(2)
    try:
        guest = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=50)
    finally:
        watched, _ = ports.stop(signal.SIGTERM, timeout=10)
        dumped, _ = dump.stop(signal.SIGINT, timeout=10)
    assert guest.leased, guest
    seen, fwd = _port_times(watched)
    packets = _dhcp_packets(dumped, guest.mac)
    offer = next(t for t, kind in packets if kind == "Offer")
    # the first DISCOVER the bridge let through (a blocked port drops them before the bridge sees them)
    answered = min(t for t, kind in packets if kind == "Discover")
    guest_forward, guest_latency = fwd - seen, offer - answered

    out = h.sh('python3 -c "$(cat)" N2 tr01 90 virbr9', input=PROGRAM, timeout=120).stdout
    found = json.loads(out.split("probe_bridge\tvirbr9\n", 1)[1].split("\n", 1)[0])
    first = found["offers"][0]
    through = min(t for t in found["discovers_at_s"] if t >= found["forwarding_after_s"])
    probe_latency = first["at_s"] - through
    figures = {
        "guest_forward_s": guest_forward,
        "probe_forward_s": found["forwarding_after_s"],
        "guest_offer_after_discover_s": guest_latency,
        "probe_offer_after_discover_s": probe_latency,
        "guest_first_packet_s": guest.first_packet_s,
        "probe_first_offer_s": first["at_s"],
    }
    if os.environ.get("KNC_PROBE_FIGURES"):
        with open(os.environ["KNC_PROBE_FIGURES"] + ".truth", "w") as f:
            json.dump(figures, f, indent=1)
    assert abs(guest_forward - found["forwarding_after_s"]) <= 1.0, figures
    assert abs(guest_latency - probe_latency) <= 1.0, figures
