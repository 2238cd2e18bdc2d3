"""Wires the suite: the kvm-netcheck plugin (options, facts, reports) and the object fixtures."""
from importlib.metadata import entry_points


def _plugin_installed() -> bool:
    # `pip install -e .` registers the plugin as an entry point; load it here only without one
    return any(ep.name == "kvmnetcheck" for ep in entry_points(group="pytest11"))


pytest_plugins = ["fixtures.objects"] + ([] if _plugin_installed() else ["kvmnetcheck.plugin"])
