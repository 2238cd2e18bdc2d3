"""VLANs of the ports of VLAN-filtering bridges, and the guest-port-forwarding check on them.

This machine's kernel has no VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING is off), so no lab host can
make such a bridge: the check's VLAN branch is proven here, on `bridge -j vlan show` output in the
shape iproute2's bridge/vlan.c prints it (print_vlan_flags: "PVID", "Egress Untagged"; a range as
"vlan" and "vlanEnd"), which is what iproute2 6.x prints on hosts that have it."""

import pytest

from kvmnetcheck.catalog import Finding, running
from kvmnetcheck.facts.model import (
    Bridge,
    BridgePort,
    Guest,
    GuestNic,
    HostFacts,
    LibvirtView,
)
from kvmnetcheck.facts.parsers.bridge_vlan import parse_bridge_vlans

# br0 filters by VLAN; eth0 (the uplink) carries 10 untagged and 20-30 tagged; vnet0 is the guest's tap
SHOW = (
    '[{"ifname":"br0","vlans":[{"vlan":1,"flags":["PVID","Egress Untagged"]}]},'
    '{"ifname":"eth0","vlans":[{"vlan":10,"flags":["PVID","Egress Untagged"]},{"vlan":20,"vlanEnd":30}]},'
    '{"ifname":"vnet0","vlans":[{"vlan":%s,"flags":["PVID","Egress Untagged"]}]}]'
)


def test_ports_vlans_pvid_and_ranges():
    vlans = {p.port: p for p in parse_bridge_vlans(SHOW % 20)}
    assert vlans["eth0"].vids == (10,) + tuple(range(20, 31)) and vlans["eth0"].pvid == 10
    assert vlans["eth0"].untagged == (10,)
    assert vlans["vnet0"].pvid == 20
    assert vlans["br0"].vids == (1,)


@pytest.mark.parametrize("text", ["", "[", "{}", "not json"])
def test_unreadable_vlan_output_is_none(text):
    assert parse_bridge_vlans(text) is None


def _host(show: str) -> tuple[HostFacts, Guest, GuestNic]:
    nic = GuestNic(
        guest="g1",
        mac="52:54:00:00:10:01",
        type="bridge",
        source_network=None,
        source_bridge="br0",
        model="virtio",
        driver_name=None,
        target_dev="vnet0",
        boot_order=None,
        index=0,
    )
    guest = Guest(
        name="g1", uuid=None, active=True, domain_type="kvm", boots_from_network=False, os_hint=None, nics=(nic,)
    )
    bridge = Bridge(
        name="br0",
        stp_state=0,
        forward_delay_s=0.0,
        vlan_filtering=True,
        ports=(BridgePort("eth0", 3), BridgePort("vnet0", 3)),
    )
    facts = HostFacts(
        host="h",
        spec="h",
        bridges=(bridge,),
        port_vlans=parse_bridge_vlans(show),
        libvirt=LibvirtView("virsh", None, None, None, (), (guest,)),
    )
    return facts, guest, nic


def _check(facts, guest, nic):
    from tests_guest.test_guest_nics import test_guest_port_forwards

    with running("guest-port-forwarding"):
        return test_guest_port_forwards(facts, guest, nic)


def test_guest_vlan_carried_by_the_uplink_passes():
    assert _check(*_host(SHOW % 25)) is None


def test_guest_vlan_no_other_port_carries_fails_with_the_vlan():
    with pytest.raises(Finding) as e:
        _check(*_host(SHOW % 40))
    assert "VLAN 40" in e.value.message and "bridge vlan add dev UPLINK vid 40" in e.value.remediation


def test_guest_port_without_pvid_fails():
    show = SHOW.replace('{"vlan":%s,"flags":["PVID","Egress Untagged"]}', '{"vlan":20}')
    with pytest.raises(Finding) as e:
        _check(*_host(show))
    assert "no PVID" in e.value.message
