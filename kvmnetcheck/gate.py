"""Gates and nightly reports: severities that fail a run, waivers, fleet view, drift, fix scripts.

Registered by kvmnetcheck.plugin; reads the Results that plugin collects.
"""
