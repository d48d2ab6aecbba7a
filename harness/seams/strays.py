"""An off-path adversary: datagrams that are malformed or not addressed to the session.

Claim C8 interleaves these with the real handshake datagrams and asks the handshake to
complete anyway, as a Matter node on a real network must: its session and exchange layers
drop what does not belong to an existing session or exchange before the PASE state
machine sees it (Matter Core Specification 1.3, section 4.6 Message Processing, and
section 4.10 Message Exchanges). Every stray here is one of:

* **malformed**: random bytes, a header cut short, an unsupported message version;
* **unaddressed**: a copy of a real handshake datagram whose session id, session type,
  privacy flag, exchange id, destination node, initiator flag, protocol id or vendor id
  no longer matches the session it would reach, or a Secure Channel message on an
  exchange nobody opened;
* **a replay** of a datagram the receiver has already handled (a duplicate counter).

A well-formed copy of a message the receiver has *not* handled yet, on its own exchange,
is deliberately never produced: that is the peer speaking, and such a message may fail
the handshake (a real attacker able to guess the exchange id and counter is on-path).

The generator is deterministic: an HMAC-DRBG stream (:class:`~harness.seams.entropy.
SeededEntropy`) from the run's seed with its own personalization, separate from the run's
entropy stream, so injecting strays changes nothing the cores draw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from matter_core.errors import CoreError
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    SessionType,
    StatusReport,
    UnsecuredMessage,
)

from harness.seams.entropy import SeededEntropy
from harness.wit import COMMISSIONEE, COMMISSIONER

#: The personalization of the strays' DRBG stream (see the module docstring).
STRAY_STREAM = "strays"

#: The kinds of stray, in the order the generator cycles through them.
KINDS = (
    "random",
    "short-header",
    "version",
    "privacy",
    "group",
    "session-id",
    "exchange",
    "destination",
    "initiator-flag",
    "vendor",
    "protocol",
    "stray-exchange",
    "replay",
)


@dataclass(frozen=True)
class Stray:
    """One stray datagram: its kind and the role it is delivered to."""

    kind: str
    to: str
    data: bytes


@dataclass(frozen=True)
class Delivered:
    """A real datagram the receiver ``to`` has already handled (a replay candidate)."""

    to: str
    data: bytes


class _Stream:
    """Integers and bytes from the strays' DRBG."""

    def __init__(self, seed: int) -> None:
        self._source = SeededEntropy(seed, STRAY_STREAM)

    def bytes(self, n: int) -> bytes:
        return self._source.random_bytes(n) if n else b""

    def below(self, bound: int) -> int:
        """A uniform-enough integer in [0, bound) (bound <= 2**32)."""
        return int.from_bytes(self._source.random_bytes(4), "little") % bound


class StrayGenerator:
    """Deterministic stray datagrams for both roles of one handshake.

    ``templates`` are real handshake datagrams (from an unfaulted run of the same seed)
    by receiving role; mutations of them keep their shape but break what addresses
    them. ``delivered`` (given per call) are the datagrams each receiver has already
    handled, the only ones ever replayed.
    """

    def __init__(self, seed: int, templates: Sequence[Delivered]) -> None:
        self._stream = _Stream(seed)
        self._templates = {
            role: [d.data for d in templates if d.to == role and _decodes(d.data)]
            for role in (COMMISSIONER, COMMISSIONEE)
        }
        self._next_kind = 0
        self.counts: dict[str, int] = {}

    def batch(self, to: str, count: int, delivered: Sequence[Delivered] = ()) -> list[Stray]:
        """``count`` strays for the role ``to``, cycling through :data:`KINDS`."""
        replays = [d.data for d in delivered if d.to == to and _decodes(d.data)]
        out: list[Stray] = []
        while len(out) < count:
            kind = KINDS[self._next_kind % len(KINDS)]
            self._next_kind += 1
            data = self._make(kind, to, replays)
            if data is None:
                continue  # nothing to mutate yet for this kind; the next kind will do
            self.counts[kind] = self.counts.get(kind, 0) + 1
            out.append(Stray(kind, to, data))
        return out

    def _make(self, kind: str, to: str, replays: list[bytes]) -> bytes | None:
        rng = self._stream
        if kind == "random":
            return rng.bytes(rng.below(96))
        if kind == "stray-exchange":
            return _stray_exchange(rng, to)
        if kind == "replay":
            return replays[rng.below(len(replays))] if replays else None
        templates = self._templates[to]
        if kind in _NEW_INITIATOR_IF_REQUEST:
            # A PBKDFParamRequest on another exchange or from another node is a new
            # initiator opening a session, not a stray: never produced.
            templates = [t for t in templates if not _is_request(t)]
        if not templates:
            return None
        template = templates[rng.below(len(templates))]
        if kind == "short-header":
            return template[: rng.below(8)]
        if kind == "version":
            return bytes([template[0] | ((1 + rng.below(15)) << 4)]) + template[1:]
        if kind == "privacy":
            return template[:3] + bytes([template[3] | 0x80]) + template[4:]
        return _MUTATIONS[kind](rng, UnsecuredMessage.decode(template), to)


#: Kinds whose mutation of a PBKDFParamRequest would be a valid request of its own.
_NEW_INITIATOR_IF_REQUEST = frozenset({"exchange", "destination"})


def _is_request(data: bytes) -> bool:
    opcode = UnsecuredMessage.decode(data).protocol.opcode
    return bool(opcode == SecureChannelOpcode.PBKDF_PARAM_REQUEST)


def _decodes(data: bytes) -> bool:
    try:
        UnsecuredMessage.decode(data)
    except (CoreError, ValueError):
        return False
    return True


def _other(rng: _Stream, value: int | None, bits: int) -> int:
    """A value of ``bits`` bits other than ``value``."""
    while True:
        candidate = int.from_bytes(rng.bytes((bits + 7) // 8), "little") & ((1 << bits) - 1)
        if candidate != value:
            return candidate


def _reframe(
    message: UnsecuredMessage,
    header: MessageHeader | None = None,
    proto: ProtocolHeader | None = None,
) -> bytes:
    return UnsecuredMessage(
        header or message.header, proto or message.protocol, message.payload
    ).encode()


def _secured(rng: _Stream, message: UnsecuredMessage, header: MessageHeader) -> bytes:
    """The message under a secured header: the plaintext stands in for ciphertext, and a
    random MIC ends it, as a secured datagram of a session we do not hold would look."""
    return header.encode() + message.protocol.encode() + message.payload + rng.bytes(16)


def _group(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    header = replace(
        message.header,
        session_type=SessionType.GROUP,
        destination_node_id=None,
        destination_group_id=_other(rng, None, 16),
    )
    return _secured(rng, message, header)


def _session_id(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    return _secured(rng, message, replace(message.header, session_id=_other(rng, 0, 16)))


def _exchange(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    proto = replace(message.protocol, exchange_id=_other(rng, message.protocol.exchange_id, 16))
    return _reframe(message, proto=proto)


def _destination(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    if to == COMMISSIONER:
        node = _other(rng, message.header.destination_node_id, 64)
        return _reframe(message, header=replace(message.header, destination_node_id=node))
    # The commissionee has no node id during PASE; a source node other than the
    # initiator's ephemeral one is the mirror image.
    node = _other(rng, message.header.source_node_id, 64)
    return _reframe(message, header=replace(message.header, source_node_id=node))


def _initiator_flag(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    proto = replace(message.protocol, initiator=not message.protocol.initiator)
    return _reframe(message, proto=proto)


def _vendor(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    vendor = 0xFFF1 + rng.below(4)  # the test vendor ids
    return _reframe(message, proto=replace(message.protocol, vendor_id=vendor))


def _protocol(rng: _Stream, message: UnsecuredMessage, to: str) -> bytes:
    proto = replace(message.protocol, protocol_id=ProtocolId.INTERACTION_MODEL)
    return _reframe(message, proto=proto)


def _stray_exchange(rng: _Stream, to: str) -> bytes:
    """A Secure Channel message (StatusReport, MsgCounterSyncReq, a PASE opcode) on an
    exchange nobody opened, from a node nobody knows."""
    opcode = (
        SecureChannelOpcode.STATUS_REPORT,
        SecureChannelOpcode.MSG_COUNTER_SYNC_REQ,
        SecureChannelOpcode.PASE_PAKE1,
        SecureChannelOpcode.PASE_PAKE3,
    )[rng.below(4)]
    payload = (
        StatusReport(
            general_code=1, protocol_id=ProtocolId.SECURE_CHANNEL, protocol_code=2
        ).encode()
        if opcode is SecureChannelOpcode.STATUS_REPORT
        else rng.bytes(rng.below(40))
    )
    header = MessageHeader(
        session_id=0,
        message_counter=_other(rng, None, 32),
        source_node_id=_other(rng, None, 64),
        destination_node_id=_other(rng, None, 64) if to == COMMISSIONER else None,
    )
    proto = ProtocolHeader(
        opcode=int(opcode),
        exchange_id=_other(rng, None, 16),
        initiator=to == COMMISSIONEE,
        needs_ack=bool(rng.below(2)),
    )
    return UnsecuredMessage(header, proto, payload).encode()


_MUTATIONS: dict[str, Callable[[_Stream, UnsecuredMessage, str], bytes]] = {
    "group": _group,
    "session-id": _session_id,
    "exchange": _exchange,
    "destination": _destination,
    "initiator-flag": _initiator_flag,
    "vendor": _vendor,
    "protocol": _protocol,
}
