"""Tests for matter_core.pase_messages: round trips, Apple payloads, strict field checks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.errors import DecodeError
from matter_core.message import SecureChannelOpcode
from matter_core.pase_messages import (
    PASE_MESSAGE_TYPES,
    Pake1,
    Pake2,
    Pake3,
    PaseMessage,
    PBKDFParameters,
    PBKDFParamRequest,
    PBKDFParamResponse,
    SessionParameters,
    decode_pase_message,
)
from matter_core.tlv import (
    Element,
    ProfileTag,
    TagForm,
    boolean,
    encode,
    octets,
    sint,
    structure,
    uint,
    utf8,
)

# Apple's payloads, from the Apple Home recording in tests/vectors.
INITIATOR_RANDOM = bytes.fromhex("a882bce8bfdeab50e04ac596bfc05024db5902b7512ed9b278cfaacc12523012")
RESPONDER_RANDOM = bytes.fromhex("b09aea11409a97cfc3b5079e0bde89d0f230145383475974c560a505efb25969")
SALT = bytes.fromhex("e6e08fd084c763323da8111eea17d4e077d8df2ed5a294a4d2a36f86fce78624")
APPLE_SESSION_PARAMETERS = SessionParameters(
    idle_interval_ms=500,
    active_interval_ms=300,
    active_threshold_ms=4000,
    data_model_revision=18,
    interaction_model_revision=11,
    specification_version=0x01040000,
    max_paths_per_invoke=1,
)
APPLE_REQUEST = bytes.fromhex(
    "15 300120" + INITIATOR_RANDOM.hex() + "2502b6e4 240300 2804"
    "3505 2501f401 25022c01 2503a00f 240412 24050b 260600000401 240701 18 18"
)
APPLE_RESPONSE = bytes.fromhex(
    "15 300120" + INITIATOR_RANDOM.hex() + "300220" + RESPONDER_RANDOM.hex() + "240301"
    "3504 25011027 300220" + SALT.hex() + "18 18"
)

# --- strategies -----------------------------------------------------------------------


def _optional(bits: int) -> st.SearchStrategy[int | None]:
    return st.one_of(st.none(), st.integers(0, (1 << bits) - 1))


session_parameters = st.builds(
    SessionParameters,
    idle_interval_ms=_optional(32),
    active_interval_ms=_optional(32),
    active_threshold_ms=_optional(16),
    data_model_revision=_optional(16),
    interaction_model_revision=_optional(16),
    specification_version=_optional(32),
    max_paths_per_invoke=_optional(16),
)
randoms = st.binary(min_size=32, max_size=32)
u16 = st.integers(0, 0xFFFF)

pase_messages: st.SearchStrategy[PaseMessage] = st.one_of(
    st.builds(
        PBKDFParamRequest,
        initiator_random=randoms,
        initiator_session_id=u16,
        passcode_id=u16,
        has_pbkdf_parameters=st.booleans(),
        session_parameters=st.one_of(st.none(), session_parameters),
    ),
    st.builds(
        PBKDFParamResponse,
        initiator_random=randoms,
        responder_random=randoms,
        responder_session_id=u16,
        pbkdf_parameters=st.one_of(
            st.none(),
            st.builds(
                PBKDFParameters,
                iterations=st.integers(0, 0xFFFFFFFF),
                salt=st.binary(min_size=16, max_size=32),
            ),
        ),
        session_parameters=st.one_of(st.none(), session_parameters),
    ),
    st.builds(Pake1, st.binary(min_size=65, max_size=65)),
    st.builds(Pake2, st.binary(min_size=65, max_size=65), st.binary(min_size=32, max_size=32)),
    st.builds(Pake3, st.binary(min_size=32, max_size=32)),
)

# --- round trips and Apple payloads ---------------------------------------------------


@settings(max_examples=300)
@given(pase_messages)
def test_round_trip(message: PaseMessage) -> None:
    payload = message.encode()
    assert type(message).decode(payload) == message
    assert decode_pase_message(message.OPCODE, payload) == message


def test_apple_request() -> None:
    request = PBKDFParamRequest.decode(APPLE_REQUEST)
    assert request == PBKDFParamRequest(
        initiator_random=INITIATOR_RANDOM,
        initiator_session_id=0xE4B6,
        passcode_id=0,
        has_pbkdf_parameters=False,
        session_parameters=APPLE_SESSION_PARAMETERS,
    )
    assert request.encode() == APPLE_REQUEST


def test_apple_response() -> None:
    response = PBKDFParamResponse.decode(APPLE_RESPONSE)
    assert response == PBKDFParamResponse(
        initiator_random=INITIATOR_RANDOM,
        responder_random=RESPONDER_RANDOM,
        responder_session_id=1,
        pbkdf_parameters=PBKDFParameters(iterations=10000, salt=SALT),
    )
    assert response.encode() == APPLE_RESPONSE


def test_pake_payload_layouts() -> None:
    share, mac = bytes([4]) + bytes(range(64)), bytes(range(32))
    assert Pake1(share).encode() == bytes.fromhex("15 300141") + share + b"\x18"
    assert Pake2(share, mac).encode() == (
        bytes.fromhex("15 300141") + share + bytes.fromhex("300220") + mac + b"\x18"
    )
    assert Pake3(mac).encode() == bytes.fromhex("15 300120") + mac + b"\x18"


def test_opcode_table() -> None:
    assert {opcode: cls.__name__ for opcode, cls in PASE_MESSAGE_TYPES.items()} == {
        SecureChannelOpcode.PBKDF_PARAM_REQUEST: "PBKDFParamRequest",
        SecureChannelOpcode.PBKDF_PARAM_RESPONSE: "PBKDFParamResponse",
        SecureChannelOpcode.PASE_PAKE1: "Pake1",
        SecureChannelOpcode.PASE_PAKE2: "Pake2",
        SecureChannelOpcode.PASE_PAKE3: "Pake3",
    }
    with pytest.raises(DecodeError, match="0x40 is not a PASE TLV message"):
        decode_pase_message(SecureChannelOpcode.STATUS_REPORT, b"\x15\x18")


# --- decoding rules -------------------------------------------------------------------


def _payload(*members: Element) -> bytes:
    return encode(structure(None, members))


def _request_members() -> list[Element]:
    return [
        octets(1, INITIATOR_RANDOM),
        uint(2, 0x1234),
        uint(3, 0),
        boolean(4, True),
    ]


def test_semantic_values_are_passed_through() -> None:
    # Passcode id != 0 and session id 0 are the state machine's to reject, not the codec's.
    members = _request_members()
    members[1], members[2] = uint(2, 0), uint(3, 7)
    request = PBKDFParamRequest.decode(_payload(*members))
    assert (request.initiator_session_id, request.passcode_id) == (0, 7)


def test_non_minimal_widths_are_accepted() -> None:
    payload = bytes.fromhex("15 300120") + INITIATOR_RANDOM + bytes.fromhex("2602 34120000 ")
    payload += bytes.fromhex("2703 0000000000000000 2904 18")
    request = PBKDFParamRequest.decode(payload)
    assert (request.initiator_session_id, request.passcode_id) == (0x1234, 0)
    assert request.has_pbkdf_parameters is True


def test_unknown_fields_above_the_last_are_skipped() -> None:
    request = PBKDFParamRequest.decode(_payload(*_request_members(), utf8(9, "future")))
    assert request.session_parameters is None
    pake3 = Pake3.decode(_payload(octets(1, bytes(32)), uint(2, 5)))
    assert pake3.cA == bytes(32)


def test_session_parameters_skip_unknown_tags_and_accept_any_order() -> None:
    params = structure(5, [uint(9, 1), uint(7, 3), octets(200, b"x"), uint(1, 500)])
    request = PBKDFParamRequest.decode(_payload(*_request_members(), params))
    assert request.session_parameters == SessionParameters(
        idle_interval_ms=500, max_paths_per_invoke=3
    )
    empty = PBKDFParamRequest.decode(_payload(*_request_members(), structure(5, [])))
    assert empty.session_parameters == SessionParameters()


@pytest.mark.parametrize(
    ("members", "match"),
    [
        # order, presence, duplicates
        ([1, 3, 2, 4], "initiatorSessionId \\(tag 2\\) out of order"),
        ([1, 2, 3], "missing field hasPBKDFParameters"),
        ([2, 3, 4], "missing field initiatorRandom"),
        ([1, 2, 2, 3, 4], "duplicate field initiatorSessionId"),
        ([0, 1, 2, 3, 4], "unexpected field tag 0"),
    ],
)
def test_request_structure_errors(members: list[int], match: str) -> None:
    by_tag = {element.tag: element for element in _request_members()}
    by_tag[0] = uint(0, 1)
    with pytest.raises(DecodeError, match=match):
        PBKDFParamRequest.decode(_payload(*(by_tag[tag] for tag in members)))


@pytest.mark.parametrize(
    ("replacement", "match"),
    [
        (octets(1, bytes(31)), "initiatorRandom \\(tag 1\\): expected 32 bytes, got 31"),
        (octets(1, bytes(33)), "initiatorRandom .*expected 32 bytes, got 33"),
        (utf8(1, "x" * 32), "initiatorRandom .*expected OCTET_STRING"),
        (uint(2, 0x10000), "initiatorSessionId .*does not fit in 16 bits"),
        (sint(2, 5), "initiatorSessionId .*expected UNSIGNED_INT, got SIGNED_INT"),
        (uint(3, 0x10000), "passcodeId .*does not fit in 16 bits"),
        (uint(4, 1), "hasPBKDFParameters .*expected BOOL"),
    ],
)
def test_request_field_errors(replacement: Element, match: str) -> None:
    members = _request_members()
    assert isinstance(replacement.tag, int)
    members[replacement.tag - 1] = replacement
    with pytest.raises(DecodeError, match=match):
        PBKDFParamRequest.decode(_payload(*members))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (uint(5, 1), "initiatorSessionParams .*expected STRUCTURE"),
        (structure(5, [uint(1, 2**32)]), "SESSION_IDLE_INTERVAL .*does not fit in 32 bits"),
        (structure(5, [uint(3, 0x10000)]), "SESSION_ACTIVE_THRESHOLD .*16 bits"),
        (structure(5, [boolean(7, True)]), "MAX_PATHS_PER_INVOKE .*expected UNSIGNED_INT"),
        (structure(5, [uint(1, 1), uint(1, 2)]), "duplicate field SESSION_IDLE_INTERVAL"),
        (structure(5, [uint(ProfileTag(TagForm.COMMON_PROFILE, 1), 1)]), "non-context tag"),
    ],
)
def test_session_parameter_errors(params: Element, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        PBKDFParamRequest.decode(_payload(*_request_members(), params))


def _response_members(pbkdf: Element | None) -> list[Element]:
    members = [octets(1, INITIATOR_RANDOM), octets(2, RESPONDER_RANDOM), uint(3, 1)]
    return members + ([pbkdf] if pbkdf is not None else [])


@pytest.mark.parametrize(
    ("pbkdf", "match"),
    [
        (structure(4, [uint(1, 1000), octets(2, bytes(15))]), "salt \\(tag 2\\): length 15"),
        (structure(4, [uint(1, 1000), octets(2, bytes(33))]), "salt .*length 33 outside 16..32"),
        (structure(4, [uint(1, 2**32), octets(2, bytes(16))]), "iterations .*32 bits"),
        (structure(4, [octets(2, bytes(16)), uint(1, 1000)]), "iterations .*out of order"),
        (structure(4, [uint(1, 1000)]), "missing field salt"),
        (octets(4, bytes(16)), "pbkdf_parameters .*expected STRUCTURE"),
    ],
)
def test_response_pbkdf_parameter_errors(pbkdf: Element, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        PBKDFParamResponse.decode(_payload(*_response_members(pbkdf)))


def test_response_field_errors() -> None:
    members = _response_members(None)
    with pytest.raises(DecodeError, match=r"responderRandom .*expected 32 bytes"):
        PBKDFParamResponse.decode(_payload(members[0], octets(2, bytes(16)), members[2]))
    with pytest.raises(DecodeError, match=r"responderSessionId .*16 bits"):
        PBKDFParamResponse.decode(_payload(members[0], members[1], uint(3, 0x10000)))
    with pytest.raises(DecodeError, match="missing field responderSessionId"):
        PBKDFParamResponse.decode(_payload(members[0], members[1]))
    iterations_only = PBKDFParamResponse.decode(
        _payload(*_response_members(structure(4, [uint(1, 1), octets(2, bytes(16))])))
    )
    assert iterations_only.pbkdf_parameters == PBKDFParameters(1, bytes(16))


@pytest.mark.parametrize(
    ("decoder", "payload", "match"),
    [
        (Pake1.decode, _payload(octets(1, bytes(64))), "pA \\(tag 1\\): expected 65 bytes"),
        (Pake1.decode, _payload(), "missing field pA"),
        (Pake2.decode, _payload(octets(1, bytes(65))), "missing field cB"),
        (Pake2.decode, _payload(octets(1, bytes(65)), octets(2, bytes(31))), "cB .*32 bytes"),
        (Pake2.decode, _payload(octets(2, bytes(32)), octets(1, bytes(65))), "out of order"),
        (Pake3.decode, _payload(octets(1, bytes(33))), "cA .*expected 32 bytes, got 33"),
        (Pake3.decode, encode(octets(None, bytes(32))), "expected a structure"),
        (Pake3.decode, b"\x15\x30\x01\x20", "truncated"),
        (Pake3.decode, _payload(octets(1, bytes(32))) + b"\x00", "trailing"),
    ],
)
def test_pake_errors(decoder: Callable[[bytes], object], payload: bytes, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        decoder(payload)


# --- construction with invalid values is our bug --------------------------------------


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: PBKDFParamRequest(bytes(31), 1), ValueError),
        (lambda: PBKDFParamRequest(bytes(32), 0x10000), ValueError),
        (lambda: PBKDFParamRequest(bytes(32), 1, passcode_id=-1), ValueError),
        (lambda: PBKDFParamRequest(bytes(32), 1, has_pbkdf_parameters=1), TypeError),  # type: ignore[arg-type]
        (lambda: PBKDFParamRequest("x" * 32, 1), TypeError),  # type: ignore[arg-type]
        (lambda: PBKDFParamResponse(bytes(32), bytes(33), 1), ValueError),
        (lambda: PBKDFParameters(1000, bytes(15)), ValueError),
        (lambda: PBKDFParameters(2**32, bytes(16)), ValueError),
        (lambda: SessionParameters(active_threshold_ms=0x10000), ValueError),
        (lambda: SessionParameters(idle_interval_ms=True), TypeError),
        (lambda: Pake1(bytes(64)), ValueError),
        (lambda: Pake2(bytes(65), bytes(16)), ValueError),
        (lambda: Pake3(bytes(65)), ValueError),
    ],
)
def test_invalid_construction(build: Callable[[], object], error: type[Exception]) -> None:
    with pytest.raises(error):
        build()


# --- garbage in: only DecodeError ------------------------------------------------------


def _only_decode_error(payload: bytes) -> None:
    for cls in PASE_MESSAGE_TYPES.values():
        with contextlib.suppress(DecodeError):
            cls.decode(payload)


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_random_payloads_raise_only_decode_error(payload: bytes) -> None:
    _only_decode_error(payload)


@settings(max_examples=200)
@given(pase_messages, st.data())
def test_truncated_and_flipped_payloads(message: PaseMessage, data: st.DataObject) -> None:
    payload = message.encode()
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(DecodeError):
        type(message).decode(payload[:cut])
    position = data.draw(st.integers(0, len(payload) * 8 - 1))
    flipped = bytearray(payload)
    flipped[position // 8] ^= 1 << (position % 8)
    _only_decode_error(bytes(flipped))


def test_every_bit_flip_of_apple_request_raises_only_decode_error() -> None:
    for position in range(len(APPLE_REQUEST) * 8):
        flipped = bytearray(APPLE_REQUEST)
        flipped[position // 8] ^= 1 << (position % 8)
        _only_decode_error(bytes(flipped))


# --- field widths and defaults, spelled out ----------------------------------------------
# Widths from the TLV layouts of Matter Core Specification 1.0, §4.13.1.2 Protocol Details,
# and, for the session parameters, the session-parameter-struct of later versions' "Session
# Parameters": a value one bit too wide is a construction error (ValueError) and, on the
# wire, a DecodeError naming the field.

SESSION_PARAMETER_WIDTHS = [
    ("idle_interval_ms", 1, 32),
    ("active_interval_ms", 2, 32),
    ("active_threshold_ms", 3, 16),
    ("data_model_revision", 4, 16),
    ("interaction_model_revision", 5, 16),
    ("specification_version", 6, 32),
    ("max_paths_per_invoke", 7, 16),
]


@pytest.mark.parametrize(("attribute", "tag", "bits"), SESSION_PARAMETER_WIDTHS)
def test_session_parameter_widths(attribute: str, tag: int, bits: int) -> None:
    widest = (1 << bits) - 1
    assert getattr(SessionParameters(**{attribute: widest}), attribute) == widest
    with pytest.raises(ValueError, match=f"does not fit in {bits} bits"):
        SessionParameters(**{attribute: 1 << bits})
    decoded = PBKDFParamRequest.decode(
        _payload(*_request_members(), structure(5, [uint(tag, widest)]))
    )
    assert decoded.session_parameters == SessionParameters(**{attribute: widest})
    with pytest.raises(DecodeError, match=f"does not fit in {bits} bits"):
        PBKDFParamRequest.decode(
            _payload(*_request_members(), structure(5, [uint(tag, 1 << bits)]))
        )


def test_responder_session_id_is_16_bits() -> None:
    randoms = (INITIATOR_RANDOM, RESPONDER_RANDOM)
    assert PBKDFParamResponse(*randoms, 0xFFFF).responder_session_id == 0xFFFF
    with pytest.raises(ValueError, match="responderSessionId 65536 does not fit in 16 bits"):
        PBKDFParamResponse(*randoms, 0x10000)
    with pytest.raises(ValueError):
        PBKDFParamResponse(*randoms, -1)
    members = [octets(1, INITIATOR_RANDOM), octets(2, RESPONDER_RANDOM), uint(3, 0xFFFF)]
    assert PBKDFParamResponse.decode(_payload(*members)).responder_session_id == 0xFFFF


def test_request_ids_are_16_bits() -> None:
    assert PBKDFParamRequest(INITIATOR_RANDOM, 0xFFFF, passcode_id=0xFFFF).passcode_id == 0xFFFF
    with pytest.raises(ValueError, match="passcodeId 65536 does not fit in 16 bits"):
        PBKDFParamRequest(INITIATOR_RANDOM, 1, passcode_id=0x10000)
    with pytest.raises(ValueError, match="initiatorSessionId 65536 does not fit in 16 bits"):
        PBKDFParamRequest(INITIATOR_RANDOM, 0x10000)


def test_request_defaults_are_passcode_id_0_and_no_parameters() -> None:
    request = PBKDFParamRequest(bytes(32), 1)
    assert request.passcode_id == 0
    assert request.has_pbkdf_parameters is False
    assert request.session_parameters is None
    # passcodeId 0 is written, not omitted (it is a mandatory field).
    assert request.encode() == bytes.fromhex("15 3001 20" + "00" * 32 + "240201 240300 2804 18")
    response = PBKDFParamResponse(bytes(32), bytes(32), 1)
    assert (response.pbkdf_parameters, response.session_parameters) == (None, None)


def test_pake2_names_itself_when_refusing_an_unexpected_tag() -> None:
    members = [octets(0, b"x"), octets(1, bytes(65)), octets(2, bytes(32))]
    with pytest.raises(DecodeError, match=r"^Pake2: unexpected field tag 0$"):
        Pake2.decode(_payload(*members))


def test_pake1_names_itself_when_refusing_an_unexpected_tag() -> None:
    members = [octets(0, b"x"), octets(1, bytes(65))]
    with pytest.raises(DecodeError, match=r"^Pake1: unexpected field tag 0$"):
        Pake1.decode(_payload(*members))
