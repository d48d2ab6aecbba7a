"""What both PASE roles share: framing, MRP acknowledgement and retransmission, the
handshake transcript, failure reporting and the events a session hands out.

:class:`PaseSession` is the sans-IO base of :class:`~matter_core.pase.Commissioner` and
:class:`~matter_core.pase.Commissionee`: it takes received datagrams and the current
time, and hands back datagrams to send, events and the next timer deadline. Which
message is accepted in which state is not decided here but in the transition table of
:mod:`matter_core.pase_state`; a message the table has no entry for fails the session,
which then sends the StatusReport CHIP sends on any PASE error (FAILURE /
InvalidParameter) and stays in ``FAILED``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from matter_core.entropy import EntropySource
from matter_core.errors import (
    GENERAL_FAILURE,
    GENERAL_SUCCESS,
    PROTOCOL_INVALID_PARAMETER,
    PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
    CoreError,
    DecodeError,
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
from matter_core.pase_state import OP, Role, State, next_state
from matter_core.secure_session import SecureSession
from matter_core.spake2p import SessionKeys

# MRP timing: CHIP's default active retransmission interval and retry count.
RETRANSMIT_INTERVAL_MS = 300
MAX_RETRANSMISSIONS = 4
# A handshake that has not finished after this long fails even if every message was acked.
HANDSHAKE_TIMEOUT_MS = 60_000
COUNTER_INIT_MASK = 0x0FFFFFFF

DIRECTION_I2R = 1
DIRECTION_R2I = 2


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


@dataclass
class _Outstanding:
    """A reliable message waiting for its acknowledgement."""

    datagram: bytes
    counter: int
    sent_at: int
    retransmissions: int = 0


@dataclass
class _Peer:
    """What we know about the other side of the unsecured exchange."""

    exchange_id: int = 0
    node_id: int | None = None
    last_counter: int | None = None
    # Every counter handled on this exchange, so a delayed older copy is recognised too.
    handled_counters: set[int] = field(default_factory=set)
    session_id: int = 0


class PaseSession:
    """Common machinery of both roles: framing, MRP acks, retransmission, transcript.

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
        self._last_reply: bytes | None = None
        self._pending_ack: int | None = None
        self._transcript = hashlib.sha256()
        self.transcript_hash = b""
        self.secure: SecureSession | None = None
        self.datagrams_sent = 0
        self.datagrams_received = 0
        #: Unsecured datagrams that arrived after establishment and were dropped.
        self.ignored_datagrams = 0

    # -- public sans-IO surface -------------------------------------------------

    def receive_datagram(self, datagram: bytes, now_ms: int) -> None:
        """Feed one datagram from the peer into the handshake."""
        self.datagrams_received += 1
        if self.state is State.FAILED:
            return
        try:
            message = UnsecuredMessage.decode(datagram)
        except DecodeError as exc:
            self._fail(exc, now_ms)
            return
        header, proto, payload = message.header, message.protocol, message.payload
        if proto.protocol_id != ProtocolId.SECURE_CHANNEL:
            self._fail(
                RemoteProtocolError(f"protocol 0x{proto.protocol_id:04x} is not Secure Channel"),
                now_ms,
            )
            return
        out = self._outstanding
        if out is not None and proto.ack_counter == out.counter:
            self._outstanding = None
        if proto.opcode == OP.STANDALONE_ACK:
            return
        if header.message_counter in self._peer.handled_counters:
            # A retransmission of the latest message we handled means our reply was
            # lost; an older copy is one the network delayed and is dropped.
            if header.message_counter == self._peer.last_counter and self._last_reply:
                self._send_raw(self._last_reply)
            return
        if self.state is State.ESTABLISHED:
            # The handshake is over and the session keys are in use: a new unsecured
            # message is not part of it. Anyone can send unsecured datagrams, so failing
            # (and telling the peer to fail) would let a stray packet kill a good session;
            # CHIP drops them too. They are counted, not obeyed.
            self.ignored_datagrams += 1
            return
        try:
            self._accept_addressing(header, proto)
            new_state = next_state(self.role, self.state, proto.opcode)
            self._peer.last_counter = header.message_counter
            self._peer.handled_counters.add(header.message_counter)
            if proto.needs_ack:
                self._pending_ack = header.message_counter
            self._record(datagram, self._peer_direction())
            self._handle(proto.opcode, payload, new_state, now_ms)
        except CoreError as exc:
            self._fail(exc, now_ms)

    def handle_timer(self, now_ms: int) -> None:
        """Fire due timers: retransmit an unacknowledged message, or time out."""
        if self.state in (State.FAILED, State.IDLE):
            return
        if self.state is not State.ESTABLISHED and now_ms - self.started_at >= HANDSHAKE_TIMEOUT_MS:
            self._fail(HandshakeTimeout("PASE did not complete within 60 s"), now_ms, report=False)
            return
        out = self._outstanding
        if out is None or now_ms < self._retransmit_due(out):
            return
        if out.retransmissions >= MAX_RETRANSMISSIONS:
            self._outstanding = None
            if self.state is not State.ESTABLISHED:
                self._fail(
                    HandshakeTimeout(
                        f"no acknowledgement after {MAX_RETRANSMISSIONS} retransmissions "
                        f"in state {self.state.value}"
                    ),
                    now_ms,
                    report=False,
                )
            return
        out.retransmissions += 1
        out.sent_at = now_ms
        self._send_raw(out.datagram)

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timer` next has work, or None."""
        if self.state in (State.FAILED, State.IDLE):
            return None
        deadlines = []
        if self._outstanding is not None:
            deadlines.append(self._retransmit_due(self._outstanding))
        if self.state is not State.ESTABLISHED:
            deadlines.append(self.started_at + HANDSHAKE_TIMEOUT_MS)
        return min(deadlines) if deadlines else None

    def datagrams_to_send(self) -> list[bytes]:
        """Datagrams produced since the last call, in order."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> Event | None:
        """The oldest event not yet taken, or None."""
        return self._events.pop(0) if self._events else None

    @property
    def peer_session_id(self) -> int:
        """The peer's session id (0 until known)."""
        return self._peer.session_id

    @property
    def established(self) -> bool:
        """True once the secure session exists."""
        return self.state is State.ESTABLISHED

    # -- for the roles -----------------------------------------------------------

    def _handle(self, opcode: int, payload: bytes, new_state: State, now_ms: int) -> None:
        raise NotImplementedError

    def _peer_direction(self) -> int:
        return DIRECTION_R2I if self.role is Role.COMMISSIONER else DIRECTION_I2R

    def _own_direction(self) -> int:
        return DIRECTION_I2R if self.role is Role.COMMISSIONER else DIRECTION_R2I

    def _accept_addressing(self, header: MessageHeader, proto: ProtocolHeader) -> None:
        raise NotImplementedError

    def _retransmit_due(self, out: _Outstanding) -> int:
        return out.sent_at + RETRANSMIT_INTERVAL_MS * (1 << out.retransmissions)

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
    ) -> bytes:
        """Frame and queue one unsecured Secure Channel message."""
        counter = self._counter
        self._next_counter()
        header = MessageHeader(
            session_id=0,
            message_counter=counter,
            source_node_id=self._node_id,
            destination_node_id=self._peer.node_id if self.role is Role.COMMISSIONEE else None,
        )
        ack = self._pending_ack
        self._pending_ack = None
        proto = ProtocolHeader(
            initiator=self.role is Role.COMMISSIONER,
            needs_ack=reliable,
            ack_counter=ack,
            opcode=int(opcode),
            exchange_id=self._peer.exchange_id,
            protocol_id=ProtocolId.SECURE_CHANNEL,
        )
        datagram = UnsecuredMessage(header, proto, payload).encode()
        if record:
            self._record(datagram, self._own_direction())
        if reliable:
            self._outstanding = _Outstanding(datagram, counter, now_ms)
        self._last_reply = datagram
        self._send_raw(datagram)
        return datagram

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
        """Move to FAILED for good, telling the peer when we can address it."""
        if self.state is State.FAILED:
            return
        sent: StatusReport | None = None
        # Exchange id 0 is a valid id: knowing the initiator's node id is what counts.
        can_address = self.role is Role.COMMISSIONER or self._peer.node_id is not None
        if report and can_address and not isinstance(error, PeerStatusError):
            sent = StatusReport(
                general_code=GENERAL_FAILURE,
                protocol_id=ProtocolId.SECURE_CHANNEL,
                protocol_code=PROTOCOL_INVALID_PARAMETER,
            )
            self._send(OP.STATUS_REPORT, sent.encode(), now_ms, reliable=False, record=False)
        self.state = State.FAILED
        self.error = error
        self._outstanding = None
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
