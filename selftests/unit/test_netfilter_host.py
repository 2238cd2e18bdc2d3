"""netfilter on DHCP between a guest on a bridge and a DHCP server on the host itself: the request goes up to
INPUT (in = the bridge; br_input.c br_handle_frame_finish passes broadcast frames up), the replies leave through
OUTPUT (out = the bridge); FORWARD never sees them (host_dhcp_verdict).

Each iptables-save and nft sample was printed by iptables 1.8.9 (nf_tables) and nftables 1.0.6 on Debian 12 in
a network namespace of its own (`unshare -n`), after the commands its comment names."""

import json

from kvmnetcheck.facts.conclusions.netfilter import bridged_dhcp_verdict, host_dhcp_verdict
from kvmnetcheck.facts.parsers.iptables import build_iptables

NFT_VERSION = "iptables v1.8.9 (nf_tables)\n"
PORTS = ("vnet0", "c1h")  # a guest's tap and another port; no uplink

# `iptables -P FORWARD DROP` alone (the host-only bridge behind Docker's policy)
FORWARD_DROP = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""
# a server's usual INPUT: `iptables -P INPUT DROP`, then lo, established and ssh accepted
INPUT_DROP = """\
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""
# `iptables -P FORWARD DROP; iptables -A OUTPUT -o br0 -p udp -m udp --sport 67 -j DROP`
OUTPUT_DROP = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -o br0 -p udp -m udp --sport 67 -j DROP
COMMIT
"""
# `iptables -P INPUT DROP`, then physdev --physdev-is-bridged DROP, physdev --physdev-in vnet+ DROP, and
# -i br0 -p udp --dport 67 ACCEPT
PHYSDEV_INPUT = """\
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m physdev --physdev-is-bridged -j DROP
-A INPUT -m physdev --physdev-in vnet+ -j DROP
-A INPUT -i br0 -p udp -m udp --dport 67 -j ACCEPT
COMMIT
"""
# `nft add chain inet host input '{ type filter hook input priority 0; policy drop; }'` and
# `nft add rule inet host input iifname "br0" udp dport 67 accept`
NFT_INET_INPUT = json.dumps(
    {
        "nftables": [
            {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
            {"table": {"family": "inet", "name": "host", "handle": 2}},
            {
                "chain": {
                    "family": "inet",
                    "table": "host",
                    "name": "input",
                    "handle": 1,
                    "type": "filter",
                    "hook": "input",
                    "prio": 0,
                    "policy": "drop",
                }
            },
            {
                "rule": {
                    "family": "inet",
                    "table": "host",
                    "chain": "input",
                    "handle": 2,
                    "expr": [
                        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "br0"}},
                        {
                            "match": {
                                "op": "==",
                                "left": {"payload": {"protocol": "udp", "field": "dport"}},
                                "right": 67,
                            }
                        },
                        {"accept": None},
                    ],
                }
            },
        ]
    }
)
# `nft add chain bridge lab out '{ type filter hook output priority 0; policy accept; }'` and
# `nft add rule bridge lab out oifname "vnet*" udp sport 67 drop`
NFT_BRIDGE_OUTPUT = json.dumps(
    {
        "nftables": [
            {"table": {"family": "bridge", "name": "lab", "handle": 2}},
            {
                "chain": {
                    "family": "bridge",
                    "table": "lab",
                    "name": "out",
                    "handle": 1,
                    "type": "filter",
                    "hook": "output",
                    "prio": 0,
                    "policy": "accept",
                }
            },
            {
                "rule": {
                    "family": "bridge",
                    "table": "lab",
                    "chain": "out",
                    "handle": 2,
                    "expr": [
                        {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "vnet*"}},
                        {
                            "match": {
                                "op": "==",
                                "left": {"payload": {"protocol": "udp", "field": "sport"}},
                                "right": 67,
                            }
                        },
                        {"drop": None},
                    ],
                }
            },
        ]
    }
)


def ipt(save):
    return build_iptables(True, NFT_VERSION, None, save, 0)


def host(save="", nft=None, br_netfilter=True):
    return host_dhcp_verdict(ipt(save), nft, "br0", PORTS, br_netfilter=br_netfilter)


def test_forward_drop_cuts_bridged_dhcp_but_not_the_hosts_own_server():
    assert bridged_dhcp_verdict(ipt(FORWARD_DROP), None, "br0", PORTS).verdict == "drop"
    v = host(FORWARD_DROP)
    assert v.verdict == "accept" and "INPUT policy ACCEPT" in v.by and "OUTPUT policy ACCEPT" in v.by


def test_input_drop_cuts_the_request():
    v = host(INPUT_DROP)
    assert v.verdict == "drop" and v.by.startswith("iptables filter INPUT policy DROP")
    assert "the client's request" in v.by


def test_output_drop_cuts_the_replies():
    v = host(OUTPUT_DROP)
    assert v.verdict == "drop" and "-A OUTPUT -o br0" in v.by and "reply" in v.by


def test_physdev_in_input_sees_the_port_only_under_br_netfilter():
    """xt_physdev.c physdev_mt: INPUT has the port it came in by (br_nf_pre_routing kept it), is never
    'bridged' (no out port); without bridge netfilter a physdev match fails."""
    v = host(PHYSDEV_INPUT)
    assert v.verdict == "unknown" and "--physdev-in vnet+" in " ".join(v.undecided)  # which port: vnet0 or c1h
    assert host_dhcp_verdict(ipt(PHYSDEV_INPUT), None, "br0", ("vnet0",)).verdict == "drop"
    assert host_dhcp_verdict(ipt(PHYSDEV_INPUT), None, "br0", ("vnet0",), br_netfilter=False).verdict == "accept"


def test_nft_input_chain_of_the_inet_family():
    assert host("", NFT_INET_INPUT).verdict == "accept"
    v = host_dhcp_verdict(ipt(""), NFT_INET_INPUT, "br1", PORTS)
    assert v.verdict == "drop" and "nft inet host chain input policy drop" in v.by
    # the same chain at the input hook plays no part in bridged DHCP
    assert bridged_dhcp_verdict(ipt(""), NFT_INET_INPUT, "br1", PORTS).verdict == "accept"


def test_nft_bridge_family_output_hook_sees_the_replies_to_a_port():
    v = host("", NFT_BRIDGE_OUTPUT)
    assert v.verdict == "unknown"  # which port the reply leaves by is not known: vnet0 or c1h
    assert host_dhcp_verdict(ipt(""), NFT_BRIDGE_OUTPUT, "br0", ("vnet0",)).verdict == "drop"
    assert host_dhcp_verdict(ipt(""), NFT_BRIDGE_OUTPUT, "br0", ("c1h",)).verdict == "accept"
