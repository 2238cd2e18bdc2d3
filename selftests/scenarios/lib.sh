# Shell helpers for scenarios. A scenario runs as root inside its own lab host,
# after this file; it sets the host into one known state with real tools.
set -eu
V="virsh -q -c qemu:///system"

# net_define NAME BRIDGE_ATTRS [FORWARD_XML] [IP_EXTRA_XML]: define and start a DHCP network
net_define() {
    cat > "/tmp/net-$1.xml" <<XML
<network>
  <name>$1</name>
  ${3:-}
  <bridge $2/>
  <ip address='10.98.7.1' netmask='255.255.255.0'>
    ${4:-}
    <dhcp><range start='10.98.7.10' end='10.98.7.50'/></dhcp>
  </ip>
</network>
XML
    $V net-define "/tmp/net-$1.xml" >/dev/null
    $V net-start "$1" >/dev/null
}

# guest_define NAME INTERFACE_XML [OS_BOOT_XML]: define (not start) a diskless guest
guest_define() {
    cat > "/tmp/dom-$1.xml" <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type>${3:-<boot dev='network'/>}</os>
  <devices>
    $2
  </devices>
</domain>
XML
    $V define "/tmp/dom-$1.xml" >/dev/null
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
