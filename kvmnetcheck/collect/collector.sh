# kvm-netcheck fact collector: run once per host, read-only.
#
# Usage: sh -c "$(cat collector.sh)" collector NONCE WANT_VIRSH [COMMAND_TIMEOUT]
#
# Every fact the checks need is printed in one pass as sections:
#   @@NONCE@@ KIND<TAB>ARG
#   ...raw output...
#   @@NONCE@@ rc<TAB>STATUS
# The nonce comes from the control node, so nothing a host prints (a file, a
# bridge name, a log line) can forge a section header. Names and paths are only
# ever expanded inside double quotes; names a command prints are read line by
# line (`while IFS= read -r`), with globbing off, never split or globbed by a
# `for` loop; nothing read from the host is evaluated.
# Only commands that read state are used: cat, getconf, iptables -S/-save,
# nft list (as JSON for a table name nft's command line cannot spell),
# tc ... show, firewall-cmd --state/--list-*, virsh --readonly, ip ... show, od (a command line as hex).

N=$1
WANT_VIRSH=$2
# the longest one command may run, in seconds (the control node derives it from --host-timeout)
case $3 in ''|*[!0-9]*) LIMIT=20 ;; *) LIMIT=$3 ;; esac
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
MAX=262144

if command -v timeout >/dev/null 2>&1; then T="timeout $LIMIT"; else T=""; LIMIT=; fi

sec() { printf '\n@@%s@@ %s\t%s\n' "$N" "$1" "$2"; }
end() { printf '\n@@%s@@ rc\t%s\n' "$N" "$1"; }
# run KIND ARG CMD...: one command's stdout and stderr as a section. The output streams
# through head (the rest is read and dropped), so a command that prints without end costs no
# memory on the host; its exit status comes back on fd 3.
run() {
    k=$1; a=$2; shift 2
    sec "$k" "$a"
    { rc=$( { { "$@" 3>&- 4>&- 2>&1; echo "$?" >&3; } | { head -c "$MAX"; cat >/dev/null; } >&4; } 3>&1 ); } 4>&1
    end "${rc:-1}"
}
# capture KIND ARG CMD...: like run, for a command with short output that the collector also reads
# itself: the output stays in $out and its status in $rc
capture() {
    k=$1; a=$2; shift 2
    out=$("$@" 2>&1)
    rc=$?
    out=$(printf '%s\n' "$out" | head -c "$MAX")
    sec "$k" "$a"
    printf '%s\n' "$out"
    end "$rc"
}
# show KIND PATH: a file's content (bounded) as a section
show() {
    sec "$1" "$2"
    out=$(head -c "$MAX" -- "$2" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    end "$rc"
}
have() { command -v "$1" >/dev/null 2>&1; }
# nft_list_table FAMILY NAME: `nft -j list table`. nft parses its arguments as one command line, where a
# table name must be a plain word; a table named otherwise ("a b", "f*": nft lists such names, made through
# its JSON or netlink) is asked for in JSON, which nft reads as data (nftables doc/libnftables-json.adoc)
nft_list_table() {
    case $2 in
        [A-Za-z_]*[!A-Za-z0-9_.-]*|[!A-Za-z_]*|'')
            printf '{"nftables": [{"list": {"table": {"family": "%s", "name": "%s"}}}]}\n' \
                "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')" "$(printf '%s' "$2" | sed 's/[\\"]/\\&/g')" \
                | $T nft -j -f /dev/stdin ;;
        *) $T nft -j list table "$1" "$2" ;;
    esac
}

sec meta ""
printf 'collector=6\n'
printf 'hostname=%s\n' "$(cat /proc/sys/kernel/hostname 2>/dev/null)"
printf 'uid=%s\n' "$(id -u 2>/dev/null)"
printf 'clk_tck=%s\n' "$(getconf CLK_TCK 2>/dev/null)"
printf 'kernel=%s\n' "$(uname -r 2>/dev/null)"
printf 'now=%s\n' "$(date +%s 2>/dev/null)"
printf 'command_timeout=%s\n' "$LIMIT"
# bridged traffic through the host firewall (br_netfilter; per network namespace since Linux 5.3)
[ -d /proc/sys/net/bridge ] && printf 'br_netfilter=1\n'
for k in iptables ip6tables arptables; do
    f=/proc/sys/net/bridge/bridge-nf-call-$k
    [ -r "$f" ] && printf 'bridge_nf_call_%s=%s\n' "$k" "$(cat "$f" 2>/dev/null)"
done
# tools the checks read with, and those a fix may call (a fix never calls a tool the host lacks)
for b in virsh libvirtd virtnetworkd virtqemud iptables iptables-save iptables-legacy-save nft tc firewall-cmd \
         journalctl ip nmcli networkctl netplan ifup ifdown systemctl service sed ovs-vsctl ss bridge; do
    have "$b" && printf 'have=%s\n' "$b"
done
[ -c /dev/vhost-net ] && printf 'vhost_net_dev=1\n'
[ -d /sys/module/vhost_net ] && printf 'vhost_net_module=1\n'
# libvirtd's (or virtproxyd's) read-only socket, or the modular daemons' (libvirt docs/daemons.rst)
for s in /run/libvirt/libvirt-sock-ro /var/run/libvirt/libvirt-sock-ro /run/libvirt/virtqemud-sock-ro \
         /run/libvirt/virtnetworkd-sock-ro; do
    [ -S "$s" ] && printf 'libvirt_socket=%s\n' "$s"
done
end 0

# Linux bridges: sysfs values, units converted by the parser (USER_HZ ticks).
for br in /sys/class/net/*/bridge; do
    [ -d "$br" ] || continue
    d=${br%/bridge}
    sec bridge "${d##*/}"
    for a in stp_state forward_delay hello_time max_age bridge_id root_id root_port root_path_cost priority \
             nf_call_iptables vlan_filtering default_pvid; do
        if v=$(cat "$br/$a" 2>/dev/null); then printf '%s=%s\n' "$a" "$v"; fi
    done
    printf 'operstate=%s\n' "$(cat "$d/operstate" 2>/dev/null)"
    [ "$(cat "$br/vlan_filtering" 2>/dev/null)" = 1 ] && vlan_filtering=1
    # a port list that cannot be listed says so: no port line alone would read as "no ports"
    if [ -r "$d/brif" ] && [ -x "$d/brif" ]; then
        for p in "$d"/brif/*; do
            [ -e "$p" ] || continue
            printf 'port=%s state=%s\n' "${p##*/}" "$(cat "$p/state" 2>/dev/null)"
        done
    else
        printf 'brif=unreadable\n'
    fi
    end 0
    if have tc; then
        # filters hang off the bridge's qdiscs: one look at them names every parent to ask
        parents=$($T tc qdisc show dev "${d##*/}" 2>/dev/null | awk '$3 ~ /:$/ && !seen[$3]++ {print $3}' | head -n 32)
        set -f
        printf '%s\n' "$parents" | while IFS= read -r parent; do
            [ -n "$parent" ] || continue
            run tc_filter "${d##*/} $parent" $T tc filter show dev "${d##*/}" parent "$parent" </dev/null
        done
        set +f
        run tc_filter "${d##*/} egress" $T tc filter show dev "${d##*/}" egress
    fi
done

# the VLANs each port carries, where a bridge filters by VLAN
if [ "${vlan_filtering:-0}" = 1 ] && have bridge; then
    run bridge_vlans "" $T bridge -j vlan show
fi

if have iptables; then
    run iptables_version "" iptables --version
    # "CHECKSUM target options" appears only when the extension loads; keep the lines that say so,
    # or that say why the help could not be printed at all (not root)
    sec iptables_checksum_help ""
    iptables -j CHECKSUM -h 2>&1 | grep -i -e CHECKSUM -e 'denied' -e 'must be root' -e 'not permitted' | head -n 5
    end 0
fi
if have iptables-save; then
    run iptables_save "" $T iptables-save
fi
# rules in the legacy tables are invisible to iptables-nft's save (and the other way round)
if have iptables-legacy-save && [ "$(readlink -f "$(command -v iptables-save)")" != "$(readlink -f "$(command -v iptables-legacy-save)")" ]; then
    run iptables_legacy_save "" $T iptables-legacy-save
fi
if have nft; then
    # the table list says whether nft could be read at all, and which of libvirt's tables to list
    capture nft_tables "" $T nft list tables
    for fam in ip ip6; do
        case "$out" in
            *"table $fam libvirt_network"*) run nft_libvirt "$fam" $T nft list table "$fam" libvirt_network ;;
        esac
    done
    # the tables whose chains sit on the forward path, which bridged frames cross under br_netfilter, or on
    # the input and output paths, which DHCP to and from a server on the host itself takes:
    # FAMILY:NAME per line, the name as nft prints it after `table FAMILY ` (it may hold spaces or a `*`)
    tables=$($T nft list chains 2>/dev/null \
             | awk '$1 == "table" {t = $0; sub(/^table [^ ]+ /, "", t); sub(/ \{$/, "", t); t = $2 ":" t}
                    /hook (forward|input|output)/ {print t}' | sort -u | head -n 16)
    set -f
    printf '%s\n' "$tables" | while IFS= read -r t; do
        [ -n "$t" ] || continue
        run nft_forward "$t" nft_list_table "${t%%:*}" "${t#*:}" </dev/null
    done
    set +f
fi

# firewalld: only when it runs (firewall-cmd --state answers "running"). firewall-cmd is Python, slow to
# start: with no firewalld process it is not asked (where /proc hides other users' processes, it is)
fw_process() {
    [ -r /proc/1/comm ] || return 0
    grep -qsx firewalld /proc/[0-9]*/comm
}
if have firewall-cmd; then
    if fw_process; then
        capture firewalld_state "" $T firewall-cmd --state
    else
        sec firewalld_state ""; printf 'not running\n'; rc=252; end "$rc"
    fi
    if [ "$rc" = 0 ]; then
        run firewalld_version "" $T firewall-cmd --version
        # an interface in no zone is in the default one (firewalld 1.x marks it in no listing)
        run firewalld_default_zone "" $T firewall-cmd --get-default-zone
        run firewalld_zones "" $T firewall-cmd --list-all-zones
        # policies (firewalld >= 0.9) admit DHCP/TFTP from libvirt-routed networks to the host
        run firewalld_policies "" $T firewall-cmd --list-all-policies
    fi
fi

[ -f /etc/libvirt/network.conf ] && show libvirt_network_conf /etc/libvirt/network.conf

# libvirtd's warning about the DHCP checksum rule (older libvirt logs it), and the last errors the
# daemon logged (error=...: why a network did not start, e.g. a firewall command that failed).
sec libvirt_log ""
for f in /var/log/libvirt/libvirtd.log /var/log/libvirt/virtnetworkd.log /var/log/messages /var/log/syslog; do
    if [ -r "$f" ]; then
        printf 'searched=%s\n' "$f"
        grep -F -h -m 20 -e 'fixup DHCP response checksums' -e 'to support CHECKSUM rule' -- "$f" 2>/dev/null | head -c 8192
        case $f in
            /var/log/libvirt/*)
                grep -F -h -e ': error : ' -- "$f" 2>/dev/null | tail -n 30 | cut -c 1-600 | sed 's/^/error=/' ;;
        esac
    elif [ -e "$f" ]; then
        printf 'unreadable=%s\n' "$f"
    fi
done
if have journalctl; then
    printf 'searched=journal\n'
    $T journalctl -q --no-pager -o short-iso -t libvirtd -t virtnetworkd --since=-90d 2>/dev/null \
        | grep -F -m 20 -e 'fixup DHCP response checksums' -e 'to support CHECKSUM rule' | head -c 8192
    $T journalctl -q --no-pager -o short-iso -p err -t libvirtd -t virtnetworkd --since=-90d 2>/dev/null \
        | tail -n 30 | cut -c 1-600 | sed 's/^/error=/'
fi
end 0

# Persistent bridge configuration made outside libvirt, and which program will apply it at boot.
for f in /etc/sysconfig/network-scripts/ifcfg-* /etc/sysconfig/network/ifcfg-* \
         /etc/NetworkManager/system-connections/* /run/NetworkManager/system-connections/* \
         /usr/lib/NetworkManager/system-connections/* \
         /etc/network/interfaces /etc/network/interfaces.d/* \
         /etc/systemd/network/*.netdev /run/systemd/network/*.netdev \
         /lib/netplan/*.yaml /etc/netplan/*.yaml /etc/netplan/*.yml /run/netplan/*.yaml; do
    [ -f "$f" ] && show netconfig "$f"
done
for f in /etc/network/ifupdown2/policy.d/*.json /var/lib/ifupdown2/policy.d/*.json; do
    [ -f "$f" ] && show ifupdown2_policy "$f"
done
for f in /etc/sysconfig/network-scripts/ifup-eth /usr/libexec/network-scripts/ifup-eth; do
    if [ -f "$f" ]; then
        # how this initscripts applies DELAY: ip link (centiseconds) or brctl setfd (seconds)
        sec ifup_eth "$f"
        grep -n -e 'forward_delay' -e 'setfd' -- "$f" 2>&1 | head -n 20
        end "$( [ -r "$f" ] && echo 0 || echo 1 )"
    fi
done
sec netstack ""
# which network programs are installed, enabled and running (systemd's own links, read as files)
[ -d /run/systemd/system ] && printf 'systemd_running=1\n'
for b in /usr/sbin/NetworkManager /usr/lib/systemd/systemd-networkd /lib/systemd/systemd-networkd /usr/sbin/netplan \
         /usr/lib/systemd/system-generators/netplan /lib/systemd/system-generators/netplan /sbin/ifup /usr/sbin/ifup \
         /usr/sbin/wicked /usr/share/ifupdown2 /etc/rc.d/init.d/network; do
    [ -e "$b" ] && printf 'installed=%s\n' "$b"
done
for u in NetworkManager systemd-networkd networking network wicked netplan-configure; do
    for w in /etc/systemd/system/*.wants/"$u".service /etc/systemd/system/*.wants/"$u".socket; do
        [ -e "$w" ] && printf 'enabled=%s\n' "$u"
    done
    [ "$(readlink "/etc/systemd/system/$u.service" 2>/dev/null)" = /dev/null ] && printf 'masked=%s\n' "$u"
done
# how libvirt is started here (libvirt docs/daemons.rst): monolithic libvirtd or the modular virtqemud and
# virtnetworkd, each by its systemd units (socket activated) or an init script; files only
printf 'libvirt_start_read=1\n'
for u in libvirtd virtqemud virtnetworkd; do
    for d in /usr/lib/systemd/system /lib/systemd/system /etc/systemd/system; do
        [ -e "$d/$u.service" ] && printf 'libvirt_unit=%s\n' "$u"
    done
    for w in /etc/systemd/system/*.wants/"$u".service /etc/systemd/system/*.wants/"$u".socket \
             /etc/systemd/system/*.wants/"$u"-ro.socket; do
        [ -e "$w" ] && printf 'libvirt_enabled=%s\n' "$u"
    done
    for f in /etc/init.d/"$u" /etc/rc.d/init.d/"$u"; do
        [ -e "$f" ] && printf 'libvirt_initscript=%s\n' "$u"
    done
done
for w in /etc/rc.d/rc[35].d/S[0-9]*network /etc/rc[2-5].d/S[0-9]*networking /etc/rc[2-5].d/S[0-9]*network-manager; do
    [ -e "$w" ] && printf 'sysv=%s\n' "${w##*/}"
done
for f in /etc/NetworkManager/NetworkManager.conf /etc/NetworkManager/conf.d/*.conf /usr/lib/NetworkManager/conf.d/*.conf; do
    [ -r "$f" ] && grep -h '^[[:space:]]*plugins[[:space:]]*=' -- "$f" 2>/dev/null | sed 's/^/nm_plugins_line=/'
done
for f in /usr/lib*/NetworkManager/*/libnm-settings-plugin-ifcfg-rh.so /usr/lib/*/NetworkManager/*/libnm-settings-plugin-ifcfg-rh.so; do
    [ -e "$f" ] && printf 'nm_ifcfg_rh=%s\n' "$f"
done
# NetworkManager refuses a keyfile others may read: mode and owner of each
for f in /etc/NetworkManager/system-connections/* /run/NetworkManager/system-connections/* \
         /usr/lib/NetworkManager/system-connections/*; do
    [ -f "$f" ] && printf 'file_mode=%s\n' "$(stat -c '%a %u' -- "$f" 2>/dev/null) $f"
done
end 0

# Open vSwitch: its database's bridges, ports and interfaces (read-only listings; the socket is root's)
if have ovs-vsctl; then
    run ovs_bridges "" $T ovs-vsctl --timeout=5 --format=json \
        --columns=name,stp_enable,rstp_enable,other_config,ports,status list Bridge
    if [ "$rc" = 0 ]; then
        run ovs_ports "" $T ovs-vsctl --timeout=5 --format=json \
            --columns=_uuid,name,interfaces,status,rstp_status list Port
        run ovs_interfaces "" $T ovs-vsctl --timeout=5 --format=json \
            --columns=_uuid,name,type,external_ids,link_state list Interface
    fi
fi

# DHCP, TFTP and DHCPv6 servers listening on this host, with the device each socket is bound to
if have ss; then
    run udp_servers "" $T ss -H -u -a -n -p 'sport = :67 or sport = :69 or sport = :547'
    # a server that reads packet sockets (ISC dhcpd's LPF) serves only their interfaces
    run packet_sockets "" $T ss -H -0 -a -n -p
fi
# libvirt's dnsmasq per network, and the leases it has given
for f in /run/libvirt/network/*.pid; do
    [ -f "$f" ] && [ "${f##*/}" != driver.pid ] && show libvirt_dnsmasq_pid "$f"
done
for f in /var/lib/libvirt/dnsmasq/*.status; do
    [ -f "$f" ] && show dnsmasq_leases "$f"
done
# the boot file each network's dnsmasq hands out, and whether it is in the TFTP root libvirt gave it
for f in /var/lib/libvirt/dnsmasq/*.conf; do
    [ -f "$f" ] || continue
    if [ -r "$f" ]; then
        sec dnsmasq_boot "$f"
        root=$(sed -n 's/^tftp-root=//p' "$f" | head -n 1)
        boot=$(sed -n 's/^dhcp-boot=//p' "$f" | head -n 1)
        printf 'tftp_root=%s\nboot=%s\n' "$root" "$boot"
        file=${boot%%,*}
        if [ -n "$root" ] && [ -n "$file" ]; then
            case $file in
                /*|*://*) ;;
                *) if [ -e "$root/$file" ]; then printf 'exists=1\n'; else printf 'exists=0\n'; fi ;;
            esac
        fi
        # every line on booting and the pool (dnsmasq src/option.c), and which names they hand out are in
        # which TFTP root (a pxe-service basename is fetched with the layer suffix .0)
        grep -E '^(dhcp-(boot|match|userclass|vendorclass|mac|host|range|option|option-force|lease-max|circuitid|remoteid|subscrid|name-match)|pxe-service|tag-if|tftp-root|enable-tftp)(=|$)' "$f" \
            | head -n 500 | sed 's/^/conf=/'
        printf 'lines=1\n'
        roots=$(sed -n 's/^tftp-root=\([^,]*\).*/\1/p' "$f" | head -n 20)
        sed -n -E 's/^(dhcp-boot|pxe-service|dhcp-option|dhcp-option-force)=//p' "$f" | tr -d '"' | tr ',' '\n' \
            | sort -u | head -n 200 | while IFS= read -r name; do
                case $name in ''|/*|*://*|*..*|*:*) continue ;; esac
                printf '%s\n' "$roots" | while IFS= read -r r; do
                    [ -n "$r" ] || continue
                    for n in "$name" "$name.0"; do
                        if [ -e "$r/$n" ]; then printf 'file=1\t%s\t%s\n' "$r" "$n"; else printf 'file=0\t%s\t%s\n' "$r" "$n"; fi
                    done
                done
            done
        end 0
    else
        show dnsmasq_boot "$f"  # "Permission denied": the file is root's
    fi
done
# where each QEMU looks for NIC boot ROMs (its firmware path), and which ROMs are there
for q in /usr/bin/qemu-system-x86_64 /usr/bin/qemu-system-i386 /usr/bin/qemu-system-aarch64 /usr/libexec/qemu-kvm \
         /usr/bin/qemu-kvm /usr/bin/kvm; do
    [ -x "$q" ] || continue
    sec qemu_firmware "$q"
    $T "$q" -L help 2>/dev/null | head -n 20 | while IFS= read -r d; do
        printf 'dir=%s\n' "$d"
        for f in "$d"/*.rom; do
            [ -e "$f" ] && printf 'rom=%s\n' "${f##*/}"
        done
    done
    end 0
done

# Who libvirt runs QEMU as: qemu.conf's user= (unset: the build's default), and the pid it keeps for each
# running guest (src/qemu/qemu_process.c: /run/libvirt/qemu/GUEST.pid; driver.pid is the daemon's)
if [ -f /etc/libvirt/qemu.conf ]; then
    capture qemu_conf /etc/libvirt/qemu.conf grep -E '^[[:space:]]*user[[:space:]]*=' /etc/libvirt/qemu.conf
fi
for f in /run/libvirt/qemu/*.pid; do
    [ -f "$f" ] && [ "${f##*/}" != driver.pid ] && show libvirt_qemu_pid "$f"
done

# Running processes that matter: QEMU (which guest, who runs it, and whether it holds /dev/vhost-net)
# and the daemons that serve or manage the network.
sec processes ""
for p in /proc/[0-9]*; do
    c=$(cat "$p/comm" 2>/dev/null) || continue
    case $c in
        qemu-system*|qemu-kvm|kvm)
            name=$(tr '\000' '\n' < "$p/cmdline" 2>/dev/null | awk 'prev=="-name"{print; exit} {prev=$0}')
            # fds of another user's process cannot be listed without root: say so, never count 0
            if [ -r "$p/fd" ] && ls "$p/fd" >/dev/null 2>&1; then
                n=0
                for fd in "$p"/fd/*; do
                    [ "$(readlink "$fd" 2>/dev/null)" = /dev/vhost-net ] && n=$((n+1))
                done
            else
                n='?'
            fi
            # who runs it: any user may start a process named after a guest (real and effective uid)
            ids=$(awk '/^Uid:/ {print $2 " " $3; exit}' "$p/status" 2>/dev/null)
            uid=${ids%% *}
            euid=${ids#* }
            user=
            if [ -n "$uid" ]; then
                user=$( { getent passwd "$uid" 2>/dev/null || awk -F: -v u="$uid" '$3 == u' /etc/passwd 2>/dev/null; } \
                        | head -n 1 | cut -d: -f1 | tr -d '[:space:]')
            fi
            printf 'pid=%s comm=qemu uid=%s euid=%s user=%s vhost_fds=%s name=%s\n' "${p##*/}" "$uid" "$euid" \
                "$user" "$n" "$name"
            ;;
        dnsmasq|dhcpd|kea-dhcp4|in.tftpd|udhcpd|busybox)
            # which server this is: its command line, bounded
            printf 'pid=%s comm=%s args=%s\n' "${p##*/}" "$c" "$(tr '\000\n\r' '   ' < "$p/cmdline" 2>/dev/null | head -c 300)"
            ;;
        NetworkManager|systemd-network|wicked*|firewalld|ovs-vswitchd|ovsdb-server|libvirtd|virtnetworkd|virtqemud)
            printf 'pid=%s comm=%s\n' "${p##*/}" "$c"
            ;;
    esac
done
end 0

# Which interfaces each dnsmasq answers DHCP on (src/dhcp.c dhcp_packet, network.c iface_check): its whole
# command line, and the config files it reads (src/option.c read_opts: the --conf-file/-C it names, else
# /etc/dnsmasq.conf; conf-file= and conf-dir= inside them), at most 64 of them; and whether its mount
# namespace is the collector's (if not, its paths name other files).
confs=
for p in /proc/[0-9]*; do
    c=
    { read -r c < "$p/comm"; } 2>/dev/null  # a builtin: no process per process
    [ "$c" = dnsmasq ] || continue
    sec dnsmasq_cmdline "${p##*/}"
    theirs=$(readlink "$p/ns/mnt" 2>/dev/null)
    mnt=other
    if [ -z "$theirs" ]; then mnt=unknown
    elif [ "$theirs" = "$(readlink /proc/self/ns/mnt 2>/dev/null)" ]; then mnt=same; fi
    printf 'mnt=%s\n' "$mnt"
    printf 'cmdline=%s\n' "$(head -c 65536 "$p/cmdline" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')"
    end 0
    # its paths name the collector's files only in the collector's mount namespace
    [ "$mnt" = same ] || continue
    confs="$confs/etc/dnsmasq.conf
$(tr '\000' '\n' < "$p/cmdline" 2>/dev/null | awk 'w { print; w = 0; next }
    /^--conf-(file|dir)=/ { sub(/^--conf-(file|dir)=/, ""); print; next }
    /^--conf-dir$/ || /^-[C7]$/ { w = 1; next }
    /^-[C7]./ { print substr($0, 3) }')
"
done
seen='
'
n=0
while [ -n "$confs" ] && [ "$n" -lt 64 ]; do
    more=
    while IFS= read -r f; do
        f=${f%%,*}
        case $f in /*) ;; *) continue ;; esac
        case $seen in *"
$f
"*) continue ;; esac
        [ "$n" -lt 64 ] || break
        seen="$seen$f
"
        n=$((n+1))
        if [ -d "$f" ]; then
            # its regular files (dnsmasq reads no other kind), at most 256 of them
            sec dnsmasq_conf_dir "$f"
            k=0
            for e in "$f"/*; do
                [ -f "$e" ] || continue
                k=$((k+1))
                if [ "$k" -gt 256 ]; then printf 'more than 256 files\n'; break; fi
                printf '%s\n' "${e##*/}"
                more="$more$e
"
            done
            if [ "$k" -gt 256 ]; then end 3; elif [ -r "$f" ] && [ -x "$f" ]; then end 0; else end 1; fi
        elif [ -f "$f" ]; then
            show dnsmasq_conf "$f"
            more="$more$(sed -n -e 's/^[[:space:]]*conf-file[[:space:]]*=[[:space:]]*//p' \
                -e 's/^[[:space:]]*conf-dir[[:space:]]*=[[:space:]]*//p' "$f" 2>/dev/null | head -n 32)
"
        elif [ "$f" = /dev/null ]; then
            sec dnsmasq_conf "$f"; end 0
        elif [ -e "$f" ]; then
            # a FIFO or a device is never read: it could block or never end
            sec dnsmasq_conf "$f"; printf 'not a regular file\n'; end 1
        else
            sec dnsmasq_conf "$f"; printf 'absent\n'; end 2
        fi
    done <<EOF
$confs
EOF
    confs=$more
done
# every interface's IPv4 addresses: dnsmasq serves DHCP only on an interface with one, listen-address=
# names addresses, and a TFTP server a network names (<bootp server=...>) may be this host (printed after the dnsmasq listings, always: it closes them)
sec ipv4_addresses ""
if have ip; then
    out=$($T ip -j -4 addr show 2>&1)
    rc=$?
    printf '%s\n' "$out" | head -c "$MAX"
else
    printf 'ip (iproute2) is not installed\n'
    rc=127
fi
end "$rc"

# Fallback libvirt view when the control node could not open a connection.
if [ "$WANT_VIRSH" = 1 ] && have virsh; then
    V="$T virsh --readonly -q -c qemu:///system"
    # virsh's own library version, with no connection: `virsh version` would ask the QEMU driver for
    # the hypervisor's, which probes QEMU's capabilities, for an answer no check uses
    run virsh_client "" $T virsh --version
    # every network once: whether it is active, persistent and autostarted is in its net-info
    capture virsh_net_uuids "" $V net-list --all --uuid
    if [ "$rc" = 0 ]; then
        set -f
        printf '%s\n' "$out" | while IFS= read -r u; do
            [ -n "$u" ] || continue
            run virsh_net_xml "$u" $V net-dumpxml "$u" </dev/null
            run virsh_net_xml_inactive "$u" $V net-dumpxml --inactive "$u" </dev/null
            run virsh_net_autostart "$u" $V net-info "$u" </dev/null
        done
        # every guest once: a running one's XML carries its id (formatdomain: inactive ones have none)
        capture virsh_dom_uuids "" $V list --all --uuid
        [ "$rc" = 0 ] && printf '%s\n' "$out" | while IFS= read -r u; do
            [ -n "$u" ] || continue
            run virsh_dom_xml "$u" $V dumpxml "$u" </dev/null
        done
        set +f
    fi
fi
# Last resort when no daemon answers: libvirt's own state files. Networks and guests keep
# running without the daemon, and this is when firewall rules go missing.
if [ "$WANT_VIRSH" = 1 ]; then
    for f in /run/libvirt/network/*.xml; do
        [ -f "$f" ] && show libvirt_net_status "$f"
    done
    for f in /etc/libvirt/qemu/networks/*.xml; do
        [ -f "$f" ] && show libvirt_net_config "$f"
    done
    for f in /run/libvirt/qemu/*.xml; do
        [ -f "$f" ] && show libvirt_dom_status "$f"
    done
    for f in /etc/libvirt/qemu/*.xml; do
        [ -f "$f" ] && show libvirt_dom_config "$f"
    done
fi
sec done ""
end 0
