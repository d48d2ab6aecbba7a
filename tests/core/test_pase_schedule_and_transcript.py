"""Pinned numbers: the retransmission schedule and the handshake transcript.

The other PASE tests read the timing constants back from the module, so they would
follow a changed constant; these spell the numbers out. Retransmission follows Matter
Core Specification 1.3, section 4.12 Message Reliability Protocol (MRP):
MRP_MAX_TRANSMISSIONS of 5 (the first send and 4 retransmissions), and before the n-th
retransmission a wait of ``i * MRP_BACKOFF_MARGIN * MRP_BACKOFF_BASE^max(0, n - 1) * (1 +
jitter)`` (section 4.12.2.1), in CHIP's integer fixed point: margin 1127/1024, base 1.6,
jitter ``r / 1024`` for one entropy byte ``r``. ``i`` is the peer's idle interval (500 ms
by default) until the peer has been heard from within its active threshold, then its
active interval (300 ms): 550 or 330 ms before jitter for the first wait. The jitter
bytes the seeded test entropy gives are written next to each schedule.

The transcript hash is the core's own record of a handshake (not a Matter-defined value):
SHA-256 over every handshake datagram it sent or handled, each framed as one direction
byte (1 initiator->responder, 2 responder->initiator), the datagram length as a u32
little-endian, then the datagram. Standalone acks and failure reports are not recorded.
"""

from __future__ import annotations

import hashlib

from helpers import C2D, D2C, handshake, make_pair
from matter_core import mrp
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

OP = SecureChannelOpcode

# --- the retransmission schedule -------------------------------------------------------


def test_the_timing_constants_are_the_documented_numbers() -> None:
    # Section 4.12.8 Parameters and Constants, and CHIP's fixed-point forms.
    assert mrp.MRP_MAX_TRANSMISSIONS == 5
    assert MAX_RETRANSMISSIONS == 4
    assert mrp.MRP_BACKOFF_BASE == (16, 10)
    assert mrp.MRP_BACKOFF_MARGIN == (1127, 1024)
    assert mrp.MRP_BACKOFF_THRESHOLD == 1
    assert mrp.MRP_BACKOFF_JITTER == 0.25
    assert mrp.JITTER_BASE == 1024
    assert mrp.MRP_STANDALONE_ACK_TIMEOUT_MS == 200
    assert mrp.SESSION_IDLE_INTERVAL_MS == 500
    assert mrp.SESSION_ACTIVE_INTERVAL_MS == 300
    assert mrp.SESSION_ACTIVE_THRESHOLD_MS == 4000
    assert HANDSHAKE_TIMEOUT_MS == 60_000
    # The waits before jitter, towards an idle and an active peer.
    assert [mrp.backoff_ms(500, n, 0) for n in range(5)] == [550, 550, 880, 1408, 2252]
    assert [mrp.backoff_ms(300, n, 0) for n in range(5)] == [330, 330, 528, 844, 1351]
    # The largest jitter byte adds 255/1024 (just under MRP_BACKOFF_JITTER).
    assert [mrp.backoff_ms(300, n, 255) for n in range(5)] == [412, 412, 659, 1054, 1687]


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


def test_a_lost_request_is_retransmitted_four_times_on_the_idle_backoff() -> None:
    commissioner, _ = make_pair(41, now_ms=1_000)
    (request,) = commissioner.datagrams_to_send()  # lost, and every copy after it

    resent_at, failed_at = _walk_retransmissions(commissioner, request)
    # The commissionee was never heard from: its idle interval, 500 ms. Waits of 550,
    # 550, 880, 1408 and 2252 ms before jitter; jitter bytes 194, 242, 215, 9, 45 make
    # them 654, 679, 1064, 1420 and 2350 ms. The session gives up when the wait after
    # the fourth retransmission ends, 6.2 s after the first send.
    assert resent_at == [1_654, 2_333, 3_397, 4_817]
    assert failed_at == 7_167
    assert type(commissioner.error) is HandshakeTimeout
    assert "4 retransmissions" in str(commissioner.error)
    event = commissioner.next_event()
    assert isinstance(event, Failed) and event.status_sent is None
    assert commissioner.next_deadline() is None


def test_a_lost_reply_is_retransmitted_on_the_active_backoff() -> None:
    commissioner, commissionee = make_pair(42)
    (request,) = commissioner.datagrams_to_send()
    commissionee.receive_datagram(request, 500)
    (response,) = commissionee.datagrams_to_send()  # lost, and every copy after it

    resent_at, failed_at = _walk_retransmissions(commissionee, response)
    # The commissioner was heard at 500, within its 4000 ms active threshold for the
    # whole schedule: its active interval, 300 ms. Waits of 330, 330, 528, 844 and 1351
    # ms before jitter; jitter bytes 102, 246, 197, 45, 64 make them 362, 409, 629, 881
    # and 1435 ms.
    assert resent_at == [862, 1_271, 1_900, 2_781]
    assert failed_at == 4_216
    assert type(commissionee.error) is HandshakeTimeout


def test_each_new_message_starts_its_own_backoff_from_the_first_wait() -> None:
    commissioner, commissionee = make_pair(43)
    (request,) = commissioner.datagrams_to_send()
    # Idle peer: 550 ms with jitter byte 134 is 621; then 550 with byte 213 is 664.
    commissioner.handle_timer(620)
    assert commissioner.datagrams_to_send() == []
    commissioner.handle_timer(621)
    assert commissioner.datagrams_to_send() == [request]
    assert commissioner.next_deadline() == 621 + 664
    commissionee.receive_datagram(request, 721)
    (response,) = commissionee.datagrams_to_send()
    commissioner.receive_datagram(response, 721)  # acknowledges the request
    ack, pake1 = commissioner.datagrams_to_send()
    assert UnsecuredMessage.decode(ack).protocol.opcode == OP.STANDALONE_ACK
    # Only Pake1, framed at 721, is outstanding now, and its backoff starts over from the
    # first wait; the commissionee was just heard from, so towards an active peer: 330 ms
    # with jitter byte 170 is 384.
    assert commissioner.next_deadline() == 721 + 384
    commissioner.handle_timer(721 + 383)
    assert commissioner.datagrams_to_send() == []
    commissioner.handle_timer(721 + 384)
    assert commissioner.datagrams_to_send() == [pake1]


# --- the transcript hash ---------------------------------------------------------------

#: The transcript of ``helpers.handshake(7)``: passcode 20202021, salt "SPAKE2P Key Salt",
#: 1000 iterations and the tests' own seed-7 entropy (``helpers.HmacCounterEntropy``, not
#: the harness's seed 7, whose transcript the harness pins).
KNOWN_GOOD_SEED_7 = "7b4b4eb707cc886ae9fd43d0e5541e6dd8034c3f0b68b4d23666e7dc4f6810ad"
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
    opcodes = [UnsecuredMessage.decode(data).protocol.opcode for _, data in trace.sent]
    # The commissioner's standalone acks (of the PBKDFParamResponse, before its PBKDF2,
    # and of the success StatusReport) are on the wire but not in the transcript.
    assert opcodes == [0x20, 0x21, 0x10, 0x22, 0x23, 0x24, 0x40, 0x10]
    recorded = [sent for sent, opcode in zip(trace.sent, opcodes, strict=True) if opcode != 0x10]
    assert len(recorded) == 6
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
