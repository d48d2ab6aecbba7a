"""Clocks for the clock seam: a virtual clock the driver advances, or the host's own.

Clocks count nothing: the per-role :class:`~harness.seams.counters.CountingClock` view
counts each read once.
"""

from __future__ import annotations

import time


class VirtualClock:
    """A clock the driver advances: time passes only when the driver says so."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        """The current virtual time in milliseconds."""
        return self._now

    def peek(self) -> int:
        """The current time (the driver's own reading; the same as :meth:`now_ms`)."""
        return self._now

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms`` milliseconds."""
        if ms < 0:
            raise ValueError("a monotonic clock does not go backwards")
        self._now += ms

    def advance_to(self, when_ms: int) -> None:
        """Move time forward to ``when_ms`` (never backwards)."""
        self._now = max(self._now, when_ms)


class MonotonicClock:
    """The host's real monotonic clock, in milliseconds since this object was made."""

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()

    def now_ms(self) -> int:
        """Milliseconds since creation on the monotonic clock."""
        return (time.monotonic_ns() - self._origin) // 1_000_000

    def peek(self) -> int:
        """The current time (the same as :meth:`now_ms`)."""
        return self.now_ms()

    def advance_to(self, when_ms: int) -> None:
        """Wait until ``when_ms`` (real time cannot be skipped)."""
        delay = when_ms - self.peek()
        if delay > 0:
            time.sleep(delay / 1000)


Clock = VirtualClock | MonotonicClock
"""Either clock: both have ``now_ms``, ``peek`` and ``advance_to``."""
