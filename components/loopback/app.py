"""Guest of the loopback transport component (componentize-py world ``loopback``).

Two endpoints with the transport seam's shape: ``transport`` (endpoint A, wired to the
commissioner) and ``endpoint-b`` (wired to the commissionee). A datagram sent on one
endpoint is received on the other. The component counts packets and bytes per
direction and keeps a running SHA-256 of the traffic, framed as the core frames its
transcript: direction byte (1 = A to B, 2 = B to A), u32 little-endian length, bytes.
Nothing here can raise: the exports only touch in-memory queues.
"""

from __future__ import annotations

import hashlib
from collections import deque

import wit_world
from wit_world.exports import loopback_stats

QUEUE_LIMIT = 256
MAX_DATAGRAM = 1280


class _Link:
    def __init__(self) -> None:
        self.queues: tuple[deque[bytes], deque[bytes]] = (deque(), deque())
        self.packets = [0, 0]
        self.bytes = [0, 0]
        self.dropped = 0
        self.digest = hashlib.sha256()

    def send(self, direction: int, datagram: bytes) -> bool:
        # direction 0: A -> B (lands in B's queue, index 1); direction 1: B -> A.
        queue = self.queues[1 - direction]
        if len(queue) >= QUEUE_LIMIT or len(datagram) > MAX_DATAGRAM:
            self.dropped += 1
            return False
        data = bytes(datagram)
        queue.append(data)
        self.packets[direction] += 1
        self.bytes[direction] += len(data)
        self.digest.update(bytes([direction + 1]) + len(data).to_bytes(4, "little") + data)
        return True

    def receive(self, endpoint: int) -> bytes | None:
        queue = self.queues[endpoint]
        return queue.popleft() if queue else None


_LINK = _Link()


class Transport(wit_world.exports.Transport):
    """Endpoint A."""

    def send(self, datagram: bytes) -> bool:
        return _LINK.send(0, datagram)

    def receive(self) -> bytes | None:
        return _LINK.receive(0)


class EndpointB(wit_world.exports.EndpointB):
    """Endpoint B."""

    def send(self, datagram: bytes) -> bool:
        return _LINK.send(1, datagram)

    def receive(self) -> bytes | None:
        return _LINK.receive(1)


class LoopbackStats(wit_world.exports.LoopbackStats):
    """Counters and the traffic digest."""

    def stats(self) -> loopback_stats.LoopbackCounters:
        return loopback_stats.LoopbackCounters(
            a_to_b=loopback_stats.DirectionStats(packets=_LINK.packets[0], bytes=_LINK.bytes[0]),
            b_to_a=loopback_stats.DirectionStats(packets=_LINK.packets[1], bytes=_LINK.bytes[1]),
            dropped=_LINK.dropped,
            traffic_digest=_LINK.digest.digest(),
        )
