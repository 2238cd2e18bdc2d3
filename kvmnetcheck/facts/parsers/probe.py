"""The probe's sections (collect/probe.py, `--probe`): one JSON object each.

probe_meta (who ran it, or why it could not run), probe_bridge BRIDGE (what one bridge answered),
probe_stopped (a signal ended it early), probe_done (what of its own it left behind). None when the
probe did not run; a probe that started and printed no probe_done was cut short, and what it did not
print is unknown.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..model.probe import BridgeProbe, ProbeOffer, ProbeRun, ProbeTftp
from .gathered import Gathered


def _json(text: Optional[str]) -> Optional[dict]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _num(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _opt_str(v: Any) -> Optional[str]:
    return v if isinstance(v, str) and v else None


def parse_offer(d: dict) -> Optional[ProbeOffer]:
    at, discover, status, csum = _num(d.get("at_s")), d.get("discover"), d.get("tp_status"), d.get("udp_checksum")
    if at is None or not all(isinstance(v, int) for v in (discover, status, csum)):
        return None
    verifies = d.get("checksum_verifies")
    return ProbeOffer(
        at_s=at,
        discover=discover,
        src_mac=_str(d.get("src_mac")),
        src_ip=_opt_str(d.get("src_ip")),
        server_id=_opt_str(d.get("server_id")),
        yiaddr=_opt_str(d.get("yiaddr")),
        siaddr=_opt_str(d.get("siaddr")),
        sname=_str(d.get("sname")),
        file=_str(d.get("file")),
        tftp_server_option=_str(d.get("opt_tftp_server")),
        bootfile_option=_str(d.get("opt_bootfile")),
        tp_status=status,
        csum_notready=bool(d.get("csum_notready")),
        udp_checksum=csum,
        checksum_verifies=verifies if isinstance(verifies, bool) else None,
    )


def parse_bridge_probe(bridge: str, text: str) -> BridgeProbe:
    d = _json(text)
    if d is None:
        return BridgeProbe(bridge=bridge, error="the probe's answer for this bridge could not be read")
    offers = tuple(o for o in (parse_offer(x) for x in d.get("offers") or () if isinstance(x, dict)) if o)
    t = d.get("tftp")
    tftp = None
    if isinstance(t, dict) and _str(t.get("outcome")):
        size = t.get("block_bytes")
        tftp = ProbeTftp(
            outcome=_str(t.get("outcome")),
            file=_str(t.get("file")),
            server=_opt_str(t.get("server")),
            detail=_str(t.get("detail")),
            block_bytes=size if isinstance(size, int) else None,
        )
    stp = d.get("stp_state")
    return BridgeProbe(
        bridge=bridge,
        error=_opt_str(d.get("error")),
        stp_state=stp if isinstance(stp, int) else None,
        forward_delay_s=_num(d.get("forward_delay_s")),
        window_s=_num(d.get("window_s")),
        forwarding_after_s=_num(d.get("forwarding_after_s")),
        discovers_at_s=tuple(x for x in (_num(v) for v in d.get("discovers_at_s") or ()) if x is not None),
        offers=offers,
        tftp=tftp,
        cleanup_error=_opt_str(d.get("cleanup_error")),
    )


def read_probe(g: Gathered) -> Optional[ProbeRun]:
    meta = g.one("probe_meta")
    if meta is None:
        return None
    m = _json(meta.text)
    if m is None:
        return ProbeRun(error="the probe's first answer could not be read: " + meta.text[:200])
    uid = m.get("uid")
    run = ProbeRun(
        error=_opt_str(m.get("error")),
        uid=uid if isinstance(uid, int) else None,
        python=_opt_str(m.get("python")),
        targets=tuple(b for b in m.get("bridges") or () if isinstance(b, str)),
        bridges=tuple(parse_bridge_probe(s.arg, s.text) for s in g.all("probe_bridge")),
    )
    stopped = g.one("probe_stopped")
    done = _json(g.text("probe_done"))
    left = done.get("left_behind") if done else None
    return ProbeRun(
        error=run.error,
        uid=run.uid,
        python=run.python,
        targets=run.targets,
        bridges=run.bridges,
        stopped=(_str((_json(stopped.text) or {}).get("why")) or "stopped") if stopped else None,
        left_behind=tuple(x for x in left if isinstance(x, str)) if isinstance(left, list) else None,
    )
