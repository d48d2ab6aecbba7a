"""A PASE session driven through the three seams: transport, clock and entropy.

:class:`CoreEndpoint` is what the core component exports, written once in plain Python:
the component glue adapts the WIT imports to the small protocols below and turns every
:class:`~matter_core.errors.CoreError` into a WIT error value; the native driver passes
Python objects with the same shape. Because both run this same code, a seeded native
run and a seeded component run produce the same bytes.

The endpoint routes each received datagram: one whose message header says it is
secured is never handed to the PASE state machine, whether or not the session is
established yet; if it is for our session id it waits, in a bounded backlog, for
:meth:`CoreEndpoint.open`, otherwise it is dropped (``group``, ``session-id``).
Everything else goes to the handshake's message layer, which drops what does not
belong to the session (:mod:`matter_core.message_layer`).

A receive has two phases (:meth:`~matter_core.pase_session.PaseSession.accept_datagram`,
then :meth:`~matter_core.pase_session.PaseSession.handle_delivery`): what the first
queues, a standalone acknowledgement ahead of slow PBKDF2 or P-256 work, goes on the
transport before the second runs, and the clock is read again after the slow work so
the retransmission timer of the reply starts when the reply is actually sent.

A secured message that asks for an acknowledgement (R flag) is acknowledged on its
exchange with a secured standalone ack when :meth:`CoreEndpoint.open` opens it, and a
duplicate is dropped and acknowledged again (Matter Core Specification 1.3, section
4.12.2.2). A secured standalone ack from the peer is MRP's business, not the caller's:
:meth:`CoreEndpoint.open` consumes it (the core sends no reliable secured message, so
there is nothing for it to clear) and looks at the next datagram.

What happens to the session (established, failed, a message opened) is kept as
:class:`~matter_core.session_events.SessionEvent` records until the host takes them
with :meth:`CoreEndpoint.take_events`. Each is stamped with a clock reading the endpoint
took anyway: keeping events costs no extra clock read and no entropy.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from matter_core.entropy import EntropySource
from matter_core.errors import CoreError, DecodeError, WrongStateError
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    SessionType,
)
from matter_core.message_layer import DropReason
from matter_core.pase import Commissionee, Commissioner, Established, PaseSession, Role
from matter_core.secure_session import OpenedMessage, SecureSession
from matter_core.session_events import EventKind, EventQueue, SessionEvent
from matter_core.tlv import ByteReader

#: Datagrams taken from the transport in one poll, at most: a flooding peer cannot
#: keep the core busy forever.
MAX_DATAGRAMS_PER_POLL = 64
#: Secured datagrams poll() keeps for open(), at most; beyond that they are dropped (and
#: counted in :attr:`CoreEndpoint.secured_dropped` and as ``backlog-full``).
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
    dropped: tuple[tuple[str, int], ...] = ()
    """(drop reason, count) for every reason with a count, in the fixed order of
    :class:`~matter_core.message_layer.DropReason`."""
    retransmissions: int = 0
    acks_sent: int = 0


class _Route(enum.Enum):
    OPEN = "open"
    HANDSHAKE = "handshake"
    DROPPED = "dropped"


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
        self._flush(session, now)
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

        A secured datagram for our session is kept for :meth:`open`, never given to the
        handshake, even before the session is established (the peer may seal as soon as
        it has the keys, and that message may overtake the handshake's last one).
        """
        session = self._require_session()
        self._now = self._clock.now_ms()
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            datagram = self._transport.receive()
            if datagram is None:
                break
            route = self._route(session, datagram)
            if route is _Route.OPEN:
                self._keep_secured(session, datagram)
            elif route is _Route.HANDSHAKE:
                self._receive_unsecured(session, datagram)
        session.handle_timer(self._now)
        self._flush(session, self._now)
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
            dropped=session.drops.items(),
            retransmissions=session.retransmissions,
            acks_sent=session.acks_sent,
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
        retransmission) go to the handshake, which answers or ignores them. A message
        that asks for an acknowledgement is acked with a secured standalone ack; a
        duplicate is dropped (and acked again) and the next datagram is looked at; so is
        a secured standalone ack, which is never returned (nor acknowledged).
        """
        session = self._require_session()
        secure = self._require_secure()
        for _ in range(MAX_DATAGRAMS_PER_POLL + MAX_SECURED_BACKLOG):
            if self._secured_inbox:
                datagram = self._secured_inbox.popleft()
            else:
                received = self._transport.receive()
                if received is None:
                    return None
                datagram = received
                route = self._route(session, datagram)
                if route is _Route.HANDSHAKE:
                    self._now = self._clock.now_ms()
                    self._receive_unsecured(session, datagram)
                    self._collect_events(session)
                if route is not _Route.OPEN:
                    continue
            frame = secure.open_frame(datagram)
            if _is_standalone_ack(frame.protocol):
                # Section 4.12.2.2: a standalone ack only acknowledges; it is not a message
                # for the caller, and an ack is never acknowledged.
                continue
            if frame.protocol.needs_ack:
                ack = secure.seal_ack(
                    frame.protocol.exchange_id,
                    not frame.protocol.initiator,
                    frame.message.message_counter,
                )
                session.acks_sent += 1
                self._transport.send(ack)
            if frame.duplicate:
                session.count_drop(DropReason.DUPLICATE)
                continue
            return self._opened(frame.message)
        return None

    def _begin(self, session: PaseSession, now: int) -> None:
        """Make ``session`` the current one, forgetting everything kept for the last."""
        self._session = session
        self._secured_inbox.clear()
        self._secured_dropped = 0
        self._events.clear()
        self._now = now

    def _route(self, session: PaseSession, datagram: bytes) -> _Route:
        """Where ``datagram`` goes: a secured message for our session to open(), one for
        a group or another session id nowhere (dropped and counted here), anything else
        (an unsecured message, or one whose header does not decode) to the handshake."""
        header = _secured_header(datagram)
        if header is None:
            return _Route.HANDSHAKE
        if header.session_type is SessionType.GROUP or header.destination_group_id is not None:
            session.count_drop(DropReason.GROUP)
        elif session.local_session_id == 0 or header.session_id != session.local_session_id:
            session.count_drop(DropReason.SESSION_ID)
        else:
            return _Route.OPEN
        return _Route.DROPPED

    def _receive_unsecured(self, session: PaseSession, datagram: bytes) -> None:
        """Both phases of a receive, the first one's output on the wire before the second."""
        delivery = session.accept_datagram(datagram, self._now)
        self._flush(session, self._now)
        if delivery is None:
            return
        session.handle_delivery(delivery, self._now)
        # The handler may have spent a long time on PBKDF2 or P-256: read the clock again,
        # so the retransmission timer of the reply starts when it is sent.
        self._now = self._clock.now_ms()
        self._flush(session, self._now)

    def _keep_secured(self, session: PaseSession, datagram: bytes) -> None:
        if len(self._secured_inbox) < MAX_SECURED_BACKLOG:
            self._secured_inbox.append(datagram)
        else:
            self._secured_dropped += 1
            session.count_drop(DropReason.BACKLOG_FULL)

    def _opened(self, message: OpenedMessage) -> OpenedMessage:
        self._events.append(SessionEvent(EventKind.MESSAGE_OPENED, self._now))
        return message

    def _collect_events(self, session: PaseSession) -> None:
        """Move the state machine's events into the endpoint's queue, stamped ``_now``."""
        while (event := session.next_event()) is not None:
            kind = EventKind.ESTABLISHED if isinstance(event, Established) else EventKind.FAILED
            self._events.append(SessionEvent(kind, self._now))

    def _flush(self, session: PaseSession, now: int) -> None:
        for datagram in session.datagrams_to_send(now):
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


def _is_standalone_ack(protocol: ProtocolHeader) -> bool:
    """True for an MRP standalone acknowledgement (Secure Channel, opcode 0x10)."""
    return (
        protocol.protocol_id == ProtocolId.SECURE_CHANNEL
        and protocol.vendor_id in (None, 0)
        and protocol.opcode == SecureChannelOpcode.STANDALONE_ACK
    )


def _secured_header(datagram: bytes) -> MessageHeader | None:
    """The message header when it decodes and says secured; None otherwise."""
    try:
        header = MessageHeader.pull(ByteReader(datagram))
    except DecodeError:
        return None
    return header if header.is_secure else None
