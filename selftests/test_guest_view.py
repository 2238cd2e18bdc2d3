"""The per-guest view: "why does guest X get no address" answered in one place, in the order to check.

One lab host, one network-booting guest with a finding on each layer (its network's dnsmasq gone, the
network's bridge slow to forward, its NIC's boot ROM off, no boot file), and a healthy guest on a healthy
network beside it, which the view leaves out."""

from __future__ import annotations

import html
import os
import re

import pytest
from support import REPO, run_suite

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()

EXPECTED_ORDER = [
    "network-dhcp-server",
    "guest-nic-bridge-delay",
    "libvirt-network-stp-delay",
    "bridge-forward-delay",
    "guest-pxe-boot-rom",
    "guest-pxe-boot-file",
]


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("guestview"))) as lab:
        lab.add_host("gv", libvirt=True).sh(
            LIB
            + """
net_define lan "name='virbr7' stp='on' delay='15'"
kill_dnsmasq lan
guest_define sick "<interface type='network'><mac address='52:54:00:00:0a:01'/><source network='lan'/><model type='virtio'/><rom bar='off'/></interface>"
cat > "$KT/ok.xml" <<XML
<network><name>ok</name><bridge name='virbr8' stp='off'/>
  <ip address='10.98.8.1' netmask='255.255.255.0'><dhcp><range start='10.98.8.10' end='10.98.8.50'/></dhcp></ip></network>
XML
$V net-define "$KT/ok.xml" >/dev/null
$V net-start ok >/dev/null
guest_define well "<interface type='network'><mac address='52:54:00:00:0a:02'/><source network='ok'/><model type='virtio'/></interface>" "<boot dev='hd'/>"
""",
            timeout=240,
        )
        out = str(tmp_path_factory.mktemp("guestview-report"))
        yield run_suite(out, "--hosts=ssh://gv", f"--ssh-config={lab.ssh_config}")


def test_terminal_lists_the_guests_findings_in_troubleshooting_order(view):
    text = view.stdout
    assert "why guests get no address or boot file" in text, text[-3000:]
    block = text[text.index("why guests get no address or boot file") :]
    head = next(ln for ln in block.splitlines() if ln.startswith("gv: guest "))
    assert head.startswith("gv: guest sick (NIC 52:54:00:00:0a:01: network lan, bridge virbr7)"), head
    boot = block.splitlines()[block.splitlines().index(head) + 1]
    # its only boot device is its NIC, whose ROM is off: SeaBIOS has nothing to boot
    assert boot.startswith("  boots from: nothing: NIC 52:54:00:00:0a:01: its boot ROM is off (<rom bar='off'/>)"), boot
    checks = re.findall(r"^\s+\d+\. (?:FAIL|ERROR) (\S+) ", block, re.MULTILINE)
    assert checks == EXPECTED_ORDER, checks
    assert "guest well" not in block  # nothing on its path is wrong


def test_html_has_the_same_view_without_script(view):
    page = open(view.html_path, encoding="utf-8").read()
    m = re.search(r"<div class='kvm-guests'>.*?</div></div>", page, re.S)
    assert m, "no per-guest view in the HTML report"
    block = m.group(0)
    assert "data-guest='sick'" in block and "data-guest='well'" not in block
    boot = re.search(r"<p class='kvm-guest-boot'>([^<]*)</p>", block)
    assert boot and html.unescape(boot.group(1)).startswith("boots from: nothing: NIC 52:54:00:00:0a:01"), block
    checks = [html.unescape(c) for c in re.findall(r"<li data-check='([^']+)'>", block)]
    assert checks == EXPECTED_ORDER, checks
    assert block.count("class='kvm-guest-fix'") == len(EXPECTED_ORDER)  # each with its fix, in the page itself


def test_every_guest_says_which_device_it_boots_from(view):
    """Not only the guests with a finding: results.json and the host's page say, for each guest, the device
    its firmware will boot from and why (the healthy guest boots its disk-less <boot dev='hd'/>: nothing)."""
    (host,) = [h for h in view.results["hosts"] if h["host"] == "gv"]
    boots = {b["guest"]: b["boots_from"] for b in host["guests_boot"]}
    assert set(boots) == {"sick", "well"}, boots
    assert boots["sick"].startswith("nothing: NIC 52:54:00:00:0a:01: its boot ROM is off"), boots
    assert boots["well"] and "52:54:00:00:0a:01" not in boots["well"], boots
    pages = os.path.join(os.path.dirname(view.html_path), "hosts")
    (page,) = [os.path.join(pages, p) for p in os.listdir(pages) if p.endswith(".html")]
    text = html.unescape(open(page, encoding="utf-8").read())
    assert "What each guest boots from" in text
    assert f"<td>well</td><td>{boots['well']}</td>" in text and f"<td>sick</td><td>{boots['sick']}</td>" in text
