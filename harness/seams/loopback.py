"""The in-memory loopback link: two transport endpoints, a per-packet trace.

The same objects serve the native core and the core component (through the linker in
:mod:`harness.runtime`), which is what makes a seeded native run and a seeded component
run byte-for-byte equal.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from harness.seams.counters import SeamCounters
from harness.wit import COMMISSIONEE, COMMISSIONER

if TYPE_CHECKING:
    from harness.seams.linkfaults import LinkFaults


class _Clock(Protocol):
    def peek(self) -> int: ...


#: Datagrams a loopback queue holds before it refuses more.
LOOPBACK_QUEUE_LIMIT = 256
#: The largest datagram the loopback accepts (an IPv6 minimum-MTU UDP payload).
MAX_DATAGRAM = 1280


@dataclass(frozen=True)
class PacketRecord:
    """One datagram that crossed the transport: who sent it, when, and its bytes."""

    direction: str
    time_ms: int
    data: bytes


@dataclass
class LoopbackLink:
    """In-memory datagram link between two endpoints with a per-packet trace.

    Endpoint names are the role names; :meth:`endpoint` gives each side an object with
    the transport seam's shape. With ``faults`` set, every datagram a side sends goes
    through that fault model (:mod:`harness.seams.linkfaults`; direction 0 is from the
    first name to the second) and is received when the model releases it; the trace
    keeps what the senders handed over, at the time they sent it.
    """

    names: tuple[str, str] = (COMMISSIONER, COMMISSIONEE)
    clock: _Clock | None = None
    queue_limit: int = LOOPBACK_QUEUE_LIMIT
    trace: list[PacketRecord] = field(default_factory=list)
    dropped: int = 0
    faults: LinkFaults | None = None
    _queues: dict[str, deque[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queues = {name: deque() for name in self.names}

    def endpoint(self, name: str, counters: SeamCounters | None = None) -> LoopbackEndpoint:
        """The transport seam for the side called ``name``."""
        if name not in self._queues:
            raise ValueError(f"unknown endpoint {name!r}; the link has {self.names}")
        peer = self.names[1] if name == self.names[0] else self.names[0]
        return LoopbackEndpoint(self, name, peer, counters or SeamCounters())

    def deliver(self, sender: str, receiver: str, datagram: bytes) -> bool:
        """Queue ``datagram`` for ``receiver``; False when refused."""
        queue = self._queues[receiver]
        waiting = len(queue)
        if self.faults is not None:
            waiting += self.faults.pending(self._direction(receiver))
        if waiting >= self.queue_limit or len(datagram) > MAX_DATAGRAM:
            self.dropped += 1
            return False
        now = self._now()
        self.trace.append(PacketRecord(f"{sender}->{receiver}", now, datagram))
        if self.faults is not None:
            self.faults.submit(self._direction(receiver), datagram, now)
        else:
            queue.append(datagram)
        return True

    def take(self, receiver: str) -> bytes | None:
        """The next datagram waiting for ``receiver``, or None."""
        queue = self._queues[receiver]
        if self.faults is not None:
            queue.extend(self.faults.due(self._direction(receiver), self._now()))
        return queue.popleft() if queue else None

    def pending(self) -> int:
        """Datagrams waiting in either direction (held or delayed ones included)."""
        waiting = sum(len(q) for q in self._queues.values())
        if self.faults is not None:
            waiting += self.faults.pending(0) + self.faults.pending(1)
        return waiting

    def inject(self, receiver: str, datagram: bytes) -> None:
        """Put a datagram in front of ``receiver`` as if the peer had sent it (fault tests,
        the link adversary); with a fault model it is delivered now and counted
        ``injected``, and in either case it is not part of the trace."""
        if receiver not in self._queues:
            raise ValueError(f"unknown endpoint {receiver!r}; the link has {self.names}")
        if self.faults is not None:
            self.faults.inject(self._direction(receiver), bytes(datagram), self._now())
        else:
            self._queues[receiver].append(bytes(datagram))

    def next_release_ms(self) -> int | None:
        """When the fault model next releases a held or delayed datagram (None: never)."""
        return self.faults.next_release_ms() if self.faults is not None else None

    def calm(self) -> None:
        """Apply no more faults to new datagrams (see :meth:`LinkFaults.calm`)."""
        if self.faults is not None:
            self.faults.calm()

    def _direction(self, receiver: str) -> int:
        return 0 if receiver == self.names[1] else 1

    def _now(self) -> int:
        return self.clock.peek() if self.clock is not None else 0


@dataclass
class LoopbackEndpoint:
    """One side of a :class:`LoopbackLink`, with the transport seam's shape."""

    link: LoopbackLink
    name: str
    peer: str
    counters: SeamCounters

    def send(self, datagram: bytes) -> bool:
        """Send a datagram to the peer."""
        self.counters.transport_sends += 1
        self.counters.transport_send_bytes += len(datagram)
        return self.link.deliver(self.name, self.peer, bytes(datagram))

    def receive(self) -> bytes | None:
        """Take the next datagram for this side."""
        datagram = self.link.take(self.name)
        if datagram is None:
            self.counters.transport_empty_receives += 1
        else:
            self.counters.transport_receives += 1
            self.counters.transport_receive_bytes += len(datagram)
        return datagram


def transcript_digest(trace: list[PacketRecord], initiator: str = COMMISSIONER) -> bytes:
    """SHA-256 over datagrams framed as direction byte, u32 LE length, bytes.

    The same framing as the core's transcript hash and the loopback component's traffic
    digest: 1 for datagrams the initiator sent, 2 for the responder's.
    """
    digest = hashlib.sha256()
    for packet in trace:
        direction = 1 if packet.direction.startswith(initiator + "->") else 2
        digest.update(bytes([direction]) + len(packet.data).to_bytes(4, "little") + packet.data)
    return digest.digest()
