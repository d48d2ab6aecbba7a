"""Fault injection on the transport seam (negative runs and fault tests)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.seams.loopback import LoopbackEndpoint

#: The faults :class:`FaultyTransport` can apply to an outgoing datagram.
FAULTS = ("flip", "truncate", "drop")


@dataclass
class FaultyTransport:
    """A transport seam that damages chosen outgoing datagrams (fault-injection tests).

    Wraps a loopback endpoint (or another faulty transport). The datagrams whose
    0-based send index is in ``on_sends`` (every one when None) get ``fault``:

    * ``flip``: XOR the byte at ``offset`` (negative counts from the end) with ``mask``;
    * ``truncate``: keep only the first ``keep`` bytes;
    * ``drop``: report success but deliver nothing (a lost datagram).

    Receiving is passed through untouched. ``faults_applied`` counts damaged datagrams,
    so a test can tell a fault that never fired from one the core shrugged off.
    """

    inner: LoopbackEndpoint | FaultyTransport
    fault: str = "flip"
    on_sends: frozenset[int] | None = None
    offset: int = -1
    mask: int = 0xFF
    keep: int = 8
    sends: int = 0
    faults_applied: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {FAULTS}")
        if not 1 <= self.mask <= 0xFF:
            raise ValueError("a flip mask must change at least one bit of one byte")
        if self.keep < 0:
            raise ValueError("cannot keep a negative number of bytes")

    def send(self, datagram: bytes) -> bool:
        """Send ``datagram``, damaged first if this send is one of the chosen ones."""
        index = self.sends
        self.sends += 1
        if self.on_sends is not None and index not in self.on_sends:
            return self.inner.send(datagram)
        data = bytes(datagram)
        if self.fault == "drop":
            self.faults_applied += 1
            return True
        if self.fault == "truncate":
            if len(data) <= self.keep:
                return self.inner.send(data)  # nothing to cut: not a fault
            self.faults_applied += 1
            return self.inner.send(data[: self.keep])
        if not -len(data) <= self.offset < len(data):
            return self.inner.send(data)  # offset outside this datagram: leave it intact
        damaged = bytearray(data)
        damaged[self.offset] ^= self.mask
        self.faults_applied += 1
        return self.inner.send(bytes(damaged))

    def receive(self) -> bytes | None:
        """Take the next datagram from the wrapped transport, unchanged."""
        return self.inner.receive()
