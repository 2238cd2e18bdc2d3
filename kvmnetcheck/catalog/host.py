"""Catalog: can the host, and its libvirt, be read at all (tests_host/test_host.py)."""

from .base import GUIDE, Check, Fix, Step

CHECKS = [
    Check(
        id="host-reachable",
        fails_when="the host cannot be reached or its facts read",
        severity="critical",
        per="host",
        requirement="The host can be reached and its network facts read.",
        rationale="A host that cannot be read cannot be shown to be safe for PXE or DHCP guests.",
        sources=(GUIDE,),
        skipped_when=(),
        fixes={
            "default": Fix("""\
# check that the control node reaches the host the way the suite does:
{reach:raw}
# the collector reads iptables and sysfs: log in as root, or pass --sudo
# (with a sudo rule that needs no password for the checking user)"""),
            "partial": Fix("""\
# the objects named above were not checked; look at them on the host, e.g. with
#   virsh --readonly net-dumpxml NETWORK
# a document refused for a DOCTYPE, entities or its size was not written by libvirt: find out who did"""),
        },
    ),
    Check(
        id="libvirt-readable",
        fails_when="libvirt is installed but no daemon answers a read-only connection or `virsh --readonly`",
        severity="high",
        per="host",
        requirement="libvirt on the host can be read over a read-only connection or `virsh --readonly`.",
        rationale="Without libvirt's view, the networks and guests that may fail PXE/DHCP cannot be checked.",
        sources=(
            GUIDE,
            "how the view is read: libvirt src/libvirt-network.c virConnectListAllNetworks "
            "(VIR_CONNECT_LIST_NETWORKS_ACTIVE, _PERSISTENT, _AUTOSTART filters) and src/libvirt-domain.c "
            "virDomainGetID (the id the listing carries, -1 for a domain that is not running); "
            "through virsh: tools/virsh-network.c cmdNetworkInfo (Active:, Persistent:, Autostart:) and "
            "docs/formatdomain.rst (a running domain's id attribute; inactive machines have none)",
            "how the daemons are started (the fix): libvirt docs/daemons.rst (monolithic libvirtd or the modular "
            "virtqemud and virtnetworkd; with systemd, socket activated through virtqemud.socket and "
            "virtqemud-ro.socket; without it, each daemon started itself); src/remote/libvirtd.service.in, "
            "src/remote/virtqemud.socket.in",
            "which daemon a read-only qemu:///system reaches: libvirt src/remote/remote_sockets.c "
            "remoteGetUNIXSocket (mode auto: /run/libvirt/virtqemud-sock-ro when it exists, else libvirtd's or "
            "virtproxyd's libvirt-sock-ro); over qemu+ssh, src/rpc/virnetclient.c virNetClientSSHHelperCommand "
            "(proxy auto: the host's virt-ssh-helper opens qemu:///system there, choosing the same way; "
            "only without it does nc reach libvirt-sock-ro)",
        ),
        skipped_when=("no libvirt is installed on the host (no virsh, libvirtd, virtnetworkd or libvirt socket)",),
        fixes={
            "libvirtd": Fix(
                """\
# libvirt here is the monolithic libvirtd: start it
systemctl start libvirtd.service
# then this answers:
virsh --readonly -c qemu:///system version""",
                (Step("daemon-restart", "systemctl start libvirtd.service", ("systemctl",), daemons=("systemd",)),),
            ),
            "modular": Fix(
                """\
# libvirt here is the modular daemons (socket activated): start their sockets
systemctl start virtqemud.socket virtqemud-ro.socket virtnetworkd.socket virtnetworkd-ro.socket
# then this answers:
virsh --readonly -c qemu:///system version""",
                (
                    Step(
                        "daemon-restart",
                        "systemctl start virtqemud.socket virtqemud-ro.socket virtnetworkd.socket virtnetworkd-ro.socket",
                        ("systemctl",),
                        daemons=("systemd",),
                    ),
                ),
            ),
            "sysv": Fix(
                """\
# libvirt here is libvirtd under its init script: start it
service libvirtd start
# then this answers:
virsh --readonly -c qemu:///system version""",
                (Step("daemon-restart", "service libvirtd start", ("service",)),),
            ),
            "access": Fix("""\
# libvirt's daemon answers, but its read-only socket refuses the user the suite logs in as:
ls -l /run/libvirt/libvirt-sock-ro /run/libvirt/virtqemud-sock-ro
# let that user connect: add it to the group that owns the socket (libvirt on Debian and RHEL, see
# unix_sock_ro_perms and unix_sock_group in /etc/libvirt/libvirtd.conf or virtqemud.conf), e.g.
#   usermod -a -G libvirt USER      (then log in again)
# or run the suite with --sudo; then this answers:
virsh --readonly -c qemu:///system version"""),
            "unknown": Fix("""\
# not scripted: how this host starts libvirt could not be told (the finding says why);
# start libvirtd, or virtqemud and virtnetworkd (libvirt's docs/daemons.rst), then check:
virsh --readonly -c qemu:///system version"""),
        },
    ),
]
