"""DHCP reply checksums: can the host fill them in, and does it, for each DHCP network."""

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.conclusions.checksum import checksum_chain, checksum_fixup, nftables_adds_tc_csum
from kvmnetcheck.facts.conclusions.firewall import firewall_backend
from kvmnetcheck.facts.conclusions.libvirt import network_daemon
from kvmnetcheck.facts.model import Unreadable

FIRST_WITH_CHECKSUM = (1, 4, 10)


@check("iptables-checksum-support")
def test_iptables_supports_checksum_target(host_facts):
    """iptables is 1.4.10 or newer and its CHECKSUM extension loads."""
    if not host_facts.libvirt_installed:
        pytest.skip("no libvirt on this host")
    backend, evidence = firewall_backend(host_facts)
    if backend == "nftables":
        pytest.skip(f"libvirt uses its nftables backend ({evidence}): it makes no CHECKSUM rule")
    ipt = host_facts.iptables
    if not ipt.installed:
        if backend is None:
            pytest.skip(
                "iptables is not installed and libvirt's firewall backend is unknown "
                "(a libvirt >= 10.4 without iptables uses nftables)"
            )
        raise Finding(
            f"libvirt uses its iptables backend ({evidence}) but iptables is not installed",
            observed={"backend": backend},
            limit="iptables >= 1.4.10 with CHECKSUM",
            remediation=remedy("default"),
        )
    if ipt.version is None:
        raise Unreadable(f"iptables --version could not be read on {host_facts.host}")
    old = ipt.version < FIRST_WITH_CHECKSUM
    if not old and ipt.checksum_extension is None:
        raise Unreadable(
            "whether iptables' CHECKSUM extension loads could not be read "
            "(`iptables -j CHECKSUM -h` was refused): run as root or with --sudo"
        )
    if not old and ipt.checksum_extension:
        return
    why = (
        f"{ipt.version_text} is older than 1.4.10, the first release with the CHECKSUM target"
        if old
        else f"{ipt.version_text} cannot load its CHECKSUM extension (libxt_CHECKSUM)"
    )
    raise Finding(
        f"{why}: libvirt cannot add its DHCP checksum rule",
        observed={
            "iptables": ipt.version_text,
            "CHECKSUM extension": ipt.checksum_extension,
            "libvirt firewall backend": f"{backend or 'unknown'} ({evidence})",
        },
        limit="iptables >= 1.4.10 with the CHECKSUM extension",
        remediation=remedy("default"),
    )


@check("dhcp-checksum-fixup")
def test_dhcp_network_fixes_reply_checksums(host_facts, network):
    """The network's bridge has a checksum fix-up for DHCP replies (CHECKSUM rule or tc csum filter)."""
    live = network.live
    if not live.serves_dhcp:
        pytest.skip("the network serves no DHCP from this host")
    if not live.serves_dhcp4:
        pytest.skip(
            "the network serves only DHCPv6: libvirt's fix-up, and the unfilled checksums it "
            "fixes, are IPv4 DHCP's (udp port 68)"
        )
    if not live.creates_bridge or not network.bridge_name:
        pytest.skip(f"forward mode '{live.forward_mode}': libvirt serves no DHCP on a bridge of its own")
    if not network.active:
        pytest.skip("the network is not running: libvirt adds its fix-up when it starts")
    if not host_facts.vhost_net:
        pytest.skip("no /dev/vhost-net on this host: QEMU fills in virtio checksums itself")
    bridge = network.bridge_name
    fix = checksum_fixup(host_facts, bridge)
    if fix.present:
        return
    backend, evidence = firewall_backend(host_facts)
    version = ".".join(map(str, host_facts.libvirt.libvirt_version or ())) or "(version unknown)"
    tc_csum = nftables_adds_tc_csum(host_facts)
    if live.forward_mode == "open":
        why = "libvirt adds no firewall rules and no fix-up for a mode='open' network, by design"
        remediation = remedy("open", bridge=bridge)
    elif backend == "nftables" and not tc_csum:
        why = (
            f"libvirt {version} with its nftables backend adds no checksum fix-up (10.4.0 added none; "
            "11.3.0 adds a tc csum filter)"
        )
        remediation = remedy("nftables-none", version=version)
    elif backend == "nftables":
        why = f"the tc csum filter libvirt {version} puts on its bridges is gone"
        remediation = remedy("nftables-tc", version=version, bridge=bridge, daemon=network_daemon(host_facts))
    else:
        why = "libvirt's CHECKSUM rule is gone"
        remediation = remedy("iptables", bridge=bridge, chain=checksum_chain(host_facts))
    raise Finding(
        f"network {network.name} serves DHCP on {bridge} from a host with vhost-net, but "
        f"{fix.evidence}: guests using virtio with vhost-net get replies with unfilled UDP checksums ({why})",
        observed={
            "bridge": bridge,
            "vhost-net": "/dev/vhost-net present",
            "forward mode": live.forward_mode,
            "libvirt": version,
            "libvirt firewall backend": f"{backend or 'unknown'} ({evidence})",
            "fix-up": fix.evidence,
        },
        limit="a CHECKSUM --checksum-fill rule (-o BRIDGE, udp dport 68) or a tc csum filter on the bridge",
        remediation=remediation,
    )


@check("libvirt-checksum-warning")
def test_libvirtd_log_has_no_checksum_warning(host_facts):
    """libvirtd's log has no warning that it could not add the DHCP checksum rule."""
    if not host_facts.libvirt_installed:
        pytest.skip("no libvirt on this host")
    lines = host_facts.libvirt_log_lines
    if lines:
        raise Finding(
            f"libvirtd logged {len(lines)} line(s) saying it could not fix up DHCP response checksums: {lines[0]}",
            observed={"log lines": " | ".join(lines[:5]), "searched": ", ".join(host_facts.libvirt_log_sources)},
            limit="no such warning",
            remediation=remedy("default"),
        )
    if host_facts.libvirt_log_unreadable:
        raise Unreadable(
            "these logs could not be read by the checking user: "
            + ", ".join(host_facts.libvirt_log_unreadable)
            + "; run as root or with --sudo"
        )
    if not host_facts.libvirt_log_sources:
        pytest.skip("no libvirtd log could be read (no log file, no journal)")
