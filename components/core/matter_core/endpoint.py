"""A PASE session driven through the three seams: transport, clock and entropy.

:class:`CoreEndpoint` is what the core component exports, written once in plain Python:
the component glue adapts the WIT imports to the small protocols below and turns every
:class:`~matter_core.errors.CoreError` into a WIT error value; the native driver passes
Python objects with the same shape. Because both run this same code, a seeded native
run and a seeded component run produce the same bytes.

The endpoint alone decides what a received datagram is for: one whose message header
says it is secured (a session id other than 0, or a group session) is never handed to
the PASE state machine, whether or not the session is established yet; it waits, in a
bounded backlog, for :meth:`CoreEndpoint.open`. Everything else goes to the handshake.

What happens to the session (established, failed, a message opened) is kept as
:class:`~matter_core.session_events.SessionEvent` records until the host takes them
with :meth:`CoreEndpoint.take_events`. Each is stamped with a clock reading the endpoint
took anyway: keeping events costs no extra clock read and no entropy.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from matter_core.entropy import EntropySource
from matter_core.errors import CoreError, DecodeError, WrongStateError
from matter_core.message import MessageHeader
from matter_core.pase import Commissionee, Commissioner, Established, PaseSession, Role
from matter_core.secure_session import OpenedMessage, SecureSession
from matter_core.session_events import EventKind, EventQueue, SessionEvent
from matter_core.tlv import ByteReader

#: Datagrams taken from the transport in one poll, at most: a flooding peer cannot
#: keep the core busy forever.
MAX_DATAGRAMS_PER_POLL = 64
#: Secured datagrams poll() keeps for open(), at most; beyond that they are dropped (and
#: counted in :attr:`CoreEndpoint.secured_dropped`).
MAX_SECURED_BACKLOG = 64


class Transport(Protocol):
    """The transport seam: whole datagrams in and out, never blocking."""

    def send(self, datagram: bytes) -> bool:
        """Queue a datagram for the peer; False if it was refused."""
        ...

    def receive(self) -> bytes | None:
        """The next datagram waiting for us, or None."""
        ...


class Clock(Protocol):
    """The clock seam: monotonic milliseconds."""

    def now_ms(self) -> int:
        """Milliseconds on a monotonic clock."""
        ...


@dataclass(frozen=True)
class SessionStatus:
    """A snapshot of the session, mirroring the WIT ``session-status`` record."""

    role: Role
    state: str
    established: bool
    local_session_id: int
    peer_session_id: int
    transcript_hash: bytes
    next_deadline_ms: int | None
    failure: CoreError | None
    datagrams_sent: int
    datagrams_received: int


class CoreEndpoint:
    """One PASE session at a time, fed by the transport, clock and entropy seams."""

    def __init__(self, transport: Transport, clock: Clock, entropy: EntropySource) -> None:
        self._transport = transport
        self._clock = clock
        self._entropy = entropy
        self._session: PaseSession | None = None
        # Secured datagrams met in poll(), kept for open() (at most MAX_SECURED_BACKLOG).
        self._secured_inbox: deque[bytes] = deque()
        self._secured_dropped = 0
        self._events = EventQueue()
        # The latest clock-seam reading: what events are stamped with.
        self._now = 0

    def start_commissioner(self, passcode: int) -> SessionStatus:
        """Start as commissioner and send PBKDFParamRequest."""
        now = self._clock.now_ms()
        session = Commissioner(passcode, entropy=self._entropy, now_ms=now)
        self._begin(session, now)
        session.start(now)
        self._flush(session)
        return self.status()

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> SessionStatus:
        """Start as commissionee and wait for a PBKDFParamRequest."""
        now = self._clock.now_ms()
        session = Commissionee(verifier, salt, iterations, entropy=self._entropy, now_ms=now)
        self._begin(session, now)
        session.start(now)
        return self.status()

    def poll(self) -> SessionStatus:
        """Take waiting datagrams, advance the handshake, send replies, fire timers.

        A secured datagram is kept for :meth:`open`, never given to the handshake, even
        before the session is established (the peer may seal as soon as it has the keys,
        and that message may overtake the handshake's last one).
        """
        session = self._require_session()
        now = self._clock.now_ms()
        self._now = now
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            datagram = self._transport.receive()
            if datagram is None:
                break
            if self._is_for_open(session, datagram):
                self._keep_secured(datagram)
                continue
            session.receive_datagram(datagram, now)
            self._flush(session)
        session.handle_timer(now)
        self._flush(session)
        self._collect_events(session)
        return self.status()

    def take_events(self) -> list[SessionEvent]:
        """The events recorded since the last call, oldest first; the queue is then empty.

        At most :data:`~matter_core.session_events.MAX_EVENTS` are kept: past that the
        oldest are dropped and counted in :attr:`events_dropped`. Starting a session
        discards the events of the previous one. Never raises: with no session there
        are simply no events.
        """
        return self._events.take()

    @property
    def events_dropped(self) -> int:
        """Events dropped from the full event queue in the current session."""
        return self._events.dropped

    @property
    def secured_dropped(self) -> int:
        """Secured datagrams dropped in the current session because the backlog was full."""
        return self._secured_dropped

    def status(self) -> SessionStatus:
        """The session's current status."""
        session = self._require_session()
        return SessionStatus(
            role=session.role,
            state=session.state.value,
            established=session.established,
            local_session_id=session.local_session_id,
            peer_session_id=session.peer_session_id,
            transcript_hash=session.transcript_hash,
            next_deadline_ms=session.next_deadline(),
            failure=session.error,
            datagrams_sent=session.datagrams_sent,
            datagrams_received=session.datagrams_received,
        )

    def seal(self, protocol_id: int, opcode: int, payload: bytes) -> int:
        """Encrypt a message on the established session and send it; returns its counter."""
        secure = self._require_secure()
        exchange_id = int.from_bytes(self._entropy.random_bytes(2), "little")
        datagram = secure.seal(protocol_id, opcode, payload, exchange_id)
        self._transport.send(datagram)
        return secure.last_counter

    def open(self) -> OpenedMessage | None:
        """Open the next secured datagram from the transport, or None if none waits.

        Unsecured datagrams that still arrive (the peer's final acknowledgement, a
        retransmission) go to the handshake, which answers or ignores them.
        """
        session = self._require_session()
        secure = self._require_secure()
        if self._secured_inbox:
            return self._opened(secure.open(self._secured_inbox.popleft()))
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            datagram = self._transport.receive()
            if datagram is None:
                return None
            if _header_secured(datagram) is False:
                self._now = self._clock.now_ms()
                session.receive_datagram(datagram, self._now)
                self._flush(session)
                self._collect_events(session)
                continue
            return self._opened(secure.open(datagram))
        return None

    def _begin(self, session: PaseSession, now: int) -> None:
        """Make ``session`` the current one, forgetting everything kept for the last."""
        self._session = session
        self._secured_inbox.clear()
        self._secured_dropped = 0
        self._events.clear()
        self._now = now

    def _is_for_open(self, session: PaseSession, datagram: bytes) -> bool:
        """Whether poll() keeps ``datagram`` for open() instead of feeding the handshake.

        Secured datagrams always; one whose header does not even decode only once the
        secure session exists (before that, the handshake rejects it as it always has).
        """
        secured = _header_secured(datagram)
        return secured is True or (secured is None and session.secure is not None)

    def _keep_secured(self, datagram: bytes) -> None:
        if len(self._secured_inbox) < MAX_SECURED_BACKLOG:
            self._secured_inbox.append(datagram)
        else:
            self._secured_dropped += 1

    def _opened(self, message: OpenedMessage) -> OpenedMessage:
        self._events.append(SessionEvent(EventKind.MESSAGE_OPENED, self._now))
        return message

    def _collect_events(self, session: PaseSession) -> None:
        """Move the state machine's events into the endpoint's queue, stamped ``_now``."""
        while (event := session.next_event()) is not None:
            kind = EventKind.ESTABLISHED if isinstance(event, Established) else EventKind.FAILED
            self._events.append(SessionEvent(kind, self._now))

    def _flush(self, session: PaseSession) -> None:
        for datagram in session.datagrams_to_send():
            self._transport.send(datagram)

    def _require_session(self) -> PaseSession:
        if self._session is None:
            raise WrongStateError("no PASE session: start one as commissioner or commissionee")
        return self._session

    def _require_secure(self) -> SecureSession:
        session = self._require_session()
        if session.secure is None:
            raise WrongStateError(f"no secure session yet (PASE state {session.state.value})")
        return session.secure


def _header_secured(datagram: bytes) -> bool | None:
    """What the message header says: secured (True), unsecured (False), or None when the
    header does not decode."""
    try:
        header = MessageHeader.pull(ByteReader(datagram))
    except DecodeError:
        return None
    return header.is_secure
