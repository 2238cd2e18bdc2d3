"""What the probe (--probe) measured on each bridge: an OFFER in time, a boot file served, and whether that
agrees with what the suite reads from the bridge."""

import pytest

from kvmnetcheck.catalog import Finding, check, remedy
from kvmnetcheck.facts.conclusions.probe import checksum_at_risk, inferred_dhcp
from kvmnetcheck.facts.model import IPXE_GIVES_UP_S, Unreadable

RUN_WITH_PROBE = (
    "run with --probe to measure it: a throwaway port joins the bridge for a few seconds and asks for a "
    "DHCP offer as a PXE guest would (README: what the probe does to a host)"
)


FACTS_HOLD_NO_PROBE = (
    "the probe runs only over the suite's own connection to the host (the hosts of --hosts, which it gathers "
    "itself); these facts were read from a directory (--facts, such as kvmnetcheck.collect.ansible_gather "
    "writes) and hold no probe: run kvm-netcheck --probe --hosts=... against the host instead"
)


def _probed(host_facts, bridge, config):
    """The probe's answer for this bridge; skips where it was not asked, errors where it could not run."""
    p = host_facts.probe
    if p is None:
        pytest.skip(FACTS_HOLD_NO_PROBE if config.getoption("--probe") else RUN_WITH_PROBE)
    if p.error:
        raise Unreadable(f"the probe could not run on {host_facts.host}: {p.error}")
    if bridge.name not in p.targets:
        pytest.skip("no active libvirt network serves IPv4 DHCP on it and no guest NIC uses it: not probed")
    b = p.of(bridge.name)
    if b is None:
        why = f"it was stopped ({p.stopped})" if p.stopped else "its output ended before it"
        raise Unreadable(f"the probe did not get to {bridge.name}: {why}; raise --host-timeout and run again")
    if b.error:
        raise Unreadable(f"the probe could not probe {bridge.name}: {b.error}")
    return b


def _checksum(offer) -> str:
    if offer is None:
        return "no OFFER"
    flag = " (TP_STATUS_CSUMNOTREADY)" if offer.csum_notready else ""
    if offer.checksum_filled:
        return "filled" if offer.checksum_verifies else "none (0)"
    return f"not filled{flag}, UDP checksum 0x{offer.udp_checksum:04x} does not verify"


def _figures(b) -> dict:
    o = b.first_offer
    return {
        "stp_state": b.stp_state,
        "forward_delay_s": b.forward_delay_s,
        "forwarding_after_s": b.forwarding_after_s,
        "discovers_at_s": list(b.discovers_at_s),
        "first_offer_after_s": o.at_s if o else None,
        "offer_answers_discover": o.discover + 1 if o else None,
        "offer_in_ipxe_time": bool(o and o.in_ipxe_time),
        "waited_s": b.window_s,
        "servers": list(b.servers),
        "checksum": _checksum(o),
        "tp_status": o.tp_status if o else None,
        "boot_file": o.boot_file if o else None,
    }


@check("probe-dhcp-offer")
def test_probe_gets_one_dhcp_offer_in_time(host_facts, bridge, pytestconfig):
    """A new port on the bridge gets one DHCP OFFER within iPXE's timeout, with its UDP checksum filled in where vhost-net guests use the bridge."""
    b = _probed(host_facts, bridge, pytestconfig)
    figures = _figures(b)
    o = b.first_offer
    forwarding = f"{b.forwarding_after_s:g} s" if b.forwarding_after_s is not None else f"never within {b.window_s} s"
    limit = f"an OFFER within {IPXE_GIVES_UP_S:g} s of link-up (iPXE's DHCP timeout)"
    if o is None or not o.in_ipxe_time:
        late = f"the first came after {o.at_s:g} s" if o else f"none came within {b.window_s:g} s"
        raise Finding(
            f"{bridge.name}: no DHCP OFFER within {IPXE_GIVES_UP_S:g} s of link-up, when iPXE gives up ({late}); "
            f"the port forwarded after {forwarding}",
            observed=figures,
            limit=limit,
            remediation=remedy("no-offer", bridge=bridge.name, limit=f"{IPXE_GIVES_UP_S:g}", forwarding=forwarding),
        )
    if len(b.servers) > 1:
        raise Finding(
            f"{bridge.name}: {len(b.servers)} DHCP servers answered: " + ", ".join(b.servers),
            observed=figures,
            limit="one DHCP server",
            remediation=remedy("servers", bridge=bridge.name, servers=", ".join(b.servers)),
        )
    if not o.checksum_filled:
        at_risk = checksum_at_risk(host_facts, bridge.name)
        if at_risk:
            raise Finding(
                f"{bridge.name}: the OFFER from {o.server} arrived with its checksum {_checksum(o)}, and "
                f"vhost-net guests use the bridge: {', '.join(at_risk)}",
                observed={**figures, "guests_at_risk": at_risk},
                limit="a filled-in UDP checksum where vhost-net guests get DHCP",
                remediation=remedy("checksum", bridge=bridge.name),
            )
    return figures


@check("probe-pxe-boot-file")
def test_probe_boot_file_is_served(host_facts, bridge, pytestconfig):
    """The boot file the bridge's DHCP OFFER names is served over TFTP by the server it names."""
    b = _probed(host_facts, bridge, pytestconfig)
    o = b.first_offer
    if o is None:
        pytest.skip("no OFFER came (see probe-dhcp-offer)")
    if not o.boot_file:
        pytest.skip(f"the OFFER from {o.server} names no boot file")
    t = b.tftp
    if t is None:
        raise Unreadable(f"the probe did not try to fetch {o.boot_file!r} from {o.server}")
    if t.outcome == "not-fetched":
        pytest.skip(f"boot file {o.boot_file!r} not fetched by the probe: {t.detail}")
    figures = {"boot_file": t.file, "tftp_server": t.server, "outcome": t.outcome, "detail": t.detail}
    if t.outcome == "data":
        return {**figures, "first_block_bytes": t.block_bytes}
    raise Finding(
        f"{bridge.name}: the OFFER names boot file {t.file!r}, and TFTP server {t.server} did not serve it: "
        + (t.detail or t.outcome),
        observed=figures,
        limit="the first block of the boot file over TFTP",
        remediation=remedy("missing", bridge=bridge.name, file=t.file, server=t.server or "?", detail=t.detail),
    )


@check("probe-inference-agrees")
def test_probe_agrees_with_the_suites_inference(host_facts, bridge, pytestconfig):
    """The probe's measured port-forwarding time and OFFER agree with what the suite infers for a guest on the bridge."""
    b = _probed(host_facts, bridge, pytestconfig)
    inferred = bridge.new_port_block_s
    guess = inferred_dhcp(host_facts, bridge)
    measured = b.forwarding_after_s
    o = b.first_offer
    in_time = o is not None and o.in_ipxe_time
    offer = f"an OFFER after {o.at_s:g} s (answering DISCOVER {o.discover + 1})" if o else "no OFFER"
    stories = {
        "suite": "; ".join(guess.reasons) or "nothing concluded",
        "suite_expects_offer_in_time": guess.offer,
        "suite_cannot_tell": guess.unknown or None,
        "probe": f"port forwarding after {measured} s, {offer} within {b.window_s} s, servers: "
        + (", ".join(b.servers) or "none"),
        "inferred_block_s": inferred,
        "measured_forwarding_after_s": measured,
        "first_offer_after_s": o.at_s if o else None,
        "offer_in_ipxe_time": in_time,
    }
    contradictions = []
    if inferred is not None:
        said = f"the suite reads a new port blocked {inferred:g} s, but"
        if measured is None and b.window_s is not None and inferred < b.window_s - 1:
            contradictions.append(f"{said} the port never forwarded within {b.window_s:g} s")
        elif measured is not None and abs(measured - inferred) > 1.0:
            contradictions.append(f"{said} the port forwarded after {measured:g} s")
    if guess.offer is True and not in_time:
        contradictions.append(
            f"the suite infers a guest gets an OFFER in iPXE's {IPXE_GIVES_UP_S:g} s ({'; '.join(guess.reasons)}), "
            f"but the probe got {offer if o else 'none'}"
        )
    elif guess.offer is False and in_time:
        contradictions.append(
            f"the suite infers a guest gets no OFFER in iPXE's {IPXE_GIVES_UP_S:g} s ({'; '.join(guess.reasons)}), "
            f"but the probe got {offer} from {', '.join(b.servers)}"
        )
    if contradictions:
        raise Finding(
            f"{bridge.name}: " + "; and ".join(contradictions),
            observed=stories,
            limit="the measured forwarding time within 1 s of 2 x forward_delay (0 with STP off), and an OFFER in "
            "iPXE's time exactly where the suite infers one",
            remediation=remedy("disagree", bridge=bridge.name),
        )
    if guess.offer is None:
        pytest.skip(
            "the suite cannot tell whether a guest here gets an OFFER in time, so it claims no agreement: "
            + guess.unknown
        )
    return stories
