"""Seam crossings, counted once.

Every crossing of a seam is counted in exactly one place: a transport counts its own
sends and receives; clock reads and entropy draws are counted by the per-role views
:class:`CountingClock` and :class:`CountingEntropy`, never by the clock or the entropy
source behind them (which may be shared by both roles, as in the composed graph).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass
class SeamCounters:
    """How often each seam was crossed, and how many bytes went over it."""

    clock_reads: int = 0
    entropy_calls: int = 0
    entropy_bytes: int = 0
    transport_sends: int = 0
    transport_send_bytes: int = 0
    transport_receives: int = 0
    transport_receive_bytes: int = 0
    transport_empty_receives: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain mapping (for reports and evidence)."""
        return dict(self.__dict__)

    def merged(self, other: SeamCounters) -> SeamCounters:
        """The sum of two sets of counters."""
        return SeamCounters(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})


class _PeekClock(Protocol):
    def peek(self) -> int: ...


class _Source(Protocol):
    def random_bytes(self, n: int) -> bytes: ...


class CountingClock:
    """One role's view of a clock: the clock seam's shape, each read counted."""

    def __init__(self, clock: _PeekClock, counters: SeamCounters) -> None:
        self._clock = clock
        self.counters = counters

    def now_ms(self) -> int:
        """The clock's time in ms; one seam crossing."""
        self.counters.clock_reads += 1
        return self._clock.peek()


class CountingEntropy:
    """One role's view of an entropy source: the entropy seam's shape, each draw counted."""

    def __init__(self, source: _Source, counters: SeamCounters) -> None:
        self._source = source
        self.counters = counters

    def random_bytes(self, n: int) -> bytes:
        """``n`` bytes from the source; one seam crossing."""
        data = self._source.random_bytes(n)
        self.counters.entropy_calls += 1
        self.counters.entropy_bytes += n
        return data
