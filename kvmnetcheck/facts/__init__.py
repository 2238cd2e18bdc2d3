"""Parsers: raw collector output and libvirt XML in, typed facts (model.py) out."""
