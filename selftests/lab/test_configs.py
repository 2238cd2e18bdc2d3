"""The files a lab writes, from lab.configs' pure functions (no root, no lab)."""

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab import configs  # noqa: E402

CONFFILES = """\
 /etc/libvirt/libvirt-admin.conf 7c1bbeb439d79ec32ff7d18cb1364e2f
 /etc/libvirt/libvirt.conf 751c7c32cc3c48bd99a6ce4baf8767d0

 /etc/default/libvirtd d4d9e79377c45839f69f8b75060d9ee3
 /etc/libvirt/libvirtd.conf 3711e13fba18964d157d8eeb67125a10
 /etc/libvirt/old.conf 0123456789abcdef0123456789abcdef obsolete
 /etc/libvirt/qemu/networks/default.xml 11111111111111111111111111111111
"""


def test_conffiles_from_dpkg_query():
    c = configs.parse_conffiles(CONFFILES)
    assert c["/etc/libvirt/libvirtd.conf"] == "3711e13fba18964d157d8eeb67125a10"
    assert "/etc/libvirt/old.conf" not in c and len(c) == 5


def test_libvirt_etc_is_the_packaged_configuration():
    packaged = b"# listen_tls = 0\n"
    changed = b"listen_tcp = 1\n"
    conffiles = {
        "/etc/libvirt/libvirtd.conf": hashlib.md5(packaged).hexdigest(),
        "/etc/libvirt/qemu.conf": hashlib.md5(b"# user = root\n").hexdigest(),
        "/etc/libvirt/qemu/networks/default.xml": "0" * 32,
        "/etc/default/libvirtd": "0" * 32,
    }
    machine = {"/etc/libvirt/libvirtd.conf": packaged, "/etc/libvirt/qemu.conf": changed}
    files = configs.libvirt_etc(conffiles, machine.get, default_network=False, default_network_xml=b"<network/>")
    assert files == {"libvirtd.conf": packaged, "qemu.conf": b""}  # a changed file becomes libvirt's defaults
    with_default = configs.libvirt_etc(conffiles, machine.get, True, b"<network/>")
    assert with_default["qemu/networks/default.xml"] == b"<network/>"
    assert not any(p.startswith("qemu/networks/autostart/") for p in with_default)
    assert configs.conffile_dirs(with_default)[:3] == ["hooks", "nwfilter", "qemu"]
    assert "qemu/networks/autostart" in configs.conffile_dirs(files)


def test_client_files_reach_each_host_through_the_proxy():
    cfg, known, inv = configs.client_files(
        "/r", ["b2", "a1"], "ssh-ed25519 AAAAkey knc-lab-host", "/r/ssh_config", "/r/proxy", "/usr/bin/python3"
    )
    assert cfg.index("Host a1") < cfg.index("Host b2") and "  ProxyCommand /r/proxy a1" in cfg
    assert known == "a1 ssh-ed25519 AAAAkey\nb2 ssh-ed25519 AAAAkey\n"
    assert (
        "a1 ansible_host=a1 ansible_user=root ansible_ssh_common_args='-F /r/ssh_config' "
        "ansible_python_interpreter=/usr/bin/python3" in inv
    )
    assert "[lab]" in inv


def test_proxy_script_checks_the_holder_and_is_valid_sh():
    text = configs.proxy_script("/tmp/a lab", "--knc-lab-holder")
    assert "root='/tmp/a lab'" in text and "--knc-lab-holder\n$root\n$name" in text
    assert subprocess.run(["sh", "-n"], input=text, text=True).returncode == 0
    assert subprocess.run(["sh", "-n"], input=configs.ssh_wrapper("/x/ssh config"), text=True).returncode == 0
    assert "HostKey /r/ssh_host_ed25519_key" in configs.sshd_config("h", "/r", "/r/proxy")
