"""Truth for persistent bridge config: the real programs apply each file in a lab host, and the
suite's reading of the same file must match the bridge the kernel then has (STP, forward delay).

NetworkManager (keyfiles), netplan (rendered for networkd and for NetworkManager), systemd-networkd
(.netdev), ifupdown with bridge-utils and ifupdown2 are the Debian 12 packages, run in lab hosts with
no systemd: NetworkManager on the host's own D-Bus, networkd with sysfs read-only (so it does not
wait for udev), ifupdown2 from its .deb unpacked (it conflicts with ifupdown, so it is not
installed). What cannot run here (NetworkManager's ifcfg-rh plugin, RHEL initscripts) is held to
upstream's own test cases in selftests/unit/test_netconfig_upstream.py instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

import pytest
from support import truth_releases

from kvmnetcheck.facts.model import NetStack
from kvmnetcheck.facts.parsers.bridge_config import Context, parse_config_file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")

NM = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/usr/sbin/NetworkManager", "/usr/sbin/netplan", "/lib/systemd/systemd-networkd"}),
    enabled=frozenset({"NetworkManager"}),
)
NETWORKD = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/lib/systemd/systemd-networkd", "/usr/sbin/netplan"}),
    enabled=frozenset({"systemd-networkd"}),
)
IFUPDOWN = NetStack(known=True, systemd=True, installed=frozenset({"/sbin/ifup"}), enabled=frozenset({"networking"}))
IFUPDOWN2 = NetStack(
    known=True,
    systemd=True,
    installed=frozenset({"/sbin/ifup", "/usr/share/ifupdown2"}),
    enabled=frozenset({"networking"}),
    ifupdown2=True,
)


# the first block's type-level renderer holds for npk, first defined there; the second block amends it
NETPLAN_TWICE_NM = (
    "network:\n  version: 2\n  bridges:\n    renderer: NetworkManager\n    npj:\n      parameters:\n"
    "        stp: false\n    npk: {}\n  bridges:\n    npk:\n      dhcp4: false\n"
)
# npi's second parameters: turns STP on again and keeps nothing of the first's stp
NETPLAN_TWICE_NETWORKD = (
    "network:\n  version: 2\n  bridges:\n    npg:\n      parameters:\n        stp: true\n"
    "        forward-delay: 4\n  bridges:\n    nph: {}\n    npi:\n      parameters: {stp: false, forward-delay: 3}\n"
    "  bridges:\n    npi:\n      parameters: {forward-delay: 5}\n"
)


@dataclass(frozen=True)
class Case:
    host: str  # nm | networkd | ifupdown | ifupdown2
    bridge: str
    path: str  # as inside the host
    text: str
    mode: int = 0o600  # NetworkManager's keyfiles; networkd (unprivileged) and ifupdown read 0644 ones


def kf(name: str, bridge_lines: str = "", extra: str = "") -> str:
    return (
        f"[connection]\nid={name}\nuuid=00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}\ntype=bridge\n"
        f"interface-name={name}\n{extra}\n[bridge]\n{bridge_lines}\n[ipv4]\nmethod=disabled\n[ipv6]\n"
        "method=ignore\n"
    )


NMDIR = "/etc/NetworkManager/system-connections/"
CASES = [
    # NetworkManager keyfiles (NM-KF-1, NM-KF-2, X-11..X-14)
    Case("nm", "kfa", NMDIR + "kfa.nmconnection", kf("kfa")),
    Case("nm", "kfb", NMDIR + "kfb.nmconnection", kf("kfb", "stp=false\n")),
    Case("nm", "kfc", NMDIR + "kfc.nmconnection", kf("kfc", "forward-delay=2\n")),
    Case(
        "nm",
        "kfd",
        NMDIR + "kfd.nmconnection",
        "[connection]\nid=old\ntype=bridge\n[bridge]\ninterface-name=kfd\nstp=true\nforward-delay=4\n"
        "[ipv4]\nmethod=disabled\n[ipv6]\nmethod=ignore\n",
    ),
    Case("nm", "kfe", NMDIR + "kfe.nmconnection", kf("kfe"), mode=0o644),
    Case("nm", "kff", NMDIR + "kff.nmconnection", kf("kff", "forward-delay=1\n")),
    Case("nm", "kfg", NMDIR + "kfg.nmconnection", kf("kfg", "stp=false\nforward-delay=0\n")),
    # netplan rendered for NetworkManager (NP-GEN-5..7, X-15)
    Case(
        "nm",
        "npa",
        "/etc/netplan/10-npa.yaml",
        "network:\n  version: 2\n  bridges:\n    renderer: NetworkManager\n    npa:\n      dhcp4: false\n",
    ),
    Case(
        "nm",
        "npb",
        "/etc/netplan/11-npb.yaml",
        "network:\n  version: 2\n  bridges:\n    npb:\n      renderer: NetworkManager\n      parameters:\n"
        "        stp: false\n",
    ),
    Case(
        "nm",
        "npc",
        "/etc/netplan/12-npc.yaml",
        "network:\n  version: 2\n  bridges:\n    npc:\n      renderer: NetworkManager\n      parameters:\n"
        "        forward-delay: 500ms\n",
    ),
    # netplan rendered for networkd (NP-GEN-1, NP-GEN-4, NP-INT-1, X-16)
    Case("networkd", "npd", "/etc/netplan/20-npd.yaml", "network:\n  version: 2\n  bridges:\n    npd: {}\n"),
    Case(
        "networkd",
        "npe",
        "/etc/netplan/21-npe.yaml",
        "network:\n  version: 2\n  bridges:\n    npe:\n      parameters:\n        forward-delay: 4\n",
    ),
    Case(
        "networkd",
        "npf",
        "/etc/netplan/22-npf.yaml",
        "network:\n  version: 2\n  bridges:\n    npf:\n      parameters:\n        forward-delay: 500ms\n",
    ),
    # netplan with a key given twice (NP-INT-2, src/parse.c process_mapping): every block is read
    *(Case("nm", b, "/etc/netplan/13-npjk.yaml", NETPLAN_TWICE_NM) for b in ("npj", "npk")),
    *(Case("networkd", b, "/etc/netplan/23-npghi.yaml", NETPLAN_TWICE_NETWORKD) for b in ("npg", "nph", "npi")),
    # systemd-networkd .netdev (SD-1, X-21)
    Case("networkd", "nda", "/etc/systemd/network/30-nda.netdev", "[NetDev]\nName=nda\nKind=bridge\n", 0o644),
    Case(
        "networkd",
        "ndb",
        "/etc/systemd/network/31-ndb.netdev",
        "[NetDev]\nName=ndb\nKind=bridge\n\n[Bridge]\nSTP=yes\nForwardDelaySec=4\n",
        0o644,
    ),
    Case(
        "networkd",
        "ndc",
        "/etc/systemd/network/32-ndc.netdev",
        "[NetDev]\nName=ndc\nKind=bridge\n\n[Bridge]\nSTP=yes\n",
        0o644,
    ),
    # ifupdown with bridge-utils (DOC-BRU-1, X-18, X-20)
    Case(
        "ifupdown",
        "ifa",
        "/etc/network/interfaces.d/ifa",
        "auto ifa\niface ifa inet manual\n  bridge_ports none\n  bridge_stp on\n  bridge_fd 4\n",
    ),
    Case("ifupdown", "ifb", "/etc/network/interfaces.d/ifb", "auto ifb\niface ifb inet manual\n  bridge-ports none\n"),
    Case(
        "ifupdown",
        "ifc",
        "/etc/network/interfaces.d/ifc",
        "auto ifc\niface ifc inet manual\n  bridge_ports none\n  bridge_stp true\n  bridge_fd 4\n",
    ),
    Case(
        "ifupdown",
        "ifd",
        "/etc/network/interfaces.d/ifd",
        "auto ifd\niface ifd inet manual\n  bridge_ports none\n  bridge_stp on\n  bridge_fd 2.5\n",
    ),
    # ifupdown2 (IFUD2-1, X-19)
    Case("ifupdown2", "i2a", "/etc/network/interfaces", None),
]
IFUPDOWN2_INTERFACES = (
    "auto i2a\niface i2a\n  bridge-ports none\n  bridge-stp on\n  bridge-fd 4\n\n"
    "auto i2b\niface i2b\n  bridge-ports none\n\n"
    "auto i2c\niface i2c\n  bridge-ports none\n  bridge-stp on\n  bridge-fd 2.5\n"
)
CASES[-1:] = [Case("ifupdown2", b, "/etc/network/interfaces", IFUPDOWN2_INTERFACES) for b in ("i2a", "i2b", "i2c")]


def _wait(host, bridges, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    names = " ".join(bridges)
    while time.monotonic() < deadline:
        if (
            host.sh(f"for b in {names}; do [ -d /sys/class/net/$b/bridge ] || exit 1; done", check=False).returncode
            == 0
        ):
            return
        time.sleep(0.2)


def _kernel(host, bridge) -> Optional[tuple[int, int]]:
    r = host.sh(
        f"cat /sys/class/net/{bridge}/bridge/stp_state /sys/class/net/{bridge}/bridge/forward_delay", check=False
    )
    if r.returncode != 0:
        return None
    stp, fd = r.stdout.split()
    return int(stp), int(fd)


def _ifupdown2_tree(tmp) -> str:
    d = os.path.join(tmp, "debs")
    os.makedirs(d, exist_ok=True)
    p = subprocess.run(["apt-get", "download", "ifupdown2"], cwd=d, capture_output=True, text=True)
    debs = [f for f in os.listdir(d) if f.startswith("ifupdown2_") and f.endswith(".deb")]
    if not debs:
        pytest.fail(f"ifupdown2's .deb could not be downloaded from Debian's archive: {p.stderr.strip()[-300:]}")
    tree = os.path.join(tmp, "ifupdown2")
    subprocess.run(["dpkg-deb", "-x", os.path.join(d, debs[0]), tree], check=True)
    return tree


# the files are applied by the machine's programs and by those of trixie and bullseye (lab hosts of those
# releases, lab/releases.py: NetworkManager, netplan, systemd-networkd, ifupdown of each); ifupdown2 runs
# from the machine's own .deb only. KNC_TRUTH_RELEASES=trixie (or =none) narrows it (support.truth_releases)
RELEASES = truth_releases(default="trixie,bullseye")
# one lab per release (the `applied` fixture, parametrized by it): under pytest-xdist a release's cases stay on one worker
XDIST_GROUP_BY = "applied"


@pytest.fixture(scope="module", params=RELEASES, ids=lambda r: r or "machine")
def applied(tmp_path_factory, request):
    """Each case's file applied by its real program: bridge name -> (stp_state, forward_delay) or None."""
    from lab import Lab

    release = request.param
    for tool in ("NetworkManager", "netplan", "ifup", "brctl"):
        assert shutil.which(tool) or os.path.exists("/usr/sbin/" + tool), f"{tool} is not installed (make sysdeps-lab)"
    tmp = str(tmp_path_factory.mktemp("netconfig"))
    tree = _ifupdown2_tree(tmp) if release is None else None
    kernel = {}
    with Lab(os.path.join(tmp, "lab")) as lab:
        names = ["nt-nm", "nt-nd", "nt-ifud"] + (["nt-ifud2"] if tree else [])
        hosts = dict(
            zip(("nm", "networkd", "ifupdown", "ifupdown2"), [lab.add_host(n, release=release) for n in names])
        )
        for c in CASES:
            if c.host in hosts:
                hosts[c.host].write_file(c.path, c.text, mode=c.mode)
        # NetworkManager: its own D-Bus, keyfiles only, its state in a tmpfs
        nm = hosts["nm"]
        nm.sh(
            "mkdir -p /run/dbus && mount -t tmpfs tmpfs /var/lib/NetworkManager && rm -f /etc/NetworkManager/conf.d/* "
            "&& printf '[main]\\nplugins=keyfile\\n' > /etc/NetworkManager/NetworkManager.conf "
            "&& dbus-daemon --system --fork --nopidfile && netplan generate"
        )
        nm.spawn(["NetworkManager", "--no-daemon"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # systemd-networkd: sysfs read-only, so it does not wait for udev
        nd = hosts["networkd"]
        nd.sh(
            "mount -o remount,ro /sys && mkdir -p /run/systemd/netif && "
            "chown systemd-network:systemd-network /run/systemd/netif && netplan generate"
        )
        nd.spawn(["/lib/systemd/systemd-networkd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # ifupdown with bridge-utils' hook
        hosts["ifupdown"].sh(
            "mkdir -p /run/network && printf 'source /etc/network/interfaces.d/*\\n' "
            "> /etc/network/interfaces && ifup -a",
            check=False,
        )
        # ifupdown2 from its unpacked .deb (its mode comes from argv[0]); /var/lib/ifupdown2 is made in a
        # tmpfs of a mount namespace of its own, so nothing of it lands on the machine
        if tree:
            hosts["ifupdown2"].sh(
                f"mkdir -p /run/network /run/bin && cp -a {tree}/etc/network/. /etc/network/ && "
                f"ln -sf {tree}/usr/share/ifupdown2/__main__.py /run/bin/ifup && "
                "unshare -m sh -c 'mount -t tmpfs tmpfs /var/lib && mkdir -p /var/lib/ifupdown2 && "
                "python3 /run/bin/ifup -a'",
                check=False,
            )
        for name, host in hosts.items():
            _wait(host, [c.bridge for c in CASES if c.host == name], timeout=30 if name != "ifupdown2" else 5)
            for c in CASES:
                if c.host == name:
                    kernel[c.bridge] = _kernel(host, c.bridge)
    return kernel


STACKS = {"nm": NM, "networkd": NETWORKD, "ifupdown": IFUPDOWN, "ifupdown2": IFUPDOWN2}


def _suite_reading(c: Case):
    ctx = Context(
        netstack=NetStack(**{**STACKS[c.host].__dict__, "file_modes": {c.path: (c.mode, 0)}}),
        netplan_renderer=None,
        netplan_networkd=True,
    )
    configs = [x for x in parse_config_file(c.path, c.text, ctx) if x.bridge == c.bridge]
    assert len(configs) == 1, (c, configs)
    return configs[0]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.host}-{c.bridge}" for c in CASES])
def test_suite_reads_the_file_as_the_program_applies_it(applied, case):
    if case.bridge not in applied:
        pytest.skip(f"{case.host} is run from the machine's own package only")
    real = applied[case.bridge]
    ours = _suite_reading(case)
    if ours.applies is False or (ours.problem and "refuses the whole profile" in ours.problem):
        assert real is None, (
            f"the suite says {case.path} is not applied ({ours.boot_note or ours.problem}), "
            f"but the program made {case.bridge}: {real}"
        )
        return
    assert real is not None, f"the program made no bridge {case.bridge} from {case.path}"
    stp, fd_ticks = real
    blocked = 2 * fd_ticks / 100.0 if stp == 1 else 0.0
    assert (ours.stp, ours.new_port_block_s) == (stp == 1, blocked), (
        f"{case.path} as {ours.program}: the suite reads STP {'on' if ours.stp else 'off'}, "
        f"{ours.new_port_block_s:g} s blocked; the kernel got stp_state {stp}, forward_delay {fd_ticks}"
    )
