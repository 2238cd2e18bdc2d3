"""The same facts, read the way most testinfra suites are written: one `host.run` or `host.file`
per check and per object, a loop over objects inside each test.

This is the benchmark's baseline (bench/fleet_bench.py), not part of kvm-netcheck: testinfra's ssh
backend opens one SSH connection per command, so its cost grows with every bridge and guest.
"""

import re

VIRSH = "virsh --readonly -q -c qemu:///system"
MAX_BLOCK_S = 4.0


def bridges(host):
    return [
        n
        for n in host.check_output("ls /sys/class/net").split()
        if host.file(f"/sys/class/net/{n}/bridge").is_directory
    ]


def bridge_attr(host, br, attr):
    return host.file(f"/sys/class/net/{br}/bridge/{attr}").content_string.strip()


def networks(host):
    return host.check_output(f"{VIRSH} net-list --all --name").split()


def guests(host):
    return host.check_output(f"{VIRSH} list --all --name").split()


def test_host_reachable(host):
    assert host.run("true").rc == 0


def test_bridge_forward_delay(host):
    hz = int(host.check_output("getconf CLK_TCK"))
    for br in bridges(host):
        if bridge_attr(host, br, "stp_state") == "1":
            delay = int(bridge_attr(host, br, "forward_delay")) / hz
            assert 2 * delay <= MAX_BLOCK_S or True, br  # reported, as the real check does
        for port in (
            host.file(f"/sys/class/net/{br}/brif").listdir() if host.file(f"/sys/class/net/{br}/brif").exists else []
        ):
            _ = host.file(f"/sys/class/net/{br}/brif/{port}/state").content_string  # the read is what is timed


def test_bridge_stp_root(host):
    for br in bridges(host):
        if bridge_attr(host, br, "stp_state") == "1":
            bridge_attr(host, br, "bridge_id")
            bridge_attr(host, br, "root_id")
            bridge_attr(host, br, "root_port")
            bridge_attr(host, br, "priority")


def test_bridge_persistent_config(host):
    for path in (
        "/etc/sysconfig/network-scripts",
        "/etc/NetworkManager/system-connections",
        "/etc/network/interfaces",
        "/etc/systemd/network",
        "/etc/netplan",
    ):
        f = host.file(path)
        if f.exists and f.is_directory:
            for name in f.listdir():
                _ = host.file(f"{path}/{name}").content_string
        elif f.exists:
            _ = f.content_string


def test_libvirt_network_stp_delay(host):
    for net in networks(host):
        xml = host.check_output(f"{VIRSH} net-dumpxml {net}")
        host.check_output(f"{VIRSH} net-dumpxml --inactive {net}")
        m = re.search(r"<bridge [^>]*delay='(\d+)'", xml)
        assert m is None or int(m.group(1)) >= 0


def test_iptables_checksum_support(host):
    host.run("iptables --version")
    host.run("iptables -j CHECKSUM -h")


def test_dhcp_checksum_fixup(host):
    vhost = host.file("/dev/vhost-net").exists
    _ = host.file("/sys/module/vhost_net").exists
    mangle = host.run("iptables-save -t mangle").stdout
    host.run("nft list table ip libvirt_network")
    for net in networks(host):
        host.check_output(f"{VIRSH} net-info {net}")
        xml = host.check_output(f"{VIRSH} net-dumpxml {net}")
        m = re.search(r"<bridge name='([^']+)'", xml)
        if m:
            host.run(f"tc filter show dev {m.group(1)} egress")
            assert not vhost or "CHECKSUM" in mangle or True


def test_libvirt_checksum_warning(host):
    for path in ("/var/log/libvirt/libvirtd.log", "/var/log/messages", "/var/log/syslog"):
        f = host.file(path)
        if f.exists:
            assert not f.contains("fixup DHCP response checksums")


def test_guest_nics(host):
    host.run("ps -eo pid,comm")  # running QEMU processes
    for g in guests(host):
        xml = host.check_output(f"{VIRSH} dumpxml {g}")
        for nic in re.findall(r"<interface .*?</interface>", xml, re.S):
            assert "<model type=" in nic or True


def test_firewalld(host):
    if host.run("firewall-cmd --state").rc == 0:
        host.run("firewall-cmd --list-all-zones")
