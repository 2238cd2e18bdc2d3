"""Wires the suite from a clone: the kvm-netcheck plugin (options, facts, objects, reports).

`pip install .` registers the plugin as a pytest11 entry point, so its options parse before
any conftest.py is found; without one (the package on PYTHONPATH only) load it here.
"""

from importlib.metadata import entry_points


def _plugin_installed() -> bool:
    return any(ep.name == "kvmnetcheck" for ep in entry_points(group="pytest11"))


pytest_plugins = [] if _plugin_installed() else ["kvmnetcheck.plugin"]
