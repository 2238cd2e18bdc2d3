"""The truth of a guest's boot path: a two-NIC guest booted for real by SeaBIOS and each NIC's iPXE ROM
(QEMU under TCG, libvirt's dnsmasq), against the suite's verdicts on the same guest. The lease each NIC gets
shows which NIC the firmware tried; the iPXE script's line on the serial console shows which one booted."""

from __future__ import annotations

import os

import pytest
from support import REPO, run_suite, truth_releases

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
BOOTED = "KNC-BOOTED-FROM-THE-NETWORK"
NOTHING = ("No bootable device",)
# network pxe hands out boot.ipxe, an iPXE script that prints BOOTED; network lan gives an address only
NETWORKS = """
mkdir -p /var/lib/libvirt/tftp
printf '#!ipxe\\necho KNC-BOOTED-FROM-THE-NETWORK\\n' > /var/lib/libvirt/tftp/boot.ipxe
net_define lan "name='virbr7' stp='off'"
cat > "$KT/pxe.xml" <<XML
<network><name>pxe</name><bridge name='virbr8' stp='off'/>
  <ip address='10.98.8.1' netmask='255.255.255.0'><tftp root='/var/lib/libvirt/tftp'/>
    <dhcp><range start='10.98.8.10' end='10.98.8.50'/><bootp file='boot.ipxe'/></dhcp></ip></network>
XML
$V net-define "$KT/pxe.xml" >/dev/null
$V net-start pxe >/dev/null
"""
MACS = ("52:54:00:00:0c:01", "52:54:00:00:0c:02")
# KNC_TRUTH_RELEASES=trixie,bullseye also boots on lab hosts of those Debian releases (their own libvirt,
# dnsmasq, QEMU, SeaBIOS and iPXE; lab/releases.py); by default only on the machine's
RELEASES = truth_releases()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("truthpath"))) as lab:
        yield lab


def _interfaces_xml(interfaces) -> str:
    return "".join(
        f"<interface type='network'><mac address='{mac}'/><source network='{net}'/><model type='virtio'/>{extra}"
        "</interface>"
        for (net, extra), mac in zip(interfaces, MACS)
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "interfaces, judged",
    [
        # the first NIC boots; the second, whose ROM is off, is never tried
        (
            (("pxe", "<boot order='1'/>"), ("lan", "<boot order='2'/><rom bar='off'/>")),
            {
                ("guest-pxe-boot-rom", 1): "skipped",
                ("guest-pxe-boot-file", 1): "skipped",
                ("guest-pxe-boot-file", 0): "passed",
            },
        ),
        # the first NIC gets an address and no file: iPXE returns to SeaBIOS, which boots the second
        (
            (("lan", "<boot order='1'/>"), ("pxe", "<boot order='2'/>")),
            {("guest-pxe-boot-file", 0): "skipped", ("guest-pxe-boot-file", 1): "passed"},
        ),
    ],
    ids=["first-nic-boots", "first-nic-falls-through"],
)
@pytest.mark.parametrize("release", RELEASES, ids=lambda r: r or "machine")
def test_boot_path_verdicts_match_a_real_two_nic_boot(lab, tmp_path, interfaces, judged, release):
    from lab import nics_boot

    first_boots = interfaces[0][0] == "pxe"
    name = "truthpath" + ("1" if first_boots else "2") + (f"-{release}" if release else "")
    h = lab.add_host(name, libvirt=True, release=release)
    h.sh(LIB + NETWORKS + f'guest_define twonic "{_interfaces_xml(interfaces)}" " "\n', timeout=240)
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    for (check, i), want in judged.items():
        r = run.result(check, name, f"twonic/{MACS[i]}")
        assert r is not None and r["outcome"] == want, (check, i, r and (r["outcome"], r["message"]))

    outcome = nics_boot(h, interfaces, guest_name="nics1", observe_s=150, until=(BOOTED,) + NOTHING)
    assert BOOTED in outcome.console, outcome.console[-2000:]
    first, second = outcome.lease_s
    if first_boots:
        assert first is not None and second is None, outcome  # the second NIC was never tried
    else:
        assert first is not None and second is not None and first < second, outcome  # tried in boot order
