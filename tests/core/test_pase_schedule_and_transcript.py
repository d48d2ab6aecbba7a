"""Pinned numbers: the retransmission schedule and the handshake transcript.

The other PASE tests read the timing constants back from the module, so they would
follow a changed constant; these spell the numbers out. The retransmission scheme is the
core's own simplification of the section "Message Reliability Protocol (MRP)" of the Matter
Core Specification: its MRP_MAX_TRANSMISSIONS of 5, i.e. the first send and 4
retransmissions, with CHIP's 300 ms active interval doubled after each retransmission (no
jitter, no 1.6 backoff base, no margin).

The transcript hash is the core's own record of a handshake (not a Matter-defined value):
SHA-256 over every handshake datagram it sent or handled, each framed as one direction
byte (1 initiator->responder, 2 responder->initiator), the datagram length as a u32
little-endian, then the datagram. The final standalone ack and failure reports are not
recorded.
"""

from __future__ import annotations

import hashlib

from helpers import C2D, D2C, handshake, make_pair
from matter_core.errors import HandshakeTimeout
from matter_core.message import SecureChannelOpcode, UnsecuredMessage
from matter_core.pase import (
    DIRECTION_I2R,
    DIRECTION_R2I,
    HANDSHAKE_TIMEOUT_MS,
    MAX_RETRANSMISSIONS,
    Commissionee,
    Commissioner,
    Failed,
    State,
)
from test_apple_replay import APPLE, STEPS, Replay

MRP_IDLE_FIRST = 550  # placeholder
OP = SecureChannelOpcode

# --- the retransmission schedule -------------------------------------------------------


def test_the_timing_constants_are_the_documented_numbers() -> None:
    assert MRP_IDLE_FIRST == 300
    assert MAX_RETRANSMISSIONS == 4
    assert HANDSHAKE_TIMEOUT_MS == 60_000


def _walk_retransmissions(
    session: Commissioner | Commissionee, lost: bytes
) -> tuple[list[int], int]:
    """Fire every deadline until the session fails, checking that nothing goes out a
    millisecond early; returns when ``lost`` was sent again and when the session failed."""
    resent_at = []
    for _ in range(20):
        deadline = session.next_deadline()
        assert deadline is not None
        session.handle_timer(deadline - 1)
        assert session.datagrams_to_send() == []
        session.handle_timer(deadline)
        out = session.datagrams_to_send()
        if session.state is State.FAILED:
            assert out == []  # running out of retransmissions tells no one
            return resent_at, deadline
        assert out == [lost]
        resent_at.append(deadline)
    raise AssertionError(f"still retransmitting after {resent_at}")


def test_a_lost_request_is_retransmitted_four_times_with_doubling_backoff() -> None:
    commissioner, _ = make_pair(41, now_ms=1_000)
    (request,) = commissioner.datagrams_to_send()  # lost, and every copy after it

    resent_at, failed_at = _walk_retransmissions(commissioner, request)
    # Retransmissions 300, 600, 1200 and 2400 ms after the previous send; the session
    # gives up 4800 ms after the fourth, 9.3 s after the first send.
    assert resent_at == [1_300, 1_900, 3_100, 5_500]
    assert failed_at == 10_300
    assert type(commissioner.error) is HandshakeTimeout
    assert "4 retransmissions" in str(commissioner.error)
    event = commissioner.next_event()
    assert isinstance(event, Failed) and event.status_sent is None
    assert commissioner.next_deadline() is None


def test_a_lost_reply_is_retransmitted_on_the_same_schedule() -> None:
    commissioner, commissionee = make_pair(42)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 500)
    (response,) = commissionee.datagrams_to_send()  # lost, and every copy after it

    resent_at, failed_at = _walk_retransmissions(commissionee, response)
    assert resent_at == [800, 1_400, 2_600, 5_000]
    assert failed_at == 9_800
    assert type(commissionee.error) is HandshakeTimeout


def test_each_new_message_starts_its_own_backoff_at_300_ms() -> None:
    commissioner, commissionee = make_pair(43)
    (request,) = commissioner.datagrams_to_send()
    commissioner.handle_timer(300)
    assert commissioner.datagrams_to_send() == [request]
    assert commissioner.next_deadline() == 900
    commissionee.receive_datagram(request, 400)
    (response,) = commissionee.datagrams_to_send()
    commissioner.receive_datagram(response, 400)  # acknowledges the request
    (pake1,) = commissioner.datagrams_to_send()
    # Only Pake1, sent at 400, is outstanding now: its first retransmission is at 700.
    assert commissioner.next_deadline() == 700
    commissioner.handle_timer(700)
    assert commissioner.datagrams_to_send() == [pake1]


# --- the transcript hash ---------------------------------------------------------------

#: The transcript of ``helpers.handshake(7)``: passcode 20202021, salt "SPAKE2P Key Salt",
#: 1000 iterations and the tests' own seed-7 entropy (``helpers.HmacCounterEntropy``, not
#: the harness's seed 7, whose transcript the harness pins).
KNOWN_GOOD_SEED_7 = "08650778f8dc95d424bbb1d0694aa856e5c15f8375e391fe3ef0c6d495590f42"
#: The transcript of the Apple Home replay (``test_apple_replay``).
KNOWN_GOOD_APPLE = "9a7f502fd080f4ad46139fb75094680cae59c95b7538a665ddd553925f585027"


def _framed(direction: int, datagram: bytes) -> bytes:
    return bytes([direction]) + len(datagram).to_bytes(4, "little") + datagram


def test_transcript_framing_constants() -> None:
    assert DIRECTION_I2R == 1
    assert DIRECTION_R2I == 2
    # The framing, spelled out: direction, u32 little-endian length, the datagram.
    assert _framed(1, bytes.fromhex("0405")) == bytes.fromhex("01 02000000 0405")
    assert _framed(2, bytes(0x0102)) == bytes.fromhex("02 02010000") + bytes(0x0102)


def test_transcript_is_sha256_over_framed_handshake_datagrams() -> None:
    commissioner, commissionee, trace = handshake(7)
    *recorded, final_ack = trace.sent
    assert UnsecuredMessage.decode(final_ack[1]).protocol.opcode == OP.STANDALONE_ACK
    direction_byte = {C2D: 1, D2C: 2}
    expected = hashlib.sha256(
        b"".join(_framed(direction_byte[d], data) for d, data in recorded)
    ).digest()
    assert commissioner.transcript_hash == expected
    assert commissionee.transcript_hash == expected


def test_known_good_transcript_of_a_seeded_handshake() -> None:
    commissioner, commissionee, _ = handshake(7)
    assert commissioner.transcript_hash.hex() == KNOWN_GOOD_SEED_7
    assert commissionee.transcript_hash.hex() == KNOWN_GOOD_SEED_7


def test_known_good_transcript_of_the_apple_recording() -> None:
    # Every datagram here is one the recording holds: Apple's three and the device's
    # three (which the replay reproduces byte for byte), so this value owes nothing to
    # our entropy or framing code.
    replay = Replay()
    h = bytes.fromhex
    expected = hashlib.sha256()
    for received, reply in STEPS:
        expected.update(_framed(1, h(APPLE[received])))
        expected.update(_framed(2, h(APPLE[reply])))
    assert replay.device.transcript_hash == expected.digest()
    assert replay.device.transcript_hash.hex() == KNOWN_GOOD_APPLE
