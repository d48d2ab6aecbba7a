"""The codecs against real traffic: CircuitMatter's recording of a PASE run with Apple Home.

Every unsecured datagram (session id 0) is decoded and re-encoded byte for byte, both the
whole message and its payload (PASE messages through their dataclasses, StatusReport
through its codec, the CASE messages that follow later through the generic TLV codec).
Secured datagrams are only split; decrypting them is tested elsewhere. The recording's
provenance is in ``tests/vectors/README.md``.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from matter_core import tlv
from matter_core.message import (
    MIC_LENGTH,
    PASE_SUCCESS,
    ExchangeFlags,
    ProtocolId,
    SecureChannelOpcode,
    SecuredMessage,
    StatusReport,
    UnsecuredMessage,
    decode_protocol_payload,
    encode_protocol_payload,
)
from matter_core.pase_messages import (
    Pake1,
    Pake2,
    Pake3,
    PBKDFParamRequest,
    PBKDFParamResponse,
    decode_pase_message,
)
from vectors import load_vectors

RECORDING = Path(__file__).resolve().parents[1] / "vectors" / "apple-pase-recording.jsonl"


@dataclass(frozen=True)
class Datagram:
    """One recorded datagram: direction as seen by the device, and its bytes."""

    line: int
    direction: str  # "receive" (Apple -> device) or "send" (device -> Apple)
    data: bytes


def _load_datagrams() -> list[Datagram]:
    datagrams = []
    for number, line in enumerate(RECORDING.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("["):
            continue  # the recorder's first line is a bare "none"
        entry = json.loads(line)
        if entry[0] in ("receive", "send"):
            datagrams.append(Datagram(number, entry[0], base64.b64decode(entry[3])))
    return datagrams


DATAGRAMS = _load_datagrams()
UNSECURED = [d for d in DATAGRAMS if d.data[1:3] == b"\x00\x00"]
SECURED = [d for d in DATAGRAMS if d.data[1:3] != b"\x00\x00"]
PASE = UNSECURED[:7]  # request, response, Pake1, Pake2, Pake3, StatusReport, ack
APPLE = load_vectors()["matter_pase_end_to_end_apple_recording"]


def test_recording_shape() -> None:
    assert len(DATAGRAMS) == 216
    assert len(UNSECURED) == 7 + 3 * 5  # PASE, then three CASE exchanges of five messages
    assert [d.direction for d in PASE] == ["receive", "send"] * 3 + ["receive"]


def test_pase_exchange_sequence() -> None:
    messages = [UnsecuredMessage.decode(d.data) for d in PASE]
    assert [m.protocol.opcode for m in messages] == [
        SecureChannelOpcode.PBKDF_PARAM_REQUEST,
        SecureChannelOpcode.PBKDF_PARAM_RESPONSE,
        SecureChannelOpcode.PASE_PAKE1,
        SecureChannelOpcode.PASE_PAKE2,
        SecureChannelOpcode.PASE_PAKE3,
        SecureChannelOpcode.STATUS_REPORT,
        SecureChannelOpcode.STANDALONE_ACK,
    ]
    assert [m.protocol.flags for m in messages] == [0x05, 0x06, 0x07, 0x06, 0x07, 0x06, 0x03]
    assert messages[0].protocol.flags == ExchangeFlags.INITIATOR | ExchangeFlags.RELIABILITY
    assert {m.protocol.exchange_id for m in messages} == {0x689B}
    assert {m.protocol.protocol_id for m in messages} == {ProtocolId.SECURE_CHANNEL}
    assert all(m.protocol.vendor_id is None for m in messages)
    assert messages[6].payload == b""

    node_id = int.from_bytes(bytes.fromhex(APPLE["ephemeral_initiator_node_id"]), "big")
    for datagram, message in zip(PASE, messages, strict=True):
        header = message.header
        assert header.session_id == 0 and header.security_flags == 0
        if datagram.direction == "receive":  # initiator -> responder: S flag, source node id
            assert header.message_flags == 0x04
            assert header.source_node_id == node_id and header.destination_node_id is None
        else:  # responder -> initiator: DSIZ=1, destination node id
            assert header.message_flags == 0x01
            assert header.destination_node_id == node_id and header.source_node_id is None

    # Each message acknowledges the previous one's counter; both counters count up by one.
    for previous, current in itertools.pairwise(messages):
        assert current.protocol.ack_counter == previous.header.message_counter
    for earlier, later in zip(messages, messages[2:], strict=False):
        assert later.header.message_counter == earlier.header.message_counter + 1


@pytest.mark.parametrize("datagram", UNSECURED, ids=lambda d: f"line{d.line}")
def test_unsecured_datagram_round_trips(datagram: Datagram) -> None:
    message = UnsecuredMessage.decode(datagram.data)
    assert message.encode() == datagram.data
    opcode, payload = message.protocol.opcode, message.payload
    if opcode == SecureChannelOpcode.STATUS_REPORT:
        report = StatusReport.decode(payload)
        assert report == PASE_SUCCESS and report.encode() == payload
    elif opcode == SecureChannelOpcode.STANDALONE_ACK:
        assert payload == b""
    elif opcode in (
        SecureChannelOpcode.CASE_SIGMA1,
        SecureChannelOpcode.CASE_SIGMA2,
        SecureChannelOpcode.CASE_SIGMA3,
    ):
        assert tlv.encode(tlv.decode(payload)) == payload
    else:
        decoded = decode_pase_message(opcode, payload)
        assert decoded.encode() == payload
        assert tlv.encode(tlv.decode(payload)) == payload


def _pase_payload(index: int) -> bytes:
    return UnsecuredMessage.decode(PASE[index].data).payload


def test_pase_payloads_match_the_checked_vectors() -> None:
    for index, key in enumerate(
        [
            "msg_pbkdf_param_request",
            "msg_pbkdf_param_response",
            "msg_pake1",
            "msg_pake2",
            "msg_pake3",
            "msg_status_report",
        ]
    ):
        assert PASE[index].data.hex() == APPLE[key], key

    request = PBKDFParamRequest.decode(_pase_payload(0))
    assert request.encode().hex() == APPLE["pbkdf_param_request_tlv"]
    assert request.initiator_random.hex() == APPLE["initiator_random"]
    assert request.initiator_session_id == APPLE["initiator_session_id"] == 0xE4B6
    assert request.passcode_id == 0 and request.has_pbkdf_parameters is False
    assert request.session_parameters is not None
    assert request.session_parameters.specification_version == 0x01040000

    response = PBKDFParamResponse.decode(_pase_payload(1))
    assert response.encode().hex() == APPLE["pbkdf_param_response_tlv"]
    assert response.initiator_random == request.initiator_random
    assert response.responder_random.hex() == APPLE["responder_random"]
    assert response.responder_session_id == APPLE["responder_session_id"] == 1
    assert response.pbkdf_parameters is not None
    assert response.pbkdf_parameters.iterations == APPLE["iterations"] == 10000
    assert response.pbkdf_parameters.salt.hex() == APPLE["salt"]
    assert response.session_parameters is None

    assert Pake1.decode(_pase_payload(2)).pA.hex() == APPLE["X_pA"]
    pake2 = Pake2.decode(_pase_payload(3))
    assert (pake2.pB.hex(), pake2.cB.hex()) == (APPLE["Y_pB"], APPLE["cB"])
    assert Pake3.decode(_pase_payload(4)).cA.hex() == APPLE["cA"]


def test_secured_headers_carry_the_receivers_session_id() -> None:
    request = PBKDFParamRequest.decode(_pase_payload(0))
    response = PBKDFParamResponse.decode(_pase_payload(1))
    # The PASE session's traffic runs until the first CASE exchange on the unsecured session.
    first_case = UNSECURED[7].line
    pase_session = [d for d in SECURED if d.line < first_case]
    assert len(pase_session) > 10
    for datagram in pase_session:
        split = SecuredMessage.split(datagram.data)
        assert split.encode() == datagram.data
        assert split.header.encode() == split.header_bytes
        assert split.header.message_flags == 0 and split.header.security_flags == 0
        assert split.header.source_node_id is None and split.header.destination_node_id is None
        expected = (
            response.responder_session_id
            if datagram.direction == "receive"
            else request.initiator_session_id
        )
        assert split.header.session_id == expected
        assert len(split.mic) == MIC_LENGTH


@pytest.mark.parametrize(
    ("key", "session_id", "flags", "opcode"),
    [
        ("first_secured_msg_from_initiator", 1, 0x05, 0x02),  # IM ReadRequest (I|R)
        ("first_secured_msg_from_responder", 0xE4B6, 0x06, 0x05),  # IM ReportData (A|R)
    ],
)
def test_first_secured_messages_match_the_checked_vectors(
    key: str, session_id: int, flags: int, opcode: int
) -> None:
    split = SecuredMessage.split(bytes.fromhex(APPLE[key]))
    assert split.header.session_id == session_id
    # The AES-CCM nonce is security flags || counter || node id 0 (Matter Core
    # Specification 1.0, §4.7 Message Security; PASE uses the unspecified node id).
    nonce = (
        bytes([split.header.security_flags])
        + split.header.message_counter.to_bytes(4, "little")
        + bytes(8)
    )
    assert nonce.hex() == APPLE[key + "_nonce"]
    # The checked plaintext (decrypted elsewhere) is a protocol header plus a TLV payload.
    plaintext = bytes.fromhex(APPLE[key + "_plaintext"])
    assert len(split.ciphertext) == len(plaintext)
    protocol, payload = decode_protocol_payload(plaintext)
    assert (protocol.flags, protocol.opcode) == (flags, opcode)
    assert protocol.protocol_id == ProtocolId.INTERACTION_MODEL
    assert encode_protocol_payload(protocol, payload) == plaintext
    assert tlv.encode(tlv.decode(payload)) == payload


def test_every_secured_datagram_splits() -> None:
    session_ids = set()
    for datagram in SECURED:
        split = SecuredMessage.split(datagram.data)
        assert split.encode() == datagram.data
        session_ids.add(split.header.session_id)
    assert 1 in session_ids and 0xE4B6 in session_ids
