# Shell helpers for scenarios. A scenario runs as root inside its own lab host,
# after this file; it sets the host into one known state with real tools.
set -eu
V="virsh -q -c qemu:///system"
# lab hosts share the machine's /tmp: keep this script's files apart from other hosts'
KT=$(mktemp -d /tmp/knc-scenario.XXXXXX)
trap 'rm -rf "$KT"' EXIT

# net_define NAME BRIDGE_ATTRS [FORWARD_XML] [IP_EXTRA_XML] [DHCP_EXTRA_XML]: define and start a DHCP network
net_define() {
    cat > "$KT/net-$1.xml" <<XML
<network>
  <name>$1</name>
  ${3:-}
  <bridge $2/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    ${4:-}
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/>${5:-}</dhcp>
  </ip>
</network>
XML
    $V net-define "$KT/net-$1.xml" >/dev/null
    $V net-start "$1" >/dev/null
}

# net_autostart_only NAME BRIDGE_ATTRS [FORWARD_XML]: define a DHCP network and mark it autostart, without starting it
net_autostart_only() {
    cat > "$KT/net-$1.xml" <<XML
<network>
  <name>$1</name>
  ${3:-}
  <bridge $2/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/></dhcp>
  </ip>
</network>
XML
    $V net-define "$KT/net-$1.xml" >/dev/null
    $V net-autostart "$1" >/dev/null
}

# restart_libvirtd: stop the host's libvirtd and start it as the host's boot would, so that it reads its
# configuration again and autostarts its networks (libvirt does that once per boot: the marker file
# /run/libvirt/network/autostarted, virDriverShouldAutostart, is removed as a reboot would)
restart_libvirtd() {
    pid=$(cat /run/libvirtd.pid)
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f /run/libvirtd.pid /run/libvirt/network/autostarted
    LIBVIRT_LOG_OUTPUTS="3:file:/var/log/libvirt/libvirtd.log" libvirtd -d -p /run/libvirtd.pid </dev/null >/dev/null 2>&1
    i=0
    until $V version >/dev/null 2>&1; do
        i=$((i+1)); [ $i -lt 300 ] || { echo "libvirtd did not answer" >&2; return 1; }
        sleep 0.2
    done
}

# guest_define NAME INTERFACE_XML [OS_BOOT_XML] [DOMAIN_TYPE]: define (not start) a diskless guest
# (type qemu by default; kvm for a guest that would use vhost-net)
guest_define() {
    cat > "$KT/dom-$1.xml" <<XML
<domain type='${4:-qemu}'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type>${3:-<boot dev='network'/>}</os>
  <devices>
    $2
  </devices>
</domain>
XML
    $V define "$KT/dom-$1.xml" >/dev/null
}

# bridge NAME STP FORWARD_DELAY_TICKS [PRIORITY]: a host bridge made outside libvirt
bridge() {
    ip link add "$1" type bridge
    ip link set dev "$1" type bridge forward_delay "$3"
    ip link set dev "$1" type bridge stp_state "$2"
    [ -n "${4:-}" ] && ip link set dev "$1" type bridge priority "$4"
    ip link set dev "$1" up
}

# start_firewalld: a system D-Bus and firewalld of the host's own (before libvirtd starts)
start_firewalld() {
    mkdir -p /run/dbus /var/log
    dbus-daemon --system --fork --nopidfile </dev/null >/dev/null 2>&1
    firewalld --nofork --nopid </dev/null >/var/log/firewalld.out 2>&1 &
    i=0
    until firewall-cmd --state >/dev/null 2>&1; do
        i=$((i+1)); [ $i -lt 120 ] || { echo "firewalld did not start" >&2; cat /var/log/firewalld.out >&2; return 1; }
        sleep 0.5
    done
}

# as_nftables_backend BRIDGE: make the host look as libvirt >= 10.4 with firewall_backend=nftables
# leaves it (STAND-IN: libvirt 9.0 here has only the iptables backend): the setting in network.conf,
# libvirt's nft table for the bridge, and no iptables CHECKSUM rule
as_nftables_backend() {
    echo 'firewall_backend = "nftables"' > /etc/libvirt/network.conf
    iptables -t mangle -D LIBVIRT_PRT -o "$1" -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill
    nft add table ip libvirt_network
    nft add chain ip libvirt_network guest_input '{ type filter hook forward priority 0; policy accept; }'
    nft add rule ip libvirt_network guest_input oifname "$1" ct state established,related counter accept
}

# tc_csum_standin BRIDGE: STAND-IN for the tc csum filter newer libvirt adds on the bridge; this
# kernel has no tc classifiers or csum action, so the host's own `tc` (bind-mounted in its mount
# namespace only) shows the filter such a host has
tc_csum_standin() {
    mkdir -p /etc/knc
    cp /usr/sbin/tc /etc/knc/tc.real
    cat > /etc/knc/tc <<SH
#!/bin/sh
if [ "\$*" = "filter show dev $1 egress" ]; then
    cat <<'OUT'
filter protocol ip pref 49152 u32 chain 0
filter protocol ip pref 49152 u32 chain 0 fh 800: ht divisor 1
filter protocol ip pref 49152 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 flowid ??? not_in_hw
  match 00110000/00ff0000 at 8
  match 00000044/0000ffff at 20
	action order 1: csum (iph, udp) action pass
	 index 1 ref 1 bind 1
OUT
    exit 0
fi
exec /etc/knc/tc.real "\$@"
SH
    chmod 755 /etc/knc/tc
    mount --bind /etc/knc/tc /usr/sbin/tc
}

# enable_unit NAME: what `systemctl enable NAME` leaves, in this host's /etc (a lab host starts with
# no network service enabled, whatever the machine enables)
enable_unit() {
    mkdir -p /etc/systemd/system/multi-user.target.wants
    ln -sf "/lib/systemd/system/$1.service" "/etc/systemd/system/multi-user.target.wants/$1.service"
}

# initscripts_standin [ip|brctl]: RHEL's network-scripts as far as the suite reads them (STAND-IN:
# no Debian package has them): ifup-eth's bridge line (ip: DELAY to `ip link`, centiseconds; brctl:
# brctl setfd, seconds) and the network service's SysV start link
initscripts_standin() {
    mkdir -p /etc/sysconfig/network-scripts /etc/rc.d/init.d /etc/rc.d/rc3.d
    if [ "${1:-ip}" = brctl ]; then
        line='[ -n "${DELAY}" ] && /usr/sbin/brctl setfd -- ${DEVICE} ${DELAY}'
    else
        line='[ -n "${DELAY}" ] && bridge_opts+="forward_delay ${DELAY} "'
    fi
    printf '%s\n' "# stand-in: the bridge line of initscripts' ifup-eth" "$line" > /etc/sysconfig/network-scripts/ifup-eth
    printf '#!/bin/sh\n# stand-in: initscripts network service\n' > /etc/rc.d/init.d/network
    chmod 755 /etc/rc.d/init.d/network
    ln -sf ../init.d/network /etc/rc.d/rc3.d/S10network
}

# nm_ifcfg_rh_standin: NetworkManager, enabled, with its ifcfg-rh plugin (STAND-IN: Debian's
# NetworkManager has no ifcfg-rh plugin; an empty plugin file in a tmpfs over its plugin directory,
# in this host's mount namespace only)
nm_ifcfg_rh_standin() {
    d=$(ls -d /usr/lib/*/NetworkManager/[0-9]*/ | head -n 1)
    mount -t tmpfs -o size=1m knc-nm-plugins "$d"
    : > "$d/libnm-settings-plugin-ifcfg-rh.so"
    # as RHEL ships it: no plugins= line, so the build's default list (ifcfg-rh, keyfile) applies
    printf '[main]\n#plugins=keyfile,ifcfg-rh\n' > /etc/NetworkManager/NetworkManager.conf
    enable_unit NetworkManager
}

# systemd_host: mark this host as booted by systemd (STAND-IN: lab hosts run no systemd; systemd's own
# test for it, sd_booted(), is this directory), so an installed service without an enable link is
# known not to start at boot
systemd_host() {
    mkdir -p /run/systemd/system
}

# dhcp_client NAME BRIDGE MAC [SECONDS]: a real DHCP client (busybox udhcpc) in a network namespace of
# its own, on a veth port of BRIDGE, as a guest's NIC would be; prints the address it was leased and
# fails when none came
dhcp_client() {
    ip netns add "$1"
    ip link add "$1h" type veth peer name "$1g"
    ip link set "$1g" netns "$1"
    ip link set "$1h" master "$2" up
    ip netns exec "$1" ip link set "$1g" address "$3" up
    ip netns exec "$1" timeout "${4:-30}" busybox udhcpc -i "$1g" -n -q -f -s /bin/true -t 5 -T 2 2>&1 \
        | sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p' | grep .
}

# udhcpd_on IFACE FIRST LAST: a second DHCP server (busybox udhcpd) bound to IFACE
udhcpd_on() {
    printf 'interface %s\nstart %s\nend %s\nlease_file %s\npidfile %s\n' "$1" "$2" "$3" "/run/udhcpd-$1.leases" \
        "/run/udhcpd-$1.pid" > "/run/udhcpd-$1.conf"
    : > "/run/udhcpd-$1.leases"
    busybox udhcpd "/run/udhcpd-$1.conf"
}

# dhcpd_on IFACE SUBNET/24-PREFIX: ISC dhcpd serving only IFACE (its LPF packet socket), e.g. 10.55.0
dhcpd_on() {
    printf 'subnet %s.0 netmask 255.255.255.0 { range %s.100 %s.110; }\n' "$2" "$2" "$2" > "/run/dhcpd-$1.conf"
    : > "/run/dhcpd-$1.leases"
    dhcpd -4 -q -cf "/run/dhcpd-$1.conf" -pf "/run/dhcpd-$1.pid" -lf "/run/dhcpd-$1.leases" "$1"
}

# kill_dnsmasq NETWORK: stop a libvirt network's dnsmasq behind libvirt's back (as a crash or the OOM
# killer would), and wait until it is gone
kill_dnsmasq() {
    pid=$(cat "/run/libvirt/network/$1.pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}

# ovs_start: ovsdb-server and ovs-vswitchd of this host's own at Open vSwitch's default paths, so a plain
# ovs-vsctl finds them (unix:/var/run/openvswitch/db.sock; /run is the host's). /var/lib/openvswitch and
# /var/log/openvswitch are the machine's: a tmpfs covers each, in this host's mount namespace only, and the
# database is made fresh in the former (Debian's /etc/openvswitch/conf.db links there; /etc is not touched)
ovs_start() {
    for d in /var/lib/openvswitch /var/log/openvswitch; do
        mkdir -p "$d"
        findmnt -rn -S knc-ovs -M "$d" >/dev/null || mount -t tmpfs -o mode=0755,size=16m knc-ovs "$d"
    done
    mkdir -p /run/openvswitch
    if ! _ovs_up ovsdb-server; then
        [ -e /var/lib/openvswitch/conf.db ] ||
            ovsdb-tool create /var/lib/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema
        ovsdb-server /var/lib/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock \
            --remote=db:Open_vSwitch,Open_vSwitch,manager_options --pidfile --detach --log-file -vconsole:off
        ovs-vsctl --no-wait init
    fi
    _ovs_up ovs-vswitchd || ovs-vswitchd --pidfile --detach --log-file -vconsole:off
}
_ovs_up() {
    [ -s "/run/openvswitch/$1.pid" ] && kill -0 "$(cat "/run/openvswitch/$1.pid")" 2>/dev/null
}

# ovs_bridge NAME STP(true|false) [RSTP(true|false)]: an Open vSwitch bridge on the userspace datapath
# (datapath_type=netdev: the kernel here has no openvswitch module)
ovs_bridge() {
    ovs-vsctl --timeout=10 add-br "$1" -- set Bridge "$1" datapath_type=netdev \
        stp_enable="$2" rstp_enable="${3:-false}"
}

# ovs_guest_tap BRIDGE TAP [MAC [VM_UUID]]: a tap added as libvirt 9.0 adds a guest's NIC
# (src/util/virnetdevopenvswitch.c virNetDevOpenvswitchAddPort). Nothing holds the tap open as QEMU
# would, so it has no carrier: Open vSwitch's STP shows the port as disabled.
ovs_guest_tap() {
    ip tuntap add dev "$2" mode tap
    ip link set dev "$2" up
    ovs-vsctl --timeout=5 -- --may-exist add-port "$1" "$2" \
        -- set Interface "$2" "external-ids:attached-mac=\"${3:-52:54:00:00:0f:01}\"" \
        -- set Interface "$2" "external-ids:iface-id=\"$(cat /proc/sys/kernel/random/uuid)\"" \
        -- set Interface "$2" "external-ids:vm-id=\"${4:-$(cat /proc/sys/kernel/random/uuid)}\"" \
        -- set Interface "$2" external-ids:iface-status=active
}

# guest_tap GUEST: the tap of a running guest's first NIC
guest_tap() {
    $V domiflist "$1" | awk 'NR == 1 {print $1}'
}

# veth NAME [ADDRESS/PREFIX]: one end of a veth pair, up (the other end, NAMEp, too), as a host's LAN port
veth() {
    ip link add "$1" type veth peer name "$1p"
    [ -n "${2:-}" ] && ip addr add "$2" dev "$1"
    ip link set "$1" up
    ip link set "$1p" up
}

# host_bridge_with_guest: host bridge br0 (STP off) with an uplink (veth lan1) and a guest (nf1) defined on it
host_bridge_with_guest() {
    bridge br0 0 0
    veth lan1
    ip link set lan1 master br0
    guest_define nf1 "<interface type='bridge'><mac address='52:54:00:00:0e:01'/><source bridge='br0'/><model type='virtio'/></interface>" "<boot dev='hd'/>"
}

# far_dhcp_server IFACE ADDRESS FIRST LAST: a DHCP server (dnsmasq) in a network namespace of its own, on IFACE
# (moved there; or, when IFACE is a bridge, on a new veth port of it), serving FIRST-LAST
far_dhcp_server() {
    ns=far-$1
    ip netns add "$ns"
    if [ -d "/sys/class/net/$1/bridge" ]; then
        ip link add "$ns" type veth peer name srv
        ip link set "$ns" master "$1" up
        ip link set srv netns "$ns"
        dev=srv
    else
        ip link set "$1" netns "$ns"
        dev=$1
    fi
    ip -n "$ns" addr add "$2/24" dev "$dev"
    ip -n "$ns" link set "$dev" up
    ip netns exec "$ns" dnsmasq --conf-file=/dev/null --port=0 --bind-interfaces --interface="$dev" \
        --dhcp-range="$3,$4,12h" --dhcp-leasefile="/run/$ns.leases" --pid-file="/run/$ns.pid"
}

# dnsmasq_nm_shared IFACE ADDRESS/24: a dnsmasq started as NetworkManager's shared mode starts it
# (src/core/dnsmasq/nm-dnsmasq-manager.c create_dm_cmd_line; NM keeps it in the foreground as its child)
dnsmasq_nm_shared() {
    ip addr add "$2/24" dev "$1"
    a=${2%.*}
    dnsmasq --conf-file=/dev/null --no-hosts --keep-in-foreground --bind-interfaces --except-interface=lo \
        --clear-on-reload --strict-order --listen-address="$2" --dhcp-range="$a.10,$a.254,60m" \
        --dhcp-option=option:router,"$2" --dhcp-leasefile="/run/dnsmasq-$1.leases" \
        --pid-file="/run/nm-dnsmasq-$1.pid" </dev/null >/dev/null 2>&1 &
    i=0
    until [ -s "/run/nm-dnsmasq-$1.pid" ]; do i=$((i+1)); [ $i -lt 100 ] || return 1; sleep 0.1; done
}

# as_modular_sockets: STAND-IN for a host where only the modular daemons listen (Debian ships no
# virtqemud/virtnetworkd): libvirtd's sockets move to the paths virtqemud and virtnetworkd listen on
# (libvirt docs/daemons.rst), and /run/libvirt/libvirt-sock* is gone. A client's qemu:///system then
# finds virtqemud-sock-ro first (libvirt src/remote/remote_sockets.c remoteGetUNIXSocket, mode auto).
as_modular_sockets() {
    mv /run/libvirt/libvirt-sock /run/libvirt/virtqemud-sock
    mv /run/libvirt/libvirt-sock-ro /run/libvirt/virtqemud-sock-ro
    ln /run/libvirt/virtqemud-sock-ro /run/libvirt/virtnetworkd-sock-ro
    rm -f /run/libvirt/libvirt-admin-sock
    ! [ -e /run/libvirt/libvirt-sock-ro ] && virsh -r -c qemu:///system net-list --name >/dev/null
}
