"""The two PASE roles as sans-IO state machines.

:class:`Commissioner` (the PASE initiator, knows the passcode) and :class:`Commissionee`
(the PASE responder, stores only the verifier ``w0 || L``) take received datagrams, the
current time and an entropy source, and hand back datagrams to send, events and the
next timer deadline. Nothing here opens a socket, reads a clock or draws ambient
randomness.

The whole state machine is the table :data:`TRANSITIONS` (h11 style): for each role and
state, the opcode it accepts and the state it moves to. A message that has no entry is
a protocol error; the session then sends the StatusReport the spec calls for
(FAILURE / InvalidParameter) and stays in ``FAILED``.

Entropy is drawn in a fixed, documented order, so a host that scripts the entropy seam
(replaying a recorded device, for instance) knows what each draw is for:

* Commissioner, at start: message counter (4 bytes), ephemeral node id (8), exchange id
  (2), local session id (2, redrawn while 0), initiator random (32); at PBKDFParamResponse:
  x (32 bytes, redrawn until 1 <= x < n).
* Commissionee, at start: message counter (4 bytes); at PBKDFParamRequest: responder
  random (32), local session id (2, redrawn while 0); at Pake1: y (32, redrawn until valid).
* Both, on establishment: secure-session message counter (4 bytes).
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from matter_core import spake2p
from matter_core.entropy import EntropySource
from matter_core.errors import (
    GENERAL_FAILURE,
    GENERAL_SUCCESS,
    PROTOCOL_INVALID_PARAMETER,
    PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
    ConfirmationError,
    CoreError,
    DecodeError,
    HandshakeTimeout,
    LocalProtocolError,
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
from matter_core.pase_messages import (
    Pake1,
    Pake2,
    Pake3,
    PBKDFParameters,
    PBKDFParamRequest,
    PBKDFParamResponse,
)
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

EXCLUDED_PASSCODES = frozenset(
    {
        0,
        11111111,
        22222222,
        33333333,
        44444444,
        55555555,
        66666666,
        77777777,
        88888888,
        99999999,
        12345678,
        87654321,
    }
)
MAX_PASSCODE = 99999998


def validate_passcode(passcode: int) -> None:
    """Raise LocalProtocolError unless ``passcode`` is a valid Matter setup passcode."""
    if not isinstance(passcode, int) or isinstance(passcode, bool):
        raise LocalProtocolError("passcode must be an integer")
    if not 1 <= passcode <= MAX_PASSCODE or passcode in EXCLUDED_PASSCODES:
        raise LocalProtocolError(
            f"passcode {passcode} is not a valid Matter setup passcode "
            f"(1..{MAX_PASSCODE}, excluding 11111111, 12345678 and the like)"
        )


class Role(enum.Enum):
    """Which side of PASE a session plays."""

    COMMISSIONER = "commissioner"
    COMMISSIONEE = "commissionee"


class State(enum.Enum):
    """Session states, named for what the session expects next."""

    IDLE = "IDLE"
    EXPECT_PBKDF_PARAM_REQUEST = "EXPECT_PBKDF_PARAM_REQUEST"
    EXPECT_PBKDF_PARAM_RESPONSE = "EXPECT_PBKDF_PARAM_RESPONSE"
    EXPECT_PAKE1 = "EXPECT_PAKE1"
    EXPECT_PAKE2 = "EXPECT_PAKE2"
    EXPECT_PAKE3 = "EXPECT_PAKE3"
    EXPECT_STATUS_REPORT = "EXPECT_STATUS_REPORT"
    ESTABLISHED = "ESTABLISHED"
    FAILED = "FAILED"


OP = SecureChannelOpcode

#: The state machine: (role, state) -> {opcode accepted: next state}. Anything missing
#: is a protocol error. FAILED and ESTABLISHED accept no handshake message.
TRANSITIONS: dict[tuple[Role, State], dict[SecureChannelOpcode, State]] = {
    (Role.COMMISSIONER, State.EXPECT_PBKDF_PARAM_RESPONSE): {
        OP.PBKDF_PARAM_RESPONSE: State.EXPECT_PAKE2,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONER, State.EXPECT_PAKE2): {
        OP.PASE_PAKE2: State.EXPECT_STATUS_REPORT,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONER, State.EXPECT_STATUS_REPORT): {
        OP.STATUS_REPORT: State.ESTABLISHED,
    },
    (Role.COMMISSIONEE, State.EXPECT_PBKDF_PARAM_REQUEST): {
        OP.PBKDF_PARAM_REQUEST: State.EXPECT_PAKE1,
    },
    (Role.COMMISSIONEE, State.EXPECT_PAKE1): {
        OP.PASE_PAKE1: State.EXPECT_PAKE3,
        OP.STATUS_REPORT: State.FAILED,
    },
    (Role.COMMISSIONEE, State.EXPECT_PAKE3): {
        OP.PASE_PAKE3: State.ESTABLISHED,
        OP.STATUS_REPORT: State.FAILED,
    },
}


def next_state(role: Role, state: State, opcode: int) -> State:
    """The state after ``role`` in ``state`` receives ``opcode``; raises on a missing entry."""
    accepted = TRANSITIONS.get((role, state), {})
    try:
        return accepted[SecureChannelOpcode(opcode)]
    except (KeyError, ValueError):
        expected = ", ".join(op.name for op in accepted) or "no handshake message"
        raise RemoteProtocolError(
            f"unexpected message (opcode 0x{opcode:02x}) in state {state.value}: "
            f"expected {expected}"
        ) from None


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


def _random_nonzero_u16(entropy: EntropySource) -> int:
    while True:
        value = int.from_bytes(entropy.random_bytes(2), "little")
        if value:
            return value


class Commissioner(PaseSession):
    """The PASE initiator: knows the passcode, drives the handshake."""

    role = Role.COMMISSIONER

    def __init__(self, passcode: int, *, entropy: EntropySource, now_ms: int) -> None:
        validate_passcode(passcode)
        super().__init__(entropy, now_ms)
        self._passcode = passcode
        self._node_id = int.from_bytes(entropy.random_bytes(8), "little")
        self._peer.exchange_id = int.from_bytes(entropy.random_bytes(2), "little")
        self.local_session_id = _random_nonzero_u16(entropy)
        self._request: PBKDFParamRequest | None = None
        self._request_payload = b""
        self._prover: spake2p.Spake2pProver | None = None

    def start(self, now_ms: int) -> None:
        """Send PBKDFParamRequest."""
        if self.state is not State.IDLE:
            raise LocalProtocolError("this commissioner session was already started")
        self.started_at = now_ms
        self._request = PBKDFParamRequest(
            initiator_random=self._entropy.random_bytes(32),
            initiator_session_id=self.local_session_id,
            passcode_id=0,
            has_pbkdf_parameters=False,
            session_parameters=None,
        )
        self._request_payload = self._request.encode()
        self.state = State.EXPECT_PBKDF_PARAM_RESPONSE
        self._send(OP.PBKDF_PARAM_REQUEST, self._request_payload, now_ms)

    def _accept_addressing(self, header: MessageHeader, proto: ProtocolHeader) -> None:
        if proto.exchange_id != self._peer.exchange_id:
            raise RemoteProtocolError(
                f"reply on exchange 0x{proto.exchange_id:04x}, "
                f"expected 0x{self._peer.exchange_id:04x}"
            )
        if proto.initiator:
            raise RemoteProtocolError("reply from the responder has the initiator flag set")
        if header.destination_node_id not in (None, self._node_id):
            raise RemoteProtocolError("reply addressed to another node")

    def _handle(self, opcode: int, payload: bytes, new_state: State, now_ms: int) -> None:
        if opcode == OP.STATUS_REPORT:
            self._status_report(payload)
            if self.state is not State.EXPECT_STATUS_REPORT:
                raise RemoteProtocolError("success StatusReport before the handshake finished")
            assert self._prover is not None
            # The final standalone ack of the exchange (I|A), as real controllers send.
            self._send(OP.STANDALONE_ACK, b"", now_ms, reliable=False, record=False)
            self._outstanding = None
            self._establish(spake2p.session_keys(self._prover.shared_key), now_ms)
            return
        if opcode == OP.PBKDF_PARAM_RESPONSE:
            self._on_response(payload, now_ms)
        elif opcode == OP.PASE_PAKE2:
            self._on_pake2(payload, now_ms)
        self.state = new_state

    def _on_response(self, payload: bytes, now_ms: int) -> None:
        assert self._request is not None
        response = PBKDFParamResponse.decode(payload)
        if response.initiator_random != self._request.initiator_random:
            raise RemoteProtocolError("PBKDFParamResponse does not echo our initiator random")
        if response.responder_session_id == 0:
            raise RemoteProtocolError("responder session id 0 is reserved")
        params = response.pbkdf_parameters
        if params is None:
            raise RemoteProtocolError("PBKDFParamResponse lacks the PBKDF parameters we asked for")
        try:
            spake2p.validate_pbkdf_params(params.salt, params.iterations)
        except LocalProtocolError as exc:
            raise RemoteProtocolError(f"peer sent {exc}") from None
        self._peer.session_id = response.responder_session_id
        context = spake2p.pase_context(self._request_payload, payload)
        w0, w1 = spake2p.compute_w0_w1(self._passcode, params.salt, params.iterations)
        self._prover = spake2p.Spake2pProver(context, w0, w1)
        share = self._prover.share(entropy=self._entropy)
        self._send(OP.PASE_PAKE1, Pake1(pA=share).encode(), now_ms)

    def _on_pake2(self, payload: bytes, now_ms: int) -> None:
        assert self._prover is not None
        pake2 = Pake2.decode(payload)
        ca = self._prover.process_peer_share(pake2.pB)
        try:
            self._prover.verify_peer_confirmation(pake2.cB)
        except ConfirmationError:
            raise ConfirmationError(
                "key confirmation failed: the commissionee's cB does not verify "
                "(the passcodes differ)"
            ) from None
        self._send(OP.PASE_PAKE3, Pake3(cA=ca).encode(), now_ms)


class Commissionee(PaseSession):
    """The PASE responder (the device): holds the verifier, never the passcode."""

    role = Role.COMMISSIONEE

    def __init__(
        self,
        verifier: bytes,
        salt: bytes,
        iterations: int,
        *,
        entropy: EntropySource,
        now_ms: int,
    ) -> None:
        spake2p.validate_pbkdf_params(salt, iterations)
        self._w0, self._l_point = spake2p.parse_verifier(verifier)
        super().__init__(entropy, now_ms)
        self._salt = bytes(salt)
        self._iterations = iterations
        self._verifier_role: spake2p.Spake2pVerifier | None = None
        self._request_payload = b""
        self._random = b""

    def start(self, now_ms: int) -> None:
        """Wait for a PBKDFParamRequest."""
        if self.state is not State.IDLE:
            raise LocalProtocolError("this commissionee session was already started")
        self.started_at = now_ms
        self.state = State.EXPECT_PBKDF_PARAM_REQUEST

    def handle_timer(self, now_ms: int) -> None:
        """Fire due timers; a commissionee waiting for its first request never times out."""
        if self.state is State.EXPECT_PBKDF_PARAM_REQUEST:
            return
        super().handle_timer(now_ms)

    def next_deadline(self) -> int | None:
        """When :meth:`handle_timer` next has work, or None."""
        if self.state is State.EXPECT_PBKDF_PARAM_REQUEST:
            return None
        return super().next_deadline()

    def _accept_addressing(self, header: MessageHeader, proto: ProtocolHeader) -> None:
        if not proto.initiator:
            raise RemoteProtocolError("message from the initiator lacks the initiator flag")
        if self.state is State.EXPECT_PBKDF_PARAM_REQUEST:
            if header.source_node_id is None:
                raise RemoteProtocolError("PBKDFParamRequest lacks a source node id")
            # The request opens the exchange: its id and the initiator's ephemeral node
            # id address every reply.
            self._peer.exchange_id = proto.exchange_id
            self._peer.node_id = header.source_node_id
            return
        if proto.exchange_id != self._peer.exchange_id:
            raise RemoteProtocolError(
                f"message on exchange 0x{proto.exchange_id:04x}, "
                f"expected 0x{self._peer.exchange_id:04x}"
            )
        if header.source_node_id not in (None, self._peer.node_id):
            raise RemoteProtocolError("message from another node")

    def _handle(self, opcode: int, payload: bytes, new_state: State, now_ms: int) -> None:
        if opcode == OP.STATUS_REPORT:
            self._status_report(payload)
            raise RemoteProtocolError("success StatusReport before the handshake finished")
        if opcode == OP.PBKDF_PARAM_REQUEST:
            self.started_at = now_ms
            self._on_request(payload, now_ms)
        elif opcode == OP.PASE_PAKE1:
            self._on_pake1(payload, now_ms)
        elif opcode == OP.PASE_PAKE3:
            self._on_pake3(payload, now_ms)
            return
        self.state = new_state

    def _on_request(self, payload: bytes, now_ms: int) -> None:
        request = PBKDFParamRequest.decode(payload)
        if request.passcode_id != 0:
            raise RemoteProtocolError(f"passcode id {request.passcode_id} is not 0")
        if request.initiator_session_id == 0:
            raise RemoteProtocolError("initiator session id 0 is reserved")
        self._request_payload = payload
        self._peer.session_id = request.initiator_session_id
        self._random = self._entropy.random_bytes(32)
        self.local_session_id = _random_nonzero_u16(self._entropy)
        response = PBKDFParamResponse(
            initiator_random=request.initiator_random,
            responder_random=self._random,
            responder_session_id=self.local_session_id,
            pbkdf_parameters=None
            if request.has_pbkdf_parameters
            else PBKDFParameters(iterations=self._iterations, salt=self._salt),
            session_parameters=None,
        )
        response_payload = response.encode()
        context = spake2p.pase_context(payload, response_payload)
        self._verifier_role = spake2p.Spake2pVerifier(context, self._w0, self._l_point)
        self._send(OP.PBKDF_PARAM_RESPONSE, response_payload, now_ms)

    def _on_pake1(self, payload: bytes, now_ms: int) -> None:
        assert self._verifier_role is not None
        pake1 = Pake1.decode(payload)
        share = self._verifier_role.share(entropy=self._entropy)
        cb = self._verifier_role.process_peer_share(pake1.pA)
        self._send(OP.PASE_PAKE2, Pake2(pB=share, cB=cb).encode(), now_ms)

    def _on_pake3(self, payload: bytes, now_ms: int) -> None:
        assert self._verifier_role is not None
        pake3 = Pake3.decode(payload)
        try:
            self._verifier_role.verify_peer_confirmation(pake3.cA)
        except ConfirmationError:
            raise ConfirmationError(
                "key confirmation failed: the commissioner's cA does not verify "
                "(the passcodes differ)"
            ) from None
        report = StatusReport(
            general_code=GENERAL_SUCCESS,
            protocol_id=ProtocolId.SECURE_CHANNEL,
            protocol_code=PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
        )
        self._send(OP.STATUS_REPORT, report.encode(), now_ms)
        self._establish(spake2p.session_keys(self._verifier_role.shared_key), now_ms)
