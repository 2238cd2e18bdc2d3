"""Catalog: the DHCP server each libvirt network depends on (tests_host/test_dhcp_servers.py)."""

from .base import GUIDE, Check, Fix
from .shared import DAEMON_RESTART, DNSMASQ_INTERFACES, DNSMASQ_OPTIONS

LIBVIRT_DNSMASQ = (
    "libvirt src/network/bridge_driver.c networkStartDhcpDaemon (dnsmasq with --conf-file="
    "/var/lib/libvirt/dnsmasq/NETWORK.conf, its pid in /run/libvirt/network/NETWORK.pid; bind-dynamic, "
    "interface=BRIDGE, except-interface=lo since 1.0.1) and networkRefreshDhcpDaemon (a dnsmasq that is "
    "gone is started again when the network driver starts)"
)
SS = "iproute2 misc/ss.c (the device a socket is bound to, printed after %, since 3.14; processes need root)"

CHECKS = [
    Check(
        id="network-dhcp-server",
        fails_when="its dnsmasq is not running, so nothing answers DHCP on its bridge",
        severity="high",
        per="active libvirt network serving DHCP",
        requirement="An active libvirt network that serves DHCP has its dnsmasq running.",
        rationale=(
            "libvirt's dnsmasq is the network's only DHCP (and TFTP) server: once it is gone, guests send "
            "DHCP requests that nothing answers, and get no address and no boot file."
        ),
        sources=(
            GUIDE + " (DHCP on a libvirt network is served on the host)",
            LIBVIRT_DNSMASQ,
            SS,
            "dnsmasq src/dhcp.c: it exits when it cannot bind its DHCP socket ('failed to bind DHCP server socket')",
        ),
        skipped_when=("the network serves no DHCP, is not running, or makes no bridge of its own",),
        verify=("cat /run/libvirt/network/NETWORK.pid", "ps -p PID -o comm,args", "ss -u -a -n -p 'sport = :67'"),
        fixes={
            "restart-daemon": Fix(
                """\
# libvirt starts the network's dnsmasq again when its network daemon starts (guests keep their links):
"""
                + DAEMON_RESTART.script
                + """
ss -u -a -n -p 'sport = :67' | grep {bridge}
# if dnsmasq dies again, its reason is in the host's log (e.g. another DHCP server holding port 67:
# see network-dhcp-conflict)""",
                (DAEMON_RESTART,),
            ),
        },
    ),
    Check(
        id="network-dhcp-conflict",
        fails_when="another process on the host answers DHCP on its bridge (or on all interfaces) too",
        severity="high",
        per="active libvirt network serving DHCP",
        requirement="No process on the host but the network's own dnsmasq serves DHCP on its bridge.",
        rationale=(
            "Two DHCP servers on one bridge both answer a guest's DISCOVER: the guest takes whichever offer "
            "comes first, with another server's addresses, gateway, DNS or boot file, or none."
        ),
        sources=(
            LIBVIRT_DNSMASQ,
            SS,
            "ISC dhcpd: listens through LPF packet sockets on its interfaces and keeps a UDP socket on "
            "0.0.0.0:67 (seen with ss on Debian 12's isc-dhcp-server 4.4.3)",
            DNSMASQ_INTERFACES,
            DNSMASQ_OPTIONS,
            "NetworkManager src/core/dnsmasq/nm-dnsmasq-manager.c create_dm_cmd_line (shared mode: "
            "--bind-interfaces --listen-address=ADDRESS, --conf-file=/dev/null)",
            "another server on 0.0.0.0:67 that reads no packet socket (kea, dhcpd without LPF): which "
            "interfaces it answers is not read, so the result is an error, never a pass",
        ),
        skipped_when=("the network serves no IPv4 DHCP, is not running, or makes no bridge of its own",),
        verify=("ss -u -a -n -p 'sport = :67'", "ss -0 -a -n -p"),
        fixes={
            "other-server": Fix("""\
# {process} answers DHCP on {bridge} beside libvirt's dnsmasq for network {network}.
# Make it serve only its own interfaces, e.g.:
#   ISC dhcpd: name the interfaces in /etc/default/isc-dhcp-server (INTERFACESv4="eth1")
#   dnsmasq:   bind-interfaces (or bind-dynamic) with interface=eth1, or except-interface={bridge:raw}
#   kea:       "interfaces-config": {{"interfaces": ["eth1"]}}
# then restart that server; libvirt's dnsmasq needs nothing"""),
        },
    ),
    Check(
        id="network-dhcp-pool",
        fails_when="90% or more of its DHCP ranges, or of the leases its dnsmasq may give, are taken",
        severity="medium",
        per="active libvirt network with DHCP ranges",
        requirement="An active libvirt network's DHCP ranges keep at least 10% of their addresses free.",
        rationale=(
            "When every address of the range is leased or reserved, dnsmasq has nothing to offer a new guest. "
            "When it holds as many leases as dhcp-lease-max allows (libvirt sets it to the size of the ranges, "
            "and leases of <host> addresses outside them count too), it offers an address and then refuses it "
            "('no leases left'), although the range has free addresses: the guest gets no address and PXE no "
            "boot file."
        ),
        sources=(
            LIBVIRT_DNSMASQ + "; networkDnsmasqConfDHCP: dhcp-range per <range>, dhcp-lease-max = the "
            "addresses of the ranges of the first IPv4 and the first IPv6 <ip> with DHCP, <host> elements not "
            "counted (0.7.3; tests/networkxml2confdata/dhcp6-nat-network.conf: 253 + 240 = 493); a "
            "<dnsmasq:option value='dhcp-lease-max=N'/> comes after it and wins",
            "dnsmasq 2.90 src/lease.c lease_init, lease_allocate (leases_left starts at dhcp-lease-max, default "
            "1000 in src/config.h MAXLEASES, and every lease takes one, static ones included) and src/rfc2131.c "
            "dhcp_reply (DHCPREQUEST with no lease left: DHCPNAK 'no leases left')",
            "libvirt src/network/leaseshelper.c and src/util/virlease.c (/var/lib/libvirt/dnsmasq/BRIDGE.status: "
            "ip-address, mac-address, expiry-time; 1.2.6)",
        ),
        skipped_when=("the network serves no IPv4 DHCP range, or is not running",),
        verify=("cat /var/lib/libvirt/dnsmasq/BRIDGE.status", "virsh --readonly net-dhcp-leases NETWORK"),
        fixes={
            "widen": Fix("""\
# widen the range of network {network} (--live changes the running dnsmasq, --config its definition);
# {suggestion}
virsh net-update {network} delete ip-dhcp-range {old_range} --live --config
virsh net-update {network} add-last ip-dhcp-range {new_range} --live --config
# or give leases a shorter life (libvirt >= 6.3, at the network's next start):
#   <range start='START' end='END'><lease expiry='1' unit='hours'/></range>"""),
        },
    ),
]
