"""Host-level checks: can the host be read at all, and can its libvirt be read."""

import re

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.catalog.fixtext import reach_hint
from kvmnetcheck.facts.conclusions.libvirt import libvirt_start


@check("host-reachable")
def test_host_is_reachable_and_readable(target, pytestconfig):
    """The host can be reached and its network facts read."""
    reach = reach_hint(
        target.spec, pytestconfig.getoption("ssh_config", None), pytestconfig.getoption("ssh_identity_file", None)
    )
    if target.error:
        raise Finding(
            f"{target.host} could not be checked: {target.error}",
            observed={"host": target.spec, "error": target.error},
            remediation=remedy("default", reach=reach),
        )
    if target.parse_errors:
        raise Finding(
            f"{target.host} was reached, but part of what it returned could not be used: "
            + "; ".join(target.parse_errors[:5])
            + (" ..." if len(target.parse_errors) > 5 else ""),
            observed={"problems": " | ".join(target.parse_errors)},
            remediation=remedy("partial"),
        )
    if target.unreadable:
        raise Finding(
            f"{target.host} was reached as uid {target.uid}, but these could not be read: "
            + ", ".join(target.unreadable[:10])
            + (" ..." if len(target.unreadable) > 10 else ""),
            observed={"uid": target.uid, "unreadable": " ".join(target.unreadable)},
            remediation=remedy("default", reach=reach),
        )
    ipt = target.iptables
    if ipt.installed and ipt.rules_error:
        raise Finding(
            f"{target.host} was reached as uid {target.uid}, but its iptables rules could not be read: "
            f"{ipt.rules_error}",
            observed={"uid": target.uid, "iptables-save": ipt.rules_error},
            remediation=remedy("default", reach=reach),
        )


# libvirt's client when the daemon's socket is there and will not take this user (EACCES on connect,
# src/rpc/virnetsocket.c virNetSocketNewConnectUNIX; polkit or SASL refusing it: src/remote/remote_driver.c)
REFUSED = re.compile(r"Permission denied|authentication (?:failed|unavailable)|access denied", re.IGNORECASE)


@check("libvirt-readable")
def test_libvirt_is_readable(host_facts):
    """libvirt on the host can be read over a read-only connection or `virsh --readonly`."""
    v = host_facts.libvirt
    start = libvirt_start(host_facts.netstack)
    fix = remedy(start.variant or "unknown")
    if v.source == "files":
        raise Finding(
            f"no libvirt daemon on {host_facts.host} answered a read-only connection ({v.notes[0].split('; ')[0] if v.notes else v.error}); "
            f"its networks and guests were read from libvirt's state files; to start libvirt: {start.reason}",
            observed={"source": "state files under /run/libvirt and /etc/libvirt", "notes": " | ".join(v.notes)},
            remediation=fix,
        )
    if v.source != "none":
        return
    if not host_facts.libvirt_installed:
        pytest.skip("no libvirt on this host (no virsh, libvirtd or libvirt socket): nothing to check")
    if REFUSED.search(v.error or ""):  # the daemon answered and refused this user: starting it is not the fix
        raise Finding(
            f"libvirt on {host_facts.host} refuses the checking user its read-only socket: {v.error}",
            observed={"uri": (v.uri or "").split("?")[0], "error": v.error},
            remediation=remedy("access"),
        )
    raise Finding(
        f"libvirt is installed on {host_facts.host} but could not be read: {v.error}; to start libvirt: {start.reason}",
        observed={"uri": (v.uri or "").split("?")[0], "error": v.error},
        remediation=fix,
    )
