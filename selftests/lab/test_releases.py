"""Lab hosts of other Debian releases: each runs its release's own libvirtd, tools and sshd from a root
built once (lab/releases.py) and cached outside the repository.

The first run on a machine builds the roots (mmdebstrap, about a minute each); later runs reuse them.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lab import Lab, releases  # noqa: E402

# libvirt and the OS each release ships (DOMAIN.md section 8)
EXPECTED = {
    "bullseye": ("Debian GNU/Linux 11", 7000000),
    "trixie": ("Debian GNU/Linux 13", 11003000),
}


def test_root_key_follows_the_package_list_and_the_archive():
    a = releases.root_key("trixie", ("libvirt-daemon-system", "dnsmasq-base"), "http://deb.debian.org/debian")
    assert a == releases.root_key("trixie", ("dnsmasq-base", "libvirt-daemon-system"), "http://deb.debian.org/debian")
    assert a.startswith("trixie-")
    assert a != releases.root_key("trixie", ("libvirt-daemon-system",), "http://deb.debian.org/debian")
    assert a != releases.root_key("trixie", ("libvirt-daemon-system", "dnsmasq-base"), "http://mirror.example/debian")
    assert a != releases.root_key("bullseye", ("libvirt-daemon-system", "dnsmasq-base"), "http://deb.debian.org/debian")


def test_mirror_is_the_machines_debian_archive(tmp_path):
    (tmp_path / "a.sources").write_text(
        "Types: deb\nURIs: https://packages.example.com/apt\nSuites: x\n\n"
        "Types: deb\nURIs: http://mirror.example.org/debian\nSuites: bookworm\n"
    )
    assert releases.mirror((str(tmp_path),)) == "http://mirror.example.org/debian"
    (tmp_path / "a.sources").unlink()
    (tmp_path / "b.list").write_text("deb [arch=amd64] http://ftp.example.net/debian/ bookworm main\n")
    assert releases.mirror((str(tmp_path),)) == "http://ftp.example.net/debian/"


def test_the_machines_own_release_needs_no_root():
    assert releases.root_path(releases.machine_release()) is None
    assert releases.root_path("") is None


def test_an_unknown_release_is_refused():
    with pytest.raises(Exception, match="no lab root for release"):
        releases.root_path("hamm")


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mmdebstrap") is None, reason="release roots need root and mmdebstrap"
)


@needs_root
@pytest.mark.parametrize("release", sorted(EXPECTED))
def test_a_host_of_another_release_runs_that_releases_libvirt_over_real_ssh(tmp_path, release):
    import libvirt

    root = releases.ensure_root(release)
    assert root and os.path.exists(os.path.join(root, releases.COMPLETE))
    assert not root.startswith(str(REPO)), "roots are cached outside the repository"
    t = time.monotonic()
    assert releases.ensure_root(release) == root and time.monotonic() - t < 1, "a built root is reused"
    os_name, lib_version = EXPECTED[release]
    with Lab(str(tmp_path / "lab")) as lab:
        h = lab.add_host("rel1", libvirt=True, release=release)
        other = lab.add_host("own1")
        assert os_name in h.ssh("cat /etc/os-release").stdout
        assert os_name not in other.sh("cat /etc/os-release").stdout
        conn = libvirt.openReadOnly(lab.libvirt_uri(h))
        try:
            assert conn.getLibVersion() == lib_version
        finally:
            conn.close()
        # the host's changes stay in its own copy-on-write layer, never in the shared root
        h.sh("echo changed > /etc/knc-release-probe && touch /usr/knc-release-probe")
        assert h.read_file("/etc/knc-release-probe") == "changed\n"
        assert not os.path.exists(os.path.join(root, "etc/knc-release-probe"))
        assert not os.path.exists(os.path.join(root, "usr/knc-release-probe"))
        assert "knc-release-probe" not in os.listdir("/usr")
