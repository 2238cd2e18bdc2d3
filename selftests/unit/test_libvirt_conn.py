"""The libvirt connection's time limits (from --host-timeout) and what a failed connection says."""

import pytest

from kvmnetcheck.collect.gather import command_timeout
from kvmnetcheck.collect.libvirt_conn import SshWrappers, open_error, ssh_connect_timeout

# what libvirt 9.0 says when ssh gives up on a host's banner (ssh -o ConnectTimeout=10, a ProxyCommand
# whose sshd took 12 s to start)
BANNER = "Cannot recv data: Connection timed out during banner exchange: Connection reset by peer"
URI = "qemu+ssh://ops@an-c:2222/system?no_tty=1&command=%2Ftmp%2Fkvmnetcheck-ssh-x%2Fssh0"


@pytest.mark.parametrize(
    "host_timeout, connect, command",
    [
        (300, 30, 30),  # the default: a tenth each
        (1200, 120, 120),
        (100, 10, 20),  # never below ssh's usual 10 s and the collector's former 20 s
        (15, 10, 15),
        (5, 5, 5),  # never more than the host's whole time
        (0.5, 1, 1),
    ],
)
def test_limits_follow_the_host_timeout(host_timeout, connect, command):
    assert ssh_connect_timeout(host_timeout) == connect
    assert command_timeout(host_timeout) == command


def test_ssh_wrapper_sets_the_limit_unless_the_host_sets_its_own():
    w = SshWrappers(30)
    try:
        mine = w.get(("-F", "/etc/ssh/lab_config"))
        assert "-o ConnectTimeout=30 -F /etc/ssh/lab_config" in open(mine).read()
        own = w.get(("-o", "ConnectTimeout=90"), ("sudo", "-n", "--"))
        text = open(own).read()
        assert "ConnectTimeout=30" not in text and "-o ConnectTimeout=90" in text
        assert w.limit_of(f"qemu+ssh://kvm01/system?no_tty=1&command={mine}") == 30
        assert w.limit_of(f"qemu+ssh://kvm01/system?no_tty=1&command={own}") is None
        assert w.limit_of("qemu+ssh://kvm01/system") is None  # a URI of the user's own (--libvirt-uri)
    finally:
        w.cleanup()


def test_a_connection_ssh_gave_up_on_names_the_limit_and_where_it_comes_from():
    assert open_error(URI, BANNER, 30, 31.2) == (
        "connecting to qemu+ssh://ops@an-c:2222/system through ssh timed out after 30 s "
        f"(ssh's ConnectTimeout; a longer --host-timeout raises it): {BANNER}"
    )
    # a URI given with --libvirt-uri: the suite set no limit, so the time it took is named
    assert open_error("qemu+ssh://kvm01/system", BANNER, None, 61.7) == (
        f"connecting to qemu+ssh://kvm01/system through ssh timed out after 62 s: {BANNER}"
    )


def test_other_failures_keep_libvirts_words():
    refused = "Cannot recv data: sudo: a password is required: Connection reset by peer"
    assert open_error(URI, refused, 30, 0.4) == (f"cannot open qemu+ssh://ops@an-c:2222/system read-only: {refused}")


def test_a_timeout_without_ssh_is_not_blamed_on_ssh():
    tcp = "unable to connect to server at 'kvm01:16509': Connection timed out"
    assert open_error("qemu+tcp://kvm01/system", tcp, None, 127.0) == (
        f"cannot open qemu+tcp://kvm01/system read-only: {tcp}"
    )
