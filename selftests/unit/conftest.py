"""Unit tests for kvmnetcheck's parsers: import the package from this checkout.

The suite's own conftest.py (at the top of the checkout) is deliberately not
loaded: pytest.ini here makes selftests/unit the rootdir.
"""

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Hypothesis keeps caches in ./.hypothesis (even with database=None); keep them out of the checkout.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "kvmnetcheck-unit-hypothesis"))
