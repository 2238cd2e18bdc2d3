"""One lab for the gate, waiver, drift, fix-script and browser tests, built once per session.

pytest runs a session fixture imported into several test modules once per module, so the lab and
the two nightly runs are cached here and torn down when the session ends.

Hosts, each in one known state:

| host   | state | findings |
|---|---|---|
| glow   | libvirtd logged the old checksum warning | one low (libvirt-checksum-warning) |
| ghigh  | bridge br0, kernel STP, forward delay 15 s | high (bridge-forward-delay br0) |
| gdrift | br0 as ghigh; between the runs STP goes off on br0 and br1 appears like it | fixed br0, new br1 |
| gfix   | network lan with delay 15 (virbr7), and br0 as ghigh | high ones with scripted fixes |
| gdown  | torn down after it was built: SSH to it fails | host-reachable |

The nightly story: run 1 is the baseline; then gfix's generated fix script is run on gfix over SSH
and gdrift drifts; run 2 uses run 1's results.json as its baseline, a waiver file (one entry that
applies, one expired, one matching nothing) and keeps a dated copy.
"""

from __future__ import annotations

import datetime
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

from support import REPO, SuiteRun, run_suite

LIB = open(os.path.join(REPO, "selftests", "scenarios", "lib.sh")).read()
HOSTS = ("glow", "ghigh", "gdrift", "gfix", "gdown")

SETUP = {
    "glow": """
mkdir -p /var/log/libvirt
cat >> /var/log/libvirt/libvirtd.log <<EOF
2013-02-01 10:00:00.000+0000: 2101: warning : networkAddGeneralIptablesRules:1233 : Could not add rule to fixup DHCP response checksums on network 'default'.
EOF""",
    "ghigh": "bridge br0 1 1500",
    "gdrift": "bridge br0 1 1500",
    # lib.sh's net_define writes a fixed /tmp path, and lab hosts share the machine's /tmp
    "gfix": """f=$(mktemp)
cat > "$f" <<'XML'
<network>
  <name>lan</name>
  <bridge name='virbr7' stp='on' delay='15'/>
  <ip address='10.98.7.1' netmask='255.255.255.0'><dhcp><range start='10.98.7.10' end='10.98.7.50'/></dhcp></ip>
</network>
XML
$V net-define "$f" >/dev/null && rm -f "$f"
$V net-start lan >/dev/null
bridge br0 1 1500""",
    "gdown": "true",
}
DRIFT = "ip link set dev br0 type bridge stp_state 0\nbridge br1 1 1500"

WAIVERS = """\
# the team's accepted exceptions
waivers:
  - check: bridge-forward-delay
    host: ghigh
    object: br0
    reason: ring topology needs STP here (CHG-1042)
    expires: 2999-12-31
  - check: libvirt-checksum-warning
    host: "g*"
    reason: old warning, before the iptables upgrade
    expires: 2020-01-01
  - check: bridge-stp-*
    host: gnone
    object: br9
    reason: a host that went away
    expires: 2999-12-31
"""
WAIVER_LINES = {"applies": 3, "expired": 8, "unused": 12}


@dataclass
class Nightly:
    first: SuiteRun
    second: SuiteRun
    out2: str
    fix_script: str  # gfix's script from the first run
    fix_run: subprocess.CompletedProcess  # running it on gfix over SSH
    waivers: str
    day: str  # the date the second run was made (its dated copy)


class GateLab:
    def __init__(self, root: str, work: str):
        from lab import Lab

        self.work = work
        self.lab = Lab(root)
        self.lab.__enter__()
        try:

            def build(name):
                h = self.lab.add_host(name, libvirt=name != "gdown")
                h.sh(LIB + "\n" + SETUP[name], timeout=240)

            with ThreadPoolExecutor(max_workers=3) as pool:
                list(pool.map(build, HOSTS))
            gone = self.lab.get("gdown")
            os.kill(gone.pid, 9)
        except BaseException:
            self.close()
            raise
        self._nightly: Optional[Nightly] = None
        self._runs = 0

    def close(self) -> None:
        self.lab.__exit__(None, None, None)

    def out_dir(self, label: str) -> str:
        self._runs += 1
        return os.path.join(self.work, f"{self._runs:02d}-{label}")

    def run(self, label: str, hosts, *args: str) -> SuiteRun:
        """The suite over real SSH against the given lab hosts."""
        return run_suite(
            self.out_dir(label),
            "--hosts=" + ",".join(f"ssh://{h}" for h in hosts),
            f"--ssh-config={self.lab.ssh_config}",
            *args,
        )

    def ssh_script(self, host: str, script: str) -> subprocess.CompletedProcess:
        """Run a shell script on a lab host over real SSH, as an operator would (ssh HOST sh -s < FILE)."""
        return subprocess.run(
            ["ssh", "-F", self.lab.ssh_config, host, "sh", "-s"],
            input=script,
            capture_output=True,
            text=True,
            timeout=240,
        )

    def nightly(self) -> Nightly:
        if self._nightly is None:
            first = self.run("night1", HOSTS)
            with open(os.path.join(os.path.dirname(first.html_path), "fix", "gfix.sh")) as f:
                script = f.read()
            fix_run = self.ssh_script("gfix", script)
            self.lab.get("gdrift").sh(LIB + "\n" + DRIFT)
            waivers = os.path.join(self.work, "waivers.yaml")
            with open(waivers, "w") as f:
                f.write(WAIVERS)
            out2 = self.out_dir("night2")
            day = datetime.date.today().isoformat()
            second = run_suite(
                out2,
                "--hosts=" + ",".join(f"ssh://{h}" for h in HOSTS),
                f"--ssh-config={self.lab.ssh_config}",
                f"--waivers={waivers}",
                f"--baseline={os.path.join(os.path.dirname(first.html_path), 'results.json')}",
                "--dated-copies",
            )
            self._nightly = Nightly(first, second, out2, script, fix_run, waivers, day)
        return self._nightly


_SHARED: dict[str, GateLab] = {}


def shared_gate_lab(request, tmp_path_factory) -> GateLab:
    """The session's GateLab: built on first use, torn down when pytest ends."""
    if "lab" not in _SHARED:
        lab = GateLab(str(tmp_path_factory.mktemp("gatelab")), str(tmp_path_factory.mktemp("gateruns")))
        _SHARED["lab"] = lab

        def close():
            _SHARED.pop("lab", None)
            lab.close()

        request.config.add_cleanup(close)
    return _SHARED["lab"]
