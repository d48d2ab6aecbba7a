"""Tests for matter_core.message: headers, whole messages, StatusReport, garbage in."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core import errors
from matter_core.errors import DecodeError
from matter_core.message import (
    MIC_LENGTH,
    PASE_INVALID_PARAMETER,
    PASE_SUCCESS,
    ExchangeFlags,
    GeneralCode,
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    SecureChannelStatus,
    SecuredMessage,
    SessionType,
    StatusReport,
    UnsecuredMessage,
    decode_protocol_payload,
    encode_protocol_payload,
)

# Datagrams of the Apple Home recording in tests/vectors (Matter Core Specification 1.0,
# §4.4.1 Message Header and §4.4.3 Protocol Header Field Descriptions, §4.7 Message
# Security).
APPLE_STATUS_REPORT = bytes.fromhex(
    "010000004e04e30f5e62a6858bfd7ce406409b680000a7d0e2070000000000000000"
)
APPLE_STANDALONE_ACK = bytes.fromhex("04000000a8d0e2075e62a6858bfd7ce403109b6800004e04e30f")
APPLE_FIRST_SECURED = bytes.fromhex(
    "00010000b9dbd60ab7e5e9e61197929f675e6506ba5517e194b13a5848491dfdd9d195758481bf4265965b"
    "1237352e57cbc4e8"
)
EPHEMERAL_NODE_ID = 0xE47CFD8B85A6625E

# --- strategies -----------------------------------------------------------------------

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
extensions = st.one_of(st.none(), st.binary(max_size=24))


@st.composite
def message_headers(draw: st.DrawFn, session_id: st.SearchStrategy[int] = u16) -> MessageHeader:
    """Any header the codec supports: node ids, group ids, control flag, extensions."""
    destination = draw(st.sampled_from(["none", "node", "group"]))
    return MessageHeader(
        session_id=draw(session_id),
        message_counter=draw(u32),
        source_node_id=draw(st.one_of(st.none(), u64)),
        destination_node_id=draw(u64) if destination == "node" else None,
        destination_group_id=draw(u16) if destination == "group" else None,
        session_type=draw(st.sampled_from(SessionType)),
        control=draw(st.booleans()),
        message_extensions=draw(extensions),
    )


unsecured_headers = message_headers(session_id=st.just(0)).map(
    lambda h: MessageHeader(
        0,
        h.message_counter,
        h.source_node_id,
        h.destination_node_id,
        h.destination_group_id,
        SessionType.UNICAST,
        h.control,
        h.message_extensions,
    )
)

protocol_headers = st.builds(
    ProtocolHeader,
    opcode=st.integers(0, 0xFF),
    exchange_id=u16,
    protocol_id=u16,
    initiator=st.booleans(),
    needs_ack=st.booleans(),
    ack_counter=st.one_of(st.none(), u32),
    vendor_id=st.one_of(st.none(), u16),
    secured_extensions=extensions,
)

# --- round trips ----------------------------------------------------------------------


@settings(max_examples=300)
@given(message_headers())
def test_message_header_round_trip(header: MessageHeader) -> None:
    data = header.encode()
    assert MessageHeader.decode(data) == header
    expected_length = (
        8
        + (8 if header.source_node_id is not None else 0)
        + (8 if header.destination_node_id is not None else 0)
        + (2 if header.destination_group_id is not None else 0)
        + (2 + len(header.message_extensions) if header.message_extensions is not None else 0)
    )
    assert len(data) == expected_length
    assert data[0] == header.message_flags and data[3] == header.security_flags


@settings(max_examples=300)
@given(protocol_headers, st.binary(max_size=40))
def test_protocol_header_round_trip(header: ProtocolHeader, payload: bytes) -> None:
    data = encode_protocol_payload(header, payload)
    assert data[0] == header.flags
    assert decode_protocol_payload(data) == (header, payload)


@settings(max_examples=200)
@given(unsecured_headers, protocol_headers, st.binary(max_size=60))
def test_unsecured_message_round_trip(
    header: MessageHeader, protocol: ProtocolHeader, payload: bytes
) -> None:
    message = UnsecuredMessage(header, protocol, payload)
    data = message.encode()
    assert UnsecuredMessage.decode(data) == message
    assert UnsecuredMessage.decode(data).encode() == data


@settings(max_examples=200)
@given(
    message_headers().filter(lambda h: h.is_secure),
    st.binary(max_size=40),
    st.binary(min_size=MIC_LENGTH, max_size=MIC_LENGTH),
)
def test_secured_message_split_round_trip(
    header: MessageHeader, ciphertext: bytes, mic: bytes
) -> None:
    data = header.encode() + ciphertext + mic
    split = SecuredMessage.split(data)
    assert split == SecuredMessage(header.encode(), header, ciphertext, mic)
    assert split.encode() == data


# --- the Apple datagrams ------------------------------------------------------------------


def test_apple_status_report_message() -> None:
    message = UnsecuredMessage.decode(APPLE_STATUS_REPORT)
    assert message.header == MessageHeader(
        session_id=0, message_counter=0x0FE3044E, destination_node_id=EPHEMERAL_NODE_ID
    )
    assert message.header.message_flags == 0x01 and not message.header.is_secure
    assert message.protocol == ProtocolHeader(
        opcode=SecureChannelOpcode.STATUS_REPORT,
        exchange_id=0x689B,
        protocol_id=ProtocolId.SECURE_CHANNEL,
        needs_ack=True,
        ack_counter=0x07E2D0A7,
    )
    assert message.protocol.flags == ExchangeFlags.ACK | ExchangeFlags.RELIABILITY == 0x06
    assert StatusReport.decode(message.payload) == PASE_SUCCESS
    assert message.encode() == APPLE_STATUS_REPORT


def test_apple_standalone_ack() -> None:
    message = UnsecuredMessage.decode(APPLE_STANDALONE_ACK)
    assert message.header.source_node_id == EPHEMERAL_NODE_ID
    assert message.header.message_flags == 0x04
    assert message.protocol.flags == 0x03
    assert message.protocol.is_opcode(ProtocolId.SECURE_CHANNEL, SecureChannelOpcode.STANDALONE_ACK)
    assert message.protocol.ack_counter == 0x0FE3044E
    assert message.payload == b""
    assert message.encode() == APPLE_STANDALONE_ACK


def test_apple_first_secured_message_splits() -> None:
    split = SecuredMessage.split(APPLE_FIRST_SECURED)
    assert split.header == MessageHeader(session_id=1, message_counter=0x0AD6DBB9)
    assert split.header_bytes == bytes.fromhex("00010000b9dbd60a") == split.header.encode()
    assert split.header.security_flags == 0
    assert len(split.mic) == MIC_LENGTH
    assert len(split.ciphertext) == len(APPLE_FIRST_SECURED) - 8 - MIC_LENGTH
    with pytest.raises(DecodeError, match="secured session 1"):
        UnsecuredMessage.decode(APPLE_FIRST_SECURED)


def test_is_opcode_checks_protocol_and_vendor() -> None:
    header = ProtocolHeader(opcode=0x20, exchange_id=1)
    assert header.is_opcode(ProtocolId.SECURE_CHANNEL, SecureChannelOpcode.PBKDF_PARAM_REQUEST)
    assert not header.is_opcode(ProtocolId.INTERACTION_MODEL, 0x20)
    assert not header.is_opcode(ProtocolId.SECURE_CHANNEL, 0x21)
    vendor = ProtocolHeader(opcode=0x20, exchange_id=1, vendor_id=0xFFF1)
    assert not vendor.is_opcode(ProtocolId.SECURE_CHANNEL, 0x20)


# --- StatusReport ---------------------------------------------------------------------


def test_status_report_success_and_failure_bytes() -> None:
    assert PASE_SUCCESS.encode() == bytes.fromhex("0000 00000000 0000")
    assert PASE_INVALID_PARAMETER.encode() == bytes.fromhex("0100 00000000 0200")
    failure = StatusReport.decode(bytes.fromhex("0100000000000200"))
    assert failure == PASE_INVALID_PARAMETER
    assert failure.general_code == GeneralCode.FAILURE and not failure.is_success
    assert failure.protocol_code == SecureChannelStatus.INVALID_PARAMETER
    assert PASE_SUCCESS.is_success


def test_status_report_protocol_data_and_vendor_protocol_id() -> None:
    busy = StatusReport(GeneralCode.BUSY, 0xFFF10001, SecureChannelStatus.BUSY, b"\xe8\x03")
    data = busy.encode()
    assert data == bytes.fromhex("0800 0100f1ff 0400 e803")
    assert StatusReport.decode(data) == busy


@settings(max_examples=200)
@given(u16, u32, u16, st.binary(max_size=20))
def test_status_report_round_trip(general: int, protocol: int, code: int, extra: bytes) -> None:
    report = StatusReport(general, protocol, code, extra)
    assert StatusReport.decode(report.encode()) == report


def test_status_codes_match_errors_module() -> None:
    assert SecureChannelStatus.INVALID_PARAMETER == errors.PROTOCOL_INVALID_PARAMETER
    assert GeneralCode.FAILURE == errors.GENERAL_FAILURE
    assert GeneralCode.INVALID_ARGUMENT == errors.GENERAL_INVALID_ARGUMENT
    assert GeneralCode.TIMEOUT == errors.GENERAL_TIMEOUT


# --- strict errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "truncated message flags"),
        ("00", "truncated session id"),
        ("000000", "truncated security flags"),
        ("00000000010203", "truncated message counter"),
        ("0400000001020304 01020304050607", "truncated source node id"),
        ("0100000001020304 01", "truncated destination node id"),
        ("0200000101020304 01", "truncated destination group id"),
        ("0000002001020304 05", "truncated message extensions length"),
        ("0000002001020304 0500 0102", "truncated message extensions"),
        ("1000000001020304", "unsupported message version 1"),
        ("f000000001020304", "unsupported message version 15"),
        ("0300000001020304", "DSIZ=3"),
        ("0000008001020304", "privacy"),
        ("0000000201020304", "reserved session type 2"),
        ("0000000301020304", "reserved session type 3"),
    ],
)
def test_message_header_errors(data: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        MessageHeader.decode(bytes.fromhex(data))


def test_message_header_decode_rejects_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        MessageHeader.decode(bytes.fromhex("000000000102030400"))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "truncated exchange flags"),
        ("05", "truncated protocol opcode"),
        ("0520", "truncated exchange id"),
        ("05209b68", "truncated protocol id"),
        ("15209b68f1", "truncated protocol vendor id"),
        ("06209b680000a7d0", "truncated acknowledged message counter"),
        ("08209b680000", "truncated secured extensions length"),
        ("08209b6800000300aa", "truncated secured extensions"),
    ],
)
def test_protocol_header_errors(data: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_protocol_payload(bytes.fromhex(data))


def test_whole_message_errors() -> None:
    with pytest.raises(DecodeError, match="unsecured session is not a secured"):
        SecuredMessage.split(APPLE_STATUS_REPORT)
    with pytest.raises(DecodeError, match="MIC"):
        SecuredMessage.split(APPLE_FIRST_SECURED[: 8 + MIC_LENGTH - 1])
    with pytest.raises(DecodeError, match="truncated"):
        UnsecuredMessage.decode(APPLE_STANDALONE_ACK[:-1])
    group = MessageHeader(session_id=0, message_counter=1, session_type=SessionType.GROUP)
    assert group.is_secure
    with pytest.raises(DecodeError, match="secured session 0"):
        UnsecuredMessage.decode(group.encode() + bytes(6))
    with pytest.raises(DecodeError, match="truncated status report protocol code"):
        StatusReport.decode(bytes(7))


def test_reserved_bits_are_ignored_and_encoded_as_zero() -> None:
    # Message-flags bit 3 and security-flags bits 4..2 are reserved.
    data = bytes.fromhex("0800001c01020304")
    header = MessageHeader.decode(data)
    assert header == MessageHeader(session_id=0, message_counter=0x04030201)
    assert header.encode() == bytes.fromhex("0000000001020304")
    assert decode_protocol_payload(bytes.fromhex("e0209b680000"))[0].flags == 0


def test_extensions_are_skipped_and_kept_opaque() -> None:
    data = bytes.fromhex("00000020010203040200abcd 0d209b680000 0100ee 15 18")
    message = UnsecuredMessage.decode(data)
    assert message.header.message_extensions == b"\xab\xcd"
    assert message.protocol.secured_extensions == b"\xee"
    assert message.protocol.initiator and message.protocol.needs_ack
    assert message.payload == b"\x15\x18"
    assert message.encode() == data


# --- field widths, spelled out (§4.4.3: exchange id and protocol vendor id are u16) -------


@pytest.mark.parametrize("field", ["exchange_id", "vendor_id", "protocol_id"])
def test_protocol_header_u16_fields_take_65535_and_refuse_65536(field: str) -> None:
    fields: dict[str, int] = {"opcode": 0x20, "exchange_id": 1}
    header = ProtocolHeader(**{**fields, field: 0xFFFF})  # type: ignore[arg-type]
    assert getattr(decode_protocol_payload(header.encode())[0], field) == 0xFFFF
    with pytest.raises(ValueError, match="does not fit in 16 bits"):
        ProtocolHeader(**{**fields, field: 0x10000})  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["session_id", "destination_group_id"])
def test_message_header_u16_fields_take_65535_and_refuse_65536(field: str) -> None:
    fields: dict[str, int] = {"session_id": 1, "message_counter": 0}
    assert getattr(MessageHeader(**{**fields, field: 0xFFFF}), field) == 0xFFFF  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit in 16 bits"):
        MessageHeader(**{**fields, field: 0x10000})  # type: ignore[arg-type]


# --- encoding invalid values is our bug: ValueError / TypeError ---------------------------


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: MessageHeader(session_id=0x10000, message_counter=0), ValueError),
        (lambda: MessageHeader(session_id=0, message_counter=-1), ValueError),
        (lambda: MessageHeader(session_id=0, message_counter=2**32), ValueError),
        (lambda: MessageHeader(0, 0, source_node_id=2**64), ValueError),
        (lambda: MessageHeader(0, 0, destination_node_id=1, destination_group_id=1), ValueError),
        (lambda: MessageHeader(0, 0, destination_group_id=0x10000), ValueError),
        (lambda: MessageHeader(0, 0, message_extensions=bytes(0x10000)), ValueError),
        (lambda: MessageHeader(True, 0), TypeError),
        (lambda: ProtocolHeader(opcode=0x100, exchange_id=0), ValueError),
        (lambda: ProtocolHeader(opcode=0, exchange_id=0, ack_counter=2**32), ValueError),
        (lambda: ProtocolHeader(opcode=0, exchange_id=0, vendor_id=-1), ValueError),
        (lambda: ProtocolHeader(opcode=0, exchange_id=0, protocol_id=0x10000), ValueError),
        (lambda: StatusReport(0x10000, 0, 0), ValueError),
        (lambda: StatusReport(0, 2**32, 0), ValueError),
        (
            lambda: UnsecuredMessage(
                MessageHeader(1, 0), ProtocolHeader(opcode=0, exchange_id=0)
            ).encode(),
            ValueError,
        ),
    ],
)
def test_invalid_values_raise_on_construction(
    build: Callable[[], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        build()


# --- garbage in: only DecodeError ------------------------------------------------------


def _only_decode_error(decoder: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decoder(data)


DECODERS: list[Callable[[bytes], object]] = [
    MessageHeader.decode,
    UnsecuredMessage.decode,
    SecuredMessage.split,
    StatusReport.decode,
    decode_protocol_payload,
]


@settings(max_examples=400)
@given(st.binary(max_size=80))
def test_garbage_raises_only_decode_error(data: bytes) -> None:
    for decoder in DECODERS:
        _only_decode_error(decoder, data)


@settings(max_examples=200)
@given(unsecured_headers, protocol_headers, st.binary(max_size=30), st.data())
def test_truncated_or_flipped_messages_raise_only_decode_error(
    header: MessageHeader, protocol: ProtocolHeader, payload: bytes, data: st.DataObject
) -> None:
    encoded = UnsecuredMessage(header, protocol, payload).encode()
    cut = data.draw(st.integers(0, len(encoded)))
    position = data.draw(st.integers(0, len(encoded) * 8 - 1))
    flipped = bytearray(encoded)
    flipped[position // 8] ^= 1 << (position % 8)
    for decoder in DECODERS:
        _only_decode_error(decoder, encoded[:cut])
        _only_decode_error(decoder, bytes(flipped))


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("opcode", "opcode"),
        ("exchange_id", "exchange id"),
        ("protocol_id", "protocol id"),
        ("ack_counter", "acknowledged message counter"),
        ("vendor_id", "protocol vendor id"),
    ],
)
def test_protocol_header_names_the_field_out_of_range(field: str, name: str) -> None:
    values = {"opcode": 1, "exchange_id": 1, "protocol_id": 0, "ack_counter": 1, "vendor_id": 1}
    values[field] = 1 << 32
    with pytest.raises(ValueError, match=f"^{name} {1 << 32} does not fit"):
        ProtocolHeader(**values)
