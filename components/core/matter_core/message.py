"""Matter message layer: message header, exchange header, StatusReport, constants.

Layouts follow Matter Core Specification 1.0: §4.4.1 Message Header Field Descriptions
(message header), §4.4.3 Protocol Header Field Descriptions (protocol/exchange header)
and Appendix D Status Report Messages (StatusReport); all multi-byte fields are
little-endian. Each codec is a pair: a
``pull`` / ``decode`` that reads exactly what the matching ``encode`` writes.

Reserved flag bits are ignored when reading and written as zero. Message extensions
(MX) and secured extensions (SX) are not interpreted: they are kept as opaque bytes so
that ``encode`` reproduces the wire header, which is the AES-CCM additional data.
Privacy-obfuscated headers (P flag) are not supported and fail to decode.

Encrypting and decrypting secured messages happens elsewhere; this module only splits a
secured datagram into its header bytes, decoded header, and ciphertext plus MIC.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from . import errors
from .errors import DecodeError
from .tlv import ByteReader

MESSAGE_VERSION = 0
"""The only message-format version there is (bits 7..4 of the message flags)."""

MIC_LENGTH = 16
"""Length of the AES-CCM MIC that ends every secured message."""

UNSECURED_SESSION_ID = 0
"""Session id of the unsecured unicast session PASE runs on."""


class ProtocolId(IntEnum):
    """Protocol ids of the common (vendor 0) protocols the core speaks."""

    SECURE_CHANNEL = 0x0000
    INTERACTION_MODEL = 0x0001


class SecureChannelOpcode(IntEnum):
    """Opcodes of the Secure Channel protocol.

    Matter Core Specification 1.0, the "Secure Channel Protocol Messages" table of the
    Secure Channel Protocol section; CHIP ``MsgType`` in
    ``protocols/secure_channel/Constants.h``.
    """

    MSG_COUNTER_SYNC_REQ = 0x00
    MSG_COUNTER_SYNC_RSP = 0x01
    STANDALONE_ACK = 0x10
    PBKDF_PARAM_REQUEST = 0x20
    PBKDF_PARAM_RESPONSE = 0x21
    PASE_PAKE1 = 0x22
    PASE_PAKE2 = 0x23
    PASE_PAKE3 = 0x24
    CASE_SIGMA1 = 0x30
    CASE_SIGMA2 = 0x31
    CASE_SIGMA3 = 0x32
    CASE_SIGMA2_RESUME = 0x33
    STATUS_REPORT = 0x40
    ICD_CHECK_IN = 0x50


class GeneralCode(IntEnum):
    """StatusReport general codes (rs-matter ``GeneralCode``; 17 from CircuitMatter)."""

    SUCCESS = 0
    FAILURE = 1
    BAD_PRECONDITION = 2
    OUT_OF_RANGE = 3
    BAD_REQUEST = 4
    UNSUPPORTED = 5
    UNEXPECTED = 6
    RESOURCE_EXHAUSTED = 7
    BUSY = 8
    TIMEOUT = 9
    CONTINUE = 10
    ABORTED = 11
    INVALID_ARGUMENT = 12
    NOT_FOUND = 13
    ALREADY_EXISTS = 14
    PERMISSION_DENIED = 15
    DATA_LOSS = 16
    MESSAGE_TOO_LARGE = 17


class SecureChannelStatus(IntEnum):
    """Secure-channel protocol codes carried in a StatusReport (CHIP ``Constants.h``)."""

    SESSION_ESTABLISHMENT_SUCCESS = errors.PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS
    NO_SHARED_TRUST_ROOTS = errors.PROTOCOL_NO_SHARED_TRUST_ROOTS
    INVALID_PARAMETER = errors.PROTOCOL_INVALID_PARAMETER
    CLOSE_SESSION = errors.PROTOCOL_CLOSE_SESSION
    BUSY = errors.PROTOCOL_BUSY
    SESSION_NOT_FOUND = errors.PROTOCOL_SESSION_NOT_FOUND
    GENERAL_FAILURE = 0xFFFF


class ExchangeFlags(IntFlag):
    """Bits of the exchange-header flags byte."""

    INITIATOR = 0x01
    ACK = 0x02
    RELIABILITY = 0x04
    SECURED_EXTENSIONS = 0x08
    VENDOR = 0x10


class SessionType(IntEnum):
    """Session type in bits 1..0 of the security flags (2 and 3 are reserved)."""

    UNICAST = 0
    GROUP = 1


# Message-flags bits.
_FLAG_SOURCE_NODE = 0x04
_DSIZ_MASK = 0x03
_DSIZ_NONE = 0
_DSIZ_NODE = 1
_DSIZ_GROUP = 2
# Security-flags bits.
_SEC_PRIVACY = 0x80
_SEC_CONTROL = 0x40
_SEC_EXTENSIONS = 0x20
_SEC_SESSION_TYPE = 0x03


def _check_range(name: str, value: int, bits: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int")
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} {value} does not fit in {bits} bits")


def _check_extensions(name: str, value: bytes | None) -> None:
    if value is not None and len(value) > 0xFFFF:
        raise ValueError(f"{name} longer than 65535 bytes")


@dataclass(frozen=True, slots=True)
class MessageHeader:
    """The unencrypted message header (Matter Core Specification 1.0, §4.4.1 Message
    Header Field Descriptions).

    ``message_extensions`` is None when the MX flag is clear, else the opaque extension
    bytes (without their length prefix).
    """

    session_id: int
    message_counter: int
    source_node_id: int | None = None
    destination_node_id: int | None = None
    destination_group_id: int | None = None
    session_type: SessionType = SessionType.UNICAST
    control: bool = False
    message_extensions: bytes | None = None

    def __post_init__(self) -> None:
        _check_range("session id", self.session_id, 16)
        _check_range("message counter", self.message_counter, 32)
        if self.source_node_id is not None:
            _check_range("source node id", self.source_node_id, 64)
        if self.destination_node_id is not None:
            _check_range("destination node id", self.destination_node_id, 64)
        if self.destination_group_id is not None:
            _check_range("destination group id", self.destination_group_id, 16)
        if self.destination_node_id is not None and self.destination_group_id is not None:
            raise ValueError("a message has a destination node id or group id, not both")
        _check_extensions("message extensions", self.message_extensions)

    @property
    def is_secure(self) -> bool:
        """True unless this is the unsecured unicast session (session id 0, unicast)."""
        return not (
            self.session_id == UNSECURED_SESSION_ID and self.session_type == SessionType.UNICAST
        )

    @property
    def message_flags(self) -> int:
        """The message-flags byte as encoded (version 0, S, DSIZ)."""
        flags = MESSAGE_VERSION << 4
        if self.source_node_id is not None:
            flags |= _FLAG_SOURCE_NODE
        if self.destination_node_id is not None:
            flags |= _DSIZ_NODE
        elif self.destination_group_id is not None:
            flags |= _DSIZ_GROUP
        return flags

    @property
    def security_flags(self) -> int:
        """The security-flags byte as encoded (also the first byte of the AES-CCM nonce)."""
        flags = int(self.session_type)
        if self.control:
            flags |= _SEC_CONTROL
        if self.message_extensions is not None:
            flags |= _SEC_EXTENSIONS
        return flags

    def encode(self) -> bytes:
        """The header bytes exactly as on the wire (the AAD of a secured message)."""
        out = bytearray((self.message_flags,))
        out += self.session_id.to_bytes(2, "little")
        out.append(self.security_flags)
        out += self.message_counter.to_bytes(4, "little")
        if self.source_node_id is not None:
            out += self.source_node_id.to_bytes(8, "little")
        if self.destination_node_id is not None:
            out += self.destination_node_id.to_bytes(8, "little")
        elif self.destination_group_id is not None:
            out += self.destination_group_id.to_bytes(2, "little")
        if self.message_extensions is not None:
            out += len(self.message_extensions).to_bytes(2, "little") + self.message_extensions
        return bytes(out)

    @classmethod
    def pull(cls, reader: ByteReader) -> MessageHeader:
        """Read a message header from ``reader``, leaving it at the first byte after it."""
        flags = reader.pull_u8("message flags")
        if flags >> 4 != MESSAGE_VERSION:
            raise DecodeError(f"unsupported message version {flags >> 4}")
        dsiz = flags & _DSIZ_MASK
        if dsiz not in (_DSIZ_NONE, _DSIZ_NODE, _DSIZ_GROUP):
            raise DecodeError("reserved destination size (DSIZ=3)")
        session_id = reader.pull_u16("session id")
        security = reader.pull_u8("security flags")
        if security & _SEC_PRIVACY:
            raise DecodeError("privacy-obfuscated message headers are not supported")
        raw_type = security & _SEC_SESSION_TYPE
        if raw_type not in (SessionType.UNICAST, SessionType.GROUP):
            raise DecodeError(f"reserved session type {raw_type}")
        counter = reader.pull_u32("message counter")
        source = reader.pull_u64("source node id") if flags & _FLAG_SOURCE_NODE else None
        node = reader.pull_u64("destination node id") if dsiz == _DSIZ_NODE else None
        group = reader.pull_u16("destination group id") if dsiz == _DSIZ_GROUP else None
        extensions = None
        if security & _SEC_EXTENSIONS:
            length = reader.pull_u16("message extensions length")
            extensions = reader.pull_bytes(length, "message extensions")
        return cls(
            session_id=session_id,
            message_counter=counter,
            source_node_id=source,
            destination_node_id=node,
            destination_group_id=group,
            session_type=SessionType(raw_type),
            control=bool(security & _SEC_CONTROL),
            message_extensions=extensions,
        )

    @classmethod
    def decode(cls, data: bytes) -> MessageHeader:
        """Decode bytes that hold exactly one message header."""
        reader = ByteReader(data)
        header = cls.pull(reader)
        reader.require_end("message header")
        return header


@dataclass(frozen=True, slots=True)
class ProtocolHeader:
    """The exchange (protocol) header that starts every (decrypted) payload.

    Matter Core Specification 1.0, §4.4.3 Protocol Header Field Descriptions.

    ``protocol_id`` is the 16-bit protocol number and ``vendor_id`` the optional protocol
    vendor (None: flag V clear, i.e. the common vendor 0). ``ack_counter`` is set iff the
    A flag is; ``secured_extensions`` holds the opaque SX bytes when that flag is set.
    """

    opcode: int
    exchange_id: int
    protocol_id: int = ProtocolId.SECURE_CHANNEL
    initiator: bool = False
    needs_ack: bool = False
    ack_counter: int | None = None
    vendor_id: int | None = None
    secured_extensions: bytes | None = None

    def __post_init__(self) -> None:
        _check_range("opcode", self.opcode, 8)
        _check_range("exchange id", self.exchange_id, 16)
        _check_range("protocol id", self.protocol_id, 16)
        if self.ack_counter is not None:
            _check_range("acknowledged message counter", self.ack_counter, 32)
        if self.vendor_id is not None:
            _check_range("protocol vendor id", self.vendor_id, 16)
        _check_extensions("secured extensions", self.secured_extensions)

    @property
    def flags(self) -> ExchangeFlags:
        """The exchange-flags byte as encoded."""
        flags = ExchangeFlags(0)
        if self.initiator:
            flags |= ExchangeFlags.INITIATOR
        if self.ack_counter is not None:
            flags |= ExchangeFlags.ACK
        if self.needs_ack:
            flags |= ExchangeFlags.RELIABILITY
        if self.secured_extensions is not None:
            flags |= ExchangeFlags.SECURED_EXTENSIONS
        if self.vendor_id is not None:
            flags |= ExchangeFlags.VENDOR
        return flags

    def encode(self) -> bytes:
        """The protocol-header bytes (no payload)."""
        out = bytearray((int(self.flags), self.opcode))
        out += self.exchange_id.to_bytes(2, "little")
        if self.vendor_id is not None:
            out += self.vendor_id.to_bytes(2, "little")
        out += self.protocol_id.to_bytes(2, "little")
        if self.ack_counter is not None:
            out += self.ack_counter.to_bytes(4, "little")
        if self.secured_extensions is not None:
            out += len(self.secured_extensions).to_bytes(2, "little") + self.secured_extensions
        return bytes(out)

    @classmethod
    def pull(cls, reader: ByteReader) -> ProtocolHeader:
        """Read a protocol header from ``reader``, leaving it at the payload."""
        flags = reader.pull_u8("exchange flags")
        opcode = reader.pull_u8("protocol opcode")
        exchange_id = reader.pull_u16("exchange id")
        vendor = reader.pull_u16("protocol vendor id") if flags & ExchangeFlags.VENDOR else None
        protocol_id = reader.pull_u16("protocol id")
        ack = reader.pull_u32("acknowledged message counter") if flags & ExchangeFlags.ACK else None
        extensions = None
        if flags & ExchangeFlags.SECURED_EXTENSIONS:
            length = reader.pull_u16("secured extensions length")
            extensions = reader.pull_bytes(length, "secured extensions")
        return cls(
            opcode=opcode,
            exchange_id=exchange_id,
            protocol_id=protocol_id,
            initiator=bool(flags & ExchangeFlags.INITIATOR),
            needs_ack=bool(flags & ExchangeFlags.RELIABILITY),
            ack_counter=ack,
            vendor_id=vendor,
            secured_extensions=extensions,
        )

    def is_opcode(self, protocol_id: int, opcode: int) -> bool:
        """True for this (common-vendor) protocol id and opcode."""
        return (
            self.vendor_id in (None, 0)
            and self.protocol_id == protocol_id
            and self.opcode == opcode
        )


def decode_protocol_payload(plaintext: bytes) -> tuple[ProtocolHeader, bytes]:
    """Split a (decrypted) message body into its protocol header and application payload."""
    reader = ByteReader(plaintext)
    header = ProtocolHeader.pull(reader)
    return header, reader.pull_rest()


def encode_protocol_payload(header: ProtocolHeader, payload: bytes) -> bytes:
    """Protocol header followed by the application payload (the plaintext to seal)."""
    return header.encode() + bytes(payload)


@dataclass(frozen=True, slots=True)
class UnsecuredMessage:
    """A whole message on the unsecured session: header, protocol header, payload."""

    header: MessageHeader
    protocol: ProtocolHeader
    payload: bytes = b""

    def encode(self) -> bytes:
        """The datagram bytes (no MIC: unsecured messages have none)."""
        if self.header.is_secure:
            raise ValueError("an unsecured message needs session id 0 and a unicast session")
        return self.header.encode() + encode_protocol_payload(self.protocol, self.payload)

    @classmethod
    def decode(cls, data: bytes) -> UnsecuredMessage:
        """Decode a datagram of the unsecured session; DecodeError for a secured one."""
        reader = ByteReader(data)
        header = MessageHeader.pull(reader)
        if header.is_secure:
            raise DecodeError(
                f"message on secured session {header.session_id} is not an unsecured message"
            )
        protocol = ProtocolHeader.pull(reader)
        return cls(header, protocol, reader.pull_rest())


@dataclass(frozen=True, slots=True)
class SecuredMessage:
    """A secured datagram split for decryption: AAD bytes, header, ciphertext and MIC."""

    header_bytes: bytes
    header: MessageHeader
    ciphertext: bytes
    mic: bytes

    @classmethod
    def split(cls, data: bytes) -> SecuredMessage:
        """Split a datagram of a secured session; DecodeError for an unsecured one."""
        reader = ByteReader(data)
        header = MessageHeader.pull(reader)
        if not header.is_secure:
            raise DecodeError("message on the unsecured session is not a secured message")
        header_bytes = bytes(data[: reader.position])
        body = reader.pull_rest()
        if len(body) < MIC_LENGTH:
            raise DecodeError(f"secured message shorter than its {MIC_LENGTH}-byte MIC")
        return cls(header_bytes, header, body[:-MIC_LENGTH], body[-MIC_LENGTH:])

    def encode(self) -> bytes:
        """The datagram bytes: header, ciphertext, MIC."""
        return self.header_bytes + self.ciphertext + self.mic


STATUS_REPORT_MIN_LENGTH = 8
"""General code (2) + protocol id (4) + protocol code (2)."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A StatusReport payload (opcode 0x40; not TLV).

    Matter Core Specification 1.0, Appendix D Status Report Messages; CHIP
    ``StatusReport::WriteToBuffer``.

    ``protocol_id`` is the full 32-bit id: vendor id << 16 | protocol number.
    """

    general_code: int
    protocol_id: int
    protocol_code: int
    protocol_data: bytes = b""

    def __post_init__(self) -> None:
        _check_range("general code", self.general_code, 16)
        _check_range("protocol id", self.protocol_id, 32)
        _check_range("protocol code", self.protocol_code, 16)

    @property
    def is_success(self) -> bool:
        """True when the general code is SUCCESS."""
        return self.general_code == GeneralCode.SUCCESS

    def encode(self) -> bytes:
        """The payload bytes."""
        return (
            self.general_code.to_bytes(2, "little")
            + self.protocol_id.to_bytes(4, "little")
            + self.protocol_code.to_bytes(2, "little")
            + bytes(self.protocol_data)
        )

    @classmethod
    def decode(cls, payload: bytes) -> StatusReport:
        """Decode a StatusReport payload; anything after the 8 fixed bytes is protocol data."""
        reader = ByteReader(payload)
        general = reader.pull_u16("status report general code")
        protocol_id = reader.pull_u32("status report protocol id")
        protocol_code = reader.pull_u16("status report protocol code")
        return cls(general, protocol_id, protocol_code, reader.pull_rest())


PASE_SUCCESS = StatusReport(
    GeneralCode.SUCCESS,
    ProtocolId.SECURE_CHANNEL,
    SecureChannelStatus.SESSION_ESTABLISHMENT_SUCCESS,
)
"""The StatusReport a PASE responder sends when cA verifies (8 zero bytes)."""

PASE_INVALID_PARAMETER = StatusReport(
    GeneralCode.FAILURE,
    ProtocolId.SECURE_CHANNEL,
    SecureChannelStatus.INVALID_PARAMETER,
)
"""The StatusReport CHIP sends on any PASE error (``0100 00000000 0200``)."""
