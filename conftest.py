"""Wires the suite: the kvm-netcheck plugin (options, facts, reports) and the object fixtures."""

pytest_plugins = ["kvmnetcheck.plugin", "fixtures.objects"]
