"""Self-tests of the lab: namespaced hosts reachable over real SSH.

The compliance checks are proven against these hosts, so this file proves
the hosts themselves: isolation (interfaces, /etc, /dev, libvirt, iptables),
real SSH / testinfra / read-only qemu+ssh access, STP between two hosts,
and a teardown that leaves nothing behind.

Run: .venv/bin/pytest -p no:cacheprovider selftests/lab -q
(the PXE test is marked ``slow``: about a minute).
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab import Lab, LabError, find_holders  # noqa: E402

NEEDED = ("unshare", "nsenter", "sshd", "ssh", "ssh-keygen", "libvirtd", "virtlogd", "virsh", "ip")
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or any(shutil.which(t) is None and not os.path.exists("/usr/sbin/" + t) for t in NEEDED),
    reason="the lab needs root and " + ", ".join(NEEDED),
)

# Names unlikely to clash with anything else running on the machine.
NET = "kstnat"
NET_BRIDGE = "kstbr0"
NET_XML = """<network>
  <name>%s</name>
  <forward mode='nat'/>
  <bridge name='%s' stp='on' delay='0'/>
  <ip address='192.168.201.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.201.10' end='192.168.201.99'/></dhcp>
  </ip>
</network>
""" % (NET, NET_BRIDGE)


def real_links():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def ns_of(pid, kind="net"):
    return os.readlink("/proc/%d/ns/%s" % (pid, kind))


def procs_named(comm):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/comm" % d) as f:
                if f.read().strip() != comm:
                    continue
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        out.append((int(d), [a.decode() for a in argv if a]))
    return out


def wait_for(pred, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(step)
    return pred()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    lab = Lab(root=str(root))
    try:
        t0 = time.monotonic()
        lab.add_hosts(["lab1", "lab2"], libvirt=True)
        lab.build_seconds = time.monotonic() - t0
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="module")
def nat_network(lab):
    h = lab.get("lab1")
    h.write_file("/run/%s.xml" % NET, NET_XML)
    h.virsh(["net-define", "/run/%s.xml" % NET])
    h.virsh(["net-start", NET])
    return NET


def test_hosts_built(lab):
    assert sorted(lab.hosts) == ["lab1", "lab2"]
    assert lab.build_seconds < 60
    real_net = ns_of(os.getpid())
    for name, h in lab.hosts.items():
        assert h.name == name and h.alive()
        assert ns_of(h.pid) != real_net
        assert h.sh("hostname").stdout.strip() == name
        # Fresh sysfs: only this host's interfaces.
        assert h.sh("ls /sys/class/net").stdout.split() == ["lo"]
        # Own pid namespace: PID 1 is the holder.
        assert "--knc-lab-holder" in h.read_file("/proc/1/cmdline")
        # Own libvirtd with nothing defined or autostarted.
        assert h.virsh("net-list --all --name").stdout.strip() == ""
        assert not h.exists("/etc/libvirt/qemu/networks/autostart/default.xml")
    assert h.sh("exit 3", check=False).returncode == 3
    with pytest.raises(LabError) as err:
        h.sh("echo out; echo err >&2; exit 4")
    assert err.value.returncode == 4 and err.value.stdout.strip() == "out" and err.value.stderr.strip() == "err"


def test_hostname_over_real_ssh(lab):
    for name in lab.hosts:
        out = subprocess.run(
            ["ssh", "-F", lab.ssh_config, name, "hostname"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == name
        assert out.stderr == ""


def test_testinfra_through_ssh_config(lab):
    testinfra = pytest.importorskip("testinfra")
    host = testinfra.get_host("ssh://lab2", ssh_config=lab.ssh_config)
    assert host.run("hostname").stdout.strip() == "lab2"
    assert host.file("/etc/hostname").content_string.strip() == "lab2"


def test_bridge_isolated_to_its_host(lab):
    h1, h2 = lab.get("lab1"), lab.get("lab2")
    h1.sh("ip link add kstiso0 type bridge stp_state 1 && ip link set kstiso0 up")
    try:
        assert "kstiso0" not in real_links()
        assert not os.path.exists("/sys/class/net/kstiso0")
        assert h2.sh("ip link show kstiso0", check=False).returncode != 0
        assert not h2.exists("/sys/class/net/kstiso0")
        out = h1.ssh("cat /sys/class/net/kstiso0/bridge/stp_state")
        assert out.stdout.strip() == "1"
    finally:
        h1.sh("ip link del kstiso0")


def test_etc_overlay_private_to_its_host(lab):
    h1, h2 = lab.get("lab1"), lab.get("lab2")
    path = "/etc/sysconfig/network-scripts/ifcfg-kstbr9"
    text = "DEVICE=kstbr9\nTYPE=Bridge\nSTP=yes\nDELAY=0\n"
    h1.write_file(path, text)
    h1.write_file("/etc/NetworkManager/system-connections/kst.nmconnection", "[connection]\nid=kst\n", mode=0o600)
    assert h1.read_file(path) == text
    assert h1.ssh("cat " + path).stdout == text
    assert h1.sh("stat -c %a /etc/NetworkManager/system-connections/kst.nmconnection").stdout.strip() == "600"
    assert not os.path.exists(path)
    assert not os.path.exists("/etc/NetworkManager/system-connections/kst.nmconnection")
    assert not h2.exists(path)
    # Private, but the rest of /etc is the real one.
    assert h1.read_file("/etc/os-release") == Path("/etc/os-release").read_text()
    assert h1.read_file("/etc/hostname").strip() == "lab1"


def test_libvirt_network_confined_to_its_host(lab, nat_network):
    h1, h2 = lab.get("lab1"), lab.get("lab2")
    assert h1.sh("ip -o link show %s" % NET_BRIDGE).returncode == 0
    assert "192.168.201.1/24" in h1.sh("ip -o addr show %s" % NET_BRIDGE).stdout
    assert NET_BRIDGE not in real_links()
    assert h2.sh("ip link show %s" % NET_BRIDGE, check=False).returncode != 0
    # dnsmasq for this network runs, and only in lab1's network namespace.
    conf = "--conf-file=/var/lib/libvirt/dnsmasq/%s.conf" % NET
    ours = [pid for pid, argv in procs_named("dnsmasq") if conf in argv]
    assert ours, "no dnsmasq for %s" % NET
    # other labs (other tests of the same run) may run a network of the same name: only this
    # lab's two hosts matter here
    namespaces = {ns_of(pid) for pid in ours}
    assert ns_of(h1.pid) in namespaces and ns_of(h2.pid) not in namespaces
    assert {ns_of(pid, "pid") for pid in ours} == {ns_of(h1.pid, "pid")}
    assert "dnsmasq" in h1.sh("ps -e -o comm").stdout.split()
    assert "dnsmasq" not in h2.sh("ps -e -o comm").stdout.split()
    # NAT rules live in lab1's netns only.
    assert "192.168.201.0/24" in h1.sh("iptables -t nat -S").stdout
    assert "192.168.201.0/24" not in h2.sh("iptables -t nat -S").stdout
    real = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True)
    assert "192.168.201.0/24" not in real.stdout


def test_readonly_libvirt_over_qemu_ssh(lab, nat_network):
    libvirt = pytest.importorskip("libvirt")
    h1 = lab.get("lab1")
    assert os.access(lab.ssh_wrapper, os.X_OK)
    before = h1.ssh_sessions()
    conn = libvirt.openReadOnly(lab.libvirt_uri("lab1"))
    try:
        assert conn.getHostname() == "lab1"
        assert NET in [n.name() for n in conn.listAllNetworks()]
        assert conn.networkLookupByName(NET).isActive()
        with pytest.raises(libvirt.libvirtError):
            conn.networkDefineXML("<network><name>kstro</name></network>")
    finally:
        conn.close()
    assert h1.ssh_sessions() == before + 1
    conn = libvirt.openReadOnly(lab.libvirt_uri("lab2"))
    try:
        assert conn.getHostname() == "lab2"
        assert NET not in [n.name() for n in conn.listAllNetworks()]
    finally:
        conn.close()


def test_vhost_net_standin_only_in_its_host(lab):
    h1, h2 = lab.get("lab1"), lab.get("lab2")
    real_has = os.path.exists("/dev/vhost-net")
    h2.add_vhost_net_standin()
    h2.add_vhost_net_standin()  # idempotent
    assert h2.sh("test -c /dev/vhost-net && stat -c %t:%T /dev/vhost-net").stdout.strip() == "a:ee"
    assert h2.ssh("test -c /dev/vhost-net").returncode == 0
    assert not h1.exists("/dev/vhost-net")
    assert os.path.exists("/dev/vhost-net") == real_has
    # A virtio guest still starts in that host (libvirt falls back when
    # /dev/vhost-net cannot be opened).
    h2.write_file("/run/kstiso.xml", "<network><name>kstiso</name><bridge name='kstiso1'/></network>")
    h2.virsh("net-define /run/kstiso.xml")
    h2.virsh("net-start kstiso")
    h2.write_file(
        "/run/kstvm.xml",
        """<domain type='qemu'><name>kstvm</name>
<memory unit='MiB'>128</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
<devices><interface type='network'><source network='kstiso'/><model type='virtio'/></interface></devices>
</domain>""",
    )
    h2.virsh("define /run/kstvm.xml")
    try:
        h2.virsh("start kstvm", timeout=60)
        assert h2.virsh("domstate kstvm").stdout.strip() == "running"
    finally:
        h2.virsh("destroy kstvm", check=False)
        h2.virsh("undefine kstvm", check=False)
        h2.virsh("net-destroy kstiso", check=False)
        h2.virsh("net-undefine kstiso", check=False)


def test_link_and_stp_root_election(lab):
    h1, h2 = lab.get("lab1"), lab.get("lab2")
    h1.sh("ip link add kstp0 type bridge stp_state 1 priority 4096 && ip link set kstp0 up")
    h2.sh("ip link add kstp0 type bridge stp_state 1 priority 32768 && ip link set kstp0 up")
    try:
        n1, n2 = lab.link(h1, "kstp0", h2, "kstp0")
        assert h1.sh("cat /sys/class/net/%s/master/ifindex" % n1).returncode == 0
        assert n1 not in real_links() and n2 not in real_links()
        b = "/sys/class/net/kstp0/bridge/"

        def state(h):
            root_id, root_port, bridge_id = h.sh("cat %sroot_id %sroot_port %sbridge_id" % (b, b, b)).stdout.split()
            return root_id, int(root_port), bridge_id

        def converged():
            s1, s2 = state(h1), state(h2)
            return (s1, s2) if s1[0] == s2[0] and s2[1] != 0 else None

        result = wait_for(converged, 20)
        assert result, (state(h1), state(h2))
        (root1, port1, id1), (root2, port2, id2) = result
        assert root1 == root2 == id1  # lab1 (priority 4096) is the root
        assert root1.startswith("1000.")
        assert port1 == 0 and port2 != 0
        # The same, as the suite sees it over SSH.
        assert h2.ssh("cat %sroot_id" % b).stdout.strip() == root1
    finally:
        h1.sh("ip link del kstp0")
        h2.sh("ip link del kstp0")


def test_ssh_sessions_are_counted(lab):
    h = lab.get("lab2")
    before = h.ssh_sessions()
    h.ssh("true")
    h.ssh("true")
    assert h.ssh_sessions() == before + 2
    assert lab.get("lab1").ssh_sessions() >= 1


def test_configs_and_reattach(lab):
    text = Path(lab.ssh_config).read_text()
    for name in lab.hosts:
        assert "Host %s\n" % name in text
        assert "ProxyCommand %s %s" % (lab.proxy, name) in text
    inv = Path(lab.inventory).read_text().splitlines()
    assert "[lab]" in inv
    for name in lab.hosts:
        assert any(
            ln.startswith(name + " ") and "ansible_host=%s" % name in ln and "-F %s" % lab.ssh_config in ln
            for ln in inv
        )
    again = Lab.load(lab.root)
    assert {n: h.pid for n, h in again.hosts.items()} == {n: h.pid for n, h in lab.hosts.items()}
    assert again.get("lab1").sh("hostname").stdout.strip() == "lab1"
    with pytest.raises(LabError):
        Lab(lab.root)  # a running lab is not silently replaced


def test_remove_host(lab):
    h3 = lab.add_host("lab3")
    pid = h3.pid
    assert h3.ssh("hostname").stdout.strip() == "lab3"
    lab.remove_host("lab3")
    assert "lab3" not in lab.hosts
    assert not os.path.exists("/proc/%d" % pid)
    assert not os.path.exists(os.path.join(lab.root, "lab3"))
    assert "Host lab3" not in Path(lab.ssh_config).read_text()


def _leftovers(root, ns_ids):
    procs, in_ns = [], []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if root.encode() in f.read():
                    procs.append(int(d))
        except OSError:
            pass
        for kind in ("pid", "net", "mnt"):
            try:
                if os.readlink("/proc/%s/ns/%s" % (d, kind)) in ns_ids:
                    in_ns.append(int(d))
            except OSError:
                pass
    mounts = [ln for ln in Path("/proc/self/mountinfo").read_text().splitlines() if root in ln]
    return procs, in_ns, mounts


def test_down_leaves_nothing(tmp_path):
    root = str(tmp_path / "downlab")
    links_before = real_links()
    lab = Lab(root=root)
    try:
        a = lab.add_host("d1", libvirt=True)
        b = lab.add_host("d2")
        a.write_file("/run/n.xml", NET_XML.replace(NET, "kstdown"))
        a.virsh("net-define /run/n.xml")
        a.virsh("net-start kstdown")
        a.sh("ip link add br0 type bridge")
        b.sh("ip link add br0 type bridge")
        lab.link(a, "br0", b, "br0")
        assert a.ssh("hostname").stdout.strip() == "d1"
    except BaseException:
        lab.down()
        raise
    # Held open so that their inode numbers cannot be reused by namespaces
    # created meanwhile (by anything else running on the machine).
    ns_fds = [os.open("/proc/%d/ns/%s" % (h.pid, k), os.O_RDONLY) for h in (a, b) for k in ("pid", "net", "mnt")]
    try:
        ns_ids = {os.readlink("/proc/self/fd/%d" % fd) for fd in ns_fds}
        pids = [a.pid, b.pid]
        lab.down()
        procs, in_ns, mounts = _leftovers(root, ns_ids)
    finally:
        for fd in ns_fds:
            os.close(fd)
    assert procs == [] and in_ns == [] and mounts == []
    assert not any(os.path.exists("/proc/%d" % p) for p in pids)
    assert find_holders(root) == {}
    assert real_links() == links_before
    assert not os.path.exists(root)


def test_cli_up_status_down(tmp_path):
    root = str(tmp_path / "clilab")
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "lab", "--root", root] + list(args),
            capture_output=True,
            text=True,
            env=env,
            cwd=str(REPO),
            timeout=120,
        )

    try:
        up = cli("up", "2")
        assert up.returncode == 0, up.stderr
        assert os.path.join(root, "ssh_config") in up.stdout
        assert os.path.join(root, "inventory.ini") in up.stdout
        assert sorted(find_holders(root)) == ["lab1", "lab2"]
        out = subprocess.run(
            ["ssh", "-F", os.path.join(root, "ssh_config"), "lab2", "virsh -c qemu:///system version"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stderr
        st = cli("status")
        assert st.returncode == 0 and "lab1" in st.stdout and "lab2" in st.stdout
        # down must work even when the state file is gone.
        os.unlink(os.path.join(root, "state.json"))
        down = cli("down")
        assert down.returncode == 0, down.stderr
        assert find_holders(root) == {}
        assert not os.path.exists(root)
    finally:
        for pid in find_holders(root).values():
            os.kill(pid, 9)


@pytest.mark.slow
def test_pxe_dhcp_depends_on_stp_forward_delay(lab):
    from lab.pxe import pxe_boot

    h = lab.get("lab2")
    outcomes = {}
    for name, br, net, delay in (("kstpxe0", "kstpxe0", "192.168.202", 0), ("kstpxe15", "kstpxe15", "192.168.203", 15)):
        h.write_file(
            "/run/%s.xml" % name,
            """<network><name>%s</name><forward mode='nat'/>
<bridge name='%s' stp='on' delay='%d'/>
<ip address='%s.1' netmask='255.255.255.0'><dhcp><range start='%s.10' end='%s.99'/></dhcp></ip>
</network>"""
            % (name, br, delay, net, net, net),
        )
        h.virsh("net-define /run/%s.xml" % name)
        h.virsh("net-start %s" % name)
        try:
            outcomes[delay] = pxe_boot(h, name, observe_s=50)
        finally:
            h.virsh("net-destroy %s" % name, check=False)
            h.virsh("net-undefine %s" % name, check=False)
    assert outcomes[0].leased and outcomes[0].dhcp_packets > 0
    assert outcomes[0].first_packet_s is not None and outcomes[0].first_packet_s < 40
    assert not outcomes[15].leased
    assert h.virsh("list --all --name").stdout.strip() == ""


def test_host_starts_from_libvirts_packaged_config_not_the_machines(tmp_path):
    """A contributor's workstation has networks and guests of its own: a lab host sees none of them."""
    etc = Path("/etc/libvirt/qemu")
    if not etc.is_dir():
        pytest.skip("no /etc/libvirt/qemu on this machine")
    made = [etc / "networks" / "kstwsnet.xml", etc / "networks" / "autostart" / "kstwsnet.xml", etc / "kstwsguest.xml"]
    made[0].write_text("<network><name>kstwsnet</name><bridge name='kstws0'/></network>\n")
    (etc / "networks" / "autostart").mkdir(exist_ok=True)
    made[1].symlink_to(made[0])
    made[2].write_text(
        "<domain type='qemu'><name>kstwsguest</name><memory unit='MiB'>64</memory>"
        "<os><type arch='x86_64'>hvm</type></os></domain>\n"
    )
    try:
        with Lab(str(tmp_path / "lab")) as lab:
            h = lab.add_host("kst-ws", libvirt=True)
            nets = h.virsh("net-list --all --name").stdout.split()
            guests = h.virsh("list --all --name").stdout.split()
            assert "kstwsnet" not in nets and "kstwsguest" not in guests, (nets, guests)
            assert nets == [] and guests == [], (nets, guests)
            # libvirt's own packaged files are there (unchanged ones as shipped)
            assert h.exists("/etc/libvirt/libvirtd.conf") and h.exists("/etc/libvirt/qemu.conf")
            d = lab.add_host("kst-ws2", libvirt=True, default_network=True)
            assert d.virsh("net-list --all --name").stdout.split() == ["default"]
    finally:
        for p in made:
            if p.is_symlink() or p.exists():
                p.unlink()
