"""Hostile hosts: names that are shell and HTML, odd command output, hostile libvirt XML, a bridge
deleted mid-read, a process that knows the collector's nonce. One lab, one suite run over real SSH;
each test checks one promise: nothing from a host runs anywhere, nothing from a host reaches the
report unescaped, a bad object costs only its own result, and the host is left as it was.
"""

from __future__ import annotations

import dataclasses
import glob
import html
import json
import os
import shlex
import socket
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest
from stubrun import assert_fix_scripts_run_only_their_steps
from support import REPO, SNAPSHOT, html_report_data, run_suite, settled_snapshot, snapshot, wait_sessions_closed

from kvmnetcheck.text import one_line, unsafe

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
COLLECTOR_MAX = 262144  # collector.sh: MAX, the most one section may hold

# Linux takes any bridge name up to 15 bytes without '/', ':' or whitespace. Each `>kncpwN` is a
# canary: a shell that ever evaluates the name creates a file named kncpwN in its working directory.
HOSTILE_BRIDGES = [
    "b$(>kncpw1)",
    "b`>kncpw2`",
    "b;>kncpw3",
    "b|>kncpw4",
    "<i>b",
    "b'q",
    'b"q',
    "b&lt;i&gt;",
    "b\x1b[31mred",
]
NET_NAME = "n <b>&'\"$(>kncpw6)"
NET_BRIDGE = "v$(>kncpw7)"
GUEST_NAME = "g <img src=x onerror=alert(1)> $(>kncpw8) '&\""
CONFIG_BRIDGE = "c$(>kncpw5)"
CANARY = "kncpw"

XXE_SECRET = "XXE-CANARY-5c1e7d"

# nft tables whose names nft's own command line cannot spell (made through its JSON), on the forward
# hook: "a b" drops what it forwards; beside them "a" and "fz" accept, and the collector's working
# directory holds a file "inet:fz", so a collector that split or globbed the names read only those two
NFT_ODD_TABLES = {"a b": "drop", "f*": "accept", "a": "accept", "fz": "accept"}
NF_BRIDGE = "brnf"  # a host bridge a guest uses, whose bridged DHCP crosses those tables
FAKE_QEMU_GUEST = "knc-pxe"  # a guest of libvirt's, which a process of user nobody names itself after


def _uuid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-00000000c0de"


def _x(s: str) -> str:
    return html.escape(s, quote=True)


# ---------------------------------------------------------------- host states


def _names_host(h) -> None:
    """Bridges, a libvirt network, a guest and a config file whose names are shell and HTML."""
    for name in HOSTILE_BRIDGES:
        h.exec(["ip", "link", "add", name, "type", "bridge"])
        h.exec(["ip", "link", "set", "dev", name, "type", "bridge", "forward_delay", "1500"])
        h.exec(["ip", "link", "set", "dev", name, "type", "bridge", "stp_state", "1"])
    # a qdisc, so the collector also walks tc's parents for a hostile name
    h.exec(["tc", "qdisc", "add", "dev", "b;>kncpw3", "clsact"])
    h.sh(
        "nft add table inet knc && nft add chain inet knc c '{ type filter hook input priority 0; }' "
        "&& nft add rule inet knc c udp dport 67 counter accept"
    )
    h.write_file(
        "/etc/knc-hostile/net.xml",
        f"""<network>
  <name>{_x(NET_NAME)}</name>
  <forward mode='nat'/>
  <bridge name='{_x(NET_BRIDGE)}' stp='on' delay='15'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/></dhcp>
  </ip>
</network>""",
    )
    h.write_file(
        "/etc/knc-hostile/dom.xml",
        f"""<domain type='qemu'>
  <name>{_x(GUEST_NAME)}</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <devices>
    <interface type='network'><source network='{_x(NET_NAME)}'/><model type='virtio'/></interface>
  </devices>
</domain>""",
    )
    h.sh(
        "V='virsh -q -c qemu:///system'; $V net-define /etc/knc-hostile/net.xml >/dev/null && "
        '$V net-start "$($V net-list --all --uuid)" >/dev/null && $V define /etc/knc-hostile/dom.xml >/dev/null '
        "&& rm -f /etc/knc-hostile/net.xml /etc/knc-hostile/dom.xml",
        timeout=240,
    )
    h.write_file(
        "/etc/network/interfaces",
        f"auto {CONFIG_BRIDGE}\niface {CONFIG_BRIDGE} inet manual\n    bridge-ports none\n"
        "    bridge-stp on\n    bridge-fd 15\n",
    )
    # odd nft table names on the forward hook, and a guest bridged by brnf (bridge netfilter is on here)
    h.write_file(
        "/etc/knc-hostile/nft.json",
        json.dumps(
            {
                "nftables": [
                    item
                    for name, policy in NFT_ODD_TABLES.items()
                    for item in (
                        {"add": {"table": {"family": "inet", "name": name}}},
                        {
                            "add": {
                                "chain": {
                                    "family": "inet",
                                    "table": name,
                                    "name": "fwd",
                                    "type": "filter",
                                    "hook": "forward",
                                    "prio": 0,
                                    "policy": policy,
                                }
                            }
                        },
                    )
                ]
            }
        ),
    )
    h.sh("nft -j -f /etc/knc-hostile/nft.json && mount -t tmpfs knc-home /root && : > '/root/inet:fz'")
    # a process of user nobody that calls itself QEMU and names a defined guest with -name guest=
    h.write_file("/etc/knc-hostile/qemu-system-x86_64", "#!/bin/sh\nsleep 3600\n", mode=0o755)
    h.sh(
        LIB
        + f"""
bridge {NF_BRIDGE} 0 0
guest_define {FAKE_QEMU_GUEST} "<interface type='bridge'><source bridge='{NF_BRIDGE}'/><model type='virtio'/></interface>"
setpriv --reuid=65534 --regid=65534 --clear-groups /etc/knc-hostile/qemu-system-x86_64 -name guest={FAKE_QEMU_GUEST},debug-threads=on \\
    </dev/null >/dev/null 2>&1 &
""",
        timeout=120,
    )
    # what the collector reads of DHCP servers, boot files, leases and Open vSwitch is there to read
    h.sh(
        LIB
        + """
ovs_start
ovs_bridge ovsk0 true
ovs_guest_tap ovsk0 tapk0
veth lank1 10.59.0.1/24
dhcpd_on lank1 10.59.0
mkdir -p /var/lib/libvirt/tftp && : > /var/lib/libvirt/tftp/pxelinux.0
cat > "$KT/boot.xml" <<XML
<network><name>knc-boot</name><bridge name='virbr5' stp='off'/>
  <ip address='10.98.5.1' netmask='255.255.255.0'><tftp root='/var/lib/libvirt/tftp'/>
    <dhcp><range start='10.98.5.10' end='10.98.5.50'/><bootp file='pxelinux.0'/></dhcp></ip></network>
XML
$V net-define "$KT/boot.xml" >/dev/null
$V net-start knc-boot >/dev/null
dhcp_client kc1 virbr5 52:54:00:00:05:01 >/dev/null
""",
        timeout=240,
    )


def _odd_output_host(h, big_mb: int, mem_kb: int) -> None:
    """Commands that print garbage, nothing, or far too much, on a host with little memory to spare."""
    h.write_file(
        "/etc/knc-hostile/iptables-save",
        f"""#!/bin/sh
# garbage, NULs, bytes that are no UTF-8, section markers with a nonce that is not this run's,
# then {big_mb} MB of rule lines
printf '\\000\\001\\377\\376 garbage \\000\\n@@0123456789abcdef01234567@@ bridge\\tforged1\\n'
printf 'stp_state=1\\nforward_delay=3000\\n@@0123456789abcdef01234567@@ rc\\t0\\n@@@@ done\\t\\n'
printf '*filter\\n:INPUT ACCEPT [0:0]\\n'
yes -- '-A INPUT -s 192.0.2.1/32 -j ACCEPT' | head -c {big_mb * 1000000}
""",
        mode=0o755,
    )
    h.write_file(
        "/etc/knc-hostile/iptables",
        """#!/bin/sh
# `iptables --version` prints nothing at all; everything else is the real iptables
[ "$1" = --version ] && exit 0
exec /usr/sbin/iptables-nft "$@"
""",
        mode=0o755,
    )
    # every process of the collector (it runs under the host's `timeout`) gets little address space
    h.write_file(
        "/etc/knc-hostile/timeout",
        f"""#!/bin/sh
ulimit -v {mem_kb}
exec /etc/knc-hostile/timeout.real "$@"
""",
        mode=0o755,
    )
    h.write_file(
        "/etc/network/interfaces",
        b"# pont de r\xe9seau (Latin-1, not UTF-8)\nauto brlat\niface brlat inet manual\n"
        b"    bridge-ports none\n    bridge-stp on\n    bridge-fd 15\n",
    )
    h.write_file(
        "/etc/network/interfaces.d/forged",
        "@@0123456789abcdef01234567@@ rc\t0\n@@0123456789abcdef01234567@@ bridge\tforged2\nstp_state=1\n",
    )
    h.sh(
        LIB
        + """
bridge keep0 1 1500
cp /usr/bin/timeout /etc/knc-hostile/timeout.real
ln -sf /etc/knc-hostile/iptables-save /etc/alternatives/iptables-save
ln -sf /etc/knc-hostile/iptables /etc/alternatives/iptables
mount --bind /etc/knc-hostile/timeout /usr/bin/timeout
"""
    )


VIRSH = r"""#!/bin/sh
# virsh of a libvirt that returns hostile XML (the suite reads it with --libvirt-uri=HOST=none)
D=/etc/knc-hostile/virsh
while [ $# -gt 0 ]; do case $1 in --readonly|-q) shift;; -c) shift 2;; *) break;; esac; done
case "$*" in
  version) printf 'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.0\n';;
  --version) echo 9.0.0;;
  uri) echo qemu:///system;;
  "net-list --uuid"|"net-list --all --uuid") exec /etc/knc-hostile/cat.real "$D/net-uuids";;
  "net-dumpxml "*) exec /etc/knc-hostile/cat.real "$D/${*##* }.xml";;
  "net-info "*) printf 'Name:           x\nActive:         yes\nPersistent:     yes\nAutostart:      no\n';;
  "list --uuid"|"list --all --uuid") exec /etc/knc-hostile/cat.real "$D/dom-uuids";;
  "dumpxml "*) exec /etc/knc-hostile/cat.real "$D/${*##* }.xml";;
  *) echo "error: unsupported: $*" >&2; exit 1;;
esac
"""


def _hostile_xml(canary_path: str, port: int) -> tuple[dict, dict, dict]:
    """(networks, guests, why) by UUID: one good network and guest, and XML no libvirt writes."""
    good = f"""<network><name>ok &lt;net&gt;</name><uuid>{_uuid(1)}</uuid><forward mode='nat'/>
<bridge name='virbr9' stp='on' delay='15'/>
<ip address='10.9.9.1' netmask='255.255.255.0'><dhcp><range start='10.9.9.10' end='10.9.9.20'/></dhcp></ip></network>"""
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE network [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + f"]><network><name>&j;</name><uuid>{_uuid(2)}</uuid></network>"
    )
    nets = {
        _uuid(1): good,
        _uuid(2): laughs,
        _uuid(3): f'<?xml version="1.0"?><!DOCTYPE network [<!ENTITY x SYSTEM "file://{canary_path}">]>'
        f"<network><name>xxe&x;</name><uuid>{_uuid(3)}</uuid></network>",
        _uuid(4): f'<?xml version="1.0"?><!DOCTYPE network SYSTEM "http://127.0.0.1:{port}/n.dtd">'
        f"<network><name>dtd</name><uuid>{_uuid(4)}</uuid></network>",
        _uuid(5): f'<?xml version="1.0"?><!DOCTYPE network [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>'
        f"<network><name>pent</name><uuid>{_uuid(5)}</uuid></network>",
        _uuid(6): f"<network><name>huge</name><uuid>{_uuid(6)}</uuid><description>"
        + "A" * (10 << 20)
        + "</description></network>",
        _uuid(7): good.replace(_uuid(1), _uuid(7))[:90],
        _uuid(8): "\x00\x01\udcff\udcfe<network>\x00<name>g</name>",
        _uuid(9): "",
    }
    guests = {
        _uuid(11): f'<!DOCTYPE domain [<!ENTITY x SYSTEM "file://{canary_path}">]><domain type="qemu">'
        f"<name>d&x;</name><uuid>{_uuid(11)}</uuid></domain>",
        _uuid(
            12
        ): f"""<domain type='qemu' id='1'><name>vm &lt;img src=x onerror=alert(2)&gt;</name><uuid>{_uuid(12)}</uuid>
<os><boot dev='network'/></os><devices><interface type='network'><mac address='52:54:00:00:00:01'/>
<source network='ok &lt;net&gt;'/><model type='virtio'/></interface></devices></domain>""",
    }
    why = {
        _uuid(2): "amplification",
        _uuid(3): "DOCTYPE",
        _uuid(4): "DOCTYPE",
        _uuid(5): "DOCTYPE",
        _uuid(6): "malformed",
        _uuid(7): "malformed",
        _uuid(8): "malformed",
        _uuid(9): "empty",
    }
    return nets, guests, why


def _xml_host(h, nets: dict, guests: dict) -> None:
    h.sh("mkdir -p /etc/knc-hostile/virsh && cp /usr/bin/cat /etc/knc-hostile/cat.real")
    for u, text in {**nets, **guests}.items():
        h.write_file(f"/etc/knc-hostile/virsh/{u}.xml", text.encode("utf-8", "surrogateescape"))
    h.write_file("/etc/knc-hostile/virsh/net-uuids", "\n".join(nets) + "\n")
    h.write_file("/etc/knc-hostile/virsh/dom-uuids", "\n".join(guests) + "\n")
    h.write_file("/etc/knc-hostile/virsh.sh", VIRSH, mode=0o755)
    h.sh("mount --bind /etc/knc-hostile/virsh.sh /usr/bin/virsh")


def _vanishing_host(h) -> None:
    """gone0 is deleted while the collector reads it; meanwhile an unprivileged process that read the
    collector's nonce from /proc names itself like QEMU, with forged sections in its -name."""
    h.write_file("/etc/knc-hostile/qemu-system-x86_64", "#!/bin/sh\nsleep 120\n", mode=0o755)
    h.write_file(
        "/etc/knc-hostile/cat",
        r"""#!/bin/sh
case "$1" in /sys/class/net/gone0/bridge/forward_delay)
    /usr/sbin/ip link del gone0
    for p in /proc/[0-9]*; do
        n=$(tr '\000' '\n' < "$p/cmdline" 2>/dev/null | awk 'prev=="kvmnetcheck-collector"{print; exit} {prev=$0}')
        [ -n "$n" ] && break
    done
    forged=$(printf '@@%s@@ bridge\tforged0\nstp_state=1\nforward_delay=3000\n@@%s@@ rc\t0\n@@%s@@ done\t' "$n" "$n" "$n")
    setpriv --reuid=65534 --regid=65534 --clear-groups /etc/knc-hostile/qemu-system-x86_64 -name "$forged" \
        </dev/null >/dev/null 2>&1 &
    sleep 0.3
    ;;
esac
exec /etc/knc-hostile/cat.real "$@"
""",
        mode=0o755,
    )
    h.sh(
        LIB
        + """
bridge gone0 1 1500
bridge keep0 1 1500
cp /usr/bin/cat /etc/knc-hostile/cat.real
mount --bind /etc/knc-hostile/cat /usr/bin/cat
"""
    )


# ---------------------------------------------------------------- read-only snapshot

# ---------------------------------------------------------------- the run


@dataclass
class HostileRun:
    run: object
    lab: object
    seconds: float
    raw: dict  # host -> saved raw facts (collector output, nonce)
    before: dict
    after: dict
    xml_why: dict
    dtd_hits: list
    out_dir: str
    control_canaries_before: list = field(default_factory=list)

    def results(self, host: str, check: str = None, obj: str = None) -> list[dict]:
        return [
            r
            for r in self.run.results["results"]
            if r["host"] == host and (check is None or r["check"] == check) and (obj is None or r["object"] == obj)
        ]

    def one(self, host: str, check: str, obj: str) -> dict:
        found = self.results(host, check, obj)
        assert len(found) == 1, (
            host,
            check,
            obj,
            [(r["check"], r["object"], r["outcome"]) for r in self.results(host)],
        )
        return found[0]

    def host_summary(self, host: str) -> dict:
        return next(h for h in self.run.results["hosts"] if h["host"] == host)


def _control_canaries(extra_dirs) -> list[str]:
    dirs = [REPO, os.getcwd(), "/", "/root", "/tmp", os.path.expanduser("~"), *extra_dirs]
    return sorted({p for d in dirs for p in glob.glob(os.path.join(d, CANARY + "*"))})


def _host_canaries(h) -> list[str]:
    out = h.sh(
        f"find / /etc /run /tmp /root /var/lib/libvirt -xdev -maxdepth 3 -name '{CANARY}*' 2>/dev/null", check=False
    ).stdout
    return sorted(set(out.split()))


class _Listener:
    """A local HTTP port that records any connection (an XML parser fetching a DTD)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(1)
                try:
                    self.hits.append(c.recv(200) or b"(connected)")
                except OSError:
                    self.hits.append(b"(connected)")

    def close(self):
        self._stop = True
        self._t.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from lab import Lab

    root = str(tmp_path_factory.mktemp("hostile-lab"))
    out_dir = str(tmp_path_factory.mktemp("hostile-report"))
    facts_dir = os.path.join(out_dir, "facts")
    canary_path = os.path.join(out_dir, "xxe-canary.txt")
    with open(canary_path, "w") as f:
        f.write(XXE_SECRET + "\n")
    listener = _Listener()
    for stale in _control_canaries([out_dir, root]):
        os.unlink(stale)
    nets, guests, why = _hostile_xml(canary_path, listener.port)
    try:
        with Lab(root) as lab:
            names = lab.add_host("names", libvirt=True)
            _names_host(names)
            _odd_output_host(lab.add_host("odd"), big_mb=60, mem_kb=120000)
            _xml_host(lab.add_host("xml"), nets, guests)
            _vanishing_host(lab.add_host("vanish"))
            before = settled_snapshot(names)
            started = time.monotonic()
            run = run_suite(
                out_dir,
                "--hosts=ssh://names,ssh://odd,ssh://xml,ssh://vanish",
                f"--ssh-config={lab.ssh_config}",
                "--libvirt-uri=xml=none",
                f"--save-facts={facts_dir}",
                timeout=300,
            )
            seconds = time.monotonic() - started
            wait_sessions_closed(names)
            after = snapshot(names)
            raw = {}
            for path in glob.glob(os.path.join(facts_dir, "*.json")):
                d = json.load(open(path))
                if "host" in d:
                    raw[d["host"]] = d
            yield HostileRun(run, lab, seconds, raw, before, after, why, listener.hits, out_dir)
    finally:
        listener.close()


def _reports(hr: HostileRun) -> dict[str, str]:
    return {
        "results.json": json.dumps(hr.run.results, ensure_ascii=False),
        "junit.xml": open(hr.run.junit_path, encoding="utf-8").read(),
        "compliance.html": open(hr.run.html_path, encoding="utf-8").read(),
        "html data": json.dumps(html_report_data(hr.run.html_path), ensure_ascii=False),
        "stdout": hr.run.stdout,
        "stderr": hr.run.stderr,
    }


# ---------------------------------------------------------------- names are data


def test_no_name_from_a_host_ran_as_a_command(hostile):
    """No canary file exists anywhere after the run: on the checked host nor on the control node."""
    h = hostile.lab.get("names")
    assert _host_canaries(h) == [], _host_canaries(h)
    assert _control_canaries([hostile.out_dir, hostile.lab.root]) == []
    # the names were really there and were really checked
    for name in HOSTILE_BRIDGES + [NET_BRIDGE]:
        assert hostile.one("names", "bridge-forward-delay", name)["outcome"] == "failed", name


def test_fixes_quote_every_name(hostile):
    """Each fix names the hostile object shell-quoted, so pasting it runs nothing but the fix."""
    for name in HOSTILE_BRIDGES:
        r = hostile.one("names", "bridge-forward-delay", name)
        if unsafe(name):  # a terminal escape: shown escaped, left to a person, never scripted
            assert r["fix_steps"] == [] and "not scripted" in r["remediation"], r
            assert f"ip link set dev {shlex.quote(one_line(name))} type bridge stp_state 0" in r["remediation"], r
            continue
        assert f"ip link set dev {shlex.quote(name)} type bridge stp_state 0" in r["remediation"], r
    r = hostile.one("names", "libvirt-network-stp-delay", NET_NAME)
    assert r["outcome"] == "failed"
    assert f"virsh net-edit {shlex.quote(NET_NAME)}" in r["remediation"]
    nic = [x for x in hostile.results("names", "guest-nic-bridge-delay") if x["object"].startswith(GUEST_NAME + "/")]
    assert len(nic) == 1 and nic[0]["outcome"] == "failed", hostile.results("names", "guest-nic-bridge-delay")
    assert GUEST_NAME in nic[0]["message"]
    cfg = hostile.one("names", "bridge-persistent-config", f"{CONFIG_BRIDGE}@/etc/network/interfaces")
    assert cfg["outcome"] == "failed" and shlex.quote(CONFIG_BRIDGE) in cfg["remediation"]


def test_html_report_shows_names_only_escaped(hostile):
    """Every HTML fragment the report's page inserts (row cells, extras, logs, environment) carries
    the hostile names escaped, never as markup."""
    data = html_report_data(hostile.run.html_path)
    fragments = []
    for reps in data["tests"].values():
        for rep in reps:
            fragments += rep.get("resultsTableRow", [])
            fragments += [e["content"] for e in rep.get("extras", []) if e.get("format_type") == "html"]
            log = rep.get("log", "")
            fragments += log if isinstance(log, list) else [log]
            fragments += rep.get("tableHtml", []) or []
    fragments += [json.dumps(data.get("environment", {}))]
    raw_markup = ["<i>b", "<img src=x", "<b>&'", "<b>&amp;'"]
    for frag in fragments:
        for bad in raw_markup:
            assert bad not in frag, f"{bad!r} unescaped in {frag[:300]!r}"
    text = " ".join(fragments)
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;i&gt;b" in text
    assert "b&amp;lt;i&amp;gt;" in text  # an already escaped-looking name is escaped once more, not decoded
    page = open(hostile.run.html_path, encoding="utf-8").read()
    assert "<img src=x" not in page and "<i>b" not in page


def test_junit_and_results_keep_names_exact(hostile):
    """junit.xml stays well-formed and results.json carries every name byte for byte."""
    tree = ET.parse(hostile.run.junit_path)
    objects = {p.get("value") for p in tree.iter("property") if p.get("name") == "object"}
    assert NET_NAME in objects and "<i>b" in objects
    names = {r["object"] for r in hostile.results("names", "bridge-forward-delay")}
    assert set(HOSTILE_BRIDGES) <= names


def test_terminal_shows_control_characters_escaped(hostile):
    """A name carrying a terminal escape sequence is printed with the escape made visible."""
    out = hostile.run.stdout
    assert "\x1b[31mred" not in out
    assert "b\\x1b[31mred" in out


# ---------------------------------------------------------------- odd output


def test_garbled_and_empty_output_cost_only_their_own_facts(hostile):
    """Binary garbage, foreign section markers, an empty `iptables --version` and a Latin-1 file:
    the host is read, nothing forged appears, and every other object keeps its result."""
    assert hostile.one("odd", "host-reachable", "odd")["outcome"] == "passed"
    assert hostile.one("odd", "bridge-forward-delay", "keep0")["outcome"] == "failed"
    bridges = {r["object"] for r in hostile.results("odd", "bridge-forward-delay")}
    assert bridges == {"keep0"}, bridges
    lat = hostile.one("odd", "bridge-persistent-config", "brlat@/etc/network/interfaces")
    assert lat["outcome"] == "failed", lat
    # with no version to compare, the check cannot decide: an error that says so, not a pass
    v = hostile.one("odd", "iptables-checksum-support", "odd")
    assert v["outcome"] == "error" and "iptables --version could not be read on odd" in v["message"], v


def test_enormous_output_is_cut_and_costs_the_host_no_memory(hostile):
    """60 MB from iptables-save, with the collector's address space limited to 120 MB on that host:
    the collector finishes, and keeps only the first bytes of that output."""
    summary = hostile.host_summary("odd")
    assert summary["reachable"] and not any("cut short" in n for n in summary["notes"]), summary
    raw = hostile.raw["odd"]
    marker = f"@@{raw['nonce']}@@ "
    out = raw["output"]
    start = out.index(marker + "iptables_save\t")
    body = out[out.index("\n", start) + 1 : out.index("\n" + marker + "rc\t", start)]
    # (+ a few bytes: each byte that is no UTF-8 comes back as one 3-byte replacement character)
    assert COLLECTOR_MAX - 16 <= len(body.encode("utf-8")) <= COLLECTOR_MAX + 16, len(body)
    assert body.startswith("\x00\x01\ufffd\ufffd garbage \x00\n")
    assert marker + "done\t" in out


def test_hostile_libvirt_xml_is_refused_and_named(hostile):
    """Entity bombs, external entities, external DTDs, 10 MB, truncated, binary and empty XML are
    each refused with the reason; no file or URL they name is read; the good network and guest
    still get their results."""
    r = hostile.one("xml", "libvirt-network-stp-delay", "ok <net>")
    assert r["outcome"] == "failed", r
    nic = hostile.results("xml", "guest-nic-bridge-delay")
    assert [x["outcome"] for x in nic] == ["failed"], nic
    assert hostile.host_summary("xml")["libvirt_source"] == "virsh"
    notes = hostile.host_summary("xml")["notes"]
    for uuid, reason in hostile.xml_why.items():
        mine = [n for n in notes if uuid in n]
        assert len(mine) == 1 and reason.lower() in mine[0].lower(), (uuid, reason, notes)
    assert any(n.startswith("guest") and "DOCTYPE" in n for n in notes), notes
    assert hostile.dtd_hits == [], hostile.dtd_hits
    for name, text in _reports(hostile).items():
        assert XXE_SECRET not in text, name
    # what was refused is named where people look, not only in results.json
    assert f"xml: could not read: network {_uuid(3)}: XML carries a DOCTYPE" in hostile.run.stdout
    page = open(hostile.run.html_path, encoding="utf-8").read()
    assert "kvm-unread" in page and f"xml: network {_uuid(2)}" in page


def test_bridge_deleted_mid_read_is_an_error_for_that_bridge_only(hostile):
    """gone0 vanishes between two sysfs reads: its checks end in an error saying what could not be
    read; keep0 and the host get their usual results."""
    for check in ("bridge-forward-delay", "bridge-stp-root"):
        r = hostile.one("vanish", check, "gone0")
        assert r["outcome"] == "error" and "could not be read" in r["message"], r
    assert hostile.one("vanish", "bridge-forward-delay", "keep0")["outcome"] == "failed"
    assert hostile.one("vanish", "host-reachable", "vanish")["outcome"] == "passed"


def test_process_that_knows_the_nonce_forges_nothing(hostile):
    """An unprivileged process read the run's nonce from /proc and put whole sections into its
    QEMU-like command line: the collector prints it inside one `pid=` line, and no forged bridge
    appears."""
    raw = hostile.raw["vanish"]
    forged = f"@@{raw['nonce']}@@ bridge\tforged0"
    assert f"name={forged}" in raw["output"], "the forging process was not running when the collector looked"
    assert [ln for ln in raw["output"].splitlines() if ln.startswith(forged)] == []
    assert "forged0" not in {r["object"] for r in hostile.results("vanish")}


def test_no_result_is_an_unexplained_error(hostile):
    """Odd input yields passed, failed or skipped with a reason; the only errors are those of the
    objects whose facts could not be read, and each says which."""
    errors = {
        (r["host"], r["check"], r["object"]): r["message"]
        for r in hostile.run.results["results"]
        if r["outcome"] == "error"
    }
    assert set(errors) == {
        ("vanish", "bridge-forward-delay", "gone0"),
        ("vanish", "bridge-stp-root", "gone0"),
        ("odd", "iptables-checksum-support", "odd"),
        # a "running" guest whose live XML (made up) names no tap for its NIC
        ("xml", "guest-port-forwarding", "vm <img src=x onerror=alert(2)>/52:54:00:00:00:01"),
    }, errors
    assert all("could not be read" in m for m in errors.values()), errors
    assert "Traceback" not in hostile.run.stdout and "INTERNALERROR" not in hostile.run.stdout + hostile.run.stderr


# ---------------------------------------------------------------- names read as data, owners recorded


def _section(raw: dict, kind: str, arg: str):
    """(body, rc) of the one section KIND<TAB>ARG of a saved collector output, or None."""
    marker = f"@@{raw['nonce']}@@ "
    out = raw["output"]
    head = f"{marker}{kind}\t{arg}\n"
    if out.count(head) != 1:
        return None
    start = out.index(head) + len(head)
    end = out.index("\n" + marker + "rc\t", start)
    return out[start:end], out[end:].split("\t", 1)[1].split("\n", 1)[0]


def test_nft_tables_named_with_a_space_or_a_star_are_read(hostile):
    """Tables "a b" and "f*" on the forward hook are each listed under their own name, line by line
    and never globbed (a file "inet:fz" sits in the collector's working directory), so the drop in
    "a b" is seen: bridge-netfilter-dhcp fails for the bridge a guest uses."""
    r = hostile.one("names", "bridge-netfilter-dhcp", NF_BRIDGE)
    assert r["outcome"] == "failed" and "nft inet a b chain fwd policy drop" in r["message"], r
    assert "nft insert rule inet a b fwd" in r["remediation"], r
    raw = hostile.raw["names"]
    for name in NFT_ODD_TABLES:
        found = _section(raw, "nft_forward", f"inet:{name}")
        assert found is not None and found[1] == "0", (name, found)
        assert f'"name": "{name}"' in found[0], name
    assert _section(raw, "nft_forward", "inet:f*")[0].count('"hook": "forward"') == 1


def test_a_process_of_another_user_named_after_a_guest_is_not_its_qemu(hostile):
    """The collector records who runs each QEMU-named process; one of user nobody naming guest knc-pxe
    is not taken for libvirt's QEMU of that guest (which would say it uses no vhost-net)."""
    from kvmnetcheck.facts.host import facts_from_raw
    from kvmnetcheck.raw import RawHost

    (line,) = [ln for ln in hostile.raw["names"]["output"].splitlines() if f"name=guest={FAKE_QEMU_GUEST}," in ln]
    assert " uid=65534 euid=65534 user=nobody " in line, line
    from kvmnetcheck.facts.conclusions.libvirt import qemu_of

    facts = facts_from_raw(RawHost.from_json(hostile.raw["names"]))
    (fake,) = [q for q in facts.qemu if q.guest == FAKE_QEMU_GUEST]
    assert (fake.uid, fake.euid, fake.user, fake.vhost_fds) == (65534, 65534, "nobody", 0)
    guest = next(g for g in facts.libvirt.guests if g.name == FAKE_QEMU_GUEST)
    assert qemu_of(facts, dataclasses.replace(guest, active=True)) is None
    assert facts.libvirt_qemu.conf_read  # qemu.conf was read (Debian's sets no user=: the build's default)


# ---------------------------------------------------------------- read-only, proven


def test_full_run_changes_nothing_on_the_host(hostile):
    """Bridges and their ports, iptables, nft ruleset, tc qdiscs and filters, libvirt XML, every file
    the collector reads, and the processes are the same after a full run as before it."""
    for key in SNAPSHOT:
        assert hostile.before[key] == hostile.after[key], (
            f"{key} changed:\n--- before\n{hostile.before[key]}\n--- after\n{hostile.after[key]}"
        )
    assert "table inet knc" in hostile.after["nft"] and "clsact" in hostile.after["tc"]
    assert "ovsk0" in hostile.after["ovs"] and "dhcpd" in hostile.after["procs"]
    # and the collector did read them: DHCP servers, leases, boot files, Open vSwitch, the sysctls
    out = hostile.raw["names"]["output"]
    for kind in (
        "udp_servers",
        "packet_sockets",
        "dnsmasq_leases",
        "dnsmasq_boot",
        "libvirt_dnsmasq_pid",
        "ovs_bridges",
        "ovs_ports",
        "ovs_interfaces",
        "qemu_firmware",
    ):
        assert f"@@ {kind}\t" in out, kind
    assert "bridge_nf_call_iptables=1" in out
    # the run itself opens at most one collector session and one libvirt connection
    assert hostile.lab.get("names").ssh_sessions() <= 2


def test_pasting_the_fixes_runs_only_the_fixes(hostile):
    """The fix scripts of the hostile bridges, run as root on the host, turn STP off and create no canary."""
    h = hostile.lab.get("names")
    for name in [n for n in HOSTILE_BRIDGES if not unsafe(n)]:
        script = hostile.one("names", "bridge-forward-delay", name)["fix_script"]
        assert script.strip(), name
        h.sh(script)
        state = h.exec(["cat", f"/sys/class/net/{name}/bridge/stp_state"]).stdout.strip()
        assert state == "0", (name, script)
    assert _host_canaries(h) == []


def test_fix_scripts_run_only_their_fix_steps(hostile):
    """Every fix script of the hostile lab, run against stub commands that log their argv, runs only
    the commands of its fix steps, each name one whole argument; nothing else runs, nothing appears."""
    assert hostile.run.results["fix_scripts"], hostile.run.results.keys()
    assert assert_fix_scripts_run_only_their_steps(hostile.run.results) > 0
