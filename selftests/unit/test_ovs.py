"""build_ovs: Open vSwitch's three database listings, as the collector prints them.

Every sample below is real output, made by selftests/unit/samples/ovs/capture.sh on a Debian 12 machine
(Open vSwitch 3.1.0, openvswitch-switch 3.1.0-2+deb12u1; no openvswitch kernel module, so the bridges
use the userspace datapath). The script runs ovsdb-server and ovs-vswitchd as PID 1's children in a
throwaway net+mount+pid namespace with /run, /etc/openvswitch, /var/lib/openvswitch and
/var/log/openvswitch on private tmpfs, and makes:

  br-stp    stp_enable=true; guest tap vnet0 (external_ids as libvirt 9.0 sets them), veth uplink0
  br-rstp   rstp_enable=true; guest tap vnet1
  br-plain  neither; guest tap vnet2, a tap tap7 without external_ids, a bond bond0 of two veths
  br-fd4    stp_enable=true, other_config:stp-forward-delay=4 (ovs-vswitchd applies 11 s); guest tap vnet3
  br-both   stp_enable=true and rstp_enable=true (RSTP runs); guest tap vnet4
  br-fast   stp_enable=true, stp-forward-delay=4, stp-max-age=6, stp-hello-time=10; guest tap vnet5
  br-lone   no port but its own internal one (Bridge.ports is then a bare uuid, not a set)

then holds the taps open as QEMU would (carrier up) and lists the three tables 3 s later (EARLY) and 40 s
later (SETTLED). `ovs-appctl stp/show` and `rstp/show`, read every 0.5 s in the same run, saw the guest
ports forward 3.2 s (RSTP, auto-edge), 8.5 s (br-fast), 22.2 s (br-fd4) and 30.2 s (br-stp) after carrier.
"""

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz import FUZZ, PIECES, inputs

from kvmnetcheck.facts.model import Ovs, OvsBridge, OvsInterface, OvsPort
from kvmnetcheck.facts.parsers.ovs import build_ovs

# ---------------------------------------------------------------- samples (capture.sh, see above)

# `ovs-vsctl --format=json --columns=name,stp_enable,rstp_enable,other_config,ports list Bridge`, stdout
# (identical at 3 s and at 40 s)
BRIDGES = (
    '{"data":[["br-plain",false,false,["map",[]],["set",[["uuid","36afe1e0-759e-4042-88c1-bdcecef7ba80"],'
    '["uuid","613d835e-35d2-49dc-8347-c6b8a6c1da6e"],["uuid","a6a5078f-ed84-4a83-8f0f-982efa3116f3"],["uuid",'
    '"cbd6454e-b282-4d37-bbac-7888044fda22"]]]],["br-rstp",false,true,["map",[]],["set",[["uuid",'
    '"664b64a3-edc1-42b7-8b85-83d711b4a049"],["uuid","76c52df5-f8df-4431-a9ce-6419730937ae"]]]],["br-stp",'
    'true,false,["map",[]],["set",[["uuid","9d3d263b-d262-468e-8a48-e1cb0dc8fed3"],["uuid",'
    '"df868a3c-c5ac-4722-88fd-3154fc9aa702"],["uuid","f4273116-7fa5-4252-8b03-a93c66f0bcd0"]]]],["br-lone",'
    'false,false,["map",[]],["uuid","51c33db0-ce68-4813-83c3-d23434966296"]],["br-fd4",true,false,["map",'
    '[["stp-forward-delay","4"]]],["set",[["uuid","913ed6ba-c308-4173-af36-339721504bd1"],["uuid",'
    '"ccddaf24-593d-458c-9fc1-47f224ef6e49"]]]],["br-both",true,true,["map",[]],["set",[["uuid",'
    '"55078314-b18f-4ea1-a002-9545c2d0b525"],["uuid","f8e74533-2727-4c98-b028-c1fa628b646d"]]]],["br-fast",'
    'true,false,["map",[["stp-forward-delay","4"],["stp-hello-time","10"],["stp-max-age","6"]]],["set",'
    '[["uuid","3507be42-188b-404d-b640-741b4c9387ab"],["uuid","8e2a6f77-8daf-4743-84d1-a58283213c94"]]]]],'
    '"headings":["name","stp_enable","rstp_enable","other_config","ports"]}\n'
)

# `ovs-vsctl --format=json --columns=_uuid,name,interfaces,other_config,status,rstp_status list Port`,
# 3 s after carrier: STP ports listening, RSTP ports still discarding in the database
# (its status columns lag: rstp/show already said forwarding at 3.2 s)
PORTS_EARLY = (
    '{"data":[[["uuid","51c33db0-ce68-4813-83c3-d23434966296"],"br-lone",["uuid",'
    '"9b52449c-db95-4317-b7d6-d6922e7af563"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"36afe1e0-759e-4042-88c1-bdcecef7ba80"],"tap7",["uuid","0af93a9e-43ba-43ff-a9ec-9b7773079575"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","3507be42-188b-404d-b640-741b4c9387ab"],"vnet5",["uuid",'
    '"4f60d3f2-a1a9-4120-ad0f-13e73312c112"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","1"],["stp_state","listening"]]],["map",[]]],[["uuid",'
    '"664b64a3-edc1-42b7-8b85-83d711b4a049"],"vnet1",["uuid","2f6a5437-834b-4c92-b819-3cf71a8b1755"],["map",'
    '[]],["map",[]],["map",[["rstp_designated_bridge_id","8.000.461f8f42af4e"],["rstp_designated_path_cost",'
    '"0"],["rstp_designated_port_id","8001"],["rstp_port_id","8001"],["rstp_port_role","Designated"],'
    '["rstp_port_state","Discarding"]]]],[["uuid","f8e74533-2727-4c98-b028-c1fa628b646d"],"br-both",["uuid",'
    '"e3044b58-aeb5-4ff2-b63f-bca4f2a975d3"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"ccddaf24-593d-458c-9fc1-47f224ef6e49"],"br-fd4",["uuid","fa6af30b-3e85-4187-90d8-4debb6de1dfb"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","55078314-b18f-4ea1-a002-9545c2d0b525"],"vnet4",["uuid",'
    '"a9366b06-813f-4589-9338-8ef9ddcf7ebd"],["map",[]],["map",[]],["map",[["rstp_designated_bridge_id",'
    '"8.000.bac90bd25e4c"],["rstp_designated_path_cost","0"],["rstp_designated_port_id","8001"],'
    '["rstp_port_id","8001"],["rstp_port_role","Designated"],["rstp_port_state","Discarding"]]]],[["uuid",'
    '"76c52df5-f8df-4431-a9ce-6419730937ae"],"br-rstp",["uuid","61548fb7-374f-4d8c-8cef-92ed8fc0163b"],'
    '["map",[]],["map",[]],["map",[]]],[["uuid","f4273116-7fa5-4252-8b03-a93c66f0bcd0"],"uplink0",["uuid",'
    '"dd085190-9fbf-4c35-a28a-a27baeb3cb33"],["map",[]],["map",[["stp_port_id","32770"],["stp_role",'
    '"designated"],["stp_sec_in_state","2"],["stp_state","listening"]]],["map",[]]],[["uuid",'
    '"8e2a6f77-8daf-4743-84d1-a58283213c94"],"br-fast",["uuid","ae1e2051-a893-4f36-ab80-c24287d979a6"],'
    '["map",[]],["map",[]],["map",[]]],[["uuid","913ed6ba-c308-4173-af36-339721504bd1"],"vnet3",["uuid",'
    '"3ed5c85d-e620-43da-9866-2017b9d4d7fa"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","1"],["stp_state","listening"]]],["map",[]]],[["uuid",'
    '"9d3d263b-d262-468e-8a48-e1cb0dc8fed3"],"br-stp",["uuid","a20fa173-5746-4510-92d0-8ecbb491badd"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","df868a3c-c5ac-4722-88fd-3154fc9aa702"],"vnet0",["uuid",'
    '"0b0bb93e-4c34-444a-bf21-f7939d6cae4d"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","1"],["stp_state","listening"]]],["map",[]]],[["uuid",'
    '"613d835e-35d2-49dc-8347-c6b8a6c1da6e"],"vnet2",["uuid","17af60fc-99e4-42c0-9362-b80edd8df94f"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","cbd6454e-b282-4d37-bbac-7888044fda22"],"br-plain",["uuid",'
    '"1cbef5a3-3147-4283-a0a2-757a8e5daaae"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"a6a5078f-ed84-4a83-8f0f-982efa3116f3"],"bond0",["set",[["uuid","0520c388-ff9d-4ca5-888f-cf6a3ce12e1a"],'
    '["uuid","a021d07c-b091-4673-827a-dc16f19f7ae6"]]],["map",[]],["map",[]],["map",[]]]],'
    '"headings":["_uuid","name","interfaces","other_config","status","rstp_status"]}\n'
)

# the same 40 s after carrier: every port forwarding
PORTS_SETTLED = (
    '{"data":[[["uuid","51c33db0-ce68-4813-83c3-d23434966296"],"br-lone",["uuid",'
    '"9b52449c-db95-4317-b7d6-d6922e7af563"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"36afe1e0-759e-4042-88c1-bdcecef7ba80"],"tap7",["uuid","0af93a9e-43ba-43ff-a9ec-9b7773079575"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","3507be42-188b-404d-b640-741b4c9387ab"],"vnet5",["uuid",'
    '"4f60d3f2-a1a9-4120-ad0f-13e73312c112"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","31"],["stp_state","forwarding"]]],["map",[]]],[["uuid",'
    '"664b64a3-edc1-42b7-8b85-83d711b4a049"],"vnet1",["uuid","2f6a5437-834b-4c92-b819-3cf71a8b1755"],["map",'
    '[]],["map",[]],["map",[["rstp_designated_bridge_id","8.000.461f8f42af4e"],["rstp_designated_path_cost",'
    '"0"],["rstp_designated_port_id","8001"],["rstp_port_id","8001"],["rstp_port_role","Designated"],'
    '["rstp_port_state","Forwarding"]]]],[["uuid","f8e74533-2727-4c98-b028-c1fa628b646d"],"br-both",["uuid",'
    '"e3044b58-aeb5-4ff2-b63f-bca4f2a975d3"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"ccddaf24-593d-458c-9fc1-47f224ef6e49"],"br-fd4",["uuid","fa6af30b-3e85-4187-90d8-4debb6de1dfb"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","55078314-b18f-4ea1-a002-9545c2d0b525"],"vnet4",["uuid",'
    '"a9366b06-813f-4589-9338-8ef9ddcf7ebd"],["map",[]],["map",[]],["map",[["rstp_designated_bridge_id",'
    '"8.000.bac90bd25e4c"],["rstp_designated_path_cost","0"],["rstp_designated_port_id","8001"],'
    '["rstp_port_id","8001"],["rstp_port_role","Designated"],["rstp_port_state","Forwarding"]]]],[["uuid",'
    '"76c52df5-f8df-4431-a9ce-6419730937ae"],"br-rstp",["uuid","61548fb7-374f-4d8c-8cef-92ed8fc0163b"],'
    '["map",[]],["map",[]],["map",[]]],[["uuid","f4273116-7fa5-4252-8b03-a93c66f0bcd0"],"uplink0",["uuid",'
    '"dd085190-9fbf-4c35-a28a-a27baeb3cb33"],["map",[]],["map",[["stp_port_id","32770"],["stp_role",'
    '"designated"],["stp_sec_in_state","9"],["stp_state","forwarding"]]],["map",[]]],[["uuid",'
    '"8e2a6f77-8daf-4743-84d1-a58283213c94"],"br-fast",["uuid","ae1e2051-a893-4f36-ab80-c24287d979a6"],'
    '["map",[]],["map",[]],["map",[]]],[["uuid","913ed6ba-c308-4173-af36-339721504bd1"],"vnet3",["uuid",'
    '"3ed5c85d-e620-43da-9866-2017b9d4d7fa"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","17"],["stp_state","forwarding"]]],["map",[]]],[["uuid",'
    '"9d3d263b-d262-468e-8a48-e1cb0dc8fed3"],"br-stp",["uuid","a20fa173-5746-4510-92d0-8ecbb491badd"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","df868a3c-c5ac-4722-88fd-3154fc9aa702"],"vnet0",["uuid",'
    '"0b0bb93e-4c34-444a-bf21-f7939d6cae4d"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","9"],["stp_state","forwarding"]]],["map",[]]],[["uuid",'
    '"613d835e-35d2-49dc-8347-c6b8a6c1da6e"],"vnet2",["uuid","17af60fc-99e4-42c0-9362-b80edd8df94f"],["map",'
    '[]],["map",[]],["map",[]]],[["uuid","cbd6454e-b282-4d37-bbac-7888044fda22"],"br-plain",["uuid",'
    '"1cbef5a3-3147-4283-a0a2-757a8e5daaae"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"a6a5078f-ed84-4a83-8f0f-982efa3116f3"],"bond0",["set",[["uuid","0520c388-ff9d-4ca5-888f-cf6a3ce12e1a"],'
    '["uuid","a021d07c-b091-4673-827a-dc16f19f7ae6"]]],["map",[]],["map",[]],["map",[]]]],'
    '"headings":["_uuid","name","interfaces","other_config","status","rstp_status"]}\n'
)

# `ovs-vsctl --format=json --columns=_uuid,name,type,external_ids,link_state list Interface`
# (identical at 3 s and at 40 s)
INTERFACES = (
    '{"data":[[["uuid","dd085190-9fbf-4c35-a28a-a27baeb3cb33"],"uplink0","",["map",[]],"up"],[["uuid",'
    '"ae1e2051-a893-4f36-ab80-c24287d979a6"],"br-fast","internal",["map",[]],"down"],[["uuid",'
    '"4f60d3f2-a1a9-4120-ad0f-13e73312c112"],"vnet5","",["map",[["attached-mac","52:54:00:6b:05:01"],'
    '["iface-id","0eefbcdc-d67e-49c9-af83-ceb5bf6cd26f"],["iface-status","active"],["vm-id",'
    '"4b87dc4b-fda0-4734-8397-a4610f1a2421"]]],"up"],[["uuid","1cbef5a3-3147-4283-a0a2-757a8e5daaae"],'
    '"br-plain","internal",["map",[]],"down"],[["uuid","a20fa173-5746-4510-92d0-8ecbb491badd"],"br-stp",'
    '"internal",["map",[]],"down"],[["uuid","a9366b06-813f-4589-9338-8ef9ddcf7ebd"],"vnet4","",["map",'
    '[["attached-mac","52:54:00:6b:04:01"],["iface-id","3227723d-ec8e-459c-abfa-303bf594d1c1"],'
    '["iface-status","active"],["vm-id","acd0dddb-d661-48fc-9dbd-23c170b31194"]]],"up"],[["uuid",'
    '"2f6a5437-834b-4c92-b819-3cf71a8b1755"],"vnet1","",["map",[["attached-mac","52:54:00:6b:01:01"],'
    '["iface-id","7495c889-0f99-4cfc-af0d-479ff6428576"],["iface-status","active"],["vm-id",'
    '"f4fbf5b3-b59a-4ae1-83a4-aa35b583eea8"]]],"up"],[["uuid","61548fb7-374f-4d8c-8cef-92ed8fc0163b"],'
    '"br-rstp","internal",["map",[]],"down"],[["uuid","0520c388-ff9d-4ca5-888f-cf6a3ce12e1a"],"bond0b","",'
    '["map",[]],"up"],[["uuid","e3044b58-aeb5-4ff2-b63f-bca4f2a975d3"],"br-both","internal",["map",[]],'
    '"down"],[["uuid","fa6af30b-3e85-4187-90d8-4debb6de1dfb"],"br-fd4","internal",["map",[]],"down"],'
    '[["uuid","17af60fc-99e4-42c0-9362-b80edd8df94f"],"vnet2","",["map",[["attached-mac",'
    '"52:54:00:6b:02:01"],["iface-id","3d77993f-792a-40d2-9c0c-12d5f1c1b5a2"],["iface-status","active"],'
    '["vm-id","99870418-7551-47f8-be8b-bf214f475f98"]]],"up"],[["uuid",'
    '"a021d07c-b091-4673-827a-dc16f19f7ae6"],"bond0a","",["map",[]],"up"],[["uuid",'
    '"9b52449c-db95-4317-b7d6-d6922e7af563"],"br-lone","internal",["map",[]],"down"],[["uuid",'
    '"3ed5c85d-e620-43da-9866-2017b9d4d7fa"],"vnet3","",["map",[["attached-mac","52:54:00:6b:03:01"],'
    '["iface-id","4fe02939-e422-469f-9d07-975a86d9edda"],["iface-status","active"],["vm-id",'
    '"e54cc6ef-b192-4801-8ff8-d9f62f020906"]]],"up"],[["uuid","0af93a9e-43ba-43ff-a9ec-9b7773079575"],"tap7",'
    '"",["map",[]],"up"],[["uuid","0b0bb93e-4c34-444a-bf21-f7939d6cae4d"],"vnet0","",["map",[["attached-mac",'
    '"52:54:00:6b:00:01"],["iface-id","05f00824-3e6d-434b-815b-7b17e0efc04b"],["iface-status","active"],'
    '["vm-id","ffe0a490-03d1-4b6c-8ddd-6e1ef3274db9"]]],"up"]],"headings":["_uuid","name","type",'
    '"external_ids","link_state"]}\n'
)

# the same three commands on a fresh database (`ovsdb-tool create`, `ovs-vsctl --no-wait init`, both daemons up)
EMPTY_BRIDGES = '{"data":[],"headings":["name","stp_enable","rstp_enable","other_config","ports"]}\n'
EMPTY_PORTS = '{"data":[],"headings":["_uuid","name","interfaces","other_config","status","rstp_status"]}\n'
EMPTY_INTERFACES = '{"data":[],"headings":["_uuid","name","type","external_ids","link_state"]}\n'

# plain `ovs-vsctl ... list Bridge` before ovsdb-server started (no /run/openvswitch/db.sock): nothing on
# stdout, this on stderr, exit status 1 (the same for the Port and Interface listings)
NO_SOCKET = "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n"
# ... after `kill -9` of ovsdb-server, which leaves its socket behind: exit status 1
STALE_SOCKET = "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (Connection refused)\n"
# ... as user nobody (`setpriv --reuid=65534`) while the server runs: db.sock is srwxr-x--- root:root; exit 1
PERMISSION_DENIED = "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (Permission denied)\n"


# A lab host (lab.Lab: own namespaces, libvirt 9.0, QEMU 7.2) made by samples/ovs/lab_capture.py: Open vSwitch
# started by lib.sh's ovs_start, `ovs_bridge ovsbr0 true`, `ovs_guest_tap ovsbr0 vnet9 52:54:00:00:08:02`,
# then a guest ovsg (LAB_GUEST_UUID, from `virsh domuuid`) with <interface type='bridge'> on ovsbr0 and
# <virtualport type='openvswitch'/>, which libvirt itself added as vnet0 when it started the guest.
# The three listings, as root in that host, right after `virsh start`.
LAB_GUEST_UUID = "d39847aa-0ad7-46b3-b232-df0f368bf770"
LAB_BRIDGES = (
    '{"data":[["ovsbr0",true,false,["map",[]],["set",[["uuid","0e821752-8222-4ce4-9096-611935597981"],'
    '["uuid","3190de8e-dcc1-4b23-90c3-6fd0af3c5151"],["uuid","be837827-90b2-4592-9358-fa0915b18bfc"]]]]],'
    '"headings":["name","stp_enable","rstp_enable","other_config","ports"]}\n'
)
LAB_PORTS = (
    '{"data":[[["uuid","3190de8e-dcc1-4b23-90c3-6fd0af3c5151"],"ovsbr0",["uuid",'
    '"4cf042c2-5fdc-4177-85fd-2e9aec2223d4"],["map",[]],["map",[]],["map",[]]],[["uuid",'
    '"0e821752-8222-4ce4-9096-611935597981"],"vnet9",["uuid","a9175c71-3be2-4714-8ff2-4d862aeed641"],["map",'
    '[]],["map",[["stp_port_id","32770"],["stp_role","designated"],["stp_sec_in_state","5400"],["stp_state",'
    '"disabled"]]],["map",[]]],[["uuid","be837827-90b2-4592-9358-fa0915b18bfc"],"vnet0",["uuid",'
    '"000bec12-29fc-43c6-83f1-6f3cc42ef9c8"],["map",[]],["map",[["stp_port_id","32769"],["stp_role",'
    '"designated"],["stp_sec_in_state","0"],["stp_state","listening"]]],["map",[]]]],"headings":["_uuid",'
    '"name","interfaces","other_config","status","rstp_status"]}\n'
)
LAB_INTERFACES = (
    '{"data":[[["uuid","a9175c71-3be2-4714-8ff2-4d862aeed641"],"vnet9","",["map",[["attached-mac",'
    '"52:54:00:00:08:02"],["iface-id","e7c29168-7699-46d6-a75f-69543b40e3fe"],["iface-status","active"],'
    '["vm-id","16e2fe32-90a0-426e-8092-969e6dbf7768"]]],"down"],[["uuid",'
    '"4cf042c2-5fdc-4177-85fd-2e9aec2223d4"],"ovsbr0","internal",["map",[]],"down"],[["uuid",'
    '"000bec12-29fc-43c6-83f1-6f3cc42ef9c8"],"vnet0","",["map",[["attached-mac","52:54:00:00:08:01"],'
    '["iface-id","6ad4d049-806e-4f5e-a7ab-93bbe8f30865"],["iface-status","active"],["vm-id",'
    '"d39847aa-0ad7-46b3-b232-df0f368bf770"]]],"up"]],"headings":["_uuid","name","type","external_ids",'
    '"link_state"]}\n'
)


def _settled() -> Ovs:
    return build_ovs(True, BRIDGES, PORTS_SETTLED, INTERFACES, 0, 0, 0)


def _early() -> Ovs:
    return build_ovs(True, BRIDGES, PORTS_EARLY, INTERFACES, 0, 0, 0)


def _port(ovs: Ovs, bridge: str, port: str) -> OvsPort:
    return next(p for p in ovs.bridge(bridge).ports if p.name == port)


def _bridge_listing(*rows) -> str:
    """A Bridge listing in ovs-vsctl's shape, for settings the samples do not have."""
    return (
        json.dumps(
            {
                "data": [list(r) for r in rows],
                "headings": ["name", "stp_enable", "rstp_enable", "other_config", "ports"],
            },
            separators=(",", ":"),
        )
        + "\n"
    )


def _stp_bridge(**other_config) -> OvsBridge:
    row = ("br", True, False, ["map", sorted(other_config.items())], ["set", []])
    return build_ovs(True, _bridge_listing(row), EMPTY_PORTS, EMPTY_INTERFACES, 0, 0, 0).bridge("br")


# ---------------------------------------------------------------- the real listings


def test_samples_are_what_ovs_vsctl_printed():
    for text in (BRIDGES, PORTS_EARLY, PORTS_SETTLED, INTERFACES, LAB_BRIDGES, LAB_PORTS, LAB_INTERFACES):
        assert text.endswith("}\n") and "\n" not in text[:-1]
        json.loads(text)


def test_every_bridge_is_read():
    ovs = _settled()
    assert (ovs.installed, ovs.running, ovs.error) == (True, True, None)
    assert [b.name for b in ovs.bridges] == ["br-both", "br-fast", "br-fd4", "br-lone", "br-plain", "br-rstp", "br-stp"]
    assert all(b.error is None for b in ovs.bridges)


# name, stp, rstp, requested forward delay, max age, what ovs-vswitchd applies (stp/show), new port block
@pytest.mark.parametrize(
    "name,stp,rstp,fd,max_age,effective,block",
    [
        ("br-stp", True, False, 15, 20, 15, 30),  # stp/show: stp-fwd-delay 15s; forwarding after 30.2 s
        ("br-fd4", True, False, 4, 20, 11, 22),  # stp/show: stp-fwd-delay 11s; forwarding after 22.2 s
        ("br-fast", True, False, 4, 6, 4, 8),  # stp/show: stp-hello-time 1s, stp-max-age 6s, stp-fwd-delay 4s; 8.5 s
        ("br-rstp", False, True, 15, 20, 15, 3),  # auto-edge: forwarding after 3.2 s
        ("br-both", True, True, 15, 20, 15, 3),  # RSTP runs (rstp/show lists vnet4, stp/show does not)
        ("br-plain", False, False, 15, 20, 15, 0),
        ("br-lone", False, False, 15, 20, 15, 0),
    ],
)
def test_bridge_spanning_tree_settings(name, stp, rstp, fd, max_age, effective, block):
    b = _settled().bridge(name)
    assert (b.stp, b.rstp) == (stp, rstp)
    assert (b.stp_forward_delay_s, b.stp_max_age_s) == (fd, max_age)
    assert b.stp_effective_forward_delay_s == effective
    assert b.new_port_block_s == block


def test_both_protocols_on_means_rstp():
    b = _settled().bridge("br-both")
    assert b.spanning_tree == "rstp"
    vnet4 = _port(_settled(), "br-both", "vnet4")
    assert (vnet4.stp_state, vnet4.rstp_state) == (None, "forwarding")


def test_hello_time_is_read_as_milliseconds():
    # vswitch.xml says seconds; bridge.c passes the number on as ms, so 10 becomes 1 s (stp/show: 1s)
    assert _settled().bridge("br-fast").stp_hello_time_ms == 10


def test_guest_tap_carries_what_libvirt_set():
    vnet0 = _port(_settled(), "br-stp", "vnet0")
    assert (vnet0.is_guest, vnet0.is_internal) == (True, False)
    (iface,) = vnet0.interfaces
    assert iface == OvsInterface(
        name="vnet0", type="", vm_id=iface.vm_id, attached_mac="52:54:00:6b:00:01", link_state="up"
    )
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", iface.vm_id)


@pytest.mark.parametrize(
    "bridge,port,guest,internal,n_ifaces",
    [
        ("br-stp", "vnet0", True, False, 1),
        ("br-stp", "uplink0", False, False, 1),  # a veth: the host's uplink
        ("br-stp", "br-stp", False, True, 1),  # the bridge's own internal port
        ("br-plain", "tap7", True, False, 1),  # no external_ids, but a guest tap's name
        ("br-plain", "bond0", False, False, 2),  # Port.interfaces is a set of two
        ("br-lone", "br-lone", False, True, 1),  # Bridge.ports is one bare uuid
    ],
)
def test_port_kind(bridge, port, guest, internal, n_ifaces):
    p = _port(_settled(), bridge, port)
    assert (p.is_guest, p.is_internal, len(p.interfaces)) == (guest, internal, n_ifaces)


@pytest.mark.parametrize(
    "bridge,port,early,settled",
    [
        ("br-stp", "vnet0", "listening", "forwarding"),
        ("br-stp", "uplink0", "listening", "forwarding"),
        ("br-fd4", "vnet3", "listening", "forwarding"),
        ("br-fast", "vnet5", "listening", "forwarding"),
    ],
)
def test_stp_port_state(bridge, port, early, settled):
    assert _port(_early(), bridge, port).stp_state == early
    assert _port(_settled(), bridge, port).stp_state == settled
    assert _port(_settled(), bridge, port).rstp_state is None


@pytest.mark.parametrize("bridge,port", [("br-rstp", "vnet1"), ("br-both", "vnet4")])
def test_rstp_port_state_lower_case(bridge, port):
    assert _port(_early(), bridge, port).rstp_state == "discarding"  # "Discarding" in the database
    assert _port(_settled(), bridge, port).rstp_state == "forwarding"


def test_internal_ports_take_no_part_in_stp():
    p = _port(_settled(), "br-stp", "br-stp")
    assert (p.stp_state, p.rstp_state) == (None, None)


def test_guest_ports():
    assert [p.name for p in _settled().bridge("br-plain").guest_ports] == ["tap7", "vnet2"]


# ---------------------------------------------------------------- a port libvirt added itself


def test_port_libvirt_added_is_a_guest_of_that_domain():
    ovs = build_ovs(True, LAB_BRIDGES, LAB_PORTS, LAB_INTERFACES, 0, 0, 0)
    assert ovs.error is None
    vnet0 = _port(ovs, "ovsbr0", "vnet0")
    (iface,) = vnet0.interfaces
    assert (vnet0.is_guest, iface.vm_id, iface.attached_mac) == (True, LAB_GUEST_UUID, "52:54:00:00:08:01")
    assert (vnet0.stp_state, iface.link_state) == ("listening", "up")  # QEMU holds the tap: carrier
    assert _port(ovs, "ovsbr0", "vnet9").stp_state == "disabled"  # nothing holds ovs_guest_tap's tap


def test_ovs_guest_tap_sets_what_libvirt_sets():
    rows = {r[1]: r for r in json.loads(LAB_INTERFACES)["data"]}
    ports = {r[1]: r for r in json.loads(LAB_PORTS)["data"]}
    assert (
        [k for k, _ in rows["vnet9"][3][1]]
        == [k for k, _ in rows["vnet0"][3][1]]
        == ["attached-mac", "iface-id", "iface-status", "vm-id"]
    )
    assert rows["vnet9"][2] == rows["vnet0"][2] == ""
    assert ports["vnet9"][3] == ports["vnet0"][3] == ["map", []]  # libvirt 9.0 sets no Port other_config


# ---------------------------------------------------------------- no daemon, no database, no access


def test_empty_database_has_no_bridges():
    assert build_ovs(True, EMPTY_BRIDGES, EMPTY_PORTS, EMPTY_INTERFACES, 0, 0, 0) == Ovs(True, True, (), None)


def test_not_installed():
    assert build_ovs(False, None, None, None) == Ovs(installed=False, running=False)


@pytest.mark.parametrize("text,running", [(NO_SOCKET, False), (STALE_SOCKET, False), (PERMISSION_DENIED, None)])
def test_database_unreachable_is_an_error_not_no_bridges(text, running):
    ovs = build_ovs(True, text, text, text, 1, 1, 1)
    assert (ovs.running, ovs.bridges) == (running, ())
    assert ovs.error == "ovs-vsctl list Bridge failed (exit status 1): " + text.strip()


# ---------------------------------------------------------------- empty, garbled, cut off


@pytest.mark.parametrize(
    "text,rc,why",
    [
        ("", 0, "printed nothing"),
        ("\n", 0, "printed nothing"),
        (None, None, "was not run"),
        (BRIDGES[:700], None, "printed no readable JSON"),  # the section was cut off (no rc line)
        (BRIDGES[:-40], 0, "printed no readable JSON"),
        ("Segmentation fault\n", 139, "failed (exit status 139): Segmentation fault"),
        ("", 124, "failed (exit status 124): (no output)"),  # the collector's `timeout 20`
        ('{"data":[]}\n', 0, "JSON without headings and data"),
        ("[1, 2]\n", 0, "printed no readable JSON"),
        ("[" * 100000 + "\n", 0, "printed no readable JSON"),
        ('{"data":[],"headings":["name","ports"]}\n', 0, "no column stp_enable, rstp_enable, other_config"),
        # an Open vSwitch older than 2.4 has no rstp_enable column
        (
            'ovs-vsctl: Bridge does not contain a column whose name matches "rstp_enable"\n',
            1,
            'failed (exit status 1): ovs-vsctl: Bridge does not contain a column whose name matches "rstp_enable"',
        ),
    ],
)
def test_unreadable_bridge_listing(text, rc, why):
    ovs = build_ovs(True, text, PORTS_SETTLED, INTERFACES, rc, 0, 0)
    assert ovs.bridges == ()
    assert ovs.error.startswith("ovs-vsctl list Bridge") and why in ovs.error, ovs.error


def test_complete_listing_without_rc_line_is_read():
    assert build_ovs(True, BRIDGES, PORTS_SETTLED, INTERFACES, None, None, None) == _settled()


def test_warning_before_the_json_is_skipped():
    # the collector merges stderr into the section
    text = "2026-11-27T14:37:21Z|00001|reconnect|WARN|unix:/var/run/openvswitch/db.sock: slow\n" + BRIDGES
    assert build_ovs(True, text, PORTS_SETTLED, INTERFACES, 0, 0, 0) == _settled()


def test_garbled_bridge_row_is_left_out_and_said():
    text = BRIDGES.replace('["br-lone",false,', '["br-lone","no",')
    ovs = build_ovs(True, text, PORTS_SETTLED, INTERFACES, 0, 0, 0)
    assert ovs.bridge("br-lone") is None and ovs.bridge("br-stp") is not None
    assert ovs.error == "ovs-vsctl list Bridge: 1 row(s) could not be read"


def test_row_of_the_wrong_shape_is_said():
    text = BRIDGES.replace('["br-lone",false,false,["map",[]],', '["br-lone",false,["map",[]],')
    ovs = build_ovs(True, text, PORTS_SETTLED, INTERFACES, 0, 0, 0)
    assert ovs.bridge("br-lone") is None
    assert ovs.error == "ovs-vsctl list Bridge: 1 row(s) of the wrong shape"


def test_port_listing_failed_keeps_bridges_with_unknown_ports():
    ovs = build_ovs(True, BRIDGES, STALE_SOCKET, STALE_SOCKET, 0, 1, 1)
    assert ovs.running is True
    assert "ovs-vsctl list Port failed (exit status 1)" in ovs.error
    b = ovs.bridge("br-stp")
    assert b.ports == () and "its ports are unknown" in b.error
    assert b.new_port_block_s == 30  # the bridge's own settings were read


def test_interface_listing_cut_off():
    ovs = build_ovs(True, BRIDGES, PORTS_SETTLED, INTERFACES[:500], 0, 0, None)
    assert "ovs-vsctl list Interface printed no readable JSON" in ovs.error
    vnet0 = _port(ovs, "br-stp", "vnet0")
    assert vnet0.interfaces == () and vnet0.is_guest  # by its name
    assert (vnet0.stp_state, _port(ovs, "br-stp", "uplink0").is_guest) == ("forwarding", False)
    assert "its interfaces are unknown" in ovs.bridge("br-stp").error


def test_port_added_between_two_listings():
    # the collector runs the three commands one after the other: a port libvirt adds in between is in the
    # Bridge listing only
    uuid = "f4273116-7fa5-4252-8b03-a93c66f0bcd0"
    assert uuid in BRIDGES
    ports = json.loads(PORTS_SETTLED)
    ports["data"] = [r for r in ports["data"] if r[0] != ["uuid", uuid]]
    ovs = build_ovs(True, BRIDGES, json.dumps(ports), INTERFACES, 0, 0, 0)
    assert ovs.error is None
    b = ovs.bridge("br-stp")
    assert len(b.ports) == 2 and b.error == "1 port(s) missing from the Port listing or unreadable"


# ---------------------------------------------------------------- other_config as ovs-vswitchd reads it


# stp-forward-delay as written, stp-max-age, and the forward delay `ovs-appctl stp/show` then printed
# (Open vSwitch 3.1.0 here, bridge br-w set one value after the other): smap_get_ullong takes what
# strtoull(3) takes whole, else the default; the value goes through a uint16_t of milliseconds
# (66 s -> 464 ms) and is clamped to [max_age/2 + 1 s, 30 s]
@pytest.mark.parametrize(
    "value,max_age,applied",
    [
        ("4", None, 11),
        ("4", "6", 4),
        ("66", None, 11),
        ("66", "6", 4),
        ("100", None, 30),
        ("100", "6", 30),
        ("-4", None, 30),
        ("-4", "6", 30),
        ("abc", None, 15),
        ("abc", "6", 15),
        (" 5", None, 11),
        (" 5", "6", 5),
        ("+5", None, 11),
        ("+5", "6", 5),
        ("4.5", None, 15),
        ("4.5", "6", 15),
        ("0x10", None, 15),
        ("0x10", "6", 15),
        ("18446744073709551616", None, 15),
        ("18446744073709551616", "6", 15),
    ],
)
def test_forward_delay_as_ovs_vswitchd_applies_it(value, max_age, applied):
    config = {"stp-forward-delay": value, **({"stp-max-age": max_age} if max_age else {})}
    b = _stp_bridge(**config)
    assert b.stp_effective_forward_delay_s == applied
    assert b.new_port_block_s == 2 * applied
    assert (b.error is None) == (value not in ("abc", "4.5", "0x10", "18446744073709551616"))


def test_unreadable_setting_is_said():
    assert _stp_bridge(**{"stp-forward-delay": "abc"}).error == (
        "other_config:stp-forward-delay 'abc' is not a whole number: Open vSwitch uses its default, 15"
    )


# ---------------------------------------------------------------- fuzz (test_fuzz.py's settings)

_JSON_ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from(["uuid", "set", "map", "", "vnet0", "internal", "4", "forwarding"]),
    st.text(max_size=6),
)
_JSON = st.recursive(
    _JSON_ATOMS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["data", "headings", "x"]), inner, max_size=2)
    ),
    max_leaves=8,
)


@st.composite
def _json_edited(draw, samples):
    """A real listing with a few JSON values replaced: it still parses, with cells of the wrong shape."""
    doc = json.loads(draw(st.sampled_from(samples)))
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        parent, key, node = None, None, doc
        rows = doc.get("data") if isinstance(doc, dict) else None
        if rows and isinstance(rows, list) and draw(st.sampled_from([True] * 4 + [False])):  # mostly in a row
            parent, key = rows, draw(st.sampled_from(range(len(rows))))
            node = rows[key]
        while isinstance(node, (list, dict)) and node and draw(st.sampled_from([True] * 8 + [False])):
            parent, key = node, draw(st.sampled_from(range(len(node)) if isinstance(node, list) else list(node)))
            node = node[key]
        if parent is None:
            doc = draw(_JSON)
        elif isinstance(parent, list) and draw(st.booleans()):
            del parent[key]
        else:
            parent[key] = draw(_JSON)
    return json.dumps(doc, separators=(",", ":")) + "\n"


def _listing(*samples):
    # mostly listings that still parse, so the run gets past the JSON into the tables
    real = [s for s in samples if s.startswith("{")]
    return st.one_of(
        _json_edited(real),
        _json_edited(real),
        st.sampled_from(real),
        st.sampled_from(real),
        inputs(*samples),
        st.none(),
    )


_RC = st.sampled_from([0, 0, 0, 0, 0, 0, None, 1, 124])


def _reads_as_no_rows(text) -> bool:
    for candidate in [text] + [line for line in text.splitlines() if line.lstrip().startswith("{")]:
        try:
            doc = json.loads(candidate)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict) and doc.get("data") == []:
            return True
    return False


@FUZZ
@given(
    _listing(BRIDGES, EMPTY_BRIDGES, LAB_BRIDGES, NO_SOCKET),
    _listing(PORTS_EARLY, PORTS_SETTLED, EMPTY_PORTS, LAB_PORTS),
    _listing(INTERFACES, EMPTY_INTERFACES, LAB_INTERFACES, PERMISSION_DENIED),
    _RC,
    _RC,
    _RC,
)
def test_build_ovs_fuzz(bridges, ports, ifaces, brc, prc, irc):
    ovs = build_ovs(True, bridges, ports, ifaces, brc, prc, irc)
    assert isinstance(ovs, Ovs) and ovs.installed and ovs.running in (True, False, None)
    assert ovs.error is None or isinstance(ovs.error, str)
    if not ovs.bridges and ovs.error is None:
        assert brc in (0, None) and _reads_as_no_rows(bridges), "no bridges must mean none, not unreadable"
    if ovs.running is not True:
        assert ovs.error and not ovs.bridges
    for b in ovs.bridges:
        assert isinstance(b, OvsBridge) and isinstance(b.name, str)
        assert isinstance(b.stp, bool) and isinstance(b.rstp, bool)
        assert 4 <= b.stp_effective_forward_delay_s <= 30
        assert b.new_port_block_s in (0.0, 3.0) or 8 <= b.new_port_block_s <= 60
        for p in b.ports:
            assert isinstance(p, OvsPort) and isinstance(p.name, str)
            assert isinstance(p.is_guest, bool) and isinstance(p.is_internal, bool)
            assert all(isinstance(i, OvsInterface) and isinstance(i.is_guest, bool) for i in p.interfaces)
            for state in (p.stp_state, p.rstp_state):
                assert state is None or (isinstance(state, str) and state == state.lower())


@FUZZ
@given(st.integers(-(2**64), 2**64), st.integers(-(2**64), 2**64), st.integers(0, 2**64))
def test_effective_forward_delay_respects_ovs_limits(fd, max_age, hello_ms):
    b = OvsBridge(
        "br",
        stp=True,
        rstp=False,
        stp_forward_delay_s=float(fd),
        stp_max_age_s=float(max_age),
        stp_hello_time_ms=hello_ms,
    )
    eff = b.stp_effective_forward_delay_s
    assert 4 <= eff <= 30 and b.new_port_block_s == 2 * eff


@FUZZ
@given(st.text(max_size=300) | st.lists(PIECES, max_size=30).map("".join), _RC)
def test_noise_is_never_bridges(text, rc):
    ovs = build_ovs(True, text, text, text, rc, rc, rc)
    assert ovs.bridges == () and (ovs.error or _reads_as_no_rows(text))
