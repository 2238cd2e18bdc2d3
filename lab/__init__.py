"""kvm-netcheck lab: isolated namespaced "hosts" reachable over real SSH.

See :mod:`lab.core` for how a host is made; ``python -m lab up|down|status``
drives a lab from the shell.
"""

from .core import DEFAULT_ROOT, HostProcess, Lab, LabError, LabHost, find_holders
from .pxe import PxeOutcome, pxe_boot

__all__ = ["DEFAULT_ROOT", "HostProcess", "Lab", "LabError", "LabHost", "PxeOutcome", "find_holders", "pxe_boot"]
