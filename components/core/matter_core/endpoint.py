"""A PASE session driven through the three seams: transport, clock and entropy.

:class:`CoreEndpoint` is what the core component exports, written once in plain Python:
the component glue adapts the WIT imports to the small protocols below and turns every
:class:`~matter_core.errors.CoreError` into a WIT error value; the native driver passes
Python objects with the same shape. Because both run this same code, a seeded native
run and a seeded component run produce the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from matter_core.entropy import EntropySource
from matter_core.errors import CoreError, DecodeError, WrongStateError
from matter_core.message import MessageHeader
from matter_core.pase import Commissionee, Commissioner, PaseSession, Role
from matter_core.secure_session import OpenedMessage, SecureSession
from matter_core.tlv import ByteReader

#: Datagrams taken from the transport in one poll, at most: a flooding peer cannot
#: keep the core busy forever.
MAX_DATAGRAMS_PER_POLL = 64
#: Secured datagrams poll() keeps for open(), at most; beyond that they are dropped.
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
        # Secured datagrams that arrived during poll() after establishment, kept for open().
        self._secured_inbox: list[bytes] = []

    def start_commissioner(self, passcode: int) -> SessionStatus:
        """Start as commissioner and send PBKDFParamRequest."""
        now = self._clock.now_ms()
        session = Commissioner(passcode, entropy=self._entropy, now_ms=now)
        self._session = session
        self._secured_inbox.clear()
        session.start(now)
        self._flush(session)
        return self.status()

    def start_commissionee(self, verifier: bytes, salt: bytes, iterations: int) -> SessionStatus:
        """Start as commissionee and wait for a PBKDFParamRequest."""
        now = self._clock.now_ms()
        session = Commissionee(verifier, salt, iterations, entropy=self._entropy, now_ms=now)
        self._session = session
        self._secured_inbox.clear()
        session.start(now)
        return self.status()

    def poll(self) -> SessionStatus:
        """Take waiting datagrams, advance the handshake, send replies, fire timers."""
        session = self._require_session()
        now = self._clock.now_ms()
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            datagram = self._transport.receive()
            if datagram is None:
                break
            if session.secure is not None and not _is_unsecured(datagram):
                # The peer already uses the secure session: that is open()'s business.
                if len(self._secured_inbox) < MAX_SECURED_BACKLOG:
                    self._secured_inbox.append(datagram)
                continue
            session.receive_datagram(datagram, now)
            self._flush(session)
        session.handle_timer(now)
        self._flush(session)
        while session.next_event() is not None:
            pass
        return self.status()

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
            return secure.open(self._secured_inbox.pop(0))
        for _ in range(MAX_DATAGRAMS_PER_POLL):
            datagram = self._transport.receive()
            if datagram is None:
                return None
            if _is_unsecured(datagram):
                session.receive_datagram(datagram, self._clock.now_ms())
                self._flush(session)
                continue
            return secure.open(datagram)
        return None

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


def _is_unsecured(datagram: bytes) -> bool:
    try:
        header = MessageHeader.pull(ByteReader(datagram))
    except DecodeError:
        return False
    return not header.is_secure
