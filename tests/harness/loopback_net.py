"""What the loopback network of this machine offers, for tests that need it."""

from __future__ import annotations

import socket


def ipv6_loopback_available() -> bool:
    """True when this machine can bind a UDP socket to ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
