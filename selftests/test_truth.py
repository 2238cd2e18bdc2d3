"""The truth test: the suite's verdict on a network, its bridge and a guest's NIC must agree with
what really happens when a guest PXE boots there (QEMU under TCG, its iPXE ROM, libvirt's dnsmasq)."""
from __future__ import annotations

import os

import pytest

from support import REPO, run_suite

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
GUEST_NIC = "<interface type='network'><mac address='52:54:00:00:09:01'/><source network='pxe'/><model type='virtio'/></interface>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    from lab import Lab

    with Lab(str(tmp_path_factory.mktemp("truth"))) as lab:
        yield lab


@pytest.mark.slow
@pytest.mark.parametrize("delay, boots", [(0, True), (15, False)], ids=["delay-0", "delay-15"])
def test_verdict_matches_a_real_pxe_boot(lab, tmp_path, delay, boots):
    from lab import pxe_boot

    name = f"truth{delay}"
    h = lab.add_host(name, libvirt=True)
    h.sh(LIB + f"""
net_define pxe "name='virbr9' stp='on' delay='{delay}'"
guest_define pxeguest "{GUEST_NIC}"
""", timeout=240)
    run = run_suite(str(tmp_path), f"--hosts=ssh://{name}", f"--ssh-config={lab.ssh_config}")
    verdicts = {
        "libvirt-network-stp-delay": run.result("libvirt-network-stp-delay", name, "pxe"),
        "bridge-forward-delay": run.result("bridge-forward-delay", name, "virbr9"),
        "guest-nic-bridge-delay": run.result("guest-nic-bridge-delay", name, "pxeguest/52:54:00:00:09:01"),
    }
    assert all(verdicts.values()), verdicts

    # the real thing: an identical guest network-boots on the same network
    outcome = pxe_boot(h, "pxe", guest_name="pxe1", observe_s=50)
    assert outcome.leased is boots, outcome
    expected = "passed" if outcome.leased else "failed"
    for check, r in verdicts.items():
        assert r["outcome"] == expected, (check, r["outcome"], r["message"], outcome)
    if not outcome.leased:
        assert "PXE-booting guest" in verdicts["guest-nic-bridge-delay"]["message"]
