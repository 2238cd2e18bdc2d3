"""The probe (`--probe`): asks each bridge for a DHCP offer as a PXE guest would, and for the first
block of the boot file it names. It runs on the host, sent over the collector's SSH connection as
`python3 -c PROGRAM` (Python 3.6 and later, standard library only), and prints its findings in the
collector's section framing (facts/parsers/sections.py), one JSON object per section.

What it does to a host, and nothing else: for each bridge, a network namespace `kncp-<pid>-<run>-<n>`
and a veth pair `kncp<pid>h<n>`/`kncp<pid>g<n>` whose host end joins the bridge as a guest's tap would,
for as long as the probe waits; DHCPDISCOVERs and, where an OFFER names a boot file, one TFTP read request aborted
after its first block. No DHCPREQUEST is sent, so no lease is taken. The namespace and the veth
are removed in a `finally`, on SIGTERM, SIGINT and SIGHUP too; a probe killed outright leaves them
to the next probe, which removes before it starts every `kncp` leftover whose probe (the pid in its
name) no longer runs, and never those of a probe running at the same time.

The retry schedule is iPXE's (src/config/dhcp.h DHCP_DISC_START_TIMEOUT_SEC 1,
DHCP_DISC_END_TIMEOUT_SEC 10; src/net/retry.c timer_expired doubles the timeout and gives up once
it passes the maximum): DISCOVERs at 0, 1, 3 and 7 s, given up at 15 s. After that the probe keeps
asking once a second until its window ends, to measure when an OFFER would have come.
"""

PROGRAM = r'''
import json, os, random, select, signal, socket, struct, subprocess, sys, time

PREFIX = "kncp"
MARK = b"KNC-PROBE-PROGRAM"  # in its command line: how a probe tells a running probe
IPXE_SENDS = (0.0, 1.0, 3.0, 7.0)
IPXE_GIVES_UP = 15.0
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
TP_STATUS_CSUM_VALID = 1 << 7
ETH_P_IP = 0x0800
ARCH = 0  # option 93: x86 BIOS, as QEMU's iPXE ROM under SeaBIOS
VENDOR = b"PXEClient:Arch:00000:UNDI:002001"


class Stop(Exception):
    pass


def on_signal(signum, frame):
    raise Stop("signal %d" % signum)


def section(nonce, kind, arg, obj):
    sys.stdout.write("@@%s@@ %s\t%s\n%s\n\n@@%s@@ rc\t0\n" % (nonce, kind, arg, json.dumps(obj, sort_keys=True), nonce))
    sys.stdout.flush()


def ip(*args):
    p = subprocess.run(("ip",) + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    return p.returncode, p.stderr.decode("utf-8", "replace").strip()


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def netns_names():
    try:
        return sorted(os.listdir("/run/netns"))
    except OSError:
        return []


def owner_of(name):
    """The pid of the probe that made a namespace `kncp-PID-RUN-N` or a veth end `kncpPIDhN`/`kncpPIDgN`;
    None for a name of an older probe, which carried no pid."""
    digits = ""
    for c in name[len(PREFIX):].lstrip("-"):
        if not c.isdigit():
            break
        digits += c
    return int(digits) if digits else None


def alive(pid):
    """Is `pid` a running probe (a pid the kernel gave since to another program is not)?"""
    if pid is None or pid == os.getpid():
        return False  # this probe has made nothing yet: what carries its pid is of a dead one before it
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return MARK in f.read()
    except OSError:
        return False


def leftovers(mine=False):
    """The probe's namespaces and links on the host: this probe's own (mine), or those of probes that are
    gone, never those of another probe still running."""
    names = [n for n in netns_names() if n.startswith(PREFIX)]
    links = [n for n in os.listdir("/sys/class/net") if n.startswith(PREFIX)]

    def keep(n):
        return owner_of(n) == os.getpid() if mine else not alive(owner_of(n))

    return [n for n in names if keep(n)], [n for n in links if keep(n)]


def remove_leftovers():
    names, links = leftovers()
    for n in names:
        ip("netns", "del", n)
    for l in links:
        if os.path.exists("/sys/class/net/" + l):  # the namespace took its veth peer with it
            ip("link", "del", l)
    return names + links


def own_text():
    # run as `python3 -c PROGRAM ...`: the program's text is the argument after -c
    with open("/proc/self/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    return argv[argv.index(b"-c") + 1].decode("utf-8")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def discover(mac, xid, uuid, secs):
    opts = b"\x35\x01\x01"  # DHCPDISCOVER
    opts += b"\x39\x02\x05\xc0"  # max message size 1472
    opts += bytes([93, 2]) + struct.pack("!H", ARCH)
    opts += bytes([94, 3, 1, 2, 1])  # UNDI 2.1
    opts += bytes([97, 17, 0]) + uuid
    opts += bytes([60, len(VENDOR)]) + VENDOR
    opts += bytes([55, 8, 1, 3, 6, 15, 43, 60, 66, 67])
    opts += b"\xff"
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, secs, 0x8000, b"\0" * 4, b"\0" * 4,
                        b"\0" * 4, b"\0" * 4, mac, b"", b"") + b"\x63\x82\x53\x63" + opts
    udp_len = 8 + len(bootp)
    src, dst = b"\0" * 4, b"\xff" * 4
    pseudo = src + dst + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", 68, 67, udp_len, 0) + bootp
    c = 0xFFFF - csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + udp_len, 0, 0, 16, 17, 0, src, dst)
    iph = iph[:10] + struct.pack("!H", 0xFFFF - csum(iph)) + iph[12:]
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_IP) + iph + udp


def dhcp_options(data):
    out = {}
    i = 0
    while i < len(data):
        code = data[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(data):
            break
        n = data[i + 1]
        out.setdefault(code, b"")
        out[code] += data[i + 2:i + 2 + n]
        i += 2 + n
    return out


def text(b):
    return b.split(b"\0", 1)[0].decode("latin-1")


def dotted(b):
    return socket.inet_ntoa(b) if len(b) == 4 else None


def parse_offer(frame, status, xids, mac):
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 15) * 4
    iph = frame[14:14 + ihl]
    if iph[9] != 17:
        return None
    total = struct.unpack("!H", iph[2:4])[0]
    udp = frame[14 + ihl:14 + total]
    sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp[:8])
    if sport != 67 or dport != 68 or len(udp) < 248:
        return None
    bootp = udp[8:ulen]
    op, xid = bootp[0], struct.unpack("!I", bootp[4:8])[0]
    if op != 2 or xid not in xids or bootp[28:34] != mac or bootp[236:240] != b"\x63\x82\x53\x63":
        return None
    o = dhcp_options(bootp[240:])
    if o.get(53) != b"\x02":
        return None
    pseudo = iph[12:20] + struct.pack("!BBH", 0, 17, ulen)
    verifies = None if ucsum == 0 else csum(pseudo + udp[:ulen]) == 0xFFFF
    return {
        "discover": xids.index(xid),
        "src_mac": ":".join("%02x" % b for b in frame[6:12]),
        "src_ip": dotted(iph[12:16]),
        "server_id": dotted(o.get(54, b"")),
        "yiaddr": dotted(bootp[16:20]),
        "siaddr": dotted(bootp[20:24]),
        "sname": text(bootp[44:108]),
        "file": text(bootp[108:236]),
        "opt_tftp_server": text(o.get(66, b"")),
        "opt_bootfile": text(o.get(67, b"")),
        "netmask": dotted(o.get(1, b"")),
        "router": dotted(o.get(3, b"")[:4]),
        "tp_status": status,
        "csum_notready": bool(status & TP_STATUS_CSUMNOTREADY),
        "csum_valid_flag": bool(status & TP_STATUS_CSUM_VALID),
        "udp_checksum": ucsum,
        "checksum_verifies": verifies,
    }


def tftp_first_block(server, name, deadline):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", 0))
        rrq = b"\0\x01" + name.encode("latin-1") + b"\0octet\0"
        for _ in range(3):
            if time.monotonic() > deadline:
                break
            s.sendto(rrq, (server, 69))
            r, _, _ = select.select([s], [], [], min(3.0, max(0.1, deadline - time.monotonic())))
            if not r:
                continue
            data, peer = s.recvfrom(65536)
            opcode = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
            if opcode == 3:
                # abort the transfer: an ERROR packet to the server's transfer port (RFC 1350)
                s.sendto(b"\0\x05\0\0probe: first block read\0", peer)
                return {"outcome": "data", "block_bytes": len(data) - 4, "server": server, "file": name}
            if opcode == 5:
                return {"outcome": "error", "server": server, "file": name,
                        "detail": "TFTP error %d: %s" % (struct.unpack("!H", data[2:4])[0], text(data[4:]))}
            return {"outcome": "garbled", "server": server, "file": name, "detail": "opcode %d" % opcode}
        return {"outcome": "timeout", "server": server, "file": name, "detail": "no answer to 3 read requests"}
    finally:
        s.close()


def boot_file(offer):
    name = offer["opt_bootfile"] or offer["file"]
    if not name:
        return None
    if "://" in name:
        return {"outcome": "not-fetched", "file": name, "detail": "a URL, fetched by iPXE itself, not over TFTP"}
    server = offer["opt_tftp_server"] or offer["siaddr"]
    if offer["opt_tftp_server"] and not all(c.isdigit() or c == "." for c in server):
        return {"outcome": "not-fetched", "file": name, "detail": "TFTP server given by name: " + server}
    if not server or server == "0.0.0.0":
        server = offer["server_id"]
    return {"outcome": "pending", "file": name, "server": server}


def inner(dev, t0, window, mac_hex):
    """In the namespace: DISCOVERs on iPXE's schedule, OFFERs read with their checksum status."""
    mac = bytes.fromhex(mac_hex)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    s.bind((dev, 0))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    uuid = os.urandom(16)
    xids, sends, offers = [], [], []
    sends_at = list(IPXE_SENDS)
    t = IPXE_GIVES_UP
    while t < window:
        sends_at.append(t)
        t += 1.0
    first = None
    end = t0 + window
    while True:
        now = time.monotonic()
        if now >= end or (first is not None and now >= first + 3.5):
            break
        while sends_at and now - t0 >= sends_at[0] and first is None:
            sends_at.pop(0)
            xid = random.getrandbits(32)
            xids.append(xid)
            s.send(discover(mac, xid, uuid, int(now - t0)))
            sends.append(round(now - t0, 3))
        wait = end - now
        if sends_at and first is None:
            wait = min(wait, t0 + sends_at[0] - now)
        r, _, _ = select.select([s], [], [], max(0.01, min(wait, 0.5)))
        if not r:
            continue
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(20))
        status = 0
        for level, kind, blob in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(blob) >= 4:
                status = struct.unpack("I", blob[:4])[0]
        o = parse_offer(data, status, xids, mac)
        if o is None:
            continue
        o["at_s"] = round(time.monotonic() - t0, 3)
        offers.append(o)
        if first is None:
            first = time.monotonic()
    s.close()
    result = {"discovers_at_s": sends, "offers": offers, "tftp": None}
    if offers:
        b = boot_file(offers[0])
        if b and b["outcome"] == "pending":
            o = offers[0]
            bits = sum(bin(x).count("1") for x in socket.inet_aton(o["netmask"] or "255.255.255.0"))
            rc, err = ip("addr", "add", "%s/%d" % (o["yiaddr"], bits), "dev", dev)
            if rc == 0 and o["router"]:
                ip("route", "add", "default", "via", o["router"])
            b = tftp_first_block(b["server"], b["file"], time.monotonic() + 8) if rc == 0 else dict(
                b, outcome="not-fetched", detail="no address in the namespace: " + err)
        result["tftp"] = b
    print(json.dumps(result))


def probe_bridge(run, n, bridge, deadline):
    out = {"bridge": bridge}
    base = "/sys/class/net/%s" % bridge
    if not os.path.isdir(base):
        out["error"] = "no such interface"
        return out
    if not os.path.isdir(base + "/bridge"):
        kind = "an Open vSwitch port" if os.path.isdir("/sys/class/net/ovs-system") else "not a Linux bridge"
        out["error"] = "%s is not a Linux bridge (%s): the probe joins only Linux bridges" % (bridge, kind)
        return out
    if read(base + "/bridge/vlan_filtering") == "1":
        out["error"] = "VLAN filtering is on: the probe cannot tell which VLAN a guest's port would get"
        return out
    hz = os.sysconf("SC_CLK_TCK")
    fd = int(read(base + "/bridge/forward_delay") or 0) / hz
    stp = int(read(base + "/bridge/stp_state") or 0)
    out.update(stp_state=stp, forward_delay_s=fd)
    window = max(20.0, (2 * fd if stp else 0) + 12.0)
    window = min(window, deadline - time.monotonic() - 12.0)
    if window < IPXE_GIVES_UP:
        out["error"] = "too little of the host's time left (--host-timeout) to wait %g s" % IPXE_GIVES_UP
        return out
    out["window_s"] = round(window, 1)
    # the pid in each name tells another probe whether its owner still runs (leftovers); IFNAMSIZ allows 15
    pid = os.getpid()
    ns = "%s-%d-%s-%d" % (PREFIX, pid, run, n)
    host_end, guest_end = "%s%dh%d" % (PREFIX, pid, n), "%s%dg%d" % (PREFIX, pid, n)
    mac = "02" + os.urandom(5).hex()
    try:
        for args in (("netns", "add", ns),
                     ("link", "add", host_end, "type", "veth", "peer", "name", guest_end),
                     ("link", "set", guest_end, "netns", ns),
                     ("-n", ns, "link", "set", guest_end, "address", ":".join(mac[i:i + 2] for i in range(0, 12, 2))),
                     ("-n", ns, "link", "set", "lo", "up"),
                     ("-n", ns, "link", "set", guest_end, "up"),
                     ("link", "set", host_end, "address", "fe" + ":" + ":".join(mac[i:i + 2] for i in range(2, 12, 2))),
                     ("link", "set", host_end, "master", bridge)):
            rc, err = ip(*args)
            if rc:
                out["error"] = "ip %s: %s" % (" ".join(args), err)
                return out
        t0 = time.monotonic()
        rc, err = ip("link", "set", host_end, "up")
        if rc:
            out["error"] = "ip link set %s up: %s" % (host_end, err)
            return out
        child = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", own_text(), "inner", guest_end, repr(t0), repr(window), mac],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        states, last = [], None
        try:
            while child.poll() is None:
                st = read("/sys/class/net/%s/brport/state" % host_end)
                if st != last:
                    states.append([round(time.monotonic() - t0, 3), int(st) if st and st.isdigit() else None])
                    last = st
                if time.monotonic() > t0 + window + 15:
                    child.kill()
                time.sleep(0.05)
            stdout, stderr = child.communicate(timeout=5)
        finally:
            if child.poll() is None:
                child.kill()
        out["port_states"] = states
        fwd = [t for t, s in states if s == 3]
        out["forwarding_after_s"] = fwd[0] if fwd else None
        try:
            out.update(json.loads(stdout.decode("utf-8", "replace").strip().splitlines()[-1]))
        except (ValueError, IndexError):
            out["error"] = "the probe in the namespace failed: " + stderr.decode("utf-8", "replace").strip()[-300:]
        return out
    finally:
        # deleting the namespace deletes the veth pair with it, a moment later
        rc, err = ip("netns", "del", ns) if ns in netns_names() else (0, "")
        for _ in range(50):
            if not os.path.exists("/sys/class/net/" + host_end):
                break
            time.sleep(0.02)
        else:
            rc, err = ip("link", "del", host_end)
        if rc or ns in netns_names():
            out["cleanup_error"] = err or "namespace %s still there" % ns


def main(argv):
    if argv[:1] == ["inner"]:
        inner(argv[1], float(argv[2]), float(argv[3]), argv[4])
        return 0
    nonce, run, seconds = argv[0], argv[1], float(argv[2])
    bridges = argv[3:]
    deadline = time.monotonic() + seconds
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    meta = {"uid": os.geteuid(), "python": "%d.%d.%d" % sys.version_info[:3], "run": run, "bridges": bridges}
    try:
        subprocess.run(["ip", "netns", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        meta["error"] = "`ip netns` cannot be used here: %s" % e
    if os.geteuid() != 0:
        meta["error"] = "the probe needs root on the host (uid %d): run with --sudo or as root" % os.geteuid()
    if "error" not in meta:
        meta["leftovers_removed"] = remove_leftovers()
    section(nonce, "probe_meta", "", meta)
    if "error" in meta:
        return 0
    try:
        for n, bridge in enumerate(bridges):
            try:
                found = probe_bridge(run, n, bridge, deadline)
            except (OSError, ValueError, subprocess.SubprocessError) as e:
                found = {"bridge": bridge, "error": "the probe failed: %s" % e}
            section(nonce, "probe_bridge", bridge, found)
    except Stop as e:
        section(nonce, "probe_stopped", "", {"why": str(e)})
    finally:
        names, links = leftovers(mine=True)
        section(nonce, "probe_done", "", {"left_behind": names + links})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''


def command_args(nonce: str, run: str, seconds: float, bridges: list[str]) -> tuple[str, list[str]]:
    """The shell command and its arguments (testinfra quotes each) that run the probe on a host:
    python3, else RHEL 8's platform-python, bounded by the host's own `timeout` where it has one."""
    cmd = (
        (
            "P=$(command -v python3 || command -v /usr/libexec/platform-python) || "
            '{ echo "@@%s@@ probe_meta"; echo \'{"error": "no python3 or platform-python on the host"}\'; '
            'echo "@@%s@@ rc\t0"; exit 0; }; '
            'T=; command -v timeout >/dev/null 2>&1 && T="timeout -s TERM %d"; exec $T "$P" -c %s'
            % (
                nonce,
                nonce,
                int(seconds) + 5,
                "%s",
            )
        )
        + " %s %s %s"
        + " %s" * len(bridges)
    )
    return cmd, [PROGRAM, nonce, run, str(int(seconds))] + list(bridges)
