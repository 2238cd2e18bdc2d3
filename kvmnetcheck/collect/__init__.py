"""Reaching hosts: the one collector session and the read-only libvirt connection."""
