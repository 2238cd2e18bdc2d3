"""JUnit XML (pytest's xunit2 layout) written from the results as they were spooled: one testcase per
result, so a CI server shows each object; the suite's gate as testsuite properties. Written in one
pass over the spool, whatever the number of results."""

from __future__ import annotations

import datetime
import functools
import os
import platform
import re
from typing import Optional

from ..catalog import CHECKS
from ..text import for_xml
from .results import open_text
from .stream import ResultStream
from .terminal import finding_text

# most strings need nothing (no markup character, nothing XML 1.0 cannot carry), and are returned as they are
_PLAIN_TEXT = re.compile(r"[^\x00-\x1f&<>\ud800-\udfff\ufffe\uffff]*\Z")
_PLAIN_ATTR = re.compile(r'[^\x00-\x1f&<>"\ud800-\udfff\ufffe\uffff]*\Z')


def escape(value) -> str:
    """Element text."""
    value = str(value)
    if _PLAIN_TEXT.match(value):
        return value
    # (str.replace: a finding's text is long, and str.translate looks up every character)
    return for_xml(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value) -> str:
    """A double-quoted attribute value (line breaks kept as character references)."""
    value = str(value)
    if _PLAIN_ATTR.match(value):
        return '"' + value + '"'
    value = for_xml(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return '"' + value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def names(test_id: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml makes them from a node id."""
    path, _, rest = test_id.partition("::")
    classname = path[:-3] if path.endswith(".py") else path
    classname = classname.replace("/", ".")
    return classname, rest or test_id


@functools.lru_cache(maxsize=4096)
def _attr_of_many(value: str) -> str:
    """_attr of a value many results share (a file's class name, a check, a host, a severity)."""
    return _attr(value)


def testcase(r) -> str:
    classname, name = names(r.test)
    props = (
        f'<property name="check" value={_attr_of_many(r.check)}/><property name="host" value={_attr_of_many(r.host)}/>'
        f'<property name="object" value={_attr(r.object)}/>'
        f'<property name="severity" value={_attr_of_many(r.severity)}/>'
    )
    out = (
        f"<testcase classname={_attr_of_many(classname)} name={_attr(name)} "
        f'time="0.000"><properties>{props}</properties>'
    )
    if r.outcome == "failed":
        c = CHECKS.get(r.check)
        text = finding_text(r, c.rationale, c.guide) if c else r.message
        out += f"<failure message={_attr(r.message[:1000])}>{escape(text)}</failure>"
    elif r.outcome == "error":
        out += f"<failure message={_attr(r.message[:1000])}>{escape(r.message)}</failure>"
    elif r.outcome == "skipped":
        out += f'<skipped type="pytest.skip" message={_attr(r.message[:1000])}>{escape(r.message)}</skipped>'
    elif r.outcome == "waived":
        why = (r.waiver or {}).get("reason", "")
        out += f'<skipped type="pytest.xfail" message={_attr(why[:1000])}/>'
    return out + "</testcase>"


def write_junit(
    path: str, stream: ResultStream, properties: dict[str, str], seconds: float, timestamp: Optional[str] = None
) -> None:
    c = stream.counts
    failures = c.get("failed", 0) + c.get("error", 0)
    skipped = c.get("skipped", 0) + c.get("waived", 0)
    stamp = timestamp or datetime.datetime.now().isoformat(timespec="microseconds")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open_text(path, path.endswith(".gz")) as f:
        f.write(
            '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
            f'<testsuite name="pytest" errors="0" failures="{failures}" skipped="{skipped}" '
            f'tests="{stream.total}" time="{seconds:.3f}" timestamp={_attr(stamp)} '
            f"hostname={_attr(platform.node())}><properties>"
            + "".join(f"<property name={_attr(k)} value={_attr(v)}/>" for k, v in properties.items())
            + "</properties>"
        )
        cases = stream.cases()  # written as the results came (publishing.Reports.start), else made now
        for chunk in cases if cases is not None else map(testcase, stream.results()):
            f.write(chunk)
        f.write("</testsuite></testsuites>")
