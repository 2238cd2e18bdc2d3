"""Netfilter's verdict on a DHCP exchange bridged by BR, or between BR's guests and a server on the host:
accepted, dropped, or cannot be decided.

With br_netfilter on (net.bridge.bridge-nf-call-iptables = 1, or the bridge's own
/sys/class/net/BR/bridge/nf_call_iptables = 1), IPv4 frames bridged between two ports of BR pass
the FORWARD hook with in = out = BR. Docker sets the FORWARD policy to DROP, and a guest on a host
bridge then gets no DHCP reply from the LAN. This package decides, from iptables-save and
`nft -j list ruleset` gathered read-only, what netfilter does to that exchange. The caller reads
whether br_netfilter is on (taken to be unless it says not); the bridge family's chains see
bridged frames either way.

The packets: IPv4/UDP, conntrack state NEW, in = out = BR, bridged through two of `ports` (which
two is unknown), source address unknown:
    the client's request   68 -> 67 to 255.255.255.255
    the server's reply     67 -> 68 to 255.255.255.255, or to a unicast address we do not know
The exchange passes only if every one of them is accepted by every table on its path.

Modelled:
  iptables (nft-backed and iptables-legacy, each its own hook, each must accept): FORWARD of
    table filter (and of mangle and security when they hold FORWARD rules or drop by policy);
    jumps, gotos, RETURN, policies, end of user chains; targets ACCEPT, DROP, REJECT and the
    non-terminal ones (LOG, NFLOG, MARK, CT, ...); matches -i/-o (with + and !), -p, -s/-d,
    -f, udp/tcp ports, multiport, physdev, conntrack --ctstate, state, comment, addrtype
    --dst-type, limit.
  nftables: every base chain at hook forward of family ip, inet and bridge, in priority order;
    iptables-nft's own tables (ip filter, nat, mangle, raw, security) are left to iptables-save.
    Matches on meta iifname/oifname/iif/oif/ibrname/obrname/l4proto/nfproto/protocol, payload
    udp/th ports, ip protocol/daddr, ether type, ct state/status/direction, with ==, !=, in,
    <, >, <=, >=, sets, ranges, prefixes and named sets; counter, log, limit, mangle, notrack,
    dup and set statements; verdicts accept, drop, reject, jump, goto, return, continue, vmap
    (inline or named).
  Anything else (an unknown match, an xt expression of iptables-nft's compat layer, a target
  such as NFQUEUE) is "maybe": when its outcome matters, the verdict is unknown and the rule is
  named in `undecided`.

Not modelled:
  IPv6 (ip6tables, family ip6, IPv6 rules of inet tables) and ARP: not evaluated.
  Hooks other than forward: ip and bridge prerouting/postrouting, netdev ingress/egress,
  iptables nat and raw; ebtables-legacy.
  Assumed of the packets: untagged frames, not DNAT'ed (ct status empty), under any rate limit.

A DHCP server on the host itself (a host-only bridge) is another path (host_dhcp_verdict): the request goes
up to the host (br_input.c br_handle_frame_finish, br_pass_frame_up: the bridge family's input hook, then
INPUT with in = BR, the port known to physdev only under br_netfilter) and the replies leave through OUTPUT
(out = BR, no port known to physdev), then the bridge family's output hook (out = the port). FORWARD never
sees them, with or without br_netfilter.

Its modules: `logic` (tri-state logic and the walk of one packet through one table), `packets` (the
packets and the matches both interpreters share), `iptables` and `nft` (each kind of rule compiled for
that walk), `render` (rules as labels for a report), `verdict` (every packet through every table).
"""

from .logic import ACCEPT, DROP, UNKNOWN
from .verdict import ForwardVerdict, bridged_dhcp_verdict, host_dhcp_verdict

__all__ = ["ACCEPT", "DROP", "UNKNOWN", "ForwardVerdict", "bridged_dhcp_verdict", "host_dhcp_verdict"]
