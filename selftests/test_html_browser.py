"""The HTML report in a real headless browser (Debian's chromium): the fleet view renders at the
top, pytest-html draws each failure with its remediation, the host/check filter hides rows, the
grouped findings read without script, and a click leads from a group to one object's fix."""

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


def rendered(url: str, *args: str):
    """The page's DOM after its scripts ran."""
    import lxml.html

    p = chromium("--dump-dom", *args, url)
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


def _no_script(path: str, dest) -> str:
    import re

    dest.write_text(re.sub(r"<script\b.*?</script>", "", open(path).read(), flags=re.S | re.I))
    return dest.as_uri()


def test_findings_are_listed_first_without_javascript(report, tmp_path):
    """As a mail client shows it (scripts stripped): the static findings list comes first, each group
    of findings (one check, one cause) once with the first line of its fix and how many objects on
    how many hosts it covers, every failure and error counted in one group; each host with a finding
    has its page linked, and that page, also without script, holds each of the host's findings with
    its own fix."""
    import os

    from kvmnetcheck.report.pages import anchor

    dom, doc = rendered(_no_script(report.html_path, tmp_path / "no-script.html"))
    assert "<script" not in dom.lower()
    block = doc.xpath("//div[@class='kvm-static-findings']")
    assert len(block) == 1
    assert dom.index("kvm-static-findings") < dom.index('id="kvm-fleet"')
    rows = block[0].xpath(".//tr[contains(@class, 'kvm-group')]")
    bad = [r for r in report.results["results"] if r["outcome"] in ("failed", "error")]
    counts = [int(_text(tr[3]).split(" on ")[0]) for tr in rows]
    assert sum(counts) == len(bad) > 0 and all(counts)
    failed_checks = {r["check"] for r in bad if r["outcome"] == "failed"}
    assert {tr.get("data-check") for tr in rows if tr.get("data-outcome") == "failed"} == failed_checks
    assert all(_text(tr[5]) for tr in rows if tr.get("data-outcome") == "failed")  # a fix line for each
    # the check's reference page, embedded in the report itself (no --docs-url): the link leads there
    assert block[0].xpath(".//a[@href='#kvm-doc-bridge-forward-delay']")
    assert doc.xpath("//details[@id='kvm-doc-bridge-forward-delay']")
    pages = {a.text_content(): a.get("href") for a in doc.xpath("//details[@class='kvm-host-pages']//a")}
    findings = [r for r in report.results["results"] if r["outcome"] in ("failed", "error", "waived")]
    assert set(pages) == {r["host"] for r in findings}
    base = os.path.dirname(report.html_path)
    for host, href in pages.items():
        _, page = rendered(_no_script(os.path.join(base, href), tmp_path / "host.html"))
        for r in (r for r in findings if r["host"] == host):
            (section,) = page.xpath(f"//section[@id='{anchor(r['check'], r['object'])}']")
            assert section.get("data-check") == r["check"] and section.get("data-object") == r["object"]
            if r["outcome"] == "failed":
                fix = section.xpath(".//pre[@class='kvm-remediation']")
                assert fix and _text(fix[0]) == " ".join(r["remediation"].split()), r["test"]


# a user's click on the first object a group of findings names as an example
CLICK_GROUP = """<script>window.addEventListener('load', function () {
  document.querySelector('tr.kvm-group[data-outcome="failed"] a.kvm-object').click();
});</script>"""


def test_a_click_from_a_group_leads_to_one_objects_fix(report, tmp_path):
    """From a group of findings on the first page, a click on one of its objects opens that host's
    page at that object's finding, with its own fix (the report is a folder: no server, no fetch)."""
    import os
    import shutil

    import lxml.html

    folder = tmp_path / "report"
    shutil.copytree(os.path.dirname(report.html_path), folder)
    front = folder / os.path.basename(report.html_path)
    first = lxml.html.fromstring(front.read_text())
    link = first.xpath("//tr[contains(@class, 'kvm-group')][@data-outcome='failed']//a[@class='kvm-object']")[0]
    href, _, fragment = link.get("href").partition("#")
    host = os.path.basename(href)[: -len(".html")]  # the gate lab's host names are their page's name
    page = folder / "click.html"
    page.write_text(front.read_text().replace("</body>", CLICK_GROUP + "</body>"))
    # the DOM is dumped once the click's navigation has loaded the host's page (virtual time runs out
    # only after it), not half-way through it on a busy machine
    dom, doc = rendered(page.as_uri(), "--virtual-time-budget=10000")
    assert doc.xpath("//title")[0].text_content() == f"kvm-netcheck: {host}"
    (section,) = doc.xpath(f"//section[@id='{fragment}']")
    r = next(
        r
        for r in report.results["results"]
        if (r["host"], r["check"], r["object"]) == (host, section.get("data-check"), section.get("data-object"))
    )
    assert r["outcome"] == "failed" and _text(link).endswith(r["object"])
    assert _text(section.xpath(".//pre[@class='kvm-remediation']")[0]) == " ".join(r["remediation"].split())
