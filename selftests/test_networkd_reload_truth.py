"""Truth for `networkctl reload` of an edited .netdev bridge, on each Debian release's systemd-networkd.

A lab host of each release (the machine's Debian 12 with systemd 252, bullseye's 247, trixie's 257) runs
its own systemd-networkd on its own D-Bus with three bridges made from .netdev files with STP=yes and
ForwardDelaySec=15. Each file is then edited, `networkctl reload` runs, and the kernel's bridge is read:

- ``rla``: STP=no, the edit bridge-persistent-config's networkd fix makes (its sed step);
- ``rlb``: STP=no and ForwardDelaySec=0 in one edit, the live bridge still with STP on;
- ``rlc``: the live fix first (``ip link set dev rlc type bridge stp_state 0``, as the fixes' live step),
  then STP=no and ForwardDelaySec=0, as "make it last" (catalog/fixtext.py CONFIG_HINTS) asks.

Upstream decides what each release does. systemd before 257: netdev_load(manager, reload=true) only
creates the netdevs that do not exist yet; an existing one is left as it is. systemd 257 (pull request
#34909, "network: support reconfiguring netdev"; NEWS 257; src/network/netdev/netdev.c netdev_reload): an
updated .netdev (stats_by_path_equal differs) replaces the old object with the same ifindex,
netdev_request_to_create queues it again, independent_netdev_create sends RTM_NEWLINK to the existing
ifindex, netdev_create_handler takes -EEXIST as "Already exists" and netdev_enter_ready calls bridge.c's
netdev_bridge_post_create, which sends the [Bridge] settings that are set (STP=, ForwardDelaySec=, ...) in
one RTM_NEWLINK. The kernel's br_changelink (net/bridge/br_netlink.c) applies IFLA_BR_FORWARD_DELAY before
IFLA_BR_STP_STATE and stops at the first error, and br_set_forward_delay (net/bridge/br_stp.c) refuses
a delay outside 2-30 s while STP is on (-ERANGE): so ``rlb`` keeps STP on even on 257.

The rendered fix of bridge-persistent-config for a networkd file must say what the release did.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Dict, Optional, Tuple

import pytest

from kvmnetcheck.catalog import CHECKS
from kvmnetcheck.catalog.base import render_fix
from kvmnetcheck.catalog.fixtext import config_hint
from kvmnetcheck.facts.model import NetStack
from kvmnetcheck.facts.parsers.bridge_config import Context, parse_config_file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")

BRIDGES = ("rla", "rlb", "rlc")
START = "[NetDev]\nName={b}\nKind=bridge\n\n[Bridge]\nSTP=yes\nForwardDelaySec=15\n"
NETDEV = "/etc/systemd/network/30-{b}.netdev"
NETWORKD = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/lib/systemd/systemd-networkd"}),
    enabled=frozenset({"systemd-networkd"}),
)

# the machine's own release (Debian 12, systemd 252), bullseye (247) and trixie (257): all by default
RELEASES = [None, "bullseye", "trixie"]

Kernel = Optional[Tuple[int, int, int]]  # stp_state, forward_delay (centiseconds), ifindex


def _kernel(host, bridge) -> Kernel:
    r = host.sh(
        f"cat /sys/class/net/{bridge}/bridge/stp_state /sys/class/net/{bridge}/bridge/forward_delay "
        f"/sys/class/net/{bridge}/ifindex",
        check=False,
    )
    if r.returncode != 0:
        return None
    stp, fd, ifindex = r.stdout.split()
    return int(stp), int(fd), int(ifindex)


def _until(probe, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


@pytest.fixture(scope="module", params=RELEASES, ids=lambda r: r or "machine")
def reloaded(tmp_path_factory, request) -> Dict[str, object]:
    """The release's networkd version and each bridge's kernel state before and after the reload."""
    from lab import Lab

    release = request.param
    tmp = str(tmp_path_factory.mktemp("networkd-reload"))
    with Lab(os.path.join(tmp, "lab")) as lab:
        host = lab.add_host("nd-reload", release=release)
        version = host.sh("networkctl --version").stdout.split()[1]  # 247's networkd takes no --version
        for b in BRIDGES:
            host.write_file(NETDEV.format(b=b), START.format(b=b))
        # sysfs read-only, so networkd does not wait for udev; its own system bus, for networkctl
        host.sh(
            "mount -o remount,ro /sys && mkdir -p /run/systemd/netif /run/dbus && "
            "chown systemd-network:systemd-network /run/systemd/netif && dbus-daemon --system --fork --nopidfile"
        )
        log = open(os.path.join(tmp, "networkd.log"), "w")
        networkd = host.spawn(
            ["/lib/systemd/systemd-networkd"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"},
        )
        before = _until(lambda: (k := {b: _kernel(host, b) for b in BRIDGES}) and all(k.values()) and k)
        assert before, f"systemd-networkd {version} made no bridges from the .netdev files (log: {log.name})"
        # networkd's own parameter message follows the creation: wait until it took hold
        assert _until(lambda: all(_kernel(host, b)[0] == 1 for b in BRIDGES)), f"STP never on (log: {log.name})"
        before = {b: _kernel(host, b) for b in BRIDGES}
        host.sh("ip link set dev rlc type bridge stp_state 0")
        live = _kernel(host, "rlc")
        host.sh(f"sed -i -e 's/^STP=.*/STP=no/' -- {NETDEV.format(b='rla')}")
        for b in ("rlb", "rlc"):
            host.sh(
                f"sed -i -e 's/^STP=.*/STP=no/' -e 's/^ForwardDelaySec=.*/ForwardDelaySec=0/' -- {NETDEV.format(b=b)}"
            )
        reload = host.sh("networkctl reload", check=False)
        assert reload.returncode == 0, f"networkctl reload failed: {reload.stderr}"
        # networkd answers the reload before it has sent the bridges' messages: give them time to land
        if int(version) >= 257:
            _until(lambda: _kernel(host, "rla")[0] == 0 and _kernel(host, "rlc")[1] == 0, timeout=10)
        else:
            time.sleep(1.0)
        after = {b: _kernel(host, b) for b in BRIDGES}
        networkd.stop()
        texts = {b: host.read_file(NETDEV.format(b=b)) for b in BRIDGES}
    return {"version": int(version), "before": before, "live": live, "after": after, "texts": texts, "log": log.name}


def _applies_on_reload(version: int) -> bool:
    """What upstream says: systemd-networkd reconfigures an existing netdev on reload from 257 on."""
    return version >= 257


def test_reload_changes_an_existing_bridge_from_systemd_257_on(reloaded):
    v, before, after = reloaded["version"], reloaded["before"], reloaded["after"]
    assert before["rla"][:2] == (1, 1500), before
    if _applies_on_reload(v):
        assert after["rla"] == (0, 1500, before["rla"][2]), (v, before, after, reloaded["log"])
    else:
        assert after["rla"] == before["rla"], (v, before, after, reloaded["log"])


def test_reload_never_re_creates_the_bridge(reloaded):
    before, after = reloaded["before"], reloaded["after"]
    assert {b: k[2] for b, k in after.items()} == {b: k[2] for b, k in before.items()}


def test_a_zero_delay_is_refused_while_stp_is_still_on(reloaded):
    """257 sends ForwardDelaySec before STP; the kernel refuses 0 s with STP on, and then nothing applies."""
    assert reloaded["after"]["rlb"] == reloaded["before"]["rlb"], reloaded


def test_after_the_live_fix_reload_makes_the_file_hold_on_257(reloaded):
    v, live, after = reloaded["version"], reloaded["live"], reloaded["after"]
    assert live[:2] == (0, 1500), live
    assert after["rlc"] == ((0, 0, live[2]) if _applies_on_reload(v) else live), (v, live, after)


def test_suite_reads_the_edited_file_as_networkd_applies_it(reloaded):
    """After the reload on 257 the kernel has what the suite reads from the edited file."""
    ctx = Context(netstack=NETWORKD, netplan_renderer=None, netplan_networkd=True)
    for b, text in reloaded["texts"].items():
        (cfg,) = [c for c in parse_config_file(NETDEV.format(b=b), text, ctx) if c.bridge == b]
        assert cfg.stp is False, (b, cfg)
        if _applies_on_reload(reloaded["version"]) and b != "rlb":
            assert reloaded["after"][b][0] == 0


def _says(text: str) -> str:
    return re.sub(r"\s*\n#\s*", " ", text)


def test_fix_text_says_what_this_release_does(reloaded):
    v = reloaded["version"]
    remedy = render_fix(CHECKS["bridge-persistent-config"], "networkd", path=NETDEV.format(b="rla"), bridge="rla")
    for text in (_says(remedy.text), config_hint("networkd", "rla")):
        assert "systemd 257 and later apply it at `networkctl reload`" in text, text
        assert "earlier ones at the next boot" in text, text
    # the fix's own step is the edit rla got, STP=no alone: a reload on 257 takes it, never refused like rlb
    assert remedy.script == f"sed -i -e 's/^STP=.*/STP=no/' -- {NETDEV.format(b='rla')}", remedy.script
    assert _applies_on_reload(v) == (reloaded["after"]["rla"][0] == 0), (v, reloaded["after"])
