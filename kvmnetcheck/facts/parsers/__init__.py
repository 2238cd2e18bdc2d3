"""Parsers: what a host printed, in, typed facts (facts/model/) out; one module per source format.

Each module's `parse_*` functions read one kind of text (sysfs values, iptables-save, libvirt XML, ...) and
never raise on empty or garbled input; its `read_*` function takes the sections it needs from one host's
collector output (`gathered.Gathered`) for the wiring table, facts/sources.py. A parser imports the model,
raw and other parsers, never a conclusion.
"""
