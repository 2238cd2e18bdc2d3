"""kvm-netcheck lab: isolated namespaced "hosts" reachable over real SSH.

- lab.lab: a lab's life cycle and state (Lab)
- lab.host: one host and the commands run in it (LabHost, HostProcess)
- lab.procs: finding and ending a lab's processes
- lab.configs: the files a lab writes, as pure functions
- lab.holder: PID 1 of each host; lab.pxe: a real PXE boot
- lab.releases: roots of other Debian releases (bullseye, trixie) for hosts that run them

``python -m lab up|down|status`` drives a lab from the shell.
"""

from .errors import LabError
from .host import HostProcess, LabHost
from .lab import DEFAULT_ROOT, Lab
from .procs import find_holders
from .pxe import NicsBootOutcome, PxeOutcome, nics_boot, pxe_boot

__all__ = [
    "DEFAULT_ROOT",
    "HostProcess",
    "Lab",
    "LabError",
    "LabHost",
    "NicsBootOutcome",
    "PxeOutcome",
    "find_holders",
    "nics_boot",
    "pxe_boot",
]
