"""What could not be read stays unknown: a section the collector never printed, a port list it could not
list, a QEMU process nobody vouches for, a network whose XML was refused. Each gives the check an error
result that says what is missing, never the pass (or the confident failure) its absence would read as."""

import time

import pytest
from test_bridge_config import alias_bomb
from test_host_facts import DOM_XML, NET_XML, NONCE, collector

from kvmnetcheck.catalog import Finding, running
from kvmnetcheck.facts.conclusions.libvirt import qemu_of
from kvmnetcheck.facts.host import build_host_facts
from kvmnetcheck.facts.model import Unreadable
from kvmnetcheck.raw import RawLibvirt, RawNetwork
from kvmnetcheck.report.guests import host_stories
from kvmnetcheck.report.results import Result

NET_UUID = "12345678-1234-4234-8234-123456789abc"
META5 = (
    "meta",
    "",
    "collector=5\nhostname=h1\nuid=0\nclk_tck=100\nkernel=6.1.0-18-amd64\nnow=1700000000\nvhost_net_dev=1\n"
    "have=virsh\nhave=libvirtd\nhave=iptables\nhave=iptables-save\nhave=ss",
)
DONE = ("done", "", "")
UDP = ("udp_servers", "", 'UNCONN 0 0 0.0.0.0%virbr5:67 0.0.0.0:* users:(("dnsmasq",pid=100,fd=6))')
PID = ("libvirt_dnsmasq_pid", "/run/libvirt/network/lab.pid", "100")
LEASES = ("dnsmasq_leases", "/var/lib/libvirt/dnsmasq/virbr5.status", "[]")
DNSMASQ = "pid=100 comm=dnsmasq args=/usr/sbin/dnsmasq --conf-file=/var/lib/libvirt/dnsmasq/lab.conf"
BRIDGE = (
    "bridge",
    "virbr5",
    "stp_state=0\nforward_delay=0\nbridge_id=8000.525400000005\nroot_id=8000.525400000005\n"
    "root_port=0\nport=vnet7 state=3",
)
SAVE = (
    "iptables_save",
    "",
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*mangle\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n",
)
# the live XML of a running guest, with the DAC label libvirt's security driver gives it (Debian: libvirt-qemu)
DOM_LIVE = DOM_XML.replace(
    "</devices>",
    "</devices>\n  <seclabel type='dynamic' model='dac' relabel='yes'>\n"
    "    <label>+64055:+64055</label>\n  </seclabel>",
)


def facts(*sections, nets=(NET_XML,), dom=DOM_LIVE):
    raw = RawLibvirt("libvirt-python", "qemu:///system", (9, 0, 0))
    for i, xml in enumerate(nets):
        raw.networks.append(
            RawNetwork(NET_UUID if i == 0 else f"00000000-0000-4000-8000-00000000000{i}", True, True, True, xml, None)
        )
    raw.domains.append((True, dom))
    return build_host_facts("h1", "ssh://h1", collector(*sections), NONCE, raw)


def outcome(check, *args):
    """What a check made of the facts, run as a run runs it (inside catalog.running): "passed", "skipped: ...",
    or the Finding or Unreadable it raised."""
    (check_id,) = [m.args[0] for m in check.pytestmark if m.name == "check"]
    try:
        with running(check_id):
            check(*args)
    except pytest.skip.Exception as e:
        return f"skipped: {e}"
    except (Finding, Unreadable) as e:
        return e
    return "passed"


def dhcp_pool(f):
    from tests_host.test_dhcp_servers import test_network_dhcp_range_has_room

    return outcome(test_network_dhcp_range_has_room, f, f.libvirt.network("lab"))


def dhcp_server(f):
    from tests_host.test_dhcp_servers import test_network_dhcp_server_is_running

    return outcome(test_network_dhcp_server_is_running, f, f.libvirt.network("lab"))


def nic_check(name, f):
    import tests_guest.test_guest_nics as checks

    (guest,) = f.libvirt.guests
    return outcome(getattr(checks, name), f, guest, guest.nics[0])


# ------------------------------------------------------------------ 10a: a section never printed is no empty one


def test_leases_never_listed_are_unknown_not_no_leases():
    # cut short after the DHCP sockets, before the pid and lease files were listed
    f = facts(META5, UDP)
    r = dhcp_pool(f)
    assert isinstance(r, Unreadable), r
    assert "/var/lib/libvirt/dnsmasq/virbr5.status was not gathered" in str(r) and "cut short" in str(r)
    assert f.dhcp_servers.files_error


def test_no_lease_file_where_the_listing_ended_is_no_leases():
    # the same host, read to its end: no lease file is no lease (a network that never gave one)
    assert dhcp_pool(facts(META5, UDP, PID, ("processes", "", DNSMASQ), DONE)) == "passed"
    # a section the collector always prints after the listing proves it ended, even in a cut output
    assert dhcp_pool(facts(META5, UDP, PID, ("processes", "", DNSMASQ))) == "passed"
    assert dhcp_pool(facts(META5, UDP, PID, LEASES, ("processes", "", DNSMASQ), DONE)) == "passed"


# ------------------------------------------------------------------ 10b: processes and ports not read


def test_dnsmasq_with_the_processes_never_listed_is_unknown_not_dead():
    f = facts(META5, UDP, PID, LEASES)  # cut short before `processes`
    r = dhcp_server(f)
    assert isinstance(r, Unreadable), r  # not "pid 100 is not a running dnsmasq", restart libvirtd
    assert "whether network lab's dnsmasq runs is unknown" in str(r)
    assert f.daemons is None and f.qemu is None and "before it listed the running processes" in f.processes_error
    # cut inside the listing: the processes seen are not all there are
    f = facts(META5, UDP, PID, LEASES, ("processes", "", "pid=7 comm=virtnetworkd", None))
    assert f.daemons is None and isinstance(dhcp_server(f), Unreadable)
    # read to its end, the same pid file and no dnsmasq: the finding stands
    r = dhcp_server(facts(META5, UDP, PID, LEASES, ("processes", "", "pid=7 comm=virtnetworkd"), DONE))
    assert isinstance(r, Finding) and "pid 100, which is not a running dnsmasq" in r.message


def test_pid_file_never_listed_is_unknown_not_missing():
    r = dhcp_server(facts(META5, UDP))  # cut short before the pid files (and the processes)
    assert isinstance(r, Unreadable), r


@pytest.mark.parametrize(
    "bridge, why",
    [
        (
            ("bridge", "virbr5", BRIDGE[2].replace("port=vnet7 state=3", "brif=unreadable")),
            "/sys/class/net/virbr5/brif could not be listed",
        ),
        (BRIDGE[:2] + (BRIDGE[2].replace("port=vnet7 state=3", ""), None), "cut short inside bridge virbr5's section"),
    ],
)
def test_guest_port_on_a_bridge_whose_ports_were_not_read_is_unknown(bridge, why):
    f = facts(META5, bridge, ("processes", "", ""), DONE)
    r = nic_check("test_guest_port_forwards", f)
    assert isinstance(r, Unreadable), r  # not "vnet7 is not a port of virbr5": ip link set vnet7 master virbr5
    assert "whether tap vnet7 is a port of virbr5 is unknown" in str(r) and why in str(r)
    (b,) = f.bridges
    assert b.ports is None and why in b.ports_error
    # listed, the port is there
    assert nic_check("test_guest_port_forwards", facts(META5, BRIDGE, DONE)) == "passed"


def test_older_collectors_bridge_without_port_lines_has_ports_unknown():
    meta4 = ("meta", "", META5[2].replace("collector=5", "collector=4"))
    f = facts(meta4, ("bridge", "virbr5", BRIDGE[2].replace("port=vnet7 state=3", "")), DONE)
    r = nic_check("test_guest_port_forwards", f)
    assert isinstance(r, Unreadable), r
    assert f.bridges[0].ports is None and "older version" in f.bridges[0].ports_error
    assert [p.name for p in facts(meta4, BRIDGE, DONE).bridges[0].ports] == ["vnet7"]


def test_bridge_never_listed_is_unknown_not_missing():
    f = facts(META5)  # cut short before the bridges' listing ended (libvirt_log never came)
    r = nic_check("test_guest_port_forwards", f)
    assert isinstance(r, Unreadable) and "whether bridge virbr5 exists is unknown" in str(r), r
    assert f.bridges == () and f.bridges_error


# ------------------------------------------------------------------ 10c: whose QEMU is it


def qemu_line(pid, uid, user, fds, guest="lab-vm"):
    return f"pid={pid} comm=qemu uid={uid} euid={uid} user={user} vhost_fds={fds} name=guest={guest},debug-threads=on"


def checksum(*procs, extra=()):
    f = facts(META5, BRIDGE, SAVE, *extra, ("processes", "", "\n".join(procs)), DONE)
    return f, nic_check("test_guest_nic_gets_valid_dhcp_checksums", f)


def test_a_qemu_of_user_nobody_named_after_the_guest_is_not_its_qemu():
    # it holds no vhost-net fd: taken for the guest's QEMU, the check passed
    f, r = checksum(qemu_line(666, 65534, "nobody", 0))
    assert isinstance(r, Finding) and "virtio with vhost-net" in r.message, r
    (guest,) = f.libvirt.guests
    assert qemu_of(f, guest) is None
    (fake,) = f.qemu
    assert (fake.uid, fake.euid, fake.user) == (65534, 65534, "nobody")


def test_the_qemu_of_libvirts_user_is_taken_and_not_the_first_named_one():
    # first the fake (no vhost-net fd), then libvirt's (DAC label +64055): libvirt's decides
    f, r = checksum(qemu_line(666, 65534, "nobody", 0), qemu_line(4242, 64055, "libvirt-qemu", 2))
    (guest,) = f.libvirt.guests
    assert qemu_of(f, guest).pid == 4242
    assert isinstance(r, Finding) and "QEMU pid 4242 holds 2 vhost fd(s)" in r.observed["vhost-net"]
    f, r = checksum(qemu_line(4242, 64055, "libvirt-qemu", 0), qemu_line(666, 65534, "nobody", 2))
    assert r == "passed"  # libvirt's QEMU uses no vhost-net


def test_two_qemus_of_libvirts_user_named_after_the_guest_are_unknown():
    f, r = checksum(qemu_line(4242, 64055, "libvirt-qemu", 0), qemu_line(4243, 0, "root", 0))
    assert isinstance(r, Unreadable) and "2 QEMU processes run as" in str(r) and "4242, 4243" in str(r), r


def test_the_pid_libvirt_keeps_decides():
    pid = ("libvirt_qemu_pid", "/run/libvirt/qemu/lab-vm.pid", "4243")
    f, r = checksum(qemu_line(4242, 64055, "libvirt-qemu", 0), qemu_line(4243, 64055, "libvirt-qemu", 3), extra=(pid,))
    assert f.libvirt_qemu.pid_of("lab-vm") == 4243
    assert isinstance(r, Finding) and "QEMU pid 4243 holds 3" in r.observed["vhost-net"]


@pytest.mark.parametrize(
    "conf, uid, user, taken",
    [
        ('user = "+107"\n', 107, "qemu", True),
        ('user = "qemu"  # RHEL\n', 107, "qemu", True),
        ('user = "qemu"\n', 64055, "libvirt-qemu", False),
        ("", 64055, "libvirt-qemu", True),  # no user=: the build's default, one of libvirt's own names
        ("", 1000, "alice", False),
        ("", 0, "root", True),
    ],
)
def test_without_a_dac_label_qemu_conf_names_the_user(conf, uid, user, taken):
    f = facts(
        META5,
        ("qemu_conf", "/etc/libvirt/qemu.conf", conf, 0 if conf else 1),
        ("processes", "", qemu_line(4242, uid, user, 0)),
        DONE,
        dom=DOM_XML,
    )
    (guest,) = f.libvirt.guests
    assert guest.dac_label is None and f.libvirt_qemu.conf_read
    assert (qemu_of(f, guest) is not None) is taken


def test_qemu_of_an_older_collector_names_no_owner_and_is_unknown():
    old = ("meta", "", META5[2].replace("collector=5", "collector=4"))
    f = facts(old, BRIDGE, SAVE, ("processes", "", "pid=4242 comm=qemu vhost_fds=0 name=guest=lab-vm"), DONE)
    r = nic_check("test_guest_nic_gets_valid_dhcp_checksums", f)
    assert isinstance(r, Unreadable) and "who runs them was not gathered" in str(r), r


# ------------------------------------------------------------------ 10e: a refused network is unknown


@pytest.mark.parametrize(
    "refused, why",
    [
        ('<!DOCTYPE network [<!ENTITY x "y">]><network><name>lab</name></network>', "DOCTYPE"),
        ("<network><name>lab</name><description>" + "A" * (4 << 20) + "</description></network>", "byte limit"),
    ],
)
def test_nics_on_a_network_whose_xml_was_refused_are_unknown(refused, why):
    f = facts(META5, BRIDGE, ("processes", "", ""), DONE, nets=(refused,))
    for check in ("test_guest_port_forwards", "test_guest_nic_gets_valid_dhcp_checksums"):
        r = nic_check(check, f)
        assert isinstance(r, Unreadable), (check, r)  # not "its network 'lab' is not defined on this host"
        assert f"network(s) was refused, so it may be one of them: {NET_UUID}:" in str(r) and why in str(r)
    assert f.libvirt.networks == () and len(f.libvirt.refused_networks) == 1
    # the per-guest view says so too, and still gathers the NIC's results
    error = Result("guest-port-forwarding", "h1", "lab-vm/52:54:00:55:55:01", "error", "high", str(r))
    (story,) = host_stories(f, [error])
    assert story.attached == ("NIC 52:54:00:55:55:01: network lab (not read)",) and story.findings == (error,)
    # no network refused: a network that is not there is not there
    f = facts(META5, BRIDGE, ("processes", "", ""), DONE, nets=())
    assert nic_check("test_guest_port_forwards", f) == "skipped: its network 'lab' is not defined on this host"


# ------------------------------------------------------------------ 6: the alias bomb, in a host's facts


def test_netplan_alias_bomb_on_a_host_is_an_error_for_its_bridge():
    from kvmnetcheck.catalog import Limits
    from tests_host.test_bridges import test_bridge_config_keeps_new_ports_open

    started = time.process_time()
    f = facts(META5, ("netconfig", "/etc/netplan/01-br.yaml", alias_bomb(8)), DONE)
    assert time.process_time() - started < 1.0
    (c,) = f.bridge_configs
    r = outcome(test_bridge_config_keeps_new_ports_open, f, c, Limits(4.0))
    assert isinstance(r, Unreadable), r
    assert str(r) == (
        "/etc/netplan/01-br.yaml: netplan file /etc/netplan/01-br.yaml: YAML aliases expand past 100000 nodes; not read"
    )
