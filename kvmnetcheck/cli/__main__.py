"""`python -m kvmnetcheck.cli`: the same as `kvm-netcheck`."""

import sys

from . import main

sys.exit(main())
