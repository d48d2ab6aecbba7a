"""What happened to a session, kept for the host: event records and their bounded queue.

:class:`~matter_core.endpoint.CoreEndpoint` records an event when the handshake
establishes the session, when the session fails and when ``open()`` opens a message,
and hands them out through ``take_events()`` (WIT ``session-control.take-events``).
Each record carries the kind and the endpoint's clock reading; recording an event never
reads the clock or draws entropy itself.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

MAX_EVENTS = 64
"""Events kept until the host takes them, at most; past this the oldest are dropped."""


class EventKind(enum.Enum):
    """What kind of thing happened; the values are the WIT ``event-kind`` case names."""

    ESTABLISHED = "established"
    FAILED = "failed"
    MESSAGE_OPENED = "message-opened"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One event, mirroring the WIT ``session-event`` record.

    ``at_ms`` is the clock-seam reading of the call in which the event happened (for a
    message opened without a clock read in that call, the endpoint's latest reading).
    """

    kind: EventKind
    at_ms: int


class EventQueue:
    """A bounded FIFO of :class:`SessionEvent`: past ``limit`` the oldest event is dropped
    and counted in :attr:`dropped`."""

    __slots__ = ("_events", "dropped", "limit")

    def __init__(self, limit: int = MAX_EVENTS) -> None:
        if limit < 1:
            raise ValueError("an event queue must hold at least one event")
        self.limit = limit
        self._events: deque[SessionEvent] = deque()
        #: Events dropped because the queue was full, since the last :meth:`clear`.
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: SessionEvent) -> None:
        """Queue ``event``, dropping (and counting) the oldest one if the queue is full."""
        if len(self._events) >= self.limit:
            self._events.popleft()
            self.dropped += 1
        self._events.append(event)

    def take(self) -> list[SessionEvent]:
        """Every queued event, oldest first; the queue is empty afterwards."""
        events = list(self._events)
        self._events.clear()
        return events

    def clear(self) -> None:
        """Forget every queued event and reset the drop count."""
        self._events.clear()
        self.dropped = 0
