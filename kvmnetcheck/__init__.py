"""kvm-netcheck: checks KVM/libvirt hosts for what makes guests fail PXE boot or DHCP."""

__version__ = "0.1.0"
