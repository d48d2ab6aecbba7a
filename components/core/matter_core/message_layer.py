"""The message layer: which received datagrams belong to the PASE session.

Before a datagram reaches the PASE state machine, :func:`classify` checks it against
what the session knows (its role, exchange, node ids, the counters it has handled) and
says one of three things: *deliver* it, it is a *duplicate* of one already handled (to
be dropped and re-acknowledged per MRP, Matter Core Specification 1.3, section 4.12.2.2
and section 4.6.7 Message Counter Processing), or *drop* it for a :class:`DropReason`.
Only a delivered message, a well-formed one on the session's own exchange, may move or
fail the handshake; this is what connectedhomeip's session and exchange managers do
before a PASE session ever sees a message.

Every drop is counted by reason (:class:`DropCounts`), and the counts are part of the
session status. :class:`DropReason` is the one place the reasons are defined.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from matter_core.errors import DecodeError
from matter_core.message import (
    MESSAGE_VERSION,
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    SessionType,
)
from matter_core.tlv import ByteReader

__all__ = ["Classified", "DropCounts", "DropReason", "SessionView", "Verdict", "classify"]


class DropReason(enum.Enum):
    """Why a datagram was dropped. The values are stable strings (session status, WIT
    ``drop-count.reason``, evidence); the order of the members is the reporting order."""

    MALFORMED = "malformed"
    """The message or protocol header does not decode, or a PBKDFParamRequest awaited
    by a commissionee does not decode or breaks a rule (the device keeps waiting)."""
    VERSION = "version"
    """Message version other than 0 (section 4.4.1.1)."""
    PRIVACY = "privacy"
    """The P flag: privacy-obfuscated headers are not used on a PASE session."""
    GROUP = "group"
    """A group session type or a group destination (DSIZ 2): PASE is unicast only."""
    SESSION_ID = "session-id"
    """A secured session id that is not ours (or a secured message before we have one)."""
    DESTINATION = "destination"
    """A destination node id that is not ours."""
    SOURCE_NODE = "source-node"
    """A source node id missing or other than the initiator's ephemeral node id."""
    VENDOR = "vendor"
    """A protocol of a vendor other than the common vendor 0 (V flag)."""
    PROTOCOL = "protocol"
    """A protocol other than Secure Channel on the unsecured session."""
    EXCHANGE = "exchange"
    """Another exchange id than the PASE exchange."""
    INITIATOR_FLAG = "initiator-flag"
    """The I flag wrong for the sender's role on the exchange."""
    UNEXPECTED_BEFORE_REQUEST = "unexpected-before-request"
    """Anything but a PBKDFParamRequest while the commissionee waits for one."""
    DUPLICATE = "duplicate"
    """A message counter already handled (re-acknowledged when it asks for an ack)."""
    AFTER_ESTABLISHMENT = "after-establishment"
    """A new unsecured message after the session was established."""
    AFTER_FAILURE = "after-failure"
    """A new message after the session failed."""
    BACKLOG_FULL = "backlog-full"
    """A secured datagram met while the backlog kept for ``open`` was full."""


class Verdict(enum.Enum):
    """What the message layer decided."""

    DELIVER = "deliver"
    DUPLICATE = "duplicate"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Classified:
    """The decision on one datagram, with what was decoded to reach it."""

    verdict: Verdict
    reason: DropReason | None = None
    header: MessageHeader | None = None
    protocol: ProtocolHeader | None = None
    payload: bytes = b""

    @classmethod
    def drop(cls, reason: DropReason) -> Classified:
        """A drop for ``reason``."""
        return cls(Verdict.DROP, reason)


@dataclass(frozen=True, slots=True)
class SessionView:
    """What the message layer needs to know about the session.

    ``initiator`` is True for the commissioner. ``exchange_id`` is None while a
    commissionee waits for the PBKDFParamRequest that opens the exchange.
    ``local_node_id`` is the commissioner's ephemeral node id (None for a commissionee);
    ``peer_node_id`` the initiator's ephemeral node id once a commissionee knows it.
    ``handled`` holds the peer's message counters already handled on the exchange.
    """

    initiator: bool
    exchange_id: int | None
    local_node_id: int | None
    peer_node_id: int | None
    handled: frozenset[int] | set[int] = frozenset()


# Message-header bytes that are read before the header decodes (section 4.4.1).
_VERSION_SHIFT = 4
_SECURITY_FLAGS_OFFSET = 3
_PRIVACY_FLAG = 0x80


def classify(datagram: bytes, view: SessionView) -> Classified:
    """Decide whether an unsecured-session datagram is for this PASE session.

    Never raises for any input bytes: everything the session cannot use is a drop.
    """
    if not datagram:
        return Classified.drop(DropReason.MALFORMED)
    if datagram[0] >> _VERSION_SHIFT != MESSAGE_VERSION:
        return Classified.drop(DropReason.VERSION)
    if len(datagram) > _SECURITY_FLAGS_OFFSET and datagram[_SECURITY_FLAGS_OFFSET] & _PRIVACY_FLAG:
        return Classified.drop(DropReason.PRIVACY)
    reader = ByteReader(datagram)
    try:
        header = MessageHeader.pull(reader)
    except DecodeError:
        return Classified.drop(DropReason.MALFORMED)
    if header.session_type is SessionType.GROUP or header.destination_group_id is not None:
        return Classified.drop(DropReason.GROUP)
    if header.session_id != 0:
        return Classified.drop(DropReason.SESSION_ID)
    try:
        proto = ProtocolHeader.pull(reader)
    except DecodeError:
        return Classified.drop(DropReason.MALFORMED)
    reason = _addressing(header, proto, view)
    if reason is not None:
        return Classified.drop(reason)
    payload = reader.pull_rest()
    if header.message_counter in view.handled:
        return Classified(Verdict.DUPLICATE, DropReason.DUPLICATE, header, proto, payload)
    if view.exchange_id is None and proto.opcode != SecureChannelOpcode.PBKDF_PARAM_REQUEST:
        return Classified.drop(DropReason.UNEXPECTED_BEFORE_REQUEST)
    return Classified(Verdict.DELIVER, None, header, proto, payload)


def _addressing(
    header: MessageHeader, proto: ProtocolHeader, view: SessionView
) -> DropReason | None:
    """The first addressing rule the message breaks, or None."""
    if proto.vendor_id not in (None, 0):
        return DropReason.VENDOR
    if proto.protocol_id != ProtocolId.SECURE_CHANNEL:
        return DropReason.PROTOCOL
    if view.initiator:
        # Replies to the commissioner: addressed to its ephemeral node id (or to nobody
        # in particular), never with the I flag, always on the exchange it opened.
        if header.destination_node_id not in (None, view.local_node_id):
            return DropReason.DESTINATION
        if proto.exchange_id != view.exchange_id:
            return DropReason.EXCHANGE
        if proto.initiator:
            return DropReason.INITIATOR_FLAG
        return None
    # Messages to the commissionee come from the initiator: the I flag, its ephemeral
    # source node id, no destination (the device has no node id yet).
    if header.destination_node_id is not None:
        return DropReason.DESTINATION
    if view.exchange_id is not None and proto.exchange_id != view.exchange_id:
        return DropReason.EXCHANGE
    if not proto.initiator:
        return DropReason.INITIATOR_FLAG
    if header.source_node_id is None:
        return DropReason.SOURCE_NODE
    if view.peer_node_id is not None and header.source_node_id != view.peer_node_id:
        return DropReason.SOURCE_NODE
    return None


@dataclass
class DropCounts:
    """Datagrams dropped, by reason."""

    counts: dict[DropReason, int] = field(default_factory=dict)

    def add(self, reason: DropReason) -> None:
        """Count one drop."""
        self.counts[reason] = self.counts.get(reason, 0) + 1

    def get(self, reason: DropReason) -> int:
        """Drops counted for ``reason``."""
        return self.counts.get(reason, 0)

    def items(self) -> tuple[tuple[str, int], ...]:
        """(reason value, count) for every reason with a count, in :class:`DropReason`
        order."""
        return tuple(
            (reason.value, self.counts[reason]) for reason in DropReason if self.counts.get(reason)
        )

    @property
    def total(self) -> int:
        """Every drop counted."""
        return sum(self.counts.values())
