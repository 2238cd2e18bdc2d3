"""tc filters on a bridge: a csum action that fixes UDP checksums (nftables backend)."""

import pytest

from kvmnetcheck.facts.parsers.tc import parse_filters

# `tc filter show dev virbr0 parent 1:` with a u32 filter for DHCP replies (UDP to port 68)
# that recomputes the IP and UDP checksums, the way libvirt's nftables backend fixes them.
CSUM_UDP = """\
filter protocol ip pref 1 u32 chain 0 
filter protocol ip pref 1 u32 chain 0 fh 800: ht divisor 1 
filter protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 not_in_hw 
  match 00110000/00ff0000 at 8
  match 00000044/0000ffff at 20
	action order 1: csum (iph, udp) action pass
	 index 1 ref 1 bind 1

"""

# the same filter fixing only the IP header checksum
CSUM_IPH_ONLY = """\
filter protocol ip pref 1 u32 chain 0 
filter protocol ip pref 1 u32 chain 0 fh 800: ht divisor 1 
filter protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 not_in_hw 
  match 00110000/00ff0000 at 8
	action order 1: csum (iph) action pass
	 index 2 ref 1 bind 1

"""

# a shaping filter from <bandwidth> on the network: no csum at all
NO_CSUM = """\
filter parent 1: protocol all pref 1 fw chain 0 
filter parent 1: protocol all pref 1 fw chain 0 handle 0x1 classid 1:3 
"""

BLANK = ""

GARBLED = "csum (\ncsum udp\naction order 1: csum () action pass\nxcsum (udp)\n"


def test_csum_udp():
    f = parse_filters("virbr0", [CSUM_UDP])
    assert f.bridge == "virbr0"
    assert f.csum_udp is True
    assert f.lines == ("action order 1: csum (iph, udp) action pass",)


def test_csum_iph_only_does_not_fix_udp():
    f = parse_filters("virbr0", [CSUM_IPH_ONLY])
    assert f.csum_udp is False
    assert f.lines == ("action order 1: csum (iph) action pass",)


def test_no_csum():
    f = parse_filters("virbr0", [NO_CSUM])
    assert f.csum_udp is False
    assert f.lines == ()


@pytest.mark.parametrize("texts", [[], [BLANK], [None], [BLANK, None]])
def test_empty(texts):
    f = parse_filters("virbr0", texts)
    assert (f.csum_udp, f.lines) == (False, ())


def test_several_outputs_combined():
    # filters under parent 1: and under egress are separate sections
    f = parse_filters("virbr0", [NO_CSUM, CSUM_IPH_ONLY, CSUM_UDP])
    assert f.csum_udp is True
    assert f.lines == ("action order 1: csum (iph) action pass", "action order 1: csum (iph, udp) action pass")


def test_garbled():
    f = parse_filters("virbr0", [GARBLED])
    # "csum udp" has no parentheses, "csum ()" names nothing, "xcsum" is another word
    assert f.csum_udp is False
    assert f.lines == ("action order 1: csum () action pass",)


def test_udplite_is_not_udp():
    text = "\taction order 1: csum (iph, udplite) action pass\n"
    assert parse_filters("virbr0", [text]).csum_udp is False
