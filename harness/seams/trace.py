"""The packet trace as JSON lines (``run --trace``, ``peer --trace``), and the one place
that names a datagram's message type (the trace lines, and the gate's trace figures
that the reports draw)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from matter_core.errors import CoreError
from matter_core.message import (
    MessageHeader,
    ProtocolId,
    SecureChannelOpcode,
    UnsecuredMessage,
)
from matter_core.tlv import ByteReader

from harness.errors import HarnessError
from harness.seams.loopback import PacketRecord

#: The Secure Channel messages by their names in the Matter Core Specification 1.0,
#: "Secure Channel Protocol Messages" table of the Secure Channel Protocol section
#: (spaces and the PASE_/CASE_ prefixes dropped; CHIP's ``MsgType`` names in
#: ``protocols/secure_channel/Constants.h`` are the same); StandaloneAck is MRP's
#: standalone acknowledgement. The one table of message-type names: the trace lines and
#: the gate's trace figures (drawn by the reports) both use it.
SECURE_CHANNEL_NAMES: dict[SecureChannelOpcode, str] = {
    SecureChannelOpcode.MSG_COUNTER_SYNC_REQ: "MsgCounterSyncReq",
    SecureChannelOpcode.MSG_COUNTER_SYNC_RSP: "MsgCounterSyncRsp",
    SecureChannelOpcode.STANDALONE_ACK: "StandaloneAck",
    SecureChannelOpcode.PBKDF_PARAM_REQUEST: "PBKDFParamRequest",
    SecureChannelOpcode.PBKDF_PARAM_RESPONSE: "PBKDFParamResponse",
    SecureChannelOpcode.PASE_PAKE1: "Pake1",
    SecureChannelOpcode.PASE_PAKE2: "Pake2",
    SecureChannelOpcode.PASE_PAKE3: "Pake3",
    SecureChannelOpcode.CASE_SIGMA1: "Sigma1",
    SecureChannelOpcode.CASE_SIGMA2: "Sigma2",
    SecureChannelOpcode.CASE_SIGMA3: "Sigma3",
    SecureChannelOpcode.CASE_SIGMA2_RESUME: "Sigma2Resume",
    SecureChannelOpcode.STATUS_REPORT: "StatusReport",
    SecureChannelOpcode.ICD_CHECK_IN: "ICDCheckIn",
}
#: An encrypted message: its type is inside the ciphertext, unknown to an observer.
SECURED = "Secured"
#: Bytes that do not decode as a Matter message.
UNDECODABLE = "Undecodable"


def message_type(datagram: bytes) -> str:
    """The name of the message ``datagram`` carries, as an observer of the link sees it.

    An unsecured Secure Channel message is named from :data:`SECURE_CHANNEL_NAMES`
    (an opcode outside it is ``SecureChannel:0x..``); another protocol is
    ``protocol 0x.... opcode 0x..`` (with ``of vendor 0x....`` for a vendor's); a
    message on a secured session is :data:`SECURED`; anything that is not a Matter
    message header is :data:`UNDECODABLE`. The host
    never acts on this name (the core alone decides what a datagram is): it only labels
    traces and reports.
    """
    try:
        header = MessageHeader.pull(ByteReader(datagram))
        if header.is_secure:
            return SECURED
        message = UnsecuredMessage.decode(datagram)
    except CoreError:
        return UNDECODABLE
    protocol = message.protocol
    if protocol.vendor_id in (None, 0) and protocol.protocol_id == ProtocolId.SECURE_CHANNEL:
        try:
            return SECURE_CHANNEL_NAMES[SecureChannelOpcode(protocol.opcode)]
        except (ValueError, KeyError):
            return f"SecureChannel:0x{protocol.opcode:02x}"
    vendor = f" of vendor 0x{protocol.vendor_id:04x}" if protocol.vendor_id else ""
    return f"protocol 0x{protocol.protocol_id:04x}{vendor} opcode 0x{protocol.opcode:02x}"


class TraceTargetError(HarnessError):
    """Where ``--trace`` should write cannot be written (a missing directory without
    ``--mkdir``, a directory in the file's place, a file in the directory's place)."""


def prepare_trace_target(path: Path, *, mkdir: bool = False) -> None:
    """Check, before anything runs, that the trace can be written to ``path``: its
    directory must exist (created, with its parents, when ``mkdir``) and ``path`` must
    not be a directory. Raises :class:`TraceTargetError`."""
    if path.is_dir():
        raise TraceTargetError(f"--trace {path} is a directory; give a file name in it")
    directory = path.parent
    if directory.is_dir():
        return
    if directory.exists():
        raise TraceTargetError(f"--trace {path}: {directory} is not a directory")
    if not mkdir:
        raise TraceTargetError(
            f"--trace {path}: the directory {directory} does not exist",
            hint="create it, or pass --mkdir to have it created",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TraceTargetError(
            f"--trace {path}: cannot create {directory}: {exc.strerror or exc}"
        ) from exc


def trace_line(packet: PacketRecord) -> dict[str, object]:
    """One line of the trace: direction, time, message type, size, SHA-256, bytes."""
    return {
        "direction": packet.direction,
        "time_ms": packet.time_ms,
        "message_type": message_type(packet.data),
        "size": len(packet.data),
        "sha256": hashlib.sha256(packet.data).hexdigest(),
        "bytes": packet.data.hex(),
    }


def write_trace(path: Path, trace: list[PacketRecord]) -> None:
    """The packet trace as JSON lines (see :func:`trace_line`). The directory must exist
    (:func:`prepare_trace_target` checks it, and creates it when asked, before the run)."""
    text = "".join(json.dumps(trace_line(p)) + "\n" for p in trace)
    try:
        path.write_text(text)
    except OSError as exc:
        raise TraceTargetError(f"cannot write the trace to {path}: {exc.strerror or exc}") from exc
