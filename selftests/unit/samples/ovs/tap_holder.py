"""Hold taps open as QEMU does (TUNSETIFF on /dev/net/tun), so they have carrier: tap_holder.py TAP..."""

import fcntl
import os
import signal
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000

fds = []
for name in sys.argv[1:]:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
    fds.append(fd)
print("holding", *sys.argv[1:], flush=True)
signal.pause()
