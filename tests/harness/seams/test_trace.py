"""Tests for harness.seams.trace: message-type names, the trace target, the JSON lines."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from handshake_capture import reference_handshake
from hypothesis import given
from hypothesis import strategies as st
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    UnsecuredMessage,
)

from harness.seams import (
    SECURE_CHANNEL_NAMES,
    PacketRecord,
    TraceTargetError,
    message_type,
    prepare_trace_target,
    write_trace,
)
from harness.seams.trace import SECURED, UNDECODABLE


def _unsecured(opcode: int, protocol_id: int = ProtocolId.SECURE_CHANNEL, **kw: int) -> bytes:
    header = MessageHeader(session_id=0, message_counter=1, source_node_id=5)
    protocol = ProtocolHeader(opcode=opcode, exchange_id=9, protocol_id=protocol_id, **kw)
    return UnsecuredMessage(header, protocol, b"payload").encode()


def test_every_secure_channel_opcode_has_one_distinct_name() -> None:
    assert set(SECURE_CHANNEL_NAMES) == set(SecureChannelOpcode)
    assert len(set(SECURE_CHANNEL_NAMES.values())) == len(SecureChannelOpcode)
    for opcode, name in SECURE_CHANNEL_NAMES.items():
        assert message_type(_unsecured(opcode)) == name


def test_the_pase_messages_by_name() -> None:
    names = {
        0x10: "StandaloneAck",
        0x20: "PBKDFParamRequest",
        0x21: "PBKDFParamResponse",
        0x22: "Pake1",
        0x23: "Pake2",
        0x24: "Pake3",
        0x40: "StatusReport",
    }
    for opcode, name in names.items():
        assert message_type(_unsecured(opcode)) == name


def test_other_opcodes_protocols_secured_and_garbage() -> None:
    assert message_type(_unsecured(0x7F)) == "SecureChannel:0x7f"
    assert (
        message_type(_unsecured(0x02, ProtocolId.INTERACTION_MODEL))
        == "protocol 0x0001 opcode 0x02"
    )
    vendor = _unsecured(0x20, vendor_id=0xFFF1)
    assert message_type(vendor) == "protocol 0x0000 of vendor 0xfff1 opcode 0x20"
    secured = MessageHeader(session_id=7, message_counter=1).encode() + b"\x00" * 24
    assert message_type(secured) == SECURED
    assert message_type(b"") == UNDECODABLE
    assert message_type(b"\x00\x00\x00") == UNDECODABLE


@given(st.binary(max_size=64))
def test_any_bytes_get_a_name_and_never_an_exception(data: bytes) -> None:
    assert message_type(data)


def test_a_seeded_handshake_reads_as_pase() -> None:
    names = [message_type(d.data) for d in reference_handshake(7)]
    handshake = [n for n in names if n not in ("StandaloneAck", SECURED)]
    assert handshake == [
        "PBKDFParamRequest",
        "PBKDFParamResponse",
        "Pake1",
        "Pake2",
        "Pake3",
        "StatusReport",
    ]


# --------------------------------------------------------------------------- the target


def test_a_missing_directory_is_refused_without_mkdir(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "trace.jsonl"
    with pytest.raises(TraceTargetError) as caught:
        prepare_trace_target(target)
    assert f"the directory {target.parent} does not exist" in str(caught.value)
    assert caught.value.hint is not None and "--mkdir" in caught.value.hint
    assert not (tmp_path / "a").exists()
    prepare_trace_target(target, mkdir=True)
    assert target.parent.is_dir()
    assert not target.exists()  # only the directory; the trace is written after the run


def test_a_directory_in_the_files_place_or_a_file_in_the_directorys(tmp_path: Path) -> None:
    with pytest.raises(TraceTargetError, match="is a directory"):
        prepare_trace_target(tmp_path, mkdir=True)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TraceTargetError, match="is not a directory"):
        prepare_trace_target(blocker / "trace.jsonl", mkdir=True)


def test_write_trace_lines_carry_the_message_type(tmp_path: Path) -> None:
    datagram = _unsecured(0x20)
    path = tmp_path / "trace.jsonl"
    write_trace(path, [PacketRecord("commissioner->commissionee", 3, datagram)])
    (line,) = path.read_text().splitlines()
    assert json.loads(line) == {
        "direction": "commissioner->commissionee",
        "time_ms": 3,
        "message_type": "PBKDFParamRequest",
        "size": len(datagram),
        "sha256": hashlib.sha256(datagram).hexdigest(),
        "bytes": datagram.hex(),
    }


def test_write_trace_never_creates_the_directory(tmp_path: Path) -> None:
    with pytest.raises(TraceTargetError, match="cannot write the trace"):
        write_trace(tmp_path / "missing" / "trace.jsonl", [])
