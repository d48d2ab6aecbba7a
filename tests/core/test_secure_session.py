"""The secure session PASE establishes: sealing, opening, and what opening refuses.

Sessions are built straight from :class:`SessionKeys` (known keys, or the keys the
Apple recording confirms), so these tests do not depend on the handshake; the
handshake-to-session path is covered in ``test_pase.py`` and ``test_endpoint.py``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.errors import (
    CoreError,
    CryptoError,
    DecodeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from matter_core.message import MIC_LENGTH, MessageHeader, SecuredMessage, decode_protocol_payload
from matter_core.secure_session import SecureSession
from matter_core.spake2p import SessionKeys, session_keys
from vectors import load_vectors

APPLE = load_vectors()["matter_pase_end_to_end_apple_recording"]
h = bytes.fromhex

KEYS = SessionKeys(i2r=bytes(range(16)), r2i=bytes(range(16, 32)), attestation_challenge=bytes(16))
INITIATOR_ID = 0xE4B6
RESPONDER_ID = 0x0001


def pair(
    keys: SessionKeys = KEYS, *, initiator_counter: int = 100, responder_counter: int = 5000
) -> tuple[SecureSession, SecureSession]:
    """An initiator and a responder session over the same keys, ids crossed."""
    initiator = SecureSession(
        initiator=True,
        keys=keys,
        local_session_id=INITIATOR_ID,
        peer_session_id=RESPONDER_ID,
        counter=initiator_counter,
    )
    responder = SecureSession(
        initiator=False,
        keys=keys,
        local_session_id=RESPONDER_ID,
        peer_session_id=INITIATOR_ID,
        counter=responder_counter,
    )
    return initiator, responder


def test_seal_and_open_round_trip_both_ways() -> None:
    initiator, responder = pair()
    sealed = initiator.seal(0x0001, 0x02, b"read request", 0x689C)
    opened = responder.open(sealed)
    assert opened.protocol_id == 0x0001
    assert opened.opcode == 0x02
    assert opened.exchange_id == 0x689C
    assert opened.payload == b"read request"
    assert opened.message_counter == 100

    reply = responder.seal(0x0001, 0x05, b"report data", 0x689C)
    opened_reply = initiator.open(reply)
    assert opened_reply.payload == b"report data"
    assert opened_reply.message_counter == 5000


def test_sealed_datagram_layout() -> None:
    initiator, _ = pair()
    payload = b"x" * 20
    sealed = initiator.seal(0x0001, 0x02, payload, 7)
    message = SecuredMessage.split(sealed)
    # The header carries the receiver's session id and our counter, and no node ids (PASE).
    assert message.header == MessageHeader(session_id=RESPONDER_ID, message_counter=100)
    assert len(message.mic) == MIC_LENGTH
    assert payload not in sealed
    # Plaintext = protocol header (6 bytes here) + payload; ciphertext is as long.
    assert len(message.ciphertext) == 6 + len(payload)
    assert initiator.last_counter == 100


def test_counters_increase_by_one_per_sealed_message() -> None:
    initiator, _ = pair(initiator_counter=0xFFFFFFFD)
    counters = []
    for i in range(3):
        sealed = initiator.seal(1, 2, bytes([i]), 1)
        counters.append(SecuredMessage.split(sealed).header.message_counter)
        assert initiator.last_counter == counters[-1]
    assert counters == [0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF]


def test_an_exhausted_counter_refuses_to_seal_rather_than_wrap() -> None:
    # Counter 0 after 0xFFFFFFFF would be rejected by the peer as a replay.
    initiator, _ = pair(initiator_counter=0xFFFFFFFF)
    initiator.seal(1, 2, b"last", 1)
    with pytest.raises(LocalProtocolError, match="exhausted"):
        initiator.seal(1, 2, b"one too many", 1)


@settings(max_examples=50, deadline=None)
@given(
    protocol_id=st.integers(0, 0xFFFF),
    opcode=st.integers(0, 0xFF),
    exchange_id=st.integers(0, 0xFFFF),
    payload=st.binary(max_size=300),
    keys=st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
)
def test_round_trip_property(
    protocol_id: int, opcode: int, exchange_id: int, payload: bytes, keys: tuple[bytes, bytes]
) -> None:
    initiator, responder = pair(SessionKeys(keys[0], keys[1], bytes(16)))
    opened = responder.open(initiator.seal(protocol_id, opcode, payload, exchange_id))
    assert (opened.protocol_id, opened.opcode, opened.exchange_id, opened.payload) == (
        protocol_id,
        opcode,
        exchange_id,
        payload,
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_tampered_byte_is_refused(data: st.DataObject) -> None:
    initiator, responder = pair()
    sealed = initiator.seal(1, 2, b"toggle the light", 9)
    header_length = len(MessageHeader(RESPONDER_ID, 100).encode())
    position = data.draw(st.integers(0, len(sealed) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(sealed)
    tampered[position] ^= mask
    with pytest.raises(CoreError) as caught:
        responder.open(bytes(tampered))
    if position >= header_length:
        # Ciphertext or MIC: only the authentication can notice.
        assert type(caught.value) is CryptoError
    # The genuine message still opens: a refused forgery does not move the replay window.
    assert responder.open(sealed).payload == b"toggle the light"


def test_tampered_ciphertext_is_a_crypto_error_naming_the_mic() -> None:
    initiator, responder = pair()
    sealed = bytearray(initiator.seal(1, 2, b"payload", 9))
    sealed[-MIC_LENGTH - 1] ^= 0x01
    with pytest.raises(CryptoError, match="MIC"):
        responder.open(bytes(sealed))


def test_a_tampered_header_fails_authentication() -> None:
    # The header is the AAD: changing the counter changes nonce and AAD alike.
    initiator, responder = pair()
    sealed = bytearray(initiator.seal(1, 2, b"payload", 9))
    sealed[4] ^= 0x80  # message counter, low byte
    with pytest.raises(CryptoError):
        responder.open(bytes(sealed))


def test_a_replayed_counter_is_rejected() -> None:
    initiator, responder = pair()
    first = initiator.seal(1, 2, b"one", 9)
    second = initiator.seal(1, 2, b"two", 9)
    assert responder.open(first).payload == b"one"
    with pytest.raises(RemoteProtocolError, match="replayed"):
        responder.open(first)
    assert responder.open(second).payload == b"two"
    with pytest.raises(RemoteProtocolError, match="replayed"):
        responder.open(second)
    with pytest.raises(RemoteProtocolError, match="replayed"):
        responder.open(first)


def test_an_older_counter_is_rejected_after_a_newer_one() -> None:
    initiator, responder = pair()
    older = initiator.seal(1, 2, b"older", 9)
    newer = initiator.seal(1, 2, b"newer", 9)
    assert responder.open(newer).payload == b"newer"
    with pytest.raises(RemoteProtocolError):
        responder.open(older)


def test_open_frame_reports_a_duplicate_after_authentication() -> None:
    # For MRP (Matter Core Specification 1.3, section 4.12.2.2) a duplicate is dropped and
    # acknowledged again: open_frame says "duplicate" instead of raising, and only for a
    # message that authenticates.
    initiator, responder = pair()
    first = initiator.seal(1, 2, b"one", 9, needs_ack=True)
    frame = responder.open_frame(first)
    assert not frame.duplicate and frame.protocol.needs_ack
    assert frame.message.payload == b"one"
    again = responder.open_frame(first)
    assert again.duplicate and again.message == frame.message
    forged = bytearray(first)
    forged[-1] ^= 1
    with pytest.raises(CryptoError):
        responder.open_frame(bytes(forged))


def test_seal_sets_the_r_flag_only_when_asked() -> None:
    initiator, responder = pair()
    plain = responder.open_frame(initiator.seal(1, 2, b"", 9))
    reliable = responder.open_frame(initiator.seal(1, 2, b"", 9, needs_ack=True))
    assert (plain.protocol.needs_ack, reliable.protocol.needs_ack) == (False, True)


def test_seal_ack_is_a_secured_standalone_ack_on_the_exchange() -> None:
    initiator, responder = pair()
    message = initiator.seal(0x0001, 0x08, b"invoke", 0x0A0B, needs_ack=True)
    counter = initiator.last_counter
    responder.open_frame(message)
    ack = initiator.open_frame(responder.seal_ack(0x0A0B, False, counter))
    assert (ack.protocol.protocol_id, ack.protocol.opcode) == (0x0000, 0x10)
    assert ack.protocol.exchange_id == 0x0A0B
    assert not ack.protocol.initiator and not ack.protocol.needs_ack
    assert ack.protocol.ack_counter == counter
    assert ack.message.payload == b""
    assert ack.message.message_counter == responder.last_counter


def test_a_message_for_another_session_is_rejected() -> None:
    initiator, responder = pair()
    stranger = SecureSession(
        initiator=True,
        keys=KEYS,
        local_session_id=INITIATOR_ID,
        peer_session_id=RESPONDER_ID + 1,
        counter=1,
    )
    with pytest.raises(RemoteProtocolError, match="session 2"):
        responder.open(stranger.seal(1, 2, b"hello", 9))
    # Nor does a session accept what it sealed for its peer (ids differ).
    with pytest.raises(RemoteProtocolError):
        initiator.open(initiator.seal(1, 2, b"echo", 9))


def test_directions_use_different_keys() -> None:
    # Same session id on both ends, so only the keys can tell the directions apart.
    keys = KEYS
    sender = SecureSession(
        initiator=True, keys=keys, local_session_id=3, peer_session_id=3, counter=10
    )
    assert_refused = SecureSession(
        initiator=True, keys=keys, local_session_id=3, peer_session_id=3, counter=10
    )
    with pytest.raises(CryptoError):
        assert_refused.open(sender.seal(1, 2, b"reflected", 9))


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\x00",
        bytes(8),  # the unsecured session: session id 0
        MessageHeader(session_id=RESPONDER_ID, message_counter=1).encode() + bytes(15),
    ],
    ids=["empty", "one-byte", "unsecured", "shorter-than-mic"],
)
def test_undecodable_datagrams_are_decode_errors(datagram: bytes) -> None:
    _, responder = pair()
    with pytest.raises(DecodeError):
        responder.open(datagram)


def test_a_bad_protocol_header_inside_is_a_decode_error() -> None:
    # Seal raw bytes that are too short for a protocol header, with the real keys.
    from matter_core.aes_ccm import AesCcm, matter_nonce

    header = MessageHeader(session_id=RESPONDER_ID, message_counter=42)
    header_bytes = header.encode()
    nonce = matter_nonce(header.security_flags, 42, 0)
    sealed = header_bytes + AesCcm(KEYS.i2r).encrypt(nonce, b"\x05\x02", header_bytes)
    _, responder = pair()
    with pytest.raises(DecodeError, match="protocol header"):
        responder.open(sealed)


# --- against the Apple recording --------------------------------------------------------


def apple_sessions() -> tuple[SecureSession, SecureSession]:
    """Both ends of the recorded session, keyed from the recorded Ke."""
    keys = session_keys(h(APPLE["Ke"]))
    assert keys.i2r == h(APPLE["I2RKey"]) and keys.r2i == h(APPLE["R2IKey"])
    return pair(keys)


def test_the_responder_opens_apples_first_secured_message() -> None:
    _, device = apple_sessions()
    opened = device.open(h(APPLE["first_secured_msg_from_initiator"]))
    proto, payload = decode_protocol_payload(h(APPLE["first_secured_msg_from_initiator_plaintext"]))
    assert opened.protocol_id == proto.protocol_id == 0x0001
    assert opened.opcode == proto.opcode == 0x02
    assert opened.exchange_id == proto.exchange_id
    assert opened.payload == payload
    assert opened.message_counter == 0x0AD6DBB9


def test_the_initiator_opens_the_devices_first_secured_reply() -> None:
    apple, _ = apple_sessions()
    opened = apple.open(h(APPLE["first_secured_msg_from_responder"]))
    proto, payload = decode_protocol_payload(h(APPLE["first_secured_msg_from_responder_plaintext"]))
    assert (opened.protocol_id, opened.opcode, opened.payload) == (
        proto.protocol_id,
        proto.opcode,
        payload,
    )


def test_the_recorded_messages_do_not_open_in_the_wrong_direction() -> None:
    apple, device = apple_sessions()
    with pytest.raises(CoreError):
        apple.open(h(APPLE["first_secured_msg_from_initiator"]))
    with pytest.raises(CoreError):
        device.open(h(APPLE["first_secured_msg_from_responder"]))
