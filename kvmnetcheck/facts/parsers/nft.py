"""nftables as the collector lists it: `nft list tables`, libvirt's own tables (`table ip libvirt_network`
and its ip6 twin, as text), and `nft -j list table` of each table with a chain at the forward hook."""

from __future__ import annotations

import json
from typing import Optional

from ..model import NftLibvirt
from .gathered import Gathered


def read_nft(g: Gathered) -> tuple[NftLibvirt, tuple[str, ...], Optional[str]]:
    """(libvirt's tables, the forward-hook tables' JSON, why some of those could not be read) from the
    `nft_tables`, `nft_libvirt` and `nft_forward` sections."""
    ok = [s for s in g.all("nft_libvirt") if s.ok]
    ip = [s for s in ok if "table ip libvirt_network" in s.text]
    tables = g.one("nft_tables")
    readable, error = True, None
    if tables is not None and not tables.ok:  # e.g. "Operation not permitted" for a user without CAP_NET_ADMIN
        readable, error = False, "nft list tables failed: " + " ".join(tables.text.split())[-200:]
    forward = g.all("nft_forward")
    bad = [s.arg for s in forward if not s.ok]
    forward_error = ("could not list nft table(s) " + ", ".join(bad)) if bad else error
    if not g.gathered_since(3):
        forward_error = "gathered by an older version, which did not read the nft forward hooks"
    return (
        NftLibvirt(
            installed="nft" in g.commands,
            table_present=bool(ip),
            text="\n".join(s.text for s in ok),
            readable=readable,
            error=error,
        ),
        tuple(s.text for s in forward if s.ok),
        forward_error,
    )


def merge_nft_json(docs: tuple[str, ...]) -> Optional[str]:
    """One `nft -j list ruleset`-shaped document from per-table `nft -j list table` outputs; None if one
    is not such JSON."""
    items: list = []
    for text in docs:
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("nftables"), list):
            return None
        items += doc["nftables"]
    return json.dumps({"nftables": items})
