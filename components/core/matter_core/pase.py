"""The two PASE roles as sans-IO state machines.

:class:`Commissioner` (the PASE initiator, knows the passcode) and :class:`Commissionee`
(the PASE responder, stores only the verifier ``w0 || L``) take received datagrams, the
current time and an entropy source, and hand back datagrams to send, events and the
next timer deadline. Nothing here opens a socket, reads a clock or draws ambient
randomness.

The code is in three modules, h11 style: the roles here; the state machine as data (the
table :data:`TRANSITIONS` of what each role accepts in each state, and
:func:`next_state`, which applies it) in :mod:`matter_core.pase_state`; and the
machinery both roles share (framing, acknowledgement and retransmission, transcript,
failure reporting, events) in :mod:`matter_core.pase_session`. Every public name of
those two modules is importable from here too.

Entropy is drawn in a fixed, documented order, so a host that scripts the entropy seam
(replaying a recorded device, for instance) knows what each draw is for:

* Commissioner, at start: message counter (4 bytes), ephemeral node id (8), exchange id
  (2), local session id (2, redrawn while 0), initiator random (32); at PBKDFParamResponse:
  x (32 bytes, redrawn until 1 <= x < n).
* Commissionee, at start: message counter (4 bytes); at PBKDFParamRequest: responder
  random (32), local session id (2, redrawn while 0); at Pake1: y (32, redrawn until valid).
* Both, on establishment: secure-session message counter (4 bytes).
* Both, MRP jitter (1 byte, :func:`matter_core.mrp.draw_jitter`): each time a reliable
  message is framed (PBKDFParamRequest, PBKDFParamResponse, Pake1, Pake2, Pake3, the
  success StatusReport and a failure StatusReport), right after the draws of its handler
  above and before the secure-session counter of an establishment that follows it; and
  at each retransmission. Standalone acknowledgements draw nothing.
"""

from __future__ import annotations

from matter_core import mrp, spake2p
from matter_core.entropy import EntropySource
from matter_core.errors import (
    GENERAL_SUCCESS,
    PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS,
    ConfirmationError,
    CoreError,
    LocalProtocolError,
    RemoteProtocolError,
)
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    StatusReport,
)
from matter_core.pase_messages import (
    Pake1,
    Pake2,
    Pake3,
    PBKDFParameters,
    PBKDFParamRequest,
    PBKDFParamResponse,
    SessionParameters,
)
from matter_core.pase_session import (
    COUNTER_INIT_MASK,
    DIRECTION_I2R,
    DIRECTION_R2I,
    HANDSHAKE_TIMEOUT_MS,
    MAX_RETRANSMISSIONS,
    SLOW_HANDLERS,
    Delivery,
    Established,
    Event,
    Failed,
    PaseSession,
)
from matter_core.pase_state import OP, TRANSITIONS, Role, State, next_state

__all__ = [
    "COUNTER_INIT_MASK",
    "DIRECTION_I2R",
    "DIRECTION_R2I",
    "EXCLUDED_PASSCODES",
    "HANDSHAKE_TIMEOUT_MS",
    "MAX_PASSCODE",
    "MAX_RETRANSMISSIONS",
    "OP",
    "SLOW_HANDLERS",
    "TRANSITIONS",
    "Commissionee",
    "Commissioner",
    "Delivery",
    "Established",
    "Event",
    "Failed",
    "PaseSession",
    "Role",
    "State",
    "next_state",
    "validate_passcode",
]

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


def _random_nonzero_u16(entropy: EntropySource) -> int:
    while True:
        value = int.from_bytes(entropy.random_bytes(2), "little")
        if value:
            return value


class Commissioner(PaseSession):
    """The PASE initiator: knows the passcode, drives the handshake."""

    role = Role.COMMISSIONER

    def __init__(
        self,
        passcode: int,
        *,
        entropy: EntropySource,
        now_ms: int,
        session_parameters: SessionParameters | None = mrp.LOCAL_SESSION_PARAMETERS,
    ) -> None:
        validate_passcode(passcode)
        super().__init__(entropy, now_ms)
        self._session_parameters = session_parameters
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
            session_parameters=self._session_parameters,
        )
        self._request_payload = self._request.encode()
        self.state = State.EXPECT_PBKDF_PARAM_RESPONSE
        self._send(OP.PBKDF_PARAM_REQUEST, self._request_payload, now_ms)

    def _handle(self, opcode: int, payload: bytes, new_state: State, now_ms: int) -> None:
        if opcode == OP.STATUS_REPORT:
            self._status_report(payload)
            if self.state is not State.EXPECT_STATUS_REPORT:
                raise RemoteProtocolError("success StatusReport before the handshake finished")
            assert self._prover is not None
            # The success report answers Pake3: nothing is left to retransmit. Its own
            # acknowledgement goes out as the exchange's final standalone ack.
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
        self._peer.timing = mrp.PeerTiming.from_parameters(response.session_parameters)
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
        session_parameters: SessionParameters | None = mrp.LOCAL_SESSION_PARAMETERS,
    ) -> None:
        spake2p.validate_pbkdf_params(salt, iterations)
        self._w0, self._l_point = spake2p.parse_verifier(verifier)
        super().__init__(entropy, now_ms)
        self._session_parameters = session_parameters
        self._salt = bytes(salt)
        self._iterations = iterations
        self._verifier_role: spake2p.Spake2pVerifier | None = None
        self._request_payload = b""
        self._request: PBKDFParamRequest | None = None
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

    def _open_exchange(self, header: MessageHeader, proto: ProtocolHeader, payload: bytes) -> bool:
        """Take a PBKDFParamRequest as the opening of the exchange, or refuse it.

        A device waiting for a commissioner keeps waiting when a request does not decode
        or breaks a rule (CHIP re-arms its PASE listener the same way): only an
        acceptable request opens the exchange, whose id and the initiator's ephemeral
        node id then address every reply.
        """
        if header.source_node_id is None:
            return False
        try:
            request = PBKDFParamRequest.decode(payload)
        except CoreError:
            return False
        if request.passcode_id != 0 or request.initiator_session_id == 0:
            return False
        self._request = request
        self._peer.exchange_id = proto.exchange_id
        self._peer.node_id = header.source_node_id
        return True

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
        request = self._request
        assert request is not None  # checked by _open_exchange
        self._request_payload = payload
        self._peer.session_id = request.initiator_session_id
        self._peer.timing = mrp.PeerTiming.from_parameters(request.session_parameters)
        self._random = self._entropy.random_bytes(32)
        self.local_session_id = _random_nonzero_u16(self._entropy)
        response = PBKDFParamResponse(
            initiator_random=request.initiator_random,
            responder_random=self._random,
            responder_session_id=self.local_session_id,
            pbkdf_parameters=None
            if request.has_pbkdf_parameters
            else PBKDFParameters(iterations=self._iterations, salt=self._salt),
            session_parameters=self._session_parameters,
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
