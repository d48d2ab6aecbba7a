"""The PASE roles in-process: whole handshakes, mismatches, validity rules, wire shape, MRP.

Both roles run in the same process with seeded entropy (``helpers.HmacCounterEntropy``)
and datagrams handed across by ``helpers.pump``. Time only moves when a test says so.
"""

from __future__ import annotations

import dataclasses
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
    # The six handshake messages and the commissioner's two standalone acks: of the
    # PBKDFParamResponse (before its PBKDF2) and of the success StatusReport.
    assert [opcode_of(d) for _, d in trace.sent] == [0x20, 0x21, 0x10, 0x22, 0x23, 0x24, 0x40, 0x10]
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

    # The commissioner's failure report answers Pake2 and asks for an acknowledgement
    # (Matter Core Specification 1.3, section 4.12.2: a StatusReport is a reliable
    # message); the commissionee's standalone ack of it closes the exchange.
    assert [opcode_of(d) for _, d in trace.sent] == [0x20, 0x21, 0x10, 0x22, 0x23, 0x40, 0x10]
    (direction, report), (ack_direction, ack) = trace.sent[-2:]
    assert (direction, ack_direction) == (C2D, D2C)
    message = UnsecuredMessage.decode(report)
    assert message.protocol.opcode == OP.STATUS_REPORT
    assert message.payload == FAILURE_STATUS
    assert message.protocol.needs_ack
    pake2 = UnsecuredMessage.decode(trace.by(D2C)[-2])
    assert pake2.protocol.opcode == OP.PASE_PAKE2
    assert message.protocol.ack_counter == pake2.header.message_counter
    acked = UnsecuredMessage.decode(ack).protocol
    assert acked.ack_counter == message.header.message_counter and not acked.needs_ack

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
) -> tuple[Commissionee, bytes, bytes]:
    """A started commissionee, a PBKDFParamRequest datagram with changed fields, and the
    genuine request (both on ``exchange_id`` when it is given)."""
    commissioner, commissionee = make_pair(seed)
    (request,) = commissioner.datagrams_to_send()
    original = PBKDFParamRequest.decode(UnsecuredMessage.decode(request).payload)
    changed = dataclasses.replace(original, **changes)
    protocol = {} if exchange_id is None else {"exchange_id": exchange_id}
    return (
        commissionee,
        reframe(request, payload=changed.encode(), protocol=protocol),
        reframe(request, protocol=protocol),
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("passcode_id", 1), ("passcode_id", 0xFFFF), ("initiator_session_id", 0)],
    ids=["passcode id 1", "passcode id 65535", "initiator session id 0"],
)
# Exchange id 0 is a legal random draw; the commissionee used to take it for "no peer
# yet" and failed silently (regression): the genuine request on exchange 0 must still
# open the handshake.
@pytest.mark.parametrize("exchange_id", [None, 0], ids=["drawn-exchange", "exchange-0"])
def test_a_bad_request_is_dropped_and_the_device_keeps_waiting(
    field: str, value: int, exchange_id: int | None
) -> None:
    # A device waiting for a commissioner does not fail (nor answer) a request that
    # breaks a rule: it drops it and keeps listening, as CHIP re-arms its PASE listener.
    commissionee, bad, genuine = _request_with(7, {field: value}, exchange_id)
    commissionee.receive_datagram(bad, 0)

    assert commissionee.state is State.EXPECT_PBKDF_PARAM_REQUEST
    assert commissionee.error is None
    assert commissionee.datagrams_to_send() == []  # no StatusReport, no ack
    assert commissionee.drops.items() == (("malformed", 1),)
    assert events(commissionee) == []
    assert commissionee.next_deadline() is None  # still waiting, with no timeout

    # The genuine request (same message counter) then opens the exchange as usual.
    commissionee.receive_datagram(genuine, 0)
    assert state_of(commissionee) is State.EXPECT_PAKE1
    (reply,) = commissionee.datagrams_to_send()
    sent = UnsecuredMessage.decode(reply)
    received = UnsecuredMessage.decode(genuine)
    assert sent.protocol.opcode == OP.PBKDF_PARAM_RESPONSE
    # Addressed like any reply: the initiator's node id, its exchange, acking the request.
    assert sent.header.destination_node_id == received.header.source_node_id
    assert sent.protocol.exchange_id == received.protocol.exchange_id
    if exchange_id is not None:
        assert sent.protocol.exchange_id == exchange_id
    assert sent.protocol.ack_counter == received.header.message_counter
    assert not sent.protocol.initiator
    assert commissionee.drops.items() == (("malformed", 1),)


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
    # A well-formed PBKDFParamResponse on our exchange with a bad field fails the
    # commissioner, which tells the device with a failure StatusReport (as CHIP does).
    response = dataclasses.replace(_genuine_response(8), **change)
    commissioner = _commissioner_with_response(8, response)
    assert commissioner.state is State.FAILED
    assert isinstance(commissioner.error, RemoteProtocolError)
    assert words in str(commissioner.error)
    # The response's standalone ack went out before the handler ran (it is the message
    # whose handler does PBKDF2), then the failure report, reliable, on the exchange.
    ack, status = commissioner.datagrams_to_send()
    acked, report = UnsecuredMessage.decode(ack), UnsecuredMessage.decode(status)
    assert acked.protocol.opcode == OP.STANDALONE_ACK
    assert report.protocol.opcode == OP.STATUS_REPORT
    assert report.payload == FAILURE_STATUS
    assert report.protocol.needs_ack and report.protocol.initiator
    assert report.protocol.exchange_id == acked.protocol.exchange_id
    assert report.protocol.ack_counter is None  # the ack already went out alone
    (event,) = events(commissioner)
    assert isinstance(event, Failed) and event.status_sent is not None
    assert event.status_sent.encode() == FAILURE_STATUS


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
    # Message flags: 0x04 source node id (the commissioner's ephemeral one), 0x01
    # destination node id. Exchange flags: 0x01 I, 0x02 A, 0x04 R. The commissioner acks
    # the PBKDFParamResponse alone before its PBKDF2, so Pake1 carries no ack; the
    # commissionee's Pake2 carries the ack of Pake1, as a CHIP device's does.
    assert shape == [
        (C2D, 0x04, 0x05, 0x20),
        (D2C, 0x01, 0x06, 0x21),
        (C2D, 0x04, 0x03, 0x10),
        (C2D, 0x04, 0x05, 0x22),
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
    counter = [m.header.message_counter for _, m in decoded]
    # Which message each one acknowledges (by index in the exchange), if any.
    acked = [None, 0, 1, None, 3, 4, 5, 6]
    assert [m.protocol.ack_counter for _, m in decoded] == [
        None if index is None else counter[index] for index in acked
    ]
    assert decoded[6][1].payload == SUCCESS_STATUS
    for ack in (decoded[2][1], decoded[7][1]):
        assert ack.payload == b""
        assert ExchangeFlags.RELIABILITY not in ack.protocol.flags


# --- retransmission ---------------------------------------------------------------------
# Waits follow Matter Core Specification 1.3, section 4.12.2.1 (see
# test_pase_schedule_and_transcript.py for the formula): 550 ms before jitter towards a
# peer not heard from yet (its idle interval, 500 ms, with the 1.1 margin), 330 ms towards
# one heard within its active threshold; one entropy byte r makes a wait w into
# w * (1024 + r) // 1024.


def test_a_dropped_request_is_retransmitted_and_the_handshake_completes() -> None:
    commissioner, commissionee = make_pair(11, now_ms=1000)
    (request,) = commissioner.datagrams_to_send()  # lost
    # Jitter bytes 1 then 247: 550 * 1025 // 1024 = 550, then 550 * 1271 // 1024 = 682.
    assert commissioner.next_deadline() == 1000 + 550

    commissioner.handle_timer(1000 + 550 - 1)
    assert commissioner.datagrams_to_send() == []
    commissioner.handle_timer(1000 + 550)
    assert commissioner.datagrams_to_send() == [request]  # same bytes, same counter
    assert commissioner.retransmissions == 1
    assert commissioner.next_deadline() == 1000 + 550 + 682

    commissionee.receive_datagram(request, 1600)
    pump(commissioner, commissionee, 1600)
    assert commissioner.state is State.ESTABLISHED and commissionee.state is State.ESTABLISHED
    assert commissioner.transcript_hash == commissionee.transcript_hash
    assert commissioner.retransmissions == 1 and commissionee.retransmissions == 0


def test_a_lost_response_is_reacked_on_the_duplicate_and_resent_by_its_own_timer() -> None:
    # Matter Core Specification 1.3, section 4.12.2.2: a duplicate that asks for an ack is
    # dropped and acknowledged again with a standalone ack; the reply is not resent for
    # it (the reply's own retransmission timer does that).
    commissioner, commissionee = make_pair(12)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 0)
    (response,) = commissionee.datagrams_to_send()  # lost

    now = commissioner.next_deadline()
    assert now is not None
    commissioner.handle_timer(now)
    (again,) = commissioner.datagrams_to_send()
    assert again == request
    commissionee.receive_datagram(again, now)
    (ack,) = commissionee.datagrams_to_send()
    acked = UnsecuredMessage.decode(ack).protocol
    assert acked.opcode == OP.STANDALONE_ACK and not acked.needs_ack
    assert acked.ack_counter == UnsecuredMessage.decode(request).header.message_counter
    assert commissionee.state is State.EXPECT_PAKE1
    assert commissionee.drops.items() == (("duplicate", 1),)

    # The ack stops the commissioner's retransmissions: only the handshake timeout is left.
    commissioner.receive_datagram(ack, now)
    assert commissioner.next_deadline() == HANDSHAKE_TIMEOUT_MS
    assert commissioner.state is State.EXPECT_PBKDF_PARAM_RESPONSE
    # The commissionee's own timer (due already) sends the response again, byte for byte.
    due = commissionee.next_deadline()
    assert due is not None and due <= now
    commissionee.handle_timer(now)
    assert commissionee.datagrams_to_send() == [response]
    assert commissionee.retransmissions == 1

    commissioner.receive_datagram(response, now)
    pump(commissioner, commissionee, now)
    assert commissioner.state is State.ESTABLISHED
    assert state_of(commissionee) is State.ESTABLISHED
    assert commissioner.transcript_hash == commissionee.transcript_hash


@pytest.mark.parametrize("opcode", [OP.PBKDF_PARAM_REQUEST, OP.PASE_PAKE1, OP.PASE_PAKE3])
def test_a_duplicate_is_reacked_with_a_standalone_ack(opcode: int) -> None:
    commissioner, commissionee = make_pair(13)
    duplicated = False
    outgoing = commissioner.datagrams_to_send()
    for _ in range(10):  # the lock-step handshake needs 4 rounds
        for datagram in outgoing:
            commissionee.receive_datagram(datagram, 0)
            replies = commissionee.datagrams_to_send()
            if opcode_of(datagram) == opcode:
                assert len(replies) == 1  # the reply, carrying the ack
                state, sent = commissionee.state, commissionee.datagrams_sent
                commissionee.receive_datagram(datagram, 0)
                (ack,) = commissionee.datagrams_to_send()
                message = UnsecuredMessage.decode(ack)
                assert message.protocol.opcode == OP.STANDALONE_ACK
                assert not message.protocol.needs_ack
                counter = UnsecuredMessage.decode(datagram).header.message_counter
                assert message.protocol.ack_counter == counter
                assert ack != replies[0]  # not our last reply again
                assert commissionee.state is state
                assert commissionee.datagrams_sent == sent + 1
                assert commissionee.drops.items() == (("duplicate", 1),)
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
    now = commissioner.next_deadline()
    assert now is not None
    commissioner.handle_timer(now)
    (late_copy,) = commissioner.datagrams_to_send()
    assert late_copy == request
    commissionee.receive_datagram(request, now)
    (response,) = commissionee.datagrams_to_send()
    commissioner.receive_datagram(response, now)
    ack, pake1 = commissioner.datagrams_to_send()
    assert (opcode_of(ack), opcode_of(pake1)) == (OP.STANDALONE_ACK, OP.PASE_PAKE1)
    commissionee.receive_datagram(ack, now)
    commissionee.receive_datagram(pake1, now)
    (pake2,) = commissionee.datagrams_to_send()
    assert commissionee.state is State.EXPECT_PAKE3

    request_counter = UnsecuredMessage.decode(request).header.message_counter
    for stale in (late_copy, request):
        commissionee.receive_datagram(stale, now)
        assert state_of(commissionee) is State.EXPECT_PAKE3
        # An old copy is a duplicate: re-acknowledged (it asks for an ack), not answered.
        (reack,) = commissionee.datagrams_to_send()
        assert opcode_of(reack) == OP.STANDALONE_ACK
        assert UnsecuredMessage.decode(reack).protocol.ack_counter == request_counter
    assert commissionee.drops.items() == (("duplicate", 2),)

    commissioner.receive_datagram(pake2, now)
    pump(commissioner, commissionee, now)
    assert state_of(commissioner) is State.ESTABLISHED
    assert state_of(commissionee) is State.ESTABLISHED
    # Established sessions drop stale handshake copies too (re-acking them), and stay
    # established.
    commissionee.receive_datagram(pake1, now)
    commissioner.receive_datagram(response, now)
    for session, old in ((commissionee, pake1), (commissioner, response)):
        (reack,) = session.datagrams_to_send()
        assert opcode_of(reack) == OP.STANDALONE_ACK
        acked = UnsecuredMessage.decode(reack).protocol.ack_counter
        assert acked == UnsecuredMessage.decode(old).header.message_counter
    assert commissioner.drops.items() == (("duplicate", 1),)
    assert commissionee.drops.items() == (("duplicate", 3),)
    assert commissioner.error is None and commissionee.error is None
    assert commissioner.transcript_hash == commissionee.transcript_hash


def test_unexpected_new_message_after_establishment_is_dropped_not_obeyed() -> None:
    # A stray unsecured datagram must not kill an established session (anyone can send
    # one); it is counted and dropped. It asks for an ack, so it gets one (as CHIP's
    # exchange manager acks an unsolicited reliable message), and nothing else.
    commissioner, commissionee, trace = handshake(20)
    (first_request, *_) = trace.by(C2D)
    counter = UnsecuredMessage.decode(trace.by(C2D)[-1]).header.message_counter
    fresh = reframe(first_request, header={"message_counter": counter + 1})
    commissionee.receive_datagram(fresh, 0)
    assert commissionee.state is State.ESTABLISHED and commissionee.error is None
    assert commissionee.drops.items() == (("after-establishment", 1),)
    (ack,) = commissionee.datagrams_to_send()
    assert opcode_of(ack) == OP.STANDALONE_ACK
    assert UnsecuredMessage.decode(ack).protocol.ack_counter == counter + 1
    assert commissionee.next_deadline() is None  # an ack is not retransmitted
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
    # Framed at 0 towards a commissioner just heard from: 330 ms, jitter byte 62.
    assert commissionee.next_deadline() == 330 * (1024 + 62) // 1024 == 349

    commissionee.handle_timer(348)
    assert commissionee.datagrams_to_send() == []
    commissionee.handle_timer(349)
    assert commissionee.datagrams_to_send() == [status]
    commissioner.receive_datagram(status, 349)
    # A duplicate now: acknowledged again, with a new message counter of our own.
    (reack,) = commissioner.datagrams_to_send()
    first, again = UnsecuredMessage.decode(ack), UnsecuredMessage.decode(reack)
    assert again.protocol.opcode == OP.STANDALONE_ACK
    assert again.protocol.ack_counter == first.protocol.ack_counter
    assert again.header.message_counter == first.header.message_counter + 1
    assert commissioner.drops.items() == (("duplicate", 1),)
    commissionee.receive_datagram(reack, 349)
    assert commissionee.next_deadline() is None
    assert commissioner.state is State.ESTABLISHED and commissionee.state is State.ESTABLISHED


def test_retransmissions_run_out_into_a_handshake_timeout() -> None:
    commissioner, _ = make_pair(15)
    (request,) = commissioner.datagrams_to_send()
    # Towards a peer never heard from: 550, 550, 880, 1408, 2252 ms before jitter; the
    # jitter bytes 168, 45, 40, 122, 240 make them 640, 574, 914, 1575 and 2779 ms.
    waits = [640, 574, 914, 1575, 2779]
    now = 0
    resent = 0
    for attempt in range(MAX_RETRANSMISSIONS):
        due = commissioner.next_deadline()
        assert due is not None
        assert due == now + waits[attempt]
        now = due
        commissioner.handle_timer(now)
        assert commissioner.datagrams_to_send() == [request]
        resent += 1
    assert resent == MAX_RETRANSMISSIONS
    assert commissioner.state is State.EXPECT_PBKDF_PARAM_RESPONSE

    deadline = commissioner.next_deadline()
    assert deadline == now + waits[-1] == 6482
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
