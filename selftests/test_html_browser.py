"""The HTML report in a real headless browser (Debian's chromium): the fleet view renders at the
top, pytest-html draws each failure with its remediation, and the host/check filter hides rows."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile

import pytest
from gate_lab import HOSTS, shared_gate_lab

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def chromium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="kvm-chromium-") as profile:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def rendered(url: str):
    """The page's DOM after its scripts ran."""
    import lxml.html

    p = chromium("--dump-dom", url)
    assert p.returncode == 0 and "<html" in p.stdout, p.stderr[-2000:]
    return p.stdout, lxml.html.fromstring(p.stdout)


@pytest.fixture(scope="module")
def report(request, tmp_path_factory):
    return shared_gate_lab(request, tmp_path_factory).nightly().second


def _text(el) -> str:
    return " ".join(el.text_content().split())


def test_fleet_matrix_and_remediation_render_in_the_browser(report):
    raw = open(report.html_path).read()
    assert "<pre class='kvm-remediation'>" not in raw  # only pytest-html's script draws the rows
    dom, doc = rendered("file://" + report.html_path)
    # the fleet view is moved to the top, above pytest-html's environment table
    assert dom.index('id="kvm-fleet"') < dom.index('id="environment-header"')
    matrix = doc.get_element_by_id("kvm-fleet-matrix")
    rows = {tr.get("data-host"): tr for tr in matrix.xpath("./tbody/tr")}
    assert sorted(rows) == sorted(HOSTS)

    # a cell's check is its column's (the cells carry no names of their own)
    columns = [th.get("data-check") for th in matrix.xpath("./thead/tr/th")]

    def cell(host, check):
        return _text(rows[host].xpath("./th|./td")[columns.index(check)])

    assert cell("ghigh", "bridge-forward-delay") == "1W"
    assert cell("gdrift", "bridge-forward-delay") == "1F 1P"
    assert cell("gfix", "libvirt-network-stp-delay") == "1P"
    assert cell("gdown", "host-reachable") == "1F"
    assert columns[-1] == "" and rows["gdrift"].xpath("./th")[0].text_content() == "gdrift"
    unchecked = doc.get_element_by_id("kvm-unchecked")
    assert [li.get("data-host") for li in unchecked.xpath(".//li")] == ["gdown"]
    assert "ssh" in _text(unchecked)
    assert "gate FAILED (exit 1)" in _text(doc.get_element_by_id("kvm-gate"))
    # every failed result is a rendered row with its remediation block
    blocks = doc.xpath('//table[@id="results-table"]//pre[@class="kvm-remediation"]')
    failed = [r for r in report.results["results"] if r["outcome"] == "failed"]
    assert len(blocks) >= len(failed) > 0
    assert any("virsh net-edit" in _text(b) or "stp_state 0" in _text(b) for b in blocks)


def test_filter_by_host_and_check_hides_other_rows(report):
    # the table has a row per finding (failed, error, waived); passes are counted in the matrix
    findings = [r for r in report.results["results"] if r["outcome"] in ("failed", "error", "waived")]
    want = [r for r in findings if r["host"] == "gdrift" and r["check"] == "bridge-forward-delay"]
    assert len(want) == 1
    _, doc = rendered(f"file://{report.html_path}?kvm-host=gdrift&kvm-check=bridge-forward-delay")
    status = doc.get_element_by_id("kvm-filter-status")
    rows = doc.xpath('//table[@id="results-table"]/tbody[contains(@class, "results-table-row")]')
    assert int(status.get("data-rows")) == len(rows) == len(findings) > len(want)
    assert int(status.get("data-shown")) == len(want), _text(status)
    assert _text(status) == f"{len(want)} of {len(rows)} results shown"


# a user's click on the gdrift / bridge-forward-delay cell, and the pointer resting on it
CLICK = """<script>window.addEventListener('load', function () {
  var m = document.getElementById('kvm-fleet-matrix');
  var col = Array.prototype.findIndex.call(m.tHead.rows[0].cells, function (th) {
    return th.dataset.check === 'bridge-forward-delay'; });
  var cell = m.querySelector('tbody tr[data-host="gdrift"]').cells[col];
  cell.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  cell.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
  cell.id = 'clicked-cell';
});</script>"""


def test_a_click_on_a_matrix_cell_shows_only_its_host_and_check(report, tmp_path):
    findings = [r for r in report.results["results"] if r["outcome"] in ("failed", "error", "waived")]
    page = tmp_path / "click.html"
    page.write_text(open(report.html_path).read().replace("</body>", CLICK + "</body>"))
    _, doc = rendered(page.as_uri())
    status = doc.get_element_by_id("kvm-filter-status")
    assert _text(status) == f"1 of {len(findings)} results shown"
    assert doc.get_element_by_id("clicked-cell").get("title") == "gdrift / bridge-forward-delay: 1 failed, 1 passed"


def test_screenshot_of_the_report(report, tmp_path):
    shot = tmp_path / "report.png"
    p = chromium(f"--screenshot={shot}", "--window-size=1400,1800", "file://" + report.html_path)
    assert p.returncode == 0, p.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1400, 1800)
    assert len(data) > 50_000  # a page with content, not a blank one


def test_findings_are_listed_first_without_javascript(report, tmp_path):
    """As a mail client shows it (scripts stripped): the static findings list comes first, each finding
    once with the first line of its fix; pytest-html's script-drawn tables are not needed for it."""
    import re

    raw = open(report.html_path).read()
    stripped = tmp_path / "no-script.html"
    stripped.write_text(re.sub(r"<script\b.*?</script>", "", raw, flags=re.S | re.I))
    dom, doc = rendered(stripped.as_uri())
    assert "<script" not in dom.lower()
    block = doc.xpath("//div[@class='kvm-static-findings']")
    assert len(block) == 1
    assert dom.index("kvm-static-findings") < dom.index('id="kvm-fleet"')
    rows = block[0].xpath(".//tr[@class='kvm-static-finding']")
    want = sorted(
        (r["host"], r["object"], r["check"]) for r in report.results["results"] if r["outcome"] in ("failed", "error")
    )
    got = sorted((_text(tr[0]), _text(tr[1]), _text(tr[2])) for tr in rows)
    assert got == want and len(set(got)) == len(got)
    assert all(_text(tr[5]) for tr in rows)  # a fix line for each
    assert block[0].xpath(".//a[contains(@href, 'bridge-forward-delay.md')]")
