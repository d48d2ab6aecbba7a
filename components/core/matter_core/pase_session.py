"""What both PASE roles share: the message layer in front of the handshake, MRP
acknowledgement and retransmission, the transcript, failure reporting and events.

:class:`PaseSession` is the sans-IO base of :class:`~matter_core.pase.Commissioner` and
:class:`~matter_core.pase.Commissionee`: it takes received datagrams and the current
time, and hands back datagrams to send, events and the next timer deadline.

A received datagram goes through two phases. :meth:`PaseSession.accept_datagram` is
cheap: the message layer (:func:`matter_core.message_layer.classify`) drops what does
not belong to the session (counted by reason), processes the acknowledgement it
carries, re-acknowledges a duplicate, and, when the handler ahead is slow (PBKDF2 or
P-256 work), queues a standalone acknowledgement at once so the host can put it on the
wire before that work starts (Matter Core Specification 1.3, section 4.12.2.2: an ack
goes out within MRP_STANDALONE_ACK_TIMEOUT). :meth:`PaseSession.handle_delivery` then
runs the handler. Which message is accepted in which state is decided by the
transition table of :mod:`matter_core.pase_state`; a delivered message, well formed and
on the session's own exchange, that the table has no entry for fails the session, which
then sends the StatusReport CHIP sends on any PASE error (FAILURE / InvalidParameter)
with the R flag, and retransmits it until it is acknowledged.

The retransmission timer of a reliable message starts when it is handed out
(:meth:`PaseSession.datagrams_to_send` with the time of sending), not when the message
that caused it arrived.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from matter_core import mrp
from matter_core.entropy import EntropySource
from matter_core.errors import (
    GENERAL_FAILURE,
    GENERAL_SUCCESS,
    PROTOCOL_INVALID_PARAMETER,
    PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
    CoreError,
    HandshakeTimeout,
    PeerStatusError,
    RemoteProtocolError,
)
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    StatusReport,
    UnsecuredMessage,
)
from matter_core.message_layer import (
    DropCounts,
    DropReason,
    SessionView,
    Verdict,
    classify,
)
from matter_core.pase_state import OP, Role, State, next_state
from matter_core.secure_session import SecureSession
from matter_core.spake2p import SessionKeys

MAX_RETRANSMISSIONS = mrp.MRP_MAX_TRANSMISSIONS - 1
"""Retransmissions of one reliable message before the session gives up on it."""
# A handshake that has not finished after this long fails even if every message was acked.
HANDSHAKE_TIMEOUT_MS = 60_000
COUNTER_INIT_MASK = 0x0FFFFFFF

DIRECTION_I2R = 1
DIRECTION_R2I = 2

#: Messages whose handler does slow work: their acknowledgement goes out as a standalone
#: ack before the handler runs, so the peer does not retransmit while we compute. That is
#: the commissioner's PBKDF2 (up to 100,000 HMAC-SHA256 iterations: 650-850 ms at 50,000
#: in the component on a loaded machine, past the peer's first retransmission at 330 ms).
#: The P-256 steps take tens of milliseconds, well inside the standalone-ack timeout
#: (Matter Core Specification 1.3, section 4.12.8, MRP_STANDALONE_ACK_TIMEOUT, 200 ms), so
#: their acknowledgement rides on the reply, as a CHIP device's Pake2 carries the ack of
#: Pake1 (the recorded exchange with Apple Home).
SLOW_HANDLERS: dict[Role, frozenset[int]] = {
    Role.COMMISSIONER: frozenset({OP.PBKDF_PARAM_RESPONSE}),
    Role.COMMISSIONEE: frozenset(),
}


@dataclass(frozen=True)
class Established:
    """Event: the PASE session is established."""

    local_session_id: int
    peer_session_id: int
    transcript_hash: bytes


@dataclass(frozen=True)
class Failed:
    """Event: the session failed; ``error`` says why and which StatusReport went out."""

    error: CoreError
    status_sent: StatusReport | None


Event = Established | Failed


@dataclass(frozen=True)
class Delivery:
    """A message the message layer delivered, waiting for :meth:`PaseSession.handle_delivery`."""

    datagram: bytes
    header: MessageHeader
    protocol: ProtocolHeader
    payload: bytes
    new_state: State


@dataclass
class _Outstanding:
    """A reliable message waiting for its acknowledgement.

    ``sent`` is False until the datagram is handed out; ``due`` is then when the next
    retransmission is due (the backoff is computed when the message is framed, and
    re-based on the time it is handed out).
    """

    datagram: bytes
    counter: int
    backoff: int
    due: int
    sent: bool = False
    transmissions: int = 1


@dataclass
class _Peer:
    """What we know about the other side of the unsecured exchange."""

    exchange_id: int | None = None
    node_id: int | None = None
    # Every counter handled on this exchange, so a delayed older copy is recognised too.
    handled_counters: set[int] = field(default_factory=set)
    session_id: int = 0
    timing: mrp.PeerTiming = field(default_factory=mrp.PeerTiming)
    last_heard: int | None = None


class PaseSession:
    """Common machinery of both roles: message layer, MRP, transcript, failure.

    Use :class:`Commissioner` or :class:`Commissionee`.
    """

    role: Role

    def __init__(self, entropy: EntropySource, now_ms: int) -> None:
        self._entropy = entropy
        self.state = State.IDLE
        self.started_at = now_ms
        self.error: CoreError | None = None
        self.local_session_id = 0
        self._peer = _Peer()
        self._counter = int.from_bytes(entropy.random_bytes(4), "little") & COUNTER_INIT_MASK
        self._node_id: int | None = None
        self._outbox: list[bytes] = []
        self._events: list[Event] = []
        self._outstanding: _Outstanding | None = None
        self._pending_ack: int | None = None
        self._transcript = hashlib.sha256()
        self.transcript_hash = b""
        self.secure: SecureSession | None = None
        self.datagrams_sent = 0
        self.datagrams_received = 0
        #: Datagrams the message layer dropped, by reason.
        self.drops = DropCounts()
        #: Retransmissions of our reliable messages.
        self.retransmissions = 0
        #: Acknowledgements sent as standalone acks (unsecured and secured).
        self.acks_sent = 0

    # -- public sans-IO surface -------------------------------------------------

    def receive_datagram(self, datagram: bytes, now_ms: int) -> None:
        """Feed one datagram from the peer: :meth:`accept_datagram`, then
        :meth:`handle_delivery` if it was delivered."""
        delivery = self.accept_datagram(datagram, now_ms)
        if delivery is not None:
            self.handle_delivery(delivery, now_ms)

    def accept_datagram(self, datagram: bytes, now_ms: int) -> Delivery | None:
        """Phase one of a receive (cheap): classify the datagram, process its ack.

        Returns the message to hand to :meth:`handle_delivery`, or None when it was
        dropped, a duplicate, a standalone ack, or failed the session here. Datagrams to
        send (a standalone ack before slow work, a re-ack, a failure report) are queued.
        """
        self.datagrams_received += 1
        if self.state is State.IDLE:
            self.drops.add(DropReason.UNEXPECTED_BEFORE_REQUEST)
            return None
        verdict = classify(datagram, self._view())
        if verdict.verdict is Verdict.DROP:
            assert verdict.reason is not None
            self.drops.add(verdict.reason)
            return None
        header, proto = verdict.header, verdict.protocol
        assert header is not None and proto is not None
        if self.state is State.EXPECT_PBKDF_PARAM_REQUEST and not self._open_exchange(
            header, proto, verdict.payload
        ):
            self.drops.add(DropReason.MALFORMED)
            return None
        self._peer.last_heard = now_ms
        out = self._outstanding
        if out is not None and proto.ack_counter == out.counter:
            self._outstanding = None
        counter = header.message_counter
        if verdict.verdict is Verdict.DUPLICATE:
            self.drops.add(DropReason.DUPLICATE)
            if proto.needs_ack:
                self._send_ack(counter, now_ms)
            return None
        if proto.opcode == OP.STANDALONE_ACK:
            return None
        if self.state in (State.ESTABLISHED, State.FAILED):
            # Anyone can send unsecured datagrams: a new message once the handshake is
            # over neither moves nor kills the session (CHIP drops them too). The peer's
            # failure report, or its retransmission, is still acknowledged.
            closed = self.state is State.ESTABLISHED
            self.drops.add(DropReason.AFTER_ESTABLISHMENT if closed else DropReason.AFTER_FAILURE)
            self._peer.handled_counters.add(counter)
            if proto.needs_ack:
                self._send_ack(counter, now_ms)
            return None
        self._peer.handled_counters.add(counter)
        if proto.needs_ack:
            self._pending_ack = counter
        try:
            new_state = next_state(self.role, self.state, proto.opcode)
        except CoreError as exc:
            self._fail(exc, now_ms)
            return None
        if self._pending_ack is not None and proto.opcode in SLOW_HANDLERS[self.role]:
            self._send_ack(self._pending_ack, now_ms)
            self._pending_ack = None
        return Delivery(datagram, header, proto, verdict.payload, new_state)

    def handle_delivery(self, delivery: Delivery, now_ms: int) -> None:
        """Phase two of a receive: run the handler of a delivered message.

        A reply it produces carries the pending acknowledgement; with no reply, the
        acknowledgement goes out as a standalone ack.
        """
        if self.state in (State.FAILED, State.ESTABLISHED):
            return
        try:
            self._record(delivery.datagram, self._peer_direction())
            self._handle(delivery.protocol.opcode, delivery.payload, delivery.new_state, now_ms)
        except CoreError as exc:
            self._fail(exc, now_ms)
        if self._pending_ack is not None:
            self._send_ack(self._pending_ack, now_ms)
            self._pending_ack = None

    def handle_timer(self, now_ms: int) -> None:
        """Fire due timers: retransmit an unacknowledged message, or time out."""
        if self.state is State.IDLE:
            return
        if (
            self.state not in (State.ESTABLISHED, State.FAILED)
            and now_ms - self.started_at >= HANDSHAKE_TIMEOUT_MS
        ):
            self._fail(HandshakeTimeout("PASE did not complete within 60 s"), now_ms, report=False)
            return
        out = self._outstanding
        if out is None or not out.sent or now_ms < out.due:
            return
        if out.transmissions >= mrp.MRP_MAX_TRANSMISSIONS:
            self._outstanding = None
            if self.state not in (State.ESTABLISHED, State.FAILED):
                self._fail(
                    HandshakeTimeout(
                        f"no acknowledgement after {MAX_RETRANSMISSIONS} retransmissions "
                        f"in state {self.state.value}"
                    ),
                    now_ms,
                    report=False,
                )
            return
        out.backoff = self._backoff(out.transmissions, now_ms)
        out.transmissions += 1
        out.due = now_ms + out.backoff
        self.retransmissions += 1
        self._send_raw(out.datagram)

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timer` next has work, or None."""
        if self.state is State.IDLE:
            return None
        deadlines = []
        if self._outstanding is not None and self._outstanding.sent:
            deadlines.append(self._outstanding.due)
        if self.state not in (State.ESTABLISHED, State.FAILED):
            deadlines.append(self.started_at + HANDSHAKE_TIMEOUT_MS)
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self, now_ms: int | None = None) -> list[bytes]:
        """Datagrams produced since the last call, in order.

        ``now_ms`` is when they are sent: the retransmission timer of a reliable message
        among them starts then (without it, when the message was framed).
        """
        out = self._outstanding
        if out is not None and not out.sent:
            out.sent = True
            if now_ms is not None:
                out.due = now_ms + out.backoff
        datagrams, self._outbox = self._outbox, []
        return datagrams

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.pop(0) if self._events else None

    def count_drop(self, reason: DropReason) -> None:
        """Count a datagram the host side of the core dropped for this session."""
        self.drops.add(reason)

    @property
    def peer_session_id(self) -> int:
        """The peer's session id (0 until known)."""
        return self._peer.session_id

    @property
    def peer_timing(self) -> mrp.PeerTiming:
        """The peer's MRP parameters (the defaults until it announced its own)."""
        return self._peer.timing

    @property
    def established(self) -> bool:
        """True once the secure session exists."""
        return self.state is State.ESTABLISHED

    # -- for the roles -----------------------------------------------------------

    def _handle(self, opcode: int, payload: bytes, new_state: State, now_ms: int) -> None:
        raise NotImplementedError

    def _open_exchange(self, header: MessageHeader, proto: ProtocolHeader, payload: bytes) -> bool:
        """Commissionee only: take a PBKDFParamRequest as the opening of the exchange."""
        raise NotImplementedError

    def _view(self) -> SessionView:
        return SessionView(
            initiator=self.role is Role.COMMISSIONER,
            exchange_id=self._peer.exchange_id,
            local_node_id=self._node_id,
            peer_node_id=self._peer.node_id,
            handled=self._peer.handled_counters,
        )

    def _peer_direction(self) -> int:
        return DIRECTION_R2I if self.role is Role.COMMISSIONER else DIRECTION_I2R

    def _own_direction(self) -> int:
        return DIRECTION_I2R if self.role is Role.COMMISSIONER else DIRECTION_R2I

    def _backoff(self, retransmissions: int, now_ms: int) -> int:
        """The timeout after a transmission with ``retransmissions`` made so far (this one
        included), from the peer's intervals; one jitter draw from the entropy source."""
        base = self._peer.timing.base_interval(now_ms, self._peer.last_heard)
        return mrp.backoff_ms(base, retransmissions, mrp.draw_jitter(self._entropy))

    def _record(self, datagram: bytes, direction: int) -> None:
        self._transcript.update(bytes([direction]) + len(datagram).to_bytes(4, "little"))
        self._transcript.update(datagram)

    def _next_counter(self) -> int:
        self._counter = (self._counter + 1) & 0xFFFFFFFF
        return self._counter

    def _send(
        self,
        opcode: SecureChannelOpcode,
        payload: bytes,
        now_ms: int,
        *,
        reliable: bool = True,
        record: bool = True,
        ack: int | None = None,
    ) -> bytes:
        """Frame and queue one unsecured Secure Channel message.

        The pending acknowledgement (or ``ack``) rides on it; a reliable message becomes
        the outstanding one, with its first backoff drawn now.
        """
        counter = self._counter
        self._next_counter()
        header = MessageHeader(
            session_id=0,
            message_counter=counter,
            source_node_id=self._node_id,
            destination_node_id=self._peer.node_id if self.role is Role.COMMISSIONEE else None,
        )
        if ack is None:
            ack, self._pending_ack = self._pending_ack, None
        proto = ProtocolHeader(
            initiator=self.role is Role.COMMISSIONER,
            needs_ack=reliable,
            ack_counter=ack,
            opcode=int(opcode),
            exchange_id=self._peer.exchange_id or 0,
            protocol_id=ProtocolId.SECURE_CHANNEL,
        )
        datagram = UnsecuredMessage(header, proto, payload).encode()
        if record:
            self._record(datagram, self._own_direction())
        if reliable:
            backoff = self._backoff(0, now_ms)
            self._outstanding = _Outstanding(datagram, counter, backoff, now_ms + backoff)
        self._send_raw(datagram)
        return datagram

    def _send_ack(self, counter: int, now_ms: int) -> None:
        """A standalone acknowledgement of the peer's message ``counter``."""
        self.acks_sent += 1
        self._send(OP.STANDALONE_ACK, b"", now_ms, reliable=False, record=False, ack=counter)

    def _send_raw(self, datagram: bytes) -> None:
        self.datagrams_sent += 1
        self._outbox.append(datagram)

    def _establish(self, keys: SessionKeys, now_ms: int) -> None:
        self.state = State.ESTABLISHED
        self.transcript_hash = self._transcript.digest()
        counter = int.from_bytes(self._entropy.random_bytes(4), "little") & COUNTER_INIT_MASK
        self.secure = SecureSession(
            initiator=self.role is Role.COMMISSIONER,
            keys=keys,
            local_session_id=self.local_session_id,
            peer_session_id=self._peer.session_id,
            counter=counter,
        )
        self._events.append(
            Established(self.local_session_id, self._peer.session_id, self.transcript_hash)
        )

    def _fail(self, error: CoreError, now_ms: int, *, report: bool = True) -> None:
        """Move to FAILED for good, telling the peer when we can address it.

        Our failure StatusReport asks for an acknowledgement (R) and is retransmitted
        until the peer acks it; the peer's own failure report is acknowledged instead.
        """
        if self.state is State.FAILED:
            return
        sent: StatusReport | None = None
        # Exchange id 0 is a valid id: knowing the initiator's node id is what counts.
        can_address = self.role is Role.COMMISSIONER or self._peer.node_id is not None
        self._outstanding = None
        if report and can_address and not isinstance(error, PeerStatusError):
            sent = StatusReport(
                general_code=GENERAL_FAILURE,
                protocol_id=ProtocolId.SECURE_CHANNEL,
                protocol_code=PROTOCOL_INVALID_PARAMETER,
            )
            self._send(OP.STATUS_REPORT, sent.encode(), now_ms, record=False)
        elif self._pending_ack is not None and can_address:
            self._send_ack(self._pending_ack, now_ms)
        self._pending_ack = None
        self.state = State.FAILED
        self.error = error
        self._events.append(Failed(error, sent))

    def _status_report(self, payload: bytes) -> StatusReport:
        report = StatusReport.decode(payload)
        if report.general_code != GENERAL_SUCCESS:
            raise PeerStatusError(
                f"peer reported failure in state {self.state.value}: general code "
                f"{report.general_code}, protocol code 0x{report.protocol_code:04x}"
                + _status_hint(self.role, self.state, report),
                general_code=report.general_code,
                protocol_code=report.protocol_code,
            )
        # A success report must say so in full (CHIP checks all three): the Secure
        # Channel protocol and SessionEstablishmentSuccess, not just general SUCCESS.
        if (
            report.protocol_id != ProtocolId.SECURE_CHANNEL
            or report.protocol_code != PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS
        ):
            raise RemoteProtocolError(
                f"malformed success StatusReport: protocol id 0x{report.protocol_id:08x}, "
                f"protocol code 0x{report.protocol_code:04x} (expected Secure Channel, "
                "SessionEstablishmentSuccess)"
            )
        return report


def _status_hint(role: Role, state: State, report: StatusReport) -> str:
    if report.protocol_code != PROTOCOL_INVALID_PARAMETER:
        return ""
    if role is Role.COMMISSIONEE and state is State.EXPECT_PAKE3:
        return " (InvalidParameter: the commissioner rejected our key confirmation cB)"
    if role is Role.COMMISSIONER and state is State.EXPECT_STATUS_REPORT:
        return " (InvalidParameter: the commissionee rejected our key confirmation cA)"
    return " (InvalidParameter)"
