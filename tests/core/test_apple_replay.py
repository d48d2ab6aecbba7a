"""Replay Apple Home's side of a recorded PASE run against our Commissionee.

The recording (CircuitMatter as the device, Apple Home as the commissioner; provenance in
``tests/vectors/README.md``) gives Apple's datagrams and every random value the device
drew. Our Commissionee gets the recorded verifier and an entropy object scripted in the
draw order the ``matter_core.pase`` docstring documents:

1. at construction, the unsecured message counter (4 bytes, little-endian): the counter
   of the recorded PBKDFParamResponse;
2. at PBKDFParamRequest, the responder random (32) and the local session id (2): 1;
3. at Pake1, y (32 bytes, big-endian);
4. at establishment, the secure-session counter (4): the recorded device's first
   secured message counter.

Then every datagram we send must equal what the real device sent, byte for byte, and
Apple's cA must verify.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from helpers import ScriptedEntropy
from matter_core import spake2p
from matter_core.errors import DecodeError, RemoteProtocolError
from matter_core.message import (
    SecureChannelOpcode,
    SecuredMessage,
    UnsecuredMessage,
    decode_protocol_payload,
)
from matter_core.pase import Commissionee, Established, State
from matter_core.pase_messages import Pake2, PBKDFParamResponse
from vectors import load_vectors

APPLE = load_vectors()["matter_pase_end_to_end_apple_recording"]
RECORDING = Path(__file__).resolve().parent.parent / "vectors" / "apple-pase-recording.jsonl"
h = bytes.fromhex
STEPS = [
    ("msg_pbkdf_param_request", "msg_pbkdf_param_response"),
    ("msg_pake1", "msg_pake2"),
    ("msg_pake3", "msg_status_report"),
]
"""Apple's datagram, and the name of the device's recorded reply to it."""


def recorded_counter(datagram_hex: str) -> int:
    """The message counter in a recorded datagram's header."""
    return UnsecuredMessage.decode(h(datagram_hex)).header.message_counter


def secured_counter(datagram_hex: str) -> int:
    """The message counter of a recorded secured datagram."""
    return SecuredMessage.split(h(datagram_hex)).header.message_counter


def apples_standalone_ack() -> bytes:
    """Apple's final standalone ack of the PASE exchange, from the raw recording."""
    for line in RECORDING.read_text(encoding="utf-8").splitlines()[1:]:
        entry = json.loads(line)
        if entry[0] != "receive":
            continue
        datagram = base64.b64decode(entry[3])
        try:
            message = UnsecuredMessage.decode(datagram)
        except DecodeError:
            continue  # a secured message
        if message.protocol.opcode == SecureChannelOpcode.STANDALONE_ACK:
            return datagram
    raise AssertionError("no standalone ack in the recording")


JITTER = b"\x00"
"""The MRP jitter draw of each reliable message we frame (any byte: timers only)."""


def scripted_draws() -> list[bytes]:
    """The device's random draws, in our core's documented order."""
    return [
        recorded_counter(APPLE["msg_pbkdf_param_response"]).to_bytes(4, "little"),
        h(APPLE["responder_random"]),
        APPLE["responder_session_id"].to_bytes(2, "little"),
        JITTER,  # PBKDFParamResponse
        h(APPLE["y"]),
        JITTER,  # Pake2
        JITTER,  # the success StatusReport
        secured_counter(APPLE["first_secured_msg_from_responder"]).to_bytes(4, "little"),
    ]


class Replay:
    """Our Commissionee fed Apple's datagrams, with what it sent back at each step."""

    def __init__(self) -> None:
        self.entropy = ScriptedEntropy(scripted_draws())
        salt = h(APPLE["salt"])
        verifier = h(APPLE["w0"]) + h(APPLE["L"])
        assert verifier == spake2p.compute_verifier(APPLE["passcode"], salt, APPLE["iterations"])
        # The recorded device announced no session parameters: neither do we, so the
        # PBKDFParamResponse (part of the SPAKE2+ context) is the recorded one.
        self.device = Commissionee(
            verifier,
            salt,
            APPLE["iterations"],
            entropy=self.entropy,
            now_ms=0,
            session_parameters=None,
        )
        self.device.start(0)
        # Our reply to each of Apple's messages, under the name of the recorded reply,
        # and the standalone acks that went out before a reply.
        self.sent: dict[str, bytes] = {}
        self.acks: dict[str, list[bytes]] = {}
        for step, (received, reply_name) in enumerate(STEPS):
            self.device.receive_datagram(h(APPLE[received]), 10 * step)
            *acks, reply = self.device.datagrams_to_send()
            self.sent[reply_name] = reply
            self.acks[reply_name] = acks


@pytest.fixture(scope="module")
def replay() -> Replay:
    """One replay shared by the checks below (each check reads, none mutates)."""
    return Replay()


def test_the_script_matches_the_documented_draw_order(replay: Replay) -> None:
    assert replay.entropy.requests == [4, 32, 2, 1, 32, 1, 1, 4]
    assert replay.entropy.remaining == 0


def test_pbkdf_param_response_payload_equals_the_recording(replay: Replay) -> None:
    ours = UnsecuredMessage.decode(replay.sent["msg_pbkdf_param_response"])
    assert ours.payload == h(APPLE["pbkdf_param_response_tlv"])
    # Like the recorded device, we send no tag-5 session parameters.
    assert PBKDFParamResponse.decode(ours.payload).session_parameters is None


def test_pbkdf_param_response_datagram_equals_the_recording(replay: Replay) -> None:
    assert replay.sent["msg_pbkdf_param_response"] == h(APPLE["msg_pbkdf_param_response"])


def test_pake2_carries_the_recorded_pb_and_cb(replay: Replay) -> None:
    pake2 = Pake2.decode(UnsecuredMessage.decode(replay.sent["msg_pake2"]).payload)
    assert pake2.pB == h(APPLE["Y_pB"])
    assert pake2.cB == h(APPLE["cB"])
    # Like the recorded device, we acknowledge Pake1 on Pake2 (the P-256 work is well
    # inside the standalone-ack timeout): byte for byte the recorded message.
    assert replay.acks["msg_pake2"] == []
    assert replay.sent["msg_pake2"] == h(APPLE["msg_pake2"])


def test_apples_ca_verifies_and_we_report_success(replay: Replay) -> None:
    device = replay.device
    assert device.state is State.ESTABLISHED
    assert device.error is None
    status = UnsecuredMessage.decode(replay.sent["msg_status_report"])
    assert status.protocol.opcode == SecureChannelOpcode.STATUS_REPORT
    assert status.payload == bytes(8)
    assert replay.sent["msg_status_report"] == h(APPLE["msg_status_report"])
    assert replay.acks["msg_status_report"] == []  # the report carries the ack of Pake3
    assert device.local_session_id == APPLE["responder_session_id"]
    assert device.peer_session_id == APPLE["initiator_session_id"]
    assert device.next_event() == Established(
        device.local_session_id, device.peer_session_id, device.transcript_hash
    )


def test_apples_standalone_ack_closes_the_exchange() -> None:
    replay = Replay()
    assert replay.device.next_deadline() is not None  # the StatusReport awaits its ack
    replay.device.receive_datagram(apples_standalone_ack(), 40)
    assert replay.device.datagrams_to_send() == []
    assert replay.device.next_deadline() is None
    assert replay.device.state is State.ESTABLISHED


def test_the_secure_session_opens_apples_first_secured_messages() -> None:
    replay = Replay()
    secure = replay.device.secure
    assert secure is not None
    opened = secure.open(h(APPLE["first_secured_msg_from_initiator"]))
    proto, payload = decode_protocol_payload(h(APPLE["first_secured_msg_from_initiator_plaintext"]))
    assert opened.protocol_id == 0x0001  # Interaction Model
    assert opened.opcode == proto.opcode == 0x02  # ReadRequest
    assert opened.exchange_id == proto.exchange_id
    assert opened.payload == payload
    with pytest.raises(RemoteProtocolError, match="replayed"):
        secure.open(h(APPLE["first_secured_msg_from_initiator"]))


def test_our_secure_session_counter_continues_from_the_recording() -> None:
    secure = Replay().device.secure
    assert secure is not None
    # Same counter and session id as the device's first secured reply (the payload and
    # exchange header differ: our seal starts a new exchange, the device was answering).
    ours = SecuredMessage.split(secure.seal(0x0001, 0x05, b"", 0x689C)).header_bytes
    recorded = SecuredMessage.split(h(APPLE["first_secured_msg_from_responder"])).header_bytes
    assert ours == recorded
