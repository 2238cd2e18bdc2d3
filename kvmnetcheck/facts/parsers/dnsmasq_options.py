"""Which interfaces a dnsmasq answers DHCP on, read from its whole command line and the config files it reads,
as dnsmasq 2.90 reads them (src/option.c):

- read_opts: the command line through getopt_long (OPTSTRING and opts[] below, long options also as an
  unambiguous prefix); the first --conf-file/-C is read after the command line, every later one at once;
  with none, /etc/dnsmasq.conf (CONFFILE) is read if it exists. An empty --conf-file= names no file
  (opt_string_alloc gives NULL), so the default file is read.
- read_file: one option per line as the long option without `--`, `NAME=VALUE` (spaces around `=` allowed),
  `#` after white space starts a comment, `"..."` quotes; one_file reads a file once (by device and inode:
  here, by path) and `-` is stdin; conf-dir reads each file of the directory but dotfiles, names ending in
  `~` or `#...#`, and those the suffix list excludes (`*.conf` keeps only that suffix).
- The options that decide the interface set, as dhcp.c dhcp_packet and network.c iface_check use them:
  interface= (-i, comma lists; a trailing `*` is a wildcard: util.c wildcard_match), listen-address= (-a),
  except-interface= (-I), no-dhcp-interface= (-2) and no-dhcpv4-interface=. bridge-interface= (an alias
  table) and conf-script= (a program's output) cannot be told from files, nor can a process in another
  mount namespace (its paths are not the collector's).
"""

from __future__ import annotations

import ipaddress
from typing import Callable, Optional

from ..model import ServerScope

DEFAULT_CONF = "/etc/dnsmasq.conf"
MAX_DEPTH = 16  # conf-file inside conf-file: dnsmasq has no limit, the collector reads at most 64 files

# src/option.c opts[] of dnsmasq 2.90: long options by has_arg (0 none, 1 required, 2 optional)
_NO_ARG = """all-servers bind-dynamic bind-interfaces bogus-priv clear-on-reload conntrack dhcp-authoritative
dhcp-client-update dhcp-fqdn dhcp-ignore-clid dhcp-no-override dhcp-rapid-commit dhcp-sequential-ip
dns-loop-detect dnssec dnssec-debug dnssec-no-timecheck domain-needed enable-ra expand-hosts filter-A filter-AAAA
filterwin2k help keep-in-foreground leasefile-ro localise-queries localmx log-debug log-dhcp no-daemon no-hosts
no-ident no-negcache no-ping no-poll no-resolv no-round-robin proxy-dnssec quiet-dhcp quiet-dhcp6 quiet-ra
quiet-tftp read-ethers rebind-localhost-ok script-arp script-on-renewal selfmx stop-dns-rebind strict-order
strip-mac strip-subnet test tftp-lowercase tftp-no-blocksize tftp-no-fail tftp-secure tftp-single-port version"""
_REQUIRED = """add-cpe-id addn-hosts address alias auth-peer auth-sec-servers auth-server auth-soa auth-ttl auth-zone
bogus-nxdomain bridge-interface caa-record cache-rr cname conf-dir conf-script connmark-allowlist dhcp-boot
dhcp-circuitid dhcp-duid dhcp-host dhcp-hostsdir dhcp-hostsfile dhcp-ignore dhcp-lease dhcp-lease-max
dhcp-luascript dhcp-mac dhcp-match dhcp-name-match dhcp-option dhcp-option-force dhcp-optsdir dhcp-optsfile
dhcp-pxe-vendor dhcp-range dhcp-relay dhcp-remoteid dhcp-reply-delay dhcp-script dhcp-scriptuser dhcp-subscrid
dhcp-ttl dhcp-userclass dhcp-vendorclass dns-forward-max dns-rr dnssec-limits dnssec-timestamp domain domain-suffix
dumpfile dumpmask dynamic-host edns-packet-max except-interface filter-rr host-record hostsdir ignore-address
interface interface-name ipset listen-address local local-ttl log-facility max-cache-ttl max-port
max-tcp-connections max-ttl min-cache-ttl min-port mx-host mx-target naptr-record neg-ttl nftset no-dhcp-interface
no-dhcpv4-interface no-dhcpv6-interface port port-limit ptr-record pxe-prompt pxe-service query-port ra-param
rebind-domain-ok rev-server server servers-file shared-network srv-host synth-domain tag-if tftp-max tftp-mtu
tftp-port-range tftp-root trust-anchor txt-record"""
_OPTIONAL = """add-mac add-subnet bootp-dynamic cache-size conf-file connmark-allowlist-enable dhcp-alternate-port
dhcp-broadcast dhcp-generate-names dhcp-ignore-names dhcp-leasefile dhcp-proxy dnssec-check-unsigned enable-dbus
enable-tftp enable-ubus fast-dns-retry group local-service log-async log-queries pid-file resolv-file
tftp-unique-root umbrella use-stale-cache user"""
LONG = {**{n: 0 for n in _NO_ARG.split()}, **{n: 1 for n in _REQUIRED.split()}, **{n: 2 for n in _OPTIONAL.split()}}
OPTSTRING = "951yZDNLERKzowefnbvhdkqr:m:p:c:l:s:i:t:u:g:a:x:S:C:A:T:H:Q:I:B:F:G:O:M:X:V:U:j:P:J:W:Y:2:4:6:7:8:0:3:"
# the short options whose meaning matters here (opts[]: 'i' interface, ...)
SHORT_NAMES = {
    "i": "interface",
    "I": "except-interface",
    "a": "listen-address",
    "2": "no-dhcp-interface",
    "C": "conf-file",
    "7": "conf-dir",
    "z": "bind-interfaces",
}


class Unknown(Exception):
    """The interface set cannot be told; the message says why."""


def _short_takes_arg(c: str) -> Optional[bool]:
    i = OPTSTRING.find(c)
    if i < 0 or c == ":":
        return None
    return OPTSTRING[i + 1 : i + 2] == ":"


def _long_name(word: str) -> str:
    if word in LONG:
        return word
    hits = [n for n in LONG if n.startswith(word)]
    if len(hits) == 1:
        return hits[0]
    raise Unknown(f"its command line holds --{word}, which dnsmasq 2.90 does not know as one option")


def command_line_options(argv: list[str]) -> list[tuple[str, Optional[str]]]:
    """(option, value) in the order getopt_long returns them (argv[0] left out)."""
    out: list[tuple[str, Optional[str]]] = []
    i = 1
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            name = _long_name(name)
            has = LONG[name]
            if eq:
                if has == 0:
                    raise Unknown(f"its command line gives --{name} a value it does not take")
                out.append((name, value))
            elif has == 1:
                if i >= len(argv):
                    raise Unknown(f"its command line ends before the value of --{name}")
                out.append((name, argv[i]))
                i += 1
            else:
                out.append((name, None))
            continue
        if a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                c = a[j]
                takes = _short_takes_arg(c)
                if takes is None:
                    raise Unknown(f"its command line holds -{c}, which dnsmasq 2.90 does not know")
                name = SHORT_NAMES.get(c, "-" + c)
                if takes:
                    value = a[j + 1 :]
                    if not value:
                        if i >= len(argv):
                            raise Unknown(f"its command line ends before the value of -{c}")
                        value = argv[i]
                        i += 1
                    out.append((name, value))
                    break
                out.append((name, None))
                j += 1
            continue
        # getopt_long moves words that are no option to the end; dnsmasq refuses any that is not blank
    return out


def config_lines(text: str) -> list[tuple[str, Optional[str]]]:
    """(option, value) of each line of a config file, as read_file splits it; an unknown option fails."""
    out = []
    for line in text.split("\n"):
        buf, white, i = [], True, 0
        while i < len(line):
            ch = line[i]
            if ch == '"':
                end = line.find('"', i + 1)
                if end < 0:
                    raise Unknown('a config line with a missing "')
                buf.append(line[i + 1 : end].replace('\\"', '"').replace("\\\\", "\\"))
                i, white = end + 1, False
                continue
            if ch.isspace():
                buf.append(" ")
                white = True
            elif white and ch == "#":
                break
            else:
                buf.append(ch)
                white = False
            i += 1
        start = "".join(buf).strip(" ")
        if not start:
            continue
        name, eq, value = start.partition("=")
        name = name.rstrip(" ")
        if name not in LONG:
            raise Unknown(f"a config line names {name!r}, which dnsmasq 2.90 does not know")
        out.append((name, value.lstrip(" ") if eq else None))
    return out


def _conf_dir_files(value: str, listing: Optional[tuple[str, ...]]) -> list[str]:
    """The files conf-dir=DIR[,SUFFIX...] reads, in dnsmasq's order (sorted by name since 2.79)."""
    directory, *suffixes = value.split(",")
    if listing is None:
        raise Unknown(f"its conf-dir {directory} was not listed")
    match = [s[1:] for s in suffixes if s.startswith("*") and len(s) > 1]
    ignore = [s for s in suffixes if s and not s.startswith("*")]
    out = []
    for name in sorted(listing):
        if not name or name.endswith("~") or (name.startswith("#") and name.endswith("#")) or name.startswith("."):
            continue
        if match and not any(len(name) > len(s) and name.endswith(s) for s in match):
            continue
        if any(len(name) > len(s) and name.endswith(s) for s in ignore):
            continue
        out.append(f"{directory}/{name}")
    return out


def dnsmasq_scope(
    pid: int,
    argv: list[str],
    read_file: Callable[[str], Optional[str]],
    list_dir: Callable[[str], Optional[tuple[str, ...]]],
) -> ServerScope:
    """The interface set of the dnsmasq started with `argv`. read_file(path) is a config file's text ("" for
    /dev/null; raises Unknown when it was not gathered or not readable, None when it does not exist);
    list_dir(path) the names of a conf-dir's regular files (None: not listed)."""
    st = _State(read_file, list_dir)
    try:
        first_conf: Optional[str] = None
        for name, value in command_line_options(argv):
            if name == "conf-file":
                if first_conf is None:
                    first_conf = value or None
                else:
                    st.conf_file(value or None, 0)
                continue
            st.option(name, value, 0)
        if first_conf is not None:
            st.conf_file(first_conf, 0)
        else:
            st.conf_file(DEFAULT_CONF, 0, optional=True)
    except Unknown as e:
        return ServerScope(pid=pid, program="dnsmasq", unknown=str(e), files=tuple(st.files))
    return ServerScope(
        pid=pid,
        program="dnsmasq",
        interfaces=tuple(st.names) if st.names is not None else None,
        addresses=tuple(st.addresses),
        excluded=tuple(st.excluded),
        no_dhcp=tuple(st.no_dhcp),
        localhost_only=st.localhost and st.names is None and not st.addresses and not st.excluded,
        files=tuple(st.files),
    )


class _State:
    def __init__(self, read_file, list_dir):
        self.read_file, self.list_dir = read_file, list_dir
        self.names: Optional[list[str]] = None
        self.addresses: list[str] = []
        self.excluded: list[str] = []
        self.no_dhcp: list[str] = []
        self.files: list[str] = []
        self.localhost = False

    def conf_file(self, path: Optional[str], depth: int, optional: bool = False) -> None:
        if path is None:
            return
        if path == "-":
            raise Unknown("it reads config from its standard input (--conf-file=-)")
        if not path.startswith("/"):
            raise Unknown(f"it reads config file {path}, a path relative to a directory that is not known")
        if path in self.files:
            return  # one_file reads each file once
        if depth > MAX_DEPTH:
            raise Unknown(f"config files nested deeper than {MAX_DEPTH}")
        text = self.read_file(path)
        if text is None:
            if optional:
                return
            raise Unknown(f"config file {path} does not exist now (it did when dnsmasq started)")
        self.files.append(path)
        for name, value in config_lines(text):
            if name == "conf-file":
                self.conf_file(value or None, depth + 1)
            else:
                self.option(name, value, depth + 1)

    def option(self, name: str, value: Optional[str], depth: int) -> None:
        words = [w for w in (value or "").split(",")]
        if name == "interface":
            self.names = (self.names or []) + words
        elif name == "listen-address":
            for w in words:
                try:
                    ip = ipaddress.ip_address(w.strip())
                except ValueError:
                    raise Unknown(f"listen-address {w!r} is not an address") from None
                if ip.version == 4:
                    self.addresses.append(str(ip))
        elif name == "except-interface":
            self.excluded += words
        elif name in ("no-dhcp-interface", "no-dhcpv4-interface"):
            self.no_dhcp += words
        elif name == "local-service" and value == "host":
            self.localhost = True
        elif name == "bridge-interface":
            raise Unknown(f"bridge-interface={value} makes interfaces aliases of others, which is not modelled")
        elif name == "conf-script":
            raise Unknown(f"it reads config from the output of a program (conf-script={value})")
        elif name == "conf-dir":
            if not value or not value.split(",")[0].startswith("/"):
                raise Unknown(f"conf-dir {value!r} is not an absolute path")
            for f in _conf_dir_files(value, self.list_dir(value.split(",")[0])):
                self.conf_file(f, depth + 1)
