"""Which interfaces a dnsmasq answers DHCP on, from its command line and config files (src/option.c of
dnsmasq 2.90; dhcp.c dhcp_packet and network.c iface_check decide), and who answers on an interface.

The config files are libvirt's own tests (tests/networkxml2confdata/*.conf, what libvirt writes for each
network's dnsmasq); the command lines are NetworkManager's shared mode (src/core/dnsmasq/nm-dnsmasq-manager.c
create_dm_cmd_line) and LXC's lxc-net (config/init/common/lxc-net.in)."""

import pytest

from kvmnetcheck.facts.conclusions.servers import dhcp_answering, scope_serves, wildcard_match
from kvmnetcheck.facts.model import DhcpServers
from kvmnetcheck.facts.parsers.dnsmasq_options import Unknown, command_line_options, config_lines, dnsmasq_scope
from kvmnetcheck.facts.parsers.servers import parse_cmdline, parse_ipv4_addresses, parse_ss

LIBVIRT_NAT = """##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:
##    virsh net-edit default
## or other application using the libvirt API.
##
## dnsmasq conf file created by libvirt
strict-order
domain-needed
local=//
except-interface=lo
bind-dynamic
interface=virbr0
dhcp-range=192.168.122.2,192.168.122.254
dhcp-no-override
dhcp-option=42,192.168.122.20
dhcp-option=23,50
dhcp-option=40,libvirt
dhcp-option=252,"\\n"
dhcp-option=253," leading and trailing spaces "
dhcp-leasefile=/var/lib/libvirt/dnsmasq/default.leases
dhcp-lease-max=253
dhcp-hostsfile=/var/lib/libvirt/dnsmasq/default.hostsfile
addn-hosts=/var/lib/libvirt/dnsmasq/default.addnhosts
dhcp-range=2001:db8:ac10:fe01::1,ra-only
dhcp-range=2001:db8:ac10:fd01::1,ra-only
"""
LIBVIRT_QUOTES = """##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE
##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:
##    virsh net-edit default"with"quotes"
## or other application using the libvirt API.
##
## dnsmasq conf file created by libvirt
strict-order
except-interface=lo
bind-interfaces
listen-address=192.168.122.1
listen-address=192.168.123.1
listen-address=fc00:db8:ac10:fe01::1
listen-address=fc00:db8:ac10:fd01::1
listen-address=10.24.10.1
srv-host=_name._tcp
dhcp-range=192.168.122.2,192.168.122.254
dhcp-no-override
dhcp-lease-max=253
dhcp-hostsfile=/var/lib/libvirt/dnsmasq/default&quot;with&quot;quotes&quot;.hostsfile
addn-hosts=/var/lib/libvirt/dnsmasq/default&quot;with&quot;quotes&quot;.addnhosts
"""
# tests/networkxml2confdata/dnsmasq-options.conf: libvirt passes <dnsmasq:option value='foo=bar'/> as it is;
# dnsmasq refuses the line ("bad option"), so nothing can be said of such a file
LIBVIRT_OPTIONS = """strict-order
except-interface=lo
bind-dynamic
interface=virbr0
dhcp-range=192.168.122.2,192.168.122.254,255.255.255.0
foo=bar
cname=*.cloudapps.example.com,master.example.com
"""
NM_SHARED = [
    "/usr/sbin/dnsmasq",
    "--conf-file=/dev/null",
    "--no-hosts",
    "--keep-in-foreground",
    "--bind-interfaces",
    "--except-interface=lo",
    "--clear-on-reload",
    "--strict-order",
    "--listen-address=10.42.0.1",
    "--dhcp-range=10.42.0.10,10.42.0.254,60m",
    "--dhcp-option=option:router,10.42.0.1",
    "--dhcp-leasefile=/var/lib/NetworkManager/dnsmasq-wlan0.leases",
    "--pid-file=/run/nm-dnsmasq-wlan0.pid",
    "--conf-dir=/etc/NetworkManager/dnsmasq-shared.d",
]
LXC_NET = (
    "dnsmasq -u lxc-dnsmasq --strict-order --bind-interfaces --pid-file=/run/lxc/dnsmasq.pid --conf-file= "
    "--listen-address 10.0.3.1 --dhcp-range 10.0.3.2,10.0.3.254 --dhcp-lease-max=253 --dhcp-no-override "
    "--except-interface=lo --interface=lxcbr0 --dhcp-leasefile=/var/lib/misc/dnsmasq.lxcbr0.leases "
    "--dhcp-authoritative"
).split()
ADDRS = {"virbr0": ("192.168.122.1",), "virbr7": ("10.98.7.1",), "wlan0": ("10.42.0.1",), "lxcbr0": ("10.0.3.1",)}


def scope_of(argv, files=None, dirs=None):
    files = files or {}
    dirs = dirs or {}

    def read(path):
        if path == "/dev/null":
            return ""
        if path not in files:
            if path == "/etc/dnsmasq.conf":
                return None
            raise Unknown(f"{path} not gathered")
        return files[path]

    return dnsmasq_scope(42, argv, read, lambda d: dirs.get(d))


def serves(scope, iface):
    return scope_serves(scope, iface, ADDRS.get(iface, ()))


def test_libvirts_own_config_serves_its_bridge_only():
    s = scope_of(
        ["dnsmasq", "--conf-file=/var/lib/libvirt/dnsmasq/default.conf"],
        {"/var/lib/libvirt/dnsmasq/default.conf": LIBVIRT_NAT},
    )
    assert (s.interfaces, s.excluded, s.unknown) == (("virbr0",), ("lo",), None)
    assert s.files == ("/var/lib/libvirt/dnsmasq/default.conf",)
    assert serves(s, "virbr0") is True and serves(s, "virbr7") is False


def test_listen_addresses_keep_ipv4_and_serve_the_interfaces_holding_them():
    s = scope_of(["dnsmasq", "-C", "/q.conf"], {"/q.conf": LIBVIRT_QUOTES})
    assert s.addresses == ("192.168.122.1", "192.168.123.1", "10.24.10.1")
    assert serves(s, "virbr0") is True and serves(s, "virbr7") is False


def test_a_line_dnsmasq_refuses_makes_the_set_unknown():
    s = scope_of(["dnsmasq", "--conf-file=/o.conf"], {"/o.conf": LIBVIRT_OPTIONS})
    assert "foo" in s.unknown and serves(s, "virbr0") is None


def test_networkmanager_shared_mode_serves_its_own_address_only():
    s = scope_of(NM_SHARED, dirs={"/etc/NetworkManager/dnsmasq-shared.d": ()})
    assert s.addresses == ("10.42.0.1",) and s.interfaces is None
    assert serves(s, "wlan0") is True and serves(s, "virbr7") is False


def test_networkmanager_shared_conf_dir_is_read():
    s = scope_of(
        NM_SHARED,
        {"/etc/NetworkManager/dnsmasq-shared.d/extra.conf": "interface=virbr7\n"},
        {"/etc/NetworkManager/dnsmasq-shared.d": ("extra.conf", "extra.conf~", ".hidden")},
    )
    assert s.interfaces == ("virbr7",) and serves(s, "virbr7") is True


def test_an_empty_conf_file_still_reads_the_default_file():
    """Measured with dnsmasq 2.90: `--conf-file=` reads /etc/dnsmasq.conf (opt_string_alloc("") is NULL)."""
    s = scope_of(LXC_NET, {"/etc/dnsmasq.conf": "interface=virbr7\n"})
    assert s.files == ("/etc/dnsmasq.conf",) and s.interfaces == ("lxcbr0", "virbr7")
    assert serves(s, "lxcbr0") and serves(s, "virbr7")
    assert serves(scope_of(LXC_NET), "virbr7") is False


def test_no_interface_option_serves_every_interface_but_the_excluded():
    s = scope_of(["dnsmasq", "--bind-dynamic", "--dhcp-range=10.98.7.100,10.98.7.110", "-Ilo"])
    assert serves(s, "virbr7") is True and serves(s, "lo") is False
    assert scope_serves(s, "lan1", ()) is False  # no IPv4 address: "DHCP packet received on lan1 which has no address"
    assert scope_serves(s, "virbr7", None) is None  # addresses not read


def test_short_options_clustered_and_comma_lists():
    assert command_line_options(["dnsmasq", "-zilan1,lan2", "-2", "lan2", "-kd"]) == [
        ("bind-interfaces", None),
        ("interface", "lan1,lan2"),
        ("no-dhcp-interface", "lan2"),
        ("-k", None),
        ("-d", None),
    ]
    s = scope_of(["dnsmasq", "-zilan1,lan2", "-2", "lan2"])
    assert serves(s, "lan1") is None or s.interfaces == ("lan1", "lan2")
    assert scope_serves(s, "lan1", ("10.55.0.1",)) is True and scope_serves(s, "lan2", ("10.56.0.1",)) is False


def test_long_option_prefixes_and_unknown_options():
    assert command_line_options(["dnsmasq", "--listen-addr=10.0.0.1", "--except-int", "lo"]) == [
        ("listen-address", "10.0.0.1"),
        ("except-interface", "lo"),
    ]
    with pytest.raises(Unknown):
        command_line_options(["dnsmasq", "--interf=virbr7"])  # interface or interface-name: getopt refuses
    with pytest.raises(Unknown):
        command_line_options(["dnsmasq", "--no-such-option"])
    with pytest.raises(Unknown):
        command_line_options(["dnsmasq", "--conf"])  # conf-file, conf-dir or conf-script


def test_wildcards_as_dnsmasq_matches_them():
    assert wildcard_match("virbr*", "virbr7") and not wildcard_match("virbr*", "virbr")
    assert wildcard_match("virbr7", "virbr7") and not wildcard_match("virbr", "virbr7")
    s = scope_of(["dnsmasq"], {"/etc/dnsmasq.conf": "interface = virbr*  # libvirt's\nexcept-interface=virbr0\n"})
    assert serves(s, "virbr7") is True and serves(s, "virbr0") is False


def test_config_lines_comments_and_quotes():
    assert config_lines('# a comment\n  interface="a b"#x\nbind-interfaces\n\nlisten-address = 10.0.0.1 # c\n') == [
        ("interface", "a b#x"),
        ("bind-interfaces", None),
        ("listen-address", "10.0.0.1"),
    ]


@pytest.mark.parametrize(
    "argv, files, why",
    [
        (["dnsmasq", "--conf-script=/usr/local/bin/gen"], {}, "program"),
        (["dnsmasq", "--bridge-interface=virbr7,tap*"], {}, "alias"),
        (["dnsmasq", "-C", "-"], {}, "standard input"),
        (["dnsmasq", "-C", "local.conf"], {}, "relative"),
        (["dnsmasq", "-C", "/etc/other.conf"], {}, "not gathered"),
        (["dnsmasq", "--conf-dir=/etc/dnsmasq.d"], {}, "not listed"),
        (["dnsmasq"], {"/etc/dnsmasq.conf": "conf-file=/etc/more.conf\n"}, "not gathered"),
    ],
)
def test_what_cannot_be_told_says_why(argv, files, why):
    s = scope_of(argv, files)
    assert why in s.unknown and serves(s, "virbr7") is None


def test_no_dhcp_interface_wins_even_over_a_listen_address():
    s = scope_of(["dnsmasq", "--listen-address=10.98.7.1", "--no-dhcpv4-interface=virbr7"])
    assert serves(s, "virbr7") is False


def test_cmdline_and_addresses_as_the_collector_prints_them():
    raw = b"/usr/sbin/dnsmasq\0--interface=lan1\0--dhcp-range=a b\0"
    assert parse_cmdline(f"mnt=same\ncmdline={raw.hex()}\n") == (
        "same",
        ["/usr/sbin/dnsmasq", "--interface=lan1", "--dhcp-range=a b"],
    )
    assert parse_cmdline("mnt=unknown\ncmdline=zz") == ("unknown", None)
    j = '[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},{"ifname":"lan1","addr_info":[]}]'
    assert parse_ipv4_addresses(j) == (("lo", "127.0.0.1"),)
    assert parse_ipv4_addresses("garbled") is None


SS_TWO_DNSMASQ = """\
UNCONN 0      0      0.0.0.0%virbr7:67 0.0.0.0:* users:(("dnsmasq",pid=343,fd=3))
UNCONN 0      0             0.0.0.0:67 0.0.0.0:* users:(("dnsmasq",pid=512,fd=4))
"""


def _servers(scope, ss=SS_TWO_DNSMASQ, addresses=(("virbr7", "10.98.7.1"), ("lan1", "10.55.0.1"))):
    return DhcpServers(sockets=parse_ss(ss), scopes=(scope,), ipv4_addresses=addresses)


def test_an_unbound_dnsmasq_answers_where_its_options_say():
    other = scope_of(["dnsmasq", "--bind-interfaces", "--interface=lan1,lan2"])
    other = type(other)(**{**other.__dict__, "pid": 512})
    a = dhcp_answering(_servers(other), "virbr7")
    assert [p for s in a.sockets for _, p in s.processes] == [343] and a.maybe == ()
    b = dhcp_answering(_servers(other), "lan1")
    assert [p for s in b.sockets for _, p in s.processes] == [512]


def test_an_unbound_server_that_cannot_be_read_is_a_maybe():
    other = scope_of(["dnsmasq", "--conf-script=/x"])
    other = type(other)(**{**other.__dict__, "pid": 512})
    a = dhcp_answering(_servers(other), "virbr7")
    assert len(a.sockets) == 1 and "program" in a.maybe[0][1]
    missing = dhcp_answering(DhcpServers(sockets=parse_ss(SS_TWO_DNSMASQ)), "virbr7")
    assert "not gathered" in missing.maybe[0][1]
    dhcpd = dhcp_answering(
        DhcpServers(sockets=parse_ss(SS_TWO_DNSMASQ.replace('"dnsmasq",pid=512', '"kea-dhcp4",pid=512'))), "virbr7"
    )
    assert "kea-dhcp4" in dhcpd.maybe[0][1]


def _host(*extra):
    from test_host_facts import NONCE, collector
    from test_unknown_facts import DONE, META5

    from kvmnetcheck.facts.host import build_host_facts

    ss = (
        "udp_servers",
        "",
        'UNCONN 0 0 0.0.0.0%virbr7:67 0.0.0.0:* users:(("dnsmasq",pid=343,fd=3))\n'
        'UNCONN 0 0 0.0.0.0:67 0.0.0.0:* users:(("dnsmasq",pid=512,fd=4))',
    )
    return build_host_facts("h1", "ssh://h1", collector(META5, ss, *extra, DONE), NONCE, None).dhcp_servers


ARGV = b"/usr/sbin/dnsmasq\0--bind-interfaces\0--listen-address=10.42.0.1\0--conf-dir=/etc/dnsmasq.d,*.conf\0"
ADDRESSES = (
    '[{"ifname":"virbr7","addr_info":[{"family":"inet","local":"10.98.7.1","prefixlen":24}]},'
    '{"ifname":"lan1","addr_info":[{"family":"inet","local":"10.42.0.1","prefixlen":24}]}]'
)


def test_collector_sections_to_who_answers():
    """What collector.sh prints (a dnsmasq's command line as hex, its config files and conf-dir listing, the
    addresses), read into who answers on each interface."""
    sections = (
        ("dnsmasq_cmdline", "512", f"mnt=same\ncmdline={ARGV.hex()}"),
        ("dnsmasq_conf", "/etc/dnsmasq.conf", "absent", 2),
        ("dnsmasq_conf_dir", "/etc/dnsmasq.d", "lab.conf\nold.conf.dpkg-old"),
        ("dnsmasq_conf", "/etc/dnsmasq.d/lab.conf", "interface=lan2"),
        ("ipv4_addresses", "", ADDRESSES),
    )
    servers = _host(*sections)
    assert servers.scope_of(512).describe() == "interface=lan2; listen-address=10.42.0.1"
    assert [p for s in dhcp_answering(servers, "virbr7").sockets for _, p in s.processes] == [343]
    assert [p for s in dhcp_answering(servers, "lan1").sockets for _, p in s.processes] == [512]
    # a conf-dir file the collector did not print, or a file it could not read: unknown, never a pass
    unread = _host(*sections[:3], ("ipv4_addresses", "", ADDRESSES))
    assert "not gathered" in dhcp_answering(unread, "virbr7").maybe[0][1]
    refused = _host(*sections[:3], ("dnsmasq_conf", "/etc/dnsmasq.d/lab.conf", "Permission denied", 1), sections[4])
    assert "could not be read" in dhcp_answering(refused, "virbr7").maybe[0][1]
    other = _host(("dnsmasq_cmdline", "512", f"mnt=other\ncmdline={ARGV.hex()}"), sections[4])
    assert "another mount namespace" in dhcp_answering(other, "virbr7").maybe[0][1]


def test_facts_without_the_new_sections_leave_the_set_unknown():
    servers = _host()
    assert servers.scopes is None
    assert "older version" in dhcp_answering(servers, "virbr7").maybe[0][1]
