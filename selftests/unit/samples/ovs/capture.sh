#!/bin/bash
# How selftests/unit/test_ovs.py's samples were made: real ovsdb-server and ovs-vswitchd (Open vSwitch 3.1,
# Debian 12) in a throwaway namespace, the three listings the collector runs, at moments worth keeping.
#
#   sudo unshare --net --mount --pid --fork --mount-proc --propagation private \
#       selftests/unit/samples/ovs/capture.sh OUTDIR
#
# PID 1 of fresh net+mount+pid namespaces: every OVS path is a private tmpfs, and when this script ends
# the kernel ends the daemons, the namespace and its mounts. Bridges use the userspace datapath
# (datapath_type=netdev) as this kernel has no openvswitch module.
set -u
O=${1:?usage: capture.sh OUTDIR}; HERE=$(cd "$(dirname "$0")" && pwd); mkdir -p "$O"
mount -t sysfs sysfs /sys  # this namespace's interfaces only
mount -t tmpfs tmpfs /run
for d in /etc/openvswitch /var/lib/openvswitch /var/log/openvswitch; do mount -t tmpfs tmpfs $d; done
mkdir -p /run/openvswitch; ip link set lo up
ts() { date +%s.%N; }
cap() {  # cap NAME: the three read-only commands, stdout / stderr / rc each
    ovs-vsctl --format=json --columns=name,stp_enable,rstp_enable,other_config,ports list Bridge >"$O/$1.bridge" 2>"$O/$1.bridge.err"; echo $? >"$O/$1.bridge.rc"
    ovs-vsctl --format=json --columns=_uuid,name,interfaces,other_config,status,rstp_status list Port >"$O/$1.port" 2>"$O/$1.port.err"; echo $? >"$O/$1.port.rc"
    ovs-vsctl --format=json --columns=_uuid,name,type,external_ids,link_state list Interface >"$O/$1.iface" 2>"$O/$1.iface.err"; echo $? >"$O/$1.iface.rc"
    echo "$1 $(ts)" >>"$O/times"
}
ovs-vsctl --version >"$O/version"
cap nosock
ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /etc/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock \
   --remote=db:Open_vSwitch,Open_vSwitch,manager_options --pidfile --detach --log-file -vconsole:off
ovs-vsctl --no-wait init
ovs-vswitchd --pidfile --detach --log-file -vconsole:off
sleep 1
cap empty
ls -l /run/openvswitch >"$O/run-ls"
setpriv --reuid=65534 --regid=65534 --clear-groups ovs-vsctl --format=json --columns=name,stp_enable,rstp_enable,other_config,ports list Bridge >"$O/nonroot.bridge" 2>"$O/nonroot.bridge.err"; echo $? >"$O/nonroot.bridge.rc"

mk() { ovs-vsctl add-br "$1" -- set Bridge "$1" datapath_type=netdev "${@:2}"; }  # netdev: no openvswitch kernel module here
mk br-stp stp_enable=true
mk br-rstp rstp_enable=true
mk br-plain
mk br-fd4 stp_enable=true other_config:stp-forward-delay=4
mk br-both stp_enable=true rstp_enable=true
mk br-fast stp_enable=true other_config:stp-hello-time=10 other_config:stp-max-age=6 other_config:stp-forward-delay=4
mk br-lone
for v in bond0a bond0b; do ip link add $v type veth peer name ${v}p; ip link set $v up; ip link set ${v}p up; done
ovs-vsctl add-bond br-plain bond0 bond0a bond0b
ip tuntap add dev tap7 mode tap; ip link set tap7 up; ovs-vsctl add-port br-plain tap7
ip link add uplink0 type veth peer name uplink0p; ip link set uplink0 up; ip link set uplink0p up
ovs-vsctl add-port br-stp uplink0
i=0
for br in br-stp br-rstp br-plain br-fd4 br-both br-fast; do
    t=vnet$i; mac=52:54:00:6b:0$i:01
    ip tuntap add dev $t mode tap; ip link set $t up
    # as libvirt 9.0 does it (src/util/virnetdevopenvswitch.c virNetDevOpenvswitchAddPort)
    ovs-vsctl --timeout=5 -- --may-exist add-port $br $t \
        -- set Interface $t "external-ids:attached-mac=\"$mac\"" \
        -- set Interface $t "external-ids:iface-id=\"$(cat /proc/sys/kernel/random/uuid)\"" \
        -- set Interface $t "external-ids:vm-id=\"$(cat /proc/sys/kernel/random/uuid)\"" \
        -- set Interface $t external-ids:iface-status=active
    echo "added $t $(ts)" >>"$O/times"
    i=$((i+1))
done
python3 "$HERE/tap_holder.py" vnet0 vnet1 vnet2 vnet3 vnet4 vnet5 tap7 >"$O/holder.out" 2>&1 &
echo "carrier $(ts)" >>"$O/times"
# live state every 0.5 s for 40 s (the DB status columns lag)
( for n in $(seq 1 80); do
    echo "=== $(ts)"; for br in br-stp br-fd4 br-fast; do ovs-appctl stp/show $br 2>&1 | grep -E '^  (vnet|uplink|tap)'; done
    for br in br-rstp br-both; do ovs-appctl rstp/show $br 2>&1 | grep -E '^  (vnet|uplink)'; done
    sleep 0.5; done ) >"$O/timeline" 2>&1 &
TL=$!
sleep 3
cap early
sleep 37
cap settled
wait $TL
ovs-appctl stp/show >"$O/stp-show" 2>&1; ovs-appctl rstp/show >"$O/rstp-show" 2>&1
ovs-vsctl --format=json --columns=name,status list Bridge >"$O/bridge-status" 2>&1
# a stale socket: the server killed without cleaning up
kill -9 $(cat /run/openvswitch/ovsdb-server.pid)
sleep 0.5
ls -l /run/openvswitch >"$O/run-ls-stale"
cap stale
ovs-appctl -t ovs-vswitchd exit 2>/dev/null
kill %1 2>/dev/null
