"""Bring the loopback interface up in a fresh network namespace (``unshare -rn``).

A new namespace has no network at all, not even 127.0.0.1. The tests cut the network but
keep loopback: torch.distributed's rendezvous and the local llama.cpp server listen there.
Standard library only (no iproute2 needed).
"""

from __future__ import annotations

import fcntl
import socket
import struct
import sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def main() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
