"""Facts about a host, in three kinds:

- `model/`: the typed facts, frozen dataclasses with units converted (`HostFacts` holds them all);
- `parsers/`: one module per source format, from what a host printed to those facts;
- `conclusions/`: what several facts mean together (who owns a bridge, a loop, netfilter's verdict on
  DHCP, a checksum fix-up, a guest's boot path), pure functions of the facts.

`sources.py` is the table of collector section kind -> parser -> HostFacts field, and `host.py` builds
one host's facts from it.
"""
