"""Guest of the loopback transport component (componentize-py world ``loopback``).

Two endpoints with the transport seam's shape: ``transport`` (endpoint A, wired to the
commissioner) and ``endpoint-b`` (wired to the commissionee). A datagram sent on one
endpoint is received on the other. The component counts packets and bytes per
direction and keeps a running SHA-256 of the traffic, framed as the core frames its
transcript: direction byte (1 = A to B, 2 = B to A), u32 little-endian length, bytes.

``link-faults`` puts the seeded fault model of :mod:`link_faults` on the link (the
composed graph's faulted runs): once configured, every datagram sent goes through it and
is received when it releases it, and the clock import is read on each send and receive.
Unconfigured, the clock is never read and the link behaves exactly as without faults.
The counters and the digest always cover what the endpoints sent, before any fault.
Nothing here can raise: the exports only touch in-memory queues (a refused configure is
a WIT error value).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque

import link_faults
import wit_world
from componentize_py_types import Err
from wit_world.exports import link_faults as fault_types
from wit_world.exports import loopback_stats
from wit_world.imports import clock

QUEUE_LIMIT = 256
MAX_DATAGRAM = 1280

_KIND = {
    "dropped": fault_types.FaultKind.DROPPED,
    "corrupted": fault_types.FaultKind.CORRUPTED,
    "duplicated": fault_types.FaultKind.DUPLICATED,
    "reordered": fault_types.FaultKind.REORDERED,
    "delayed": fault_types.FaultKind.DELAYED,
    "injected": fault_types.FaultKind.INJECTED,
}


class _Link:
    def __init__(self) -> None:
        self.queues: tuple[deque[bytes], deque[bytes]] = (deque(), deque())
        self.packets = [0, 0]
        self.bytes = [0, 0]
        self.dropped = 0
        self.digest = hashlib.sha256()
        self.faults: link_faults.LinkFaults | None = None

    def _waiting(self, queue_index: int) -> int:
        waiting = len(self.queues[queue_index])
        if self.faults is not None:
            # Datagrams for endpoint B travel in direction 0, those for A in direction 1.
            waiting += self.faults.pending(1 - queue_index)
        return waiting

    def send(self, direction: int, datagram: bytes) -> bool:
        # direction 0: A -> B (lands in B's queue, index 1); direction 1: B -> A.
        if self._waiting(1 - direction) >= QUEUE_LIMIT or len(datagram) > MAX_DATAGRAM:
            self.dropped += 1
            return False
        data = bytes(datagram)
        self.packets[direction] += 1
        self.bytes[direction] += len(data)
        self.digest.update(bytes([direction + 1]) + len(data).to_bytes(4, "little") + data)
        if self.faults is not None:
            self.faults.submit(direction, data, clock.now_ms())
        else:
            self.queues[1 - direction].append(data)
        return True

    def receive(self, endpoint: int) -> bytes | None:
        queue = self.queues[endpoint]
        if self.faults is not None:
            queue.extend(self.faults.due(1 - endpoint, clock.now_ms()))
        return queue.popleft() if queue else None

    def configure(self, plan: fault_types.FaultPlan, seed: bytes) -> str | None:
        if self.faults is not None:
            return "the link's faults are already configured"
        if self.packets[0] or self.packets[1]:
            return "configure the link's faults before any datagram is sent"
        rates = (plan.drop, plan.corrupt, plan.duplicate, plan.reorder)
        problem = link_faults.check_plan(rates, plan.delay_ms)
        if problem is None and not all(math.isfinite(rate) for rate in rates):
            problem = "fault rates must be finite"
        if problem is not None:
            return problem
        self.faults = link_faults.LinkFaults(rates, plan.delay_ms, bytes(seed))
        return None

    def inject(self, to_b: bool, datagram: bytes) -> bool:
        endpoint = 1 if to_b else 0
        if self.faults is None:
            return False
        if self._waiting(endpoint) >= QUEUE_LIMIT or len(datagram) > MAX_DATAGRAM:
            self.dropped += 1
            return False
        self.faults.inject(1 - endpoint, bytes(datagram), clock.now_ms())
        return True


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


class LinkFaults(wit_world.exports.LinkFaults):
    """The seeded fault model on the link, and injection (the link adversary)."""

    def configure(self, plan: fault_types.FaultPlan, seed: bytes) -> None:
        try:
            problem = _LINK.configure(plan, seed)
        except Exception as exc:  # never trap: the caller gets the reason as a value
            problem = f"internal error: {type(exc).__name__}: {exc}"
        if problem is not None:
            raise Err(problem)

    def inject(self, to_b: bool, datagram: bytes) -> bool:
        return _LINK.inject(to_b, datagram)

    def calm(self) -> None:
        if _LINK.faults is not None:
            _LINK.faults.calmed = True

    def next_release_ms(self) -> int | None:
        return _LINK.faults.next_release_ms() if _LINK.faults is not None else None

    def counters(self) -> fault_types.FaultCounters:
        counts = _LINK.faults.counts if _LINK.faults is not None else {}
        return fault_types.FaultCounters(**{k: counts.get(k, 0) for k in link_faults.KINDS})

    def events(self) -> list[fault_types.FaultEvent]:
        log = _LINK.faults.log if _LINK.faults is not None else []
        return [
            fault_types.FaultEvent(
                index=index, direction=direction, at_ms=at_ms, kind=_KIND[kind], detail=detail
            )
            for index, direction, at_ms, kind, detail in log
        ]
