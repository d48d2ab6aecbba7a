"""The PASE roles in-process: whole handshakes, mismatches, validity rules, wire shape, MRP.

Both roles run in the same process with seeded entropy (``helpers.HmacCounterEntropy``)
and datagrams handed across by ``helpers.pump``. Time only moves when a test says so.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from helpers import (
    C2D,
    D2C,
    ITERATIONS,
    PASSCODE,
    SALT,
    HmacCounterEntropy,
    handshake,
    make_pair,
    pump,
    reframe,
    state_of,
    verifier_for,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.errors import (
    ConfirmationError,
    CoreError,
    HandshakeTimeout,
    LocalProtocolError,
    PeerStatusError,
    RemoteProtocolError,
)
from matter_core.message import ExchangeFlags, SecureChannelOpcode, UnsecuredMessage
from matter_core.pase import (
    EXCLUDED_PASSCODES,
    HANDSHAKE_TIMEOUT_MS,
    MAX_PASSCODE,
    MAX_RETRANSMISSIONS,
    TRANSITIONS,
    Commissionee,
    Commissioner,
    Established,
    Failed,
    PaseSession,
    Role,
    State,
    next_state,
    validate_passcode,
)
from matter_core.pase_messages import (
    Pake3,
    PBKDFParameters,
    PBKDFParamRequest,
    PBKDFParamResponse,
)

MRP_IDLE_FIRST = 550  # placeholder
OP = SecureChannelOpcode
FAILURE_STATUS = bytes.fromhex("0100 00000000 0200")
SUCCESS_STATUS = bytes(8)

valid_passcodes = st.integers(1, MAX_PASSCODE).filter(lambda p: p not in EXCLUDED_PASSCODES)


def events(session: PaseSession) -> list[Established | Failed]:
    """Drain a session's events."""
    out = []
    while (event := session.next_event()) is not None:
        out.append(event)
    return out


def opcode_of(datagram: bytes) -> int:
    """The Secure Channel opcode of an unsecured datagram."""
    return UnsecuredMessage.decode(datagram).protocol.opcode


# --- whole handshakes -------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    passcode=valid_passcodes,
    salt=st.binary(min_size=16, max_size=32),
    iterations=st.integers(1000, 1200),
    seed=st.integers(0, 2**32),
)
def test_handshake_establishes_both_roles(
    passcode: int, salt: bytes, iterations: int, seed: int
) -> None:
    commissioner, commissionee, trace = handshake(
        seed, passcode=passcode, salt=salt, iterations=iterations
    )

    assert commissioner.state is State.ESTABLISHED
    assert commissionee.state is State.ESTABLISHED
    assert commissioner.error is None and commissionee.error is None
    assert len(commissioner.transcript_hash) == 32
    assert commissioner.transcript_hash == commissionee.transcript_hash
    assert commissioner.local_session_id != 0 and commissionee.local_session_id != 0
    assert commissioner.peer_session_id == commissionee.local_session_id
    assert commissionee.peer_session_id == commissioner.local_session_id
    assert events(commissioner) == [
        Established(
            commissioner.local_session_id,
            commissioner.peer_session_id,
            commissioner.transcript_hash,
        )
    ]
    assert events(commissionee) == [
        Established(
            commissionee.local_session_id,
            commissionee.peer_session_id,
            commissionee.transcript_hash,
        )
    ]
    assert len(trace.sent) == 7
    assert commissioner.next_deadline() is None and commissionee.next_deadline() is None

    assert commissioner.secure is not None and commissionee.secure is not None
    sealed = commissioner.secure.seal(1, 2, b"read request", 0x1234)
    opened = commissionee.secure.open(sealed)
    assert (opened.protocol_id, opened.opcode, opened.payload) == (1, 2, b"read request")
    assert opened.exchange_id == 0x1234
    back = commissionee.secure.seal(1, 5, b"report data", 0x4321)
    assert commissioner.secure.open(back).payload == b"report data"


def test_handshake_is_deterministic_for_a_seed() -> None:
    first = handshake(5)[2].sent
    again = handshake(5)[2].sent
    other = handshake(6)[2].sent
    assert first == again
    assert first != other


def test_transcript_hash_covers_every_recorded_datagram() -> None:
    commissioner, commissionee, trace = handshake(2)
    other_c, _, other_trace = handshake(3)
    assert trace.sent != other_trace.sent
    assert commissioner.transcript_hash != other_c.transcript_hash
    assert commissionee.transcript_hash == commissioner.transcript_hash


# --- mismatched passcodes ---------------------------------------------------------------


def test_mismatched_passcodes_fail_both_roles() -> None:
    commissioner, commissionee, trace = handshake(1, passcode=PASSCODE, device_passcode=20202022)

    assert commissioner.state is State.FAILED
    assert commissionee.state is State.FAILED
    assert type(commissioner.error) is ConfirmationError
    assert "confirmation" in str(commissioner.error)
    assert "cB" in str(commissioner.error)
    assert type(commissionee.error) is PeerStatusError
    assert "rejected our key confirmation cB" in str(commissionee.error)
    assert commissionee.error.protocol_code == 0x0002

    # The last datagram is the commissioner's failure report, answering Pake2.
    direction, last = trace.sent[-1]
    assert direction == C2D
    message = UnsecuredMessage.decode(last)
    assert message.protocol.opcode == OP.STATUS_REPORT
    assert message.payload == FAILURE_STATUS
    assert not message.protocol.needs_ack
    pake2 = UnsecuredMessage.decode(trace.by(D2C)[-1])
    assert message.protocol.ack_counter == pake2.header.message_counter
    assert [opcode_of(d) for _, d in trace.sent] == [0x20, 0x21, 0x22, 0x23, 0x40]

    (commissioner_event,) = events(commissioner)
    assert isinstance(commissioner_event, Failed)
    assert commissioner_event.error is commissioner.error
    assert commissioner_event.status_sent is not None
    assert commissioner_event.status_sent.encode() == FAILURE_STATUS
    (commissionee_event,) = events(commissionee)
    assert isinstance(commissionee_event, Failed)
    assert commissionee_event.status_sent is None  # never answer a failure with a failure
    assert commissioner.secure is None and commissionee.secure is None
    assert commissioner.next_deadline() is None and commissionee.next_deadline() is None


def test_commissionee_rejects_a_bad_ca_and_the_commissioner_names_it() -> None:
    commissioner, commissionee = make_pair(4)
    tampered = []

    def corrupt_pake3(direction: str, datagram: bytes) -> bool:
        if opcode_of(datagram) == OP.PASE_PAKE3:
            cA = Pake3.decode(UnsecuredMessage.decode(datagram).payload).cA
            forged = reframe(datagram, payload=Pake3(bytes([cA[0] ^ 1]) + cA[1:]).encode())
            tampered.append(forged)
            commissionee.receive_datagram(forged, 0)
            return False
        return True

    trace = pump(commissioner, commissionee, deliver=corrupt_pake3)
    assert tampered
    assert type(commissionee.error) is ConfirmationError
    assert "cA" in str(commissionee.error)
    assert type(commissioner.error) is PeerStatusError
    assert "rejected our key confirmation cA" in str(commissioner.error)
    status = UnsecuredMessage.decode(trace.by(D2C)[-1])
    assert status.protocol.opcode == OP.STATUS_REPORT
    assert status.payload == FAILURE_STATUS


# --- validity rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "passcode",
    [
        *sorted(EXCLUDED_PASSCODES),
        -1,
        99999999,
        100000000,
        2**27,
        2**32,
    ],
)
def test_invalid_passcodes_are_rejected(passcode: int) -> None:
    with pytest.raises(LocalProtocolError):
        validate_passcode(passcode)
    with pytest.raises(LocalProtocolError):
        Commissioner(passcode, entropy=HmacCounterEntropy(0), now_ms=0)


def test_excluded_passcodes_are_exactly_the_spec_list() -> None:
    expected = {0, 12345678, 87654321} | {int(str(d) * 8) for d in range(1, 10)}
    assert expected == EXCLUDED_PASSCODES
    assert MAX_PASSCODE == 99999998


@pytest.mark.parametrize("passcode", [1, 2, 11111112, 12345679, 20202021, 99999998])
def test_valid_passcodes_are_accepted(passcode: int) -> None:
    validate_passcode(passcode)
    assert Commissioner(passcode, entropy=HmacCounterEntropy(0), now_ms=0).state is State.IDLE


@pytest.mark.parametrize("passcode", [True, 20202021.0, "20202021"])
def test_non_integer_passcodes_are_rejected(passcode: object) -> None:
    with pytest.raises(LocalProtocolError):
        validate_passcode(passcode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("salt_length", "iterations"),
    [(15, 1000), (33, 1000), (0, 1000), (16, 999), (16, 100001), (32, 0)],
)
def test_commissionee_rejects_out_of_range_pbkdf_parameters(
    salt_length: int, iterations: int
) -> None:
    verifier = verifier_for(PASSCODE, SALT, ITERATIONS)
    with pytest.raises(LocalProtocolError):
        Commissionee(
            verifier, bytes(salt_length), iterations, entropy=HmacCounterEntropy(0), now_ms=0
        )


@pytest.mark.parametrize(("salt_length", "iterations"), [(16, 1000), (32, 100000)])
def test_commissionee_accepts_the_pbkdf_limits(salt_length: int, iterations: int) -> None:
    verifier = verifier_for(PASSCODE, SALT, ITERATIONS)
    session = Commissionee(
        verifier, bytes(salt_length), iterations, entropy=HmacCounterEntropy(0), now_ms=0
    )
    assert session.state is State.IDLE


def _request_with(
    seed: int, changes: dict[str, Any], exchange_id: int | None = None
) -> tuple[Commissionee, bytes]:
    """A started commissionee and a PBKDFParamRequest datagram with changed fields."""
    commissioner, commissionee = make_pair(seed)
    (request,) = commissioner.datagrams_to_send()
    original = PBKDFParamRequest.decode(UnsecuredMessage.decode(request).payload)
    changed = dataclasses.replace(original, **changes)
    protocol = {} if exchange_id is None else {"exchange_id": exchange_id}
    return commissionee, reframe(request, payload=changed.encode(), protocol=protocol)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("passcode_id", 1, "passcode id 1"),
        ("passcode_id", 0xFFFF, "passcode id 65535"),
        ("initiator_session_id", 0, "initiator session id 0"),
    ],
)
# Exchange id 0 is a legal random draw; the commissionee used to take it for "no peer
# yet" and failed silently (regression).
@pytest.mark.parametrize("exchange_id", [None, 0], ids=["drawn-exchange", "exchange-0"])
def test_commissionee_fails_a_bad_request_with_a_status_report(
    field: str, value: int, words: str, exchange_id: int | None
) -> None:
    commissionee, request = _request_with(7, {field: value}, exchange_id)
    commissionee.receive_datagram(request, 0)

    assert commissionee.state is State.FAILED
    assert type(commissionee.error) is RemoteProtocolError
    assert words in str(commissionee.error)
    (reply,) = commissionee.datagrams_to_send()
    sent = UnsecuredMessage.decode(reply)
    received = UnsecuredMessage.decode(request)
    assert sent.protocol.opcode == OP.STATUS_REPORT
    assert sent.payload == FAILURE_STATUS
    # Addressed like any reply: the initiator's node id, its exchange, acking the request.
    assert sent.header.destination_node_id == received.header.source_node_id
    assert sent.protocol.exchange_id == received.protocol.exchange_id
    assert sent.protocol.ack_counter == received.header.message_counter
    assert not sent.protocol.initiator
    (event,) = events(commissionee)
    assert isinstance(event, Failed) and event.status_sent is not None


def _commissioner_with_response(seed: int, response: PBKDFParamResponse | bytes) -> Commissioner:
    """A commissioner that sent its request and received ``response`` in reply."""
    commissioner, commissionee = make_pair(seed)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (reply,) = commissionee.datagrams_to_send()
    payload = response if isinstance(response, bytes) else response.encode()
    commissioner.receive_datagram(reframe(reply, payload=payload), 0)
    return commissioner


def _genuine_response(seed: int) -> PBKDFParamResponse:
    commissioner, commissionee = make_pair(seed)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (reply,) = commissionee.datagrams_to_send()
    return PBKDFParamResponse.decode(UnsecuredMessage.decode(reply).payload)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"responder_session_id": 0}, "responder session id 0"),
        ({"initiator_random": bytes(32)}, "initiator random"),
        ({"pbkdf_parameters": None}, "lacks the PBKDF parameters"),
        ({"pbkdf_parameters": PBKDFParameters(999, SALT)}, "iterations 999"),
        ({"pbkdf_parameters": PBKDFParameters(100001, SALT)}, "iterations 100001"),
    ],
)
def test_commissioner_fails_a_bad_response(change: dict[str, Any], words: str) -> None:
    response = dataclasses.replace(_genuine_response(8), **change)
    commissioner = _commissioner_with_response(8, response)
    assert commissioner.state is State.FAILED
    assert isinstance(commissioner.error, RemoteProtocolError)
    assert words in str(commissioner.error)
    (status,) = commissioner.datagrams_to_send()
    assert UnsecuredMessage.decode(status).payload == FAILURE_STATUS


def test_commissioner_fails_a_response_with_a_short_salt() -> None:
    genuine = _genuine_response(9)
    # A 15-byte salt cannot be built through the dataclass; splice it into the TLV.
    payload = genuine.encode().replace(b"\x30\x02\x10" + SALT, b"\x30\x02\x0f" + SALT[:15])
    assert payload != genuine.encode()
    commissioner = _commissioner_with_response(9, payload)
    assert commissioner.state is State.FAILED
    assert isinstance(commissioner.error, CoreError)


def test_start_twice_is_a_local_error() -> None:
    commissioner, commissionee = make_pair(1)
    with pytest.raises(LocalProtocolError):
        commissioner.start(0)
    with pytest.raises(LocalProtocolError):
        commissionee.start(0)


# --- the transition table ---------------------------------------------------------------


def test_next_state_follows_the_table_and_rejects_everything_else() -> None:
    for (role, state), accepted in TRANSITIONS.items():
        for opcode in range(256):
            if opcode in accepted:
                assert next_state(role, state, opcode) is accepted[OP(opcode)]
            else:
                with pytest.raises(RemoteProtocolError, match=state.value):
                    next_state(role, state, opcode)
    for role in Role:
        for state in (State.IDLE, State.ESTABLISHED, State.FAILED):
            with pytest.raises(RemoteProtocolError, match="no handshake message"):
                next_state(role, state, OP.PBKDF_PARAM_REQUEST)


def test_the_table_is_the_lock_step_handshake() -> None:
    happy = {
        (Role.COMMISSIONER, State.EXPECT_PBKDF_PARAM_RESPONSE, OP.PBKDF_PARAM_RESPONSE),
        (Role.COMMISSIONER, State.EXPECT_PAKE2, OP.PASE_PAKE2),
        (Role.COMMISSIONER, State.EXPECT_STATUS_REPORT, OP.STATUS_REPORT),
        (Role.COMMISSIONEE, State.EXPECT_PBKDF_PARAM_REQUEST, OP.PBKDF_PARAM_REQUEST),
        (Role.COMMISSIONEE, State.EXPECT_PAKE1, OP.PASE_PAKE1),
        (Role.COMMISSIONEE, State.EXPECT_PAKE3, OP.PASE_PAKE3),
    }
    listed = {
        (role, state, opcode)
        for (role, state), accepted in TRANSITIONS.items()
        for opcode, target in accepted.items()
        if target is not State.FAILED
    }
    assert listed == happy


# --- wire shape (Matter Core Specification 1.0, §4.4 Message Frame Format) --------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_wire_shape_matches_the_observed_exchange(seed: int) -> None:
    *_, trace = handshake(seed)
    decoded = trace.decoded()

    shape = [
        (d, m.header.message_flags, int(m.protocol.flags), m.protocol.opcode) for d, m in decoded
    ]
    assert shape == [
        (C2D, 0x04, 0x05, 0x20),
        (D2C, 0x01, 0x06, 0x21),
        (C2D, 0x04, 0x07, 0x22),
        (D2C, 0x01, 0x06, 0x23),
        (C2D, 0x04, 0x07, 0x24),
        (D2C, 0x01, 0x06, 0x40),
        (C2D, 0x04, 0x03, 0x10),
    ]
    node_id = decoded[0][1].header.source_node_id
    assert node_id is not None
    exchange_id = decoded[0][1].protocol.exchange_id
    for direction, message in decoded:
        assert message.header.session_id == 0
        assert message.header.security_flags == 0
        assert message.protocol.exchange_id == exchange_id
        assert message.protocol.protocol_id == 0
        if direction == C2D:
            assert message.header.source_node_id == node_id
            assert message.header.destination_node_id is None
        else:
            assert message.header.source_node_id is None
            assert message.header.destination_node_id == node_id
    for direction in (C2D, D2C):
        counters = [m.header.message_counter for d, m in decoded if d == direction]
        assert counters == list(range(counters[0], counters[0] + len(counters)))
    assert decoded[0][1].protocol.ack_counter is None
    for (_, previous), (_, message) in itertools.pairwise(decoded):
        assert message.protocol.ack_counter == previous.header.message_counter
    assert decoded[5][1].payload == SUCCESS_STATUS
    assert decoded[6][1].payload == b""
    assert ExchangeFlags.RELIABILITY not in decoded[6][1].protocol.flags


# --- retransmission ---------------------------------------------------------------------


def test_a_dropped_request_is_retransmitted_and_the_handshake_completes() -> None:
    commissioner, commissionee = make_pair(11, now_ms=1000)
    (request,) = commissioner.datagrams_to_send()  # lost
    assert commissioner.next_deadline() == 1000 + MRP_IDLE_FIRST

    commissioner.handle_timer(1000 + MRP_IDLE_FIRST - 1)
    assert commissioner.datagrams_to_send() == []
    commissioner.handle_timer(1000 + MRP_IDLE_FIRST)
    assert commissioner.datagrams_to_send() == [request]  # same bytes, same counter
    assert commissioner.next_deadline() == 1000 + 3 * MRP_IDLE_FIRST

    commissionee.receive_datagram(request, 1300)
    pump(commissioner, commissionee, 1300)
    assert commissioner.state is State.ESTABLISHED and commissionee.state is State.ESTABLISHED
    assert commissioner.transcript_hash == commissionee.transcript_hash


def test_a_dropped_response_is_resent_when_the_request_is_retransmitted() -> None:
    commissioner, commissionee = make_pair(12)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (response,) = commissionee.datagrams_to_send()  # lost

    commissioner.handle_timer(MRP_IDLE_FIRST)
    (again,) = commissioner.datagrams_to_send()
    assert again == request
    commissionee.receive_datagram(again, MRP_IDLE_FIRST)
    assert commissionee.datagrams_to_send() == [response]
    assert commissionee.state is State.EXPECT_PAKE1

    commissioner.receive_datagram(response, MRP_IDLE_FIRST)
    pump(commissioner, commissionee, MRP_IDLE_FIRST)
    assert commissioner.state is State.ESTABLISHED
    assert state_of(commissionee) is State.ESTABLISHED
    assert commissioner.transcript_hash == commissionee.transcript_hash


@pytest.mark.parametrize("opcode", [OP.PBKDF_PARAM_REQUEST, OP.PASE_PAKE1, OP.PASE_PAKE3])
def test_a_duplicate_of_a_handled_message_resends_the_last_reply(opcode: int) -> None:
    commissioner, commissionee = make_pair(13)
    duplicated = False
    outgoing = commissioner.datagrams_to_send()
    for _ in range(10):  # the lock-step handshake needs 4 rounds
        for datagram in outgoing:
            commissionee.receive_datagram(datagram, 0)
            replies = commissionee.datagrams_to_send()
            if opcode_of(datagram) == opcode:
                assert len(replies) == 1
                state = commissionee.state
                commissionee.receive_datagram(datagram, 0)
                assert commissionee.datagrams_to_send() == replies
                assert commissionee.state is state
                duplicated = True
            for reply in replies:
                commissioner.receive_datagram(reply, 0)
        outgoing = commissioner.datagrams_to_send()
    assert outgoing == []
    assert duplicated
    assert commissioner.state is State.ESTABLISHED and commissionee.state is State.ESTABLISHED
    assert commissioner.transcript_hash == commissionee.transcript_hash


def test_regression_a_delayed_older_copy_is_dropped_not_fatal() -> None:
    # Found by the stateful test: the commissioner retransmitted its request, the first
    # copy was answered, and the late second copy reached the commissionee in
    # EXPECT_PAKE3, which failed the handshake as an unexpected message.
    commissioner, commissionee = make_pair(19)
    (request,) = commissioner.datagrams_to_send()
    commissioner.handle_timer(MRP_IDLE_FIRST)
    (late_copy,) = commissioner.datagrams_to_send()
    assert late_copy == request
    commissionee.receive_datagram(request, MRP_IDLE_FIRST)
    (response,) = commissionee.datagrams_to_send()
    commissioner.receive_datagram(response, MRP_IDLE_FIRST)
    (pake1,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(pake1, MRP_IDLE_FIRST)
    (pake2,) = commissionee.datagrams_to_send()
    assert commissionee.state is State.EXPECT_PAKE3

    for stale in (late_copy, request):
        commissionee.receive_datagram(stale, MRP_IDLE_FIRST)
        assert state_of(commissionee) is State.EXPECT_PAKE3
        assert commissionee.datagrams_to_send() == []  # not even a resend: it is old

    commissioner.receive_datagram(pake2, MRP_IDLE_FIRST)
    pump(commissioner, commissionee, MRP_IDLE_FIRST)
    assert state_of(commissioner) is State.ESTABLISHED
    assert state_of(commissionee) is State.ESTABLISHED
    # Established sessions drop stale handshake copies too, and stay established.
    commissionee.receive_datagram(pake1, MRP_IDLE_FIRST)
    commissioner.receive_datagram(response, MRP_IDLE_FIRST)
    assert commissionee.datagrams_to_send() == [] and commissioner.datagrams_to_send() == []
    assert commissioner.error is None and commissionee.error is None
    assert commissioner.transcript_hash == commissionee.transcript_hash


def test_unexpected_new_message_after_establishment_is_dropped_not_obeyed() -> None:
    # A stray unsecured datagram must not kill an established session (anyone can send
    # one); it is counted and dropped, and nothing is sent back.
    commissioner, commissionee, trace = handshake(20)
    (first_request, *_) = trace.by(C2D)
    counter = UnsecuredMessage.decode(trace.by(C2D)[-1]).header.message_counter
    fresh = reframe(first_request, header={"message_counter": counter + 1})
    commissionee.receive_datagram(fresh, 0)
    assert commissionee.state is State.ESTABLISHED and commissionee.error is None
    assert commissionee.ignored_datagrams == 1
    assert commissionee.datagrams_to_send() == []
    sealed = commissioner.secure.seal(1, 2, b"still works", 7) if commissioner.secure else b""
    assert commissionee.secure is not None
    assert commissionee.secure.open(sealed).payload == b"still works"


def test_a_lost_final_ack_makes_the_status_report_come_again() -> None:
    commissioner, commissionee = make_pair(14)
    trace = pump(
        commissioner,
        commissionee,
        deliver=lambda d, data: opcode_of(data) != OP.STANDALONE_ACK,
    )
    ack = trace.sent[-1][1]
    status = trace.sent[-2][1]
    assert opcode_of(ack) == OP.STANDALONE_ACK and opcode_of(status) == OP.STATUS_REPORT
    assert commissionee.state is State.ESTABLISHED
    assert commissionee.next_deadline() == MRP_IDLE_FIRST

    commissionee.handle_timer(MRP_IDLE_FIRST)
    assert commissionee.datagrams_to_send() == [status]
    commissioner.receive_datagram(status, MRP_IDLE_FIRST)
    assert commissioner.datagrams_to_send() == [ack]
    commissionee.receive_datagram(ack, MRP_IDLE_FIRST)
    assert commissionee.next_deadline() is None
    assert commissioner.state is State.ESTABLISHED and commissionee.state is State.ESTABLISHED


def test_retransmissions_run_out_into_a_handshake_timeout() -> None:
    commissioner, _ = make_pair(15)
    (request,) = commissioner.datagrams_to_send()
    now = 0
    resent = 0
    for attempt in range(MAX_RETRANSMISSIONS):
        due = commissioner.next_deadline()
        assert due is not None
        assert due == now + MRP_IDLE_FIRST * 2**attempt
        now = due
        commissioner.handle_timer(now)
        assert commissioner.datagrams_to_send() == [request]
        resent += 1
    assert resent == MAX_RETRANSMISSIONS
    assert commissioner.state is State.EXPECT_PBKDF_PARAM_RESPONSE

    deadline = commissioner.next_deadline()
    assert deadline is not None
    commissioner.handle_timer(deadline)
    assert state_of(commissioner) is State.FAILED
    assert type(commissioner.error) is HandshakeTimeout
    assert str(MAX_RETRANSMISSIONS) in str(commissioner.error)
    assert commissioner.datagrams_to_send() == []  # a timeout has no one to tell
    (event,) = events(commissioner)
    assert isinstance(event, Failed) and event.status_sent is None
    assert commissioner.next_deadline() is None


def test_a_stalled_handshake_times_out_after_sixty_seconds() -> None:
    commissioner, commissionee = make_pair(16)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (response,) = commissionee.datagrams_to_send()
    # The commissioner acknowledges the response, then goes silent.
    request_counter = UnsecuredMessage.decode(request).header.message_counter
    ack = reframe(
        request,
        payload=b"",
        header={"message_counter": request_counter + 1},
        protocol={
            "opcode": OP.STANDALONE_ACK,
            "needs_ack": False,
            "ack_counter": UnsecuredMessage.decode(response).header.message_counter,
        },
    )
    commissionee.receive_datagram(ack, 10)
    assert commissionee.state is State.EXPECT_PAKE1
    assert commissionee.next_deadline() == HANDSHAKE_TIMEOUT_MS
    commissionee.handle_timer(HANDSHAKE_TIMEOUT_MS - 1)
    assert state_of(commissionee) is State.EXPECT_PAKE1
    assert commissionee.datagrams_to_send() == []  # acknowledged: nothing to retransmit
    commissionee.handle_timer(HANDSHAKE_TIMEOUT_MS)
    assert state_of(commissionee) is State.FAILED
    assert type(commissionee.error) is HandshakeTimeout
    assert commissionee.datagrams_to_send() == []


def test_an_unacknowledged_reply_runs_out_of_retransmissions() -> None:
    commissioner, commissionee = make_pair(18)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (response,) = commissionee.datagrams_to_send()
    sent = 0
    while commissionee.state is State.EXPECT_PAKE1:
        deadline = commissionee.next_deadline()
        assert deadline is not None and deadline < HANDSHAKE_TIMEOUT_MS
        commissionee.handle_timer(deadline)
        resent = commissionee.datagrams_to_send()
        assert resent in ([], [response])
        sent += len(resent)
    assert sent == MAX_RETRANSMISSIONS
    assert type(commissionee.error) is HandshakeTimeout


def test_a_waiting_commissionee_never_times_out() -> None:
    _, commissionee = make_pair(17)
    assert commissionee.next_deadline() is None
    commissionee.handle_timer(10 * HANDSHAKE_TIMEOUT_MS)
    assert commissionee.state is State.EXPECT_PBKDF_PARAM_REQUEST
    assert commissionee.datagrams_to_send() == []


@pytest.mark.parametrize(
    ("protocol_id", "protocol_code"),
    [(0x0001, 0x0000), (0x0000, 0x0002), (0x00010000, 0x0000)],
)
def test_a_success_status_report_must_name_session_establishment(
    protocol_id: int, protocol_code: int
) -> None:
    # General SUCCESS alone is not enough: CHIP also checks the Secure Channel protocol id
    # and SessionEstablishmentSuccess, so a damaged report must not establish a session.
    from matter_core.message import StatusReport

    commissioner, commissionee = make_pair(3)
    held: list[bytes] = []

    def hold_status_report(direction: str, datagram: bytes) -> bool:
        if direction == D2C and opcode_of(datagram) == SecureChannelOpcode.STATUS_REPORT:
            held.append(datagram)
            return False
        return True

    pump(commissioner, commissionee, deliver=hold_status_report)
    assert len(held) == 1 and state_of(commissioner) is State.EXPECT_STATUS_REPORT
    message = UnsecuredMessage.decode(held[0])
    forged = StatusReport(0, protocol_id, protocol_code).encode()
    damaged = UnsecuredMessage(message.header, message.protocol, forged).encode()
    commissioner.receive_datagram(damaged, 10)
    assert commissioner.state.value == "FAILED"
    assert commissioner.error is not None
    assert "malformed success StatusReport" in commissioner.error.message
