"""The names the WIT package gives the seams and exports, the seams' host shapes, the roles.

``wit/pase.wit`` defines package ``matter:pase@0.1.0``. Every interface name the harness
links, calls or checks is spelled here once; no other module writes one as a literal.
The three seam protocols are what a host object must look like to be linked as that seam
(:func:`harness.runtime.link_seams`) or handed to the native core.
"""

from __future__ import annotations

from typing import Final, Protocol

PACKAGE: Final = "matter:pase"
PACKAGE_VERSION: Final = "0.1.0"


def interface_name(name: str) -> str:
    """The full import/export name of one of the package's interfaces."""
    return f"{PACKAGE}/{name}@{PACKAGE_VERSION}"


TRANSPORT: Final = interface_name("transport")
CLOCK: Final = interface_name("clock")
ENTROPY: Final = interface_name("entropy")
SEAMS: Final = (TRANSPORT, CLOCK, ENTROPY)
"""The host seams, the only imports the core world has."""
SESSION_CONTROL: Final = interface_name("session-control")
CONFORMANCE: Final = interface_name("conformance")
ENDPOINT_A: Final = interface_name("endpoint-a")
ENDPOINT_B: Final = interface_name("endpoint-b")
LOOPBACK_STATS: Final = interface_name("loopback-stats")
LINK_FAULTS: Final = interface_name("link-faults")

COMMISSIONER: Final = "commissioner"
"""The PASE initiator (the controller's side)."""
COMMISSIONEE: Final = "commissionee"
"""The PASE responder (the device's side)."""
ROLES: Final = (COMMISSIONER, COMMISSIONEE)
"""Both PASE roles, initiator first (the order every driver polls them in)."""

#: The exports the project's composed graph surfaces for a PASE run
#: (``components/graphs/pase-loopback.toml``).
COMMISSIONER_EXPORT: Final = "commissioner-control"
COMMISSIONEE_EXPORT: Final = "commissionee-control"
TRANSPORT_STATS_EXPORT: Final = "transport-stats"
TRANSPORT_FAULTS_EXPORT: Final = "transport-faults"
"""The loopback's ``link-faults`` as the graph surfaces it (faulted composed runs)."""


class TransportSeam(Protocol):
    """The transport seam's host shape: whole datagrams in and out, never blocking."""

    def send(self, datagram: bytes) -> bool:
        """Queue a datagram for the peer; False if it was refused."""
        ...

    def receive(self) -> bytes | None:
        """Take the next datagram, if any."""
        ...


class ClockSeam(Protocol):
    """The clock seam's host shape."""

    def now_ms(self) -> int:
        """Monotonic milliseconds."""
        ...


class EntropySeam(Protocol):
    """The entropy seam's host shape."""

    def random_bytes(self, n: int) -> bytes:
        """``n`` random bytes."""
        ...


__all__ = [
    "CLOCK",
    "COMMISSIONEE",
    "COMMISSIONEE_EXPORT",
    "COMMISSIONER",
    "COMMISSIONER_EXPORT",
    "CONFORMANCE",
    "ENDPOINT_A",
    "ENDPOINT_B",
    "ENTROPY",
    "LINK_FAULTS",
    "LOOPBACK_STATS",
    "PACKAGE",
    "PACKAGE_VERSION",
    "ROLES",
    "SEAMS",
    "SESSION_CONTROL",
    "TRANSPORT",
    "TRANSPORT_FAULTS_EXPORT",
    "TRANSPORT_STATS_EXPORT",
    "ClockSeam",
    "EntropySeam",
    "TransportSeam",
    "interface_name",
]
