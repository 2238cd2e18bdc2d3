"""Findings grouped by check and cause (report/groups.py), spooled to disk and read back per host
(report/stream.py Findings), and results.json / JUnit written gzip-compressed when asked."""

import gzip
import json

from kvmnetcheck.report.groups import Groups, shape
from kvmnetcheck.report.junit import write_junit
from kvmnetcheck.report.results import Result, write_results
from kvmnetcheck.report.stream import ResultStream


def _nic(host: str, guest: str, mac: str, bridge: str = "br0") -> Result:
    return Result(
        check="guest-nic-bridge-delay",
        host=host,
        object=f"{guest}/{mac}",
        outcome="failed",
        severity="high",
        message=f"guest {guest}: NIC {mac} plugs into {bridge}, where a new port passes no traffic for 30 s",
        remediation=f"ip link set dev {bridge} type bridge stp_state 0\n# then restart {guest}'s NIC",
    )


def test_names_of_host_and_object_become_placeholders_where_they_stand_as_words():
    r = _nic("kvm01", "g1", "52:54:00:00:00:01")
    names = [("g1/52:54:00:00:00:01", "OBJECT"), ("g1", "GUEST"), ("52:54:00:00:00:01", "NIC"), ("kvm01", "HOST")]
    assert (
        shape(r.message, names)
        == "guest {GUEST}: NIC {NIC} plugs into br0, where a new port passes no traffic for 30 s"
    )
    # a name inside a longer word is left alone
    assert shape("g10 and g1-x and g1", [("g1", "GUEST")]) == "g10 and g1-x and {GUEST}"
    assert shape("/etc/network/interfaces: br0", [("/etc/network/interfaces", "PATH"), ("br0", "BRIDGE")]) == (
        "{PATH}: {BRIDGE}"
    )


def test_one_group_per_check_and_cause_counting_hosts_and_objects():
    g = Groups()
    for h in ("kvm01", "kvm02"):
        for i in range(3):
            g.add(_nic(h, f"g{i}", f"52:54:00:00:00:0{i}"))
    g.add(_nic("kvm03", "g0", "52:54:00:00:00:00", bridge="br9"))  # another bridge: another cause
    (first, second) = g.ordered()
    assert (first.count, first.hosts) == (6, {"kvm01": 3, "kvm02": 3})
    assert first.fix == "ip link set dev br0 type bridge stp_state 0\n# then restart {GUEST}'s NIC"
    assert (second.count, list(second.hosts)) == (1, ["kvm03"])
    assert ("kvm01", "g0/52:54:00:00:00:00", "guest-nic-bridge-delay") in first.examples


def test_errors_of_one_cause_are_one_group_across_checks():
    g = Groups()
    for check in ("network-dhcp-server", "guest-nic-rom-file"):
        for h in ("kvm01", "kvm02"):
            g.add(
                Result(
                    check,
                    h,
                    "default",
                    "error",
                    "high",
                    f"the check could not run: {check} gathered by an older version",
                )
            )
    (only,) = g.ordered()
    assert (
        only.outcome == "error"
        and only.count == 4
        and set(only.checks) == {"network-dhcp-server", "guest-nic-rom-file"}
    )
    assert set(only.hosts) == {"kvm01", "kvm02"}


def test_a_check_with_too_many_shapes_puts_the_rest_in_one_group(monkeypatch):
    import kvmnetcheck.report.groups as groups

    monkeypatch.setattr(groups, "GROUPS_PER_CHECK", 3)
    g = Groups()
    for i in range(10):
        g.add(Result("network-dhcp-pool", "kvm01", "lan", "failed", "medium", f"{90 + i}% of its range is taken"))
    assert len(g.groups) == 4 and sum(x.count for x in g.groups.values()) == 10


def test_findings_are_spooled_and_read_back_per_host(tmp_path):
    s = ResultStream(str(tmp_path / "spool.jsonl"), findings_path=str(tmp_path / "findings.jsonl"))
    for h in ("kvm01", "kvm02"):
        s.add(Result("bridge-forward-delay", h, "br1", "passed", "high"))
        s.add(_nic(h, "g0", "52:54:00:00:00:00"))
    s.add(Result("host-reachable", "kvm03", "kvm03", "failed", "critical", "no route"))
    assert len(s.findings) == 3 and s.findings.hosts() == ["kvm01", "kvm02", "kvm03"]
    assert [r.object for r in s.findings_of("kvm02")] == ["g0/52:54:00:00:00:00"]
    assert [r.host for r in s.findings] == ["kvm01", "kvm02", "kvm03"]
    assert list(s.unreached) == ["kvm03"] and s.tally[("failed", "guest-nic-bridge-delay", "high")] == 2
    assert not hasattr(s, "_by_host")  # nothing of a finding is kept in memory but its counts and group
    s.discard()
    assert not (tmp_path / "findings.jsonl").exists()


def test_results_json_and_junit_are_written_gzip_compressed_when_named_so(tmp_path):
    s = ResultStream(str(tmp_path / "spool.jsonl"))
    s.add(_nic("kvm01", "g0", "52:54:00:00:00:00"))
    s.add(Result("bridge-forward-delay", "kvm01", "br1", "passed", "high", test="t::x[a]"))
    write_results(str(tmp_path / "results.json.gz"), [{"host": "kvm01"}], s.lines(), {})
    with gzip.open(tmp_path / "results.json.gz", "rt") as f:
        doc = json.load(f)
    assert [r["outcome"] for r in doc["results"]] == ["failed", "passed"]
    write_junit(str(tmp_path / "junit.xml.gz"), s, {"kvm-netcheck-gate": "failed"}, 1.0)
    with gzip.open(tmp_path / "junit.xml.gz", "rt") as f:
        assert f.read().count("<testcase ") == 2
