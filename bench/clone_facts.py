"""Make a large --facts directory from a small one: each saved host cloned under new names."""

from __future__ import annotations

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from kvmnetcheck import raw as raw_store  # noqa: E402


def clone_facts(src: str, dst: str, count: int, prefix: str = "kvm") -> list[str]:
    """Write `count` hosts to dst, cycling through the reachable hosts saved in src."""
    sources = [r for r in raw_store.load(src) if not r.error]
    if not sources:
        raise SystemExit(f"{src}: no reachable host to clone")
    clones = []
    width = len(str(count))
    for i in range(count):
        r = raw_store.RawHost(**{**sources[i % len(sources)].__dict__})
        r.host = f"{prefix}{i:0{width}d}"
        r.spec = f"ssh://{r.host}"
        clones.append(r)
    raw_store.save(dst, clones, "kvm-netcheck bench")
    return [c.host for c in clones]


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: clone_facts.py SRC_DIR DST_DIR COUNT")
    names = clone_facts(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    print(f"{len(names)} hosts written to {sys.argv[2]}")
