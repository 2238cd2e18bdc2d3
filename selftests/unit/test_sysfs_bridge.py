"""parse_bridge: /sys/class/net/BR/bridge/* as the collector prints it."""

import pytest

from kvmnetcheck.facts.model import STP_KERNEL, STP_OFF, STP_USER
from kvmnetcheck.facts.parsers.sysfs_bridge import parse_bridge

# virbr0 right after `virsh net-start default` on Debian 12 (libvirt 9.0): kernel STP,
# forward_delay 200 ticks = 2 s (libvirt's delay='0' clamped up by the kernel), root bridge.
VIRBR0 = """\
stp_state=1
forward_delay=200
hello_time=200
max_age=2000
bridge_id=8000.525400a1b2c3
root_id=8000.525400a1b2c3
root_port=0
root_path_cost=0
priority=32768
operstate=up
port=vnet0 state=3
port=vnet1 state=1
"""

# br0 made by ifupdown with bridge_stp on, on a LAN with a switch that wins the root
# election: kernel default 15 s, root is elsewhere (root_port 1).
BR0_NOT_ROOT = """\
stp_state=1
forward_delay=1500
hello_time=200
max_age=2000
bridge_id=8000.001b21aabbcc
root_id=1000.0c1a2b3c4d5e
root_port=1
root_path_cost=4
priority=32768
operstate=up
port=eno1 state=3
port=vnet2 state=2
port=vnet3 state=4
"""

# a bridge with STP off (libvirt stp='off' or NetworkManager stp=no)
STP_OFF_BR = """\
stp_state=0
forward_delay=1500
hello_time=200
max_age=2000
bridge_id=8000.5254001e2f3a
root_id=8000.5254001e2f3a
root_port=0
root_path_cost=0
priority=32768
operstate=down
"""

# mstpd running the bridge: user-space STP
USER_STP = """\
stp_state=2
forward_delay=1500
bridge_id=8000.5254009a8b7c
root_id=8000.5254009a8b7c
root_port=0
priority=32768
operstate=up
port=eth1 state=3
"""

BLANK = ""

GARBLED = """\
stp_state=abc
forward_delay=-5
hello_time=
bridge_id=8000.52:54:00:a1:b2:c3
root_id=zzzz.525400a1b2c3
root_port=x
priority=
port=vnet0 state=
port=vnet1 state=9
port=bad name state=3
garbage line without equals
"""


def test_kernel_stp_root_bridge():
    br = parse_bridge("virbr0", VIRBR0, 100)
    assert br.name == "virbr0"
    assert br.stp_state == STP_KERNEL and br.kernel_stp
    assert br.forward_delay_s == 2.0
    assert br.hello_time_s == 2.0
    assert br.max_age_s == 20.0
    assert br.bridge_id == "8000.525400a1b2c3"
    assert br.root_id == "8000.525400a1b2c3"
    assert br.root_port == 0
    assert br.priority == 32768
    assert br.operstate == "up"
    assert br.is_stp_root is True
    assert br.new_port_block_s == 4.0
    assert br.error is None
    assert [(p.name, p.state, p.state_name) for p in br.ports] == [
        ("vnet0", 3, "forwarding"),
        ("vnet1", 1, "listening"),
    ]


def test_not_root_bridge():
    br = parse_bridge("br0", BR0_NOT_ROOT, 100)
    assert br.forward_delay_s == 15.0
    assert br.new_port_block_s == 30.0
    assert br.root_id == "1000.0c1a2b3c4d5e"
    assert br.root_port == 1
    assert br.is_stp_root is False
    assert [(p.name, p.state_name) for p in br.ports] == [
        ("eno1", "forwarding"),
        ("vnet2", "learning"),
        ("vnet3", "blocking"),
    ]
    assert br.error is None


def test_stp_off_blocks_nothing():
    br = parse_bridge("virbr1", STP_OFF_BR, 100)
    assert br.stp_state == STP_OFF
    assert not br.kernel_stp
    assert br.forward_delay_s == 15.0  # still set, but unused while STP is off
    assert br.new_port_block_s == 0.0
    assert br.operstate == "down"
    assert br.ports == ()
    assert br.error is None


def test_user_space_stp_block_unknown():
    br = parse_bridge("br1", USER_STP, 100)
    assert br.stp_state == STP_USER
    assert not br.kernel_stp
    assert br.new_port_block_s is None  # the daemon decides
    assert br.hello_time_s is None and br.max_age_s is None  # not printed
    assert br.error is None


@pytest.mark.parametrize("clk, expected", [(100, 15.0), (1000, 1.5), (250, 6.0), (1024, 1500 / 1024)])
def test_forward_delay_ticks_to_seconds(clk, expected):
    br = parse_bridge("br0", BR0_NOT_ROOT, clk)
    assert br.forward_delay_s == pytest.approx(expected)
    assert br.hello_time_s == pytest.approx(200 / clk)


@pytest.mark.parametrize("clk", [None, 0, -100])
def test_forward_delay_unknown_without_clk_tck(clk):
    br = parse_bridge("br0", BR0_NOT_ROOT, clk)
    assert br.forward_delay_s is None
    assert br.hello_time_s is None
    assert br.new_port_block_s is None
    assert br.stp_state == STP_KERNEL
    assert "forward_delay could not be read (CLK_TCK unknown)" in br.error


def test_uppercase_bridge_id_normalised():
    text = VIRBR0.replace("525400a1b2c3", "525400A1B2C3")
    br = parse_bridge("virbr0", text, 100)
    assert br.bridge_id == "8000.525400a1b2c3"
    assert br.is_stp_root is True


@pytest.mark.parametrize(
    "bad",
    ["8000.525400a1b2", "8000:525400a1b2c3", "80000.525400a1b2c3", "8000.525400a1b2c3x", "8000.52:54:00:a1:b2", ""],
)
def test_invalid_bridge_id_rejected(bad):
    text = VIRBR0.replace("bridge_id=8000.525400a1b2c3", f"bridge_id={bad}")
    br = parse_bridge("virbr0", text, 100)
    assert br.bridge_id is None
    assert f"bridge_id {bad!r} is not a bridge id" in br.error
    assert br.is_stp_root is None  # cannot tell without our own id


def test_root_port_zero_but_other_root_id_is_not_root():
    # while an election is still running root_port can be 0 with a foreign root id
    text = VIRBR0.replace("root_id=8000.525400a1b2c3", "root_id=1000.0c1a2b3c4d5e")
    assert parse_bridge("virbr0", text, 100).is_stp_root is False


def test_root_unknown_without_root_port():
    text = "\n".join(ln for ln in VIRBR0.splitlines() if not ln.startswith("root_port="))
    br = parse_bridge("virbr0", text, 100)
    assert br.root_port is None
    assert br.is_stp_root is None


def test_garbled_values():
    br = parse_bridge("virbr0", GARBLED, 100)
    assert br.stp_state is None
    assert br.forward_delay_s is None
    assert br.hello_time_s is None
    assert br.bridge_id is None and br.root_id is None
    assert br.root_port is None and br.priority is None
    assert br.new_port_block_s is None
    assert br.is_stp_root is None
    assert "stp_state 'abc' is not 0, 1 or 2" in br.error
    assert "stp_state could not be read" in br.error
    assert "forward_delay could not be read" in br.error
    assert "bridge_id '8000.52:54:00:a1:b2:c3' is not a bridge id" in br.error
    assert "root_id 'zzzz.525400a1b2c3' is not a bridge id" in br.error
    assert [(p.name, p.state, p.state_name) for p in br.ports] == [
        ("vnet0", None, "unknown"),
        ("vnet1", 9, "unknown"),
    ]


@pytest.mark.parametrize("value", ["3", "-1", "", "1.0", "on"])
def test_stp_state_out_of_range(value):
    br = parse_bridge("virbr0", VIRBR0.replace("stp_state=1", f"stp_state={value}"), 100)
    assert br.stp_state is None
    assert br.new_port_block_s is None
    assert f"stp_state {value!r} is not 0, 1 or 2" in br.error


def test_negative_forward_delay():
    br = parse_bridge("virbr0", VIRBR0.replace("forward_delay=200", "forward_delay=-5"), 100)
    assert br.forward_delay_s is None
    assert br.new_port_block_s is None
    assert br.error == "forward_delay could not be read"


def test_zero_forward_delay_with_stp_off():
    text = STP_OFF_BR.replace("forward_delay=1500", "forward_delay=0")
    br = parse_bridge("virbr1", text, 100)
    assert br.forward_delay_s == 0.0
    assert br.new_port_block_s == 0.0


def test_empty():
    br = parse_bridge("virbr0", BLANK, 100)
    assert br.name == "virbr0"
    assert br.stp_state is None and br.forward_delay_s is None
    assert br.ports == ()
    assert br.error == "stp_state could not be read; forward_delay could not be read"


def test_first_value_wins_on_duplicates():
    br = parse_bridge("virbr0", "stp_state=0\nstp_state=1\nforward_delay=100\n", 100)
    assert br.stp_state == STP_OFF
    assert br.new_port_block_s == 0.0


def test_whitespace_around_values():
    br = parse_bridge("virbr0", "stp_state= 1 \nforward_delay=\t200\n", 100)
    assert br.stp_state == STP_KERNEL
    assert br.forward_delay_s == 2.0
