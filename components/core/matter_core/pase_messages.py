"""PASE message payloads: PBKDFParamRequest/Response and Pake1..3.

The TLV layouts are those of Matter Core Specification 1.0, §4.13.1.2 Protocol Details
(in §4.13.1 Passcode-Authenticated Session Establishment (PASE)), with the session
parameters of tag 5 as CHIP's ``SessionParameters`` encodes them.

Each message is a dataclass with ``encode() -> bytes`` and ``decode(payload)`` over the
TLV payload (an anonymous structure of context-tagged fields). Decoding checks what the
wire format fixes: member tags in increasing order (CHIP reads the fields in sequence),
exact lengths of randoms, shares and MACs, integer ranges and element types. Every
violation is a :class:`~matter_core.errors.DecodeError` naming the field. Members with a
tag above the message's last known field are skipped for forward compatibility.

Protocol rules on the values (passcode id 0, non-zero session ids, iteration bounds) are
the state machine's job; the raw values are handed through.

Constructing a message with an out-of-range value raises ValueError (our own bug).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from .errors import DecodeError
from .message import SecureChannelOpcode
from .tlv import Tag, TLVStruct, TLVWriter

RANDOM_LENGTH = 32
"""initiatorRandom / responderRandom length."""
SHARE_LENGTH = 65
"""pA / pB: uncompressed SEC1 P-256 points."""
MAC_LENGTH = 32
"""cA / cB: HMAC-SHA256 outputs."""
SALT_MIN_LENGTH = 16
"""Shortest PBKDF salt (``kSpake2p_Min_PBKDF_Salt_Length``)."""
SALT_MAX_LENGTH = 32
"""Longest PBKDF salt (``kSpake2p_Max_PBKDF_Salt_Length``)."""


def _check_bytes(name: str, value: bytes, low: int, high: int | None = None) -> None:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    high = low if high is None else high
    if not low <= len(value) <= high:
        wanted = str(low) if low == high else f"{low}..{high}"
        raise ValueError(f"{name} must be {wanted} bytes, got {len(value)}")


def _check_uint(name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} {value} does not fit in {bits} bits")


def _open(payload: bytes, names: dict[int, str], message: str) -> TLVStruct:
    """Decode the payload structure and check tag order and unknown members."""
    fields = TLVStruct.decode(payload, names)
    fields.require_ascending_tags()
    last_known = max(names)
    for tag in fields.tags:
        if tag not in names and tag < last_known:
            raise DecodeError(f"{message}: unexpected field tag {tag}")
    return fields


@dataclass(frozen=True, slots=True)
class SessionParameters:
    """session-parameter-struct; every field optional, unknown tags skipped.

    Tags as in CHIP's ``SessionParameters`` (``messaging/SessionParameters.h``); later
    Matter Core Specification versions define them under "Session Parameters".
    """

    idle_interval_ms: int | None = None
    active_interval_ms: int | None = None
    active_threshold_ms: int | None = None
    data_model_revision: int | None = None
    interaction_model_revision: int | None = None
    specification_version: int | None = None
    max_paths_per_invoke: int | None = None

    # (tag, attribute, field name, bits), in tag order.
    FIELDS: ClassVar[tuple[tuple[int, str, str, int], ...]] = (
        (1, "idle_interval_ms", "SESSION_IDLE_INTERVAL", 32),
        (2, "active_interval_ms", "SESSION_ACTIVE_INTERVAL", 32),
        (3, "active_threshold_ms", "SESSION_ACTIVE_THRESHOLD", 16),
        (4, "data_model_revision", "DATA_MODEL_REVISION", 16),
        (5, "interaction_model_revision", "INTERACTION_MODEL_REVISION", 16),
        (6, "specification_version", "SPECIFICATION_VERSION", 32),
        (7, "max_paths_per_invoke", "MAX_PATHS_PER_INVOKE", 16),
    )
    NAMES: ClassVar[dict[int, str]] = {tag: name for tag, _, name, _ in FIELDS}

    def __post_init__(self) -> None:
        for _, attribute, name, bits in self.FIELDS:
            value = getattr(self, attribute)
            if value is not None:
                _check_uint(name, value, bits)

    def write(self, writer: TLVWriter, tag: Tag) -> None:
        """Append this struct to ``writer`` under ``tag`` (present fields only)."""
        with writer.structure(tag):
            for field_tag, attribute, _, _ in self.FIELDS:
                value = getattr(self, attribute)
                if value is not None:
                    writer.put_uint(field_tag, value)

    @classmethod
    def from_struct(cls, fields: TLVStruct) -> SessionParameters:
        """Read the known fields of a decoded struct; other tags are ignored."""
        # CHIP's SessionParameters decoder loops over members by tag, so order is free.
        values = {
            attribute: fields.get_uint(tag, bits=bits) for tag, attribute, _, bits in cls.FIELDS
        }
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PBKDFParameters:
    """The pbkdf_parameters struct of a PBKDFParamResponse: iterations and salt."""

    iterations: int
    salt: bytes

    NAMES: ClassVar[dict[int, str]] = {1: "iterations", 2: "salt"}

    def __post_init__(self) -> None:
        _check_uint("iterations", self.iterations, 32)
        _check_bytes("salt", self.salt, SALT_MIN_LENGTH, SALT_MAX_LENGTH)

    def write(self, writer: TLVWriter, tag: Tag) -> None:
        """Append this struct to ``writer`` under ``tag``."""
        with writer.structure(tag):
            writer.put_uint(1, self.iterations)
            writer.put_bytes(2, self.salt)

    @classmethod
    def from_struct(cls, fields: TLVStruct) -> PBKDFParameters:
        """Read iterations and salt from a decoded struct."""
        fields.require_ascending_tags()
        iterations = fields.require_uint(1, bits=32)
        salt = fields.require_bytes(2, min_length=SALT_MIN_LENGTH, max_length=SALT_MAX_LENGTH)
        return cls(iterations, salt)


@dataclass(frozen=True, slots=True)
class PBKDFParamRequest:
    """PBKDFParamRequest (opcode 0x20), sent by the PASE initiator (commissioner)."""

    initiator_random: bytes
    initiator_session_id: int
    passcode_id: int = 0
    has_pbkdf_parameters: bool = False
    session_parameters: SessionParameters | None = None

    OPCODE: ClassVar[SecureChannelOpcode] = SecureChannelOpcode.PBKDF_PARAM_REQUEST
    NAMES: ClassVar[dict[int, str]] = {
        1: "initiatorRandom",
        2: "initiatorSessionId",
        3: "passcodeId",
        4: "hasPBKDFParameters",
        5: "initiatorSessionParams",
    }

    def __post_init__(self) -> None:
        _check_bytes("initiatorRandom", self.initiator_random, RANDOM_LENGTH)
        _check_uint("initiatorSessionId", self.initiator_session_id, 16)
        _check_uint("passcodeId", self.passcode_id, 16)
        if not isinstance(self.has_pbkdf_parameters, bool):
            raise TypeError("hasPBKDFParameters must be a bool")

    def encode(self) -> bytes:
        """The TLV payload."""
        writer = TLVWriter()
        with writer.structure(None):
            writer.put_bytes(1, self.initiator_random)
            writer.put_uint(2, self.initiator_session_id)
            writer.put_uint(3, self.passcode_id)
            writer.put_bool(4, self.has_pbkdf_parameters)
            if self.session_parameters is not None:
                self.session_parameters.write(writer, 5)
        return writer.to_bytes()

    @classmethod
    def decode(cls, payload: bytes) -> PBKDFParamRequest:
        """Decode the TLV payload."""
        fields = _open(payload, cls.NAMES, "PBKDFParamRequest")
        params = fields.get_struct(5, SessionParameters.NAMES)
        return cls(
            initiator_random=fields.require_bytes(1, length=RANDOM_LENGTH),
            initiator_session_id=fields.require_uint(2, bits=16),
            passcode_id=fields.require_uint(3, bits=16),
            has_pbkdf_parameters=fields.require_bool(4),
            session_parameters=None if params is None else SessionParameters.from_struct(params),
        )


@dataclass(frozen=True, slots=True)
class PBKDFParamResponse:
    """PBKDFParamResponse (opcode 0x21), sent by the PASE responder (device)."""

    initiator_random: bytes
    responder_random: bytes
    responder_session_id: int
    pbkdf_parameters: PBKDFParameters | None = None
    session_parameters: SessionParameters | None = None

    OPCODE: ClassVar[SecureChannelOpcode] = SecureChannelOpcode.PBKDF_PARAM_RESPONSE
    NAMES: ClassVar[dict[int, str]] = {
        1: "initiatorRandom",
        2: "responderRandom",
        3: "responderSessionId",
        4: "pbkdf_parameters",
        5: "responderSessionParams",
    }

    def __post_init__(self) -> None:
        _check_bytes("initiatorRandom", self.initiator_random, RANDOM_LENGTH)
        _check_bytes("responderRandom", self.responder_random, RANDOM_LENGTH)
        _check_uint("responderSessionId", self.responder_session_id, 16)

    def encode(self) -> bytes:
        """The TLV payload."""
        writer = TLVWriter()
        with writer.structure(None):
            writer.put_bytes(1, self.initiator_random)
            writer.put_bytes(2, self.responder_random)
            writer.put_uint(3, self.responder_session_id)
            if self.pbkdf_parameters is not None:
                self.pbkdf_parameters.write(writer, 4)
            if self.session_parameters is not None:
                self.session_parameters.write(writer, 5)
        return writer.to_bytes()

    @classmethod
    def decode(cls, payload: bytes) -> PBKDFParamResponse:
        """Decode the TLV payload."""
        fields = _open(payload, cls.NAMES, "PBKDFParamResponse")
        pbkdf = fields.get_struct(4, PBKDFParameters.NAMES)
        params = fields.get_struct(5, SessionParameters.NAMES)
        return cls(
            initiator_random=fields.require_bytes(1, length=RANDOM_LENGTH),
            responder_random=fields.require_bytes(2, length=RANDOM_LENGTH),
            responder_session_id=fields.require_uint(3, bits=16),
            pbkdf_parameters=None if pbkdf is None else PBKDFParameters.from_struct(pbkdf),
            session_parameters=None if params is None else SessionParameters.from_struct(params),
        )


@dataclass(frozen=True, slots=True)
class Pake1:
    """Pake1 (opcode 0x22): the initiator's share pA = X."""

    pA: bytes  # the protocol's own name

    OPCODE: ClassVar[SecureChannelOpcode] = SecureChannelOpcode.PASE_PAKE1
    NAMES: ClassVar[dict[int, str]] = {1: "pA"}

    def __post_init__(self) -> None:
        _check_bytes("pA", self.pA, SHARE_LENGTH)

    def encode(self) -> bytes:
        """The TLV payload."""
        writer = TLVWriter()
        with writer.structure(None):
            writer.put_bytes(1, self.pA)
        return writer.to_bytes()

    @classmethod
    def decode(cls, payload: bytes) -> Pake1:
        """Decode the TLV payload."""
        fields = _open(payload, cls.NAMES, "Pake1")
        return cls(fields.require_bytes(1, length=SHARE_LENGTH))


@dataclass(frozen=True, slots=True)
class Pake2:
    """Pake2 (opcode 0x23): the responder's share pB = Y and its confirmation cB."""

    pB: bytes  # the protocol's own name
    cB: bytes  # the protocol's own name

    OPCODE: ClassVar[SecureChannelOpcode] = SecureChannelOpcode.PASE_PAKE2
    NAMES: ClassVar[dict[int, str]] = {1: "pB", 2: "cB"}

    def __post_init__(self) -> None:
        _check_bytes("pB", self.pB, SHARE_LENGTH)
        _check_bytes("cB", self.cB, MAC_LENGTH)

    def encode(self) -> bytes:
        """The TLV payload."""
        writer = TLVWriter()
        with writer.structure(None):
            writer.put_bytes(1, self.pB)
            writer.put_bytes(2, self.cB)
        return writer.to_bytes()

    @classmethod
    def decode(cls, payload: bytes) -> Pake2:
        """Decode the TLV payload."""
        fields = _open(payload, cls.NAMES, "Pake2")
        return cls(
            fields.require_bytes(1, length=SHARE_LENGTH),
            fields.require_bytes(2, length=MAC_LENGTH),
        )


@dataclass(frozen=True, slots=True)
class Pake3:
    """Pake3 (opcode 0x24): the initiator's confirmation cA."""

    cA: bytes  # the protocol's own name

    OPCODE: ClassVar[SecureChannelOpcode] = SecureChannelOpcode.PASE_PAKE3
    NAMES: ClassVar[dict[int, str]] = {1: "cA"}

    def __post_init__(self) -> None:
        _check_bytes("cA", self.cA, MAC_LENGTH)

    def encode(self) -> bytes:
        """The TLV payload."""
        writer = TLVWriter()
        with writer.structure(None):
            writer.put_bytes(1, self.cA)
        return writer.to_bytes()

    @classmethod
    def decode(cls, payload: bytes) -> Pake3:
        """Decode the TLV payload."""
        fields = _open(payload, cls.NAMES, "Pake3")
        return cls(fields.require_bytes(1, length=MAC_LENGTH))


PaseMessage: TypeAlias = "PBKDFParamRequest | PBKDFParamResponse | Pake1 | Pake2 | Pake3"

PASE_MESSAGE_TYPES: dict[int, type[PBKDFParamRequest | PBKDFParamResponse | Pake1 | Pake2 | Pake3]]
PASE_MESSAGE_TYPES = {
    cls.OPCODE: cls for cls in (PBKDFParamRequest, PBKDFParamResponse, Pake1, Pake2, Pake3)
}
"""Message class by Secure Channel opcode."""


def decode_pase_message(opcode: int, payload: bytes) -> PaseMessage:
    """Decode the payload of a PASE message with the given Secure Channel opcode."""
    message_type = PASE_MESSAGE_TYPES.get(opcode)
    if message_type is None:
        raise DecodeError(f"opcode 0x{opcode:02x} is not a PASE TLV message")
    return message_type.decode(payload)
