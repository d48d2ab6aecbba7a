"""The secure session PASE establishes: sealing and opening Matter messages.

Keys stay inside this object; callers hand in plaintext and get datagrams back (and the
reverse), which is how the component proves a session without keys crossing the seam.
Per Matter Core Specification 1.0, §4.7 Message Security and §4.13.1
Passcode-Authenticated Session Establishment (PASE): the initiator encrypts with I2R and
decrypts with R2I, the responder the reverse; the header's session id is the receiver's;
the nonce is security flags || counter || node id 0 (PASE); the AAD is the header exactly
as on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from matter_core.aes_ccm import AesCcm, matter_nonce
from matter_core.errors import CryptoError, DecodeError, LocalProtocolError, RemoteProtocolError
from matter_core.message import (
    MessageHeader,
    ProtocolHeader,
    ProtocolId,
    SecureChannelOpcode,
    SecuredMessage,
    decode_protocol_payload,
    encode_protocol_payload,
)
from matter_core.spake2p import SessionKeys

# PASE sessions use the undefined node id in the nonce (SessionManager.cpp).
PASE_NONCE_NODE_ID = 0


@dataclass(frozen=True)
class ReceivedFrame:
    """An authenticated secured message with what MRP needs: its protocol header and
    whether its counter was seen before (a duplicate, to be dropped and re-acked)."""

    message: OpenedMessage
    protocol: ProtocolHeader
    duplicate: bool


@dataclass(frozen=True)
class OpenedMessage:
    """A message opened on the secure session."""

    protocol_id: int
    opcode: int
    exchange_id: int
    payload: bytes
    message_counter: int


class SecureSession:
    """One established PASE session: encrypt outgoing and decrypt incoming messages."""

    def __init__(
        self,
        *,
        initiator: bool,
        keys: SessionKeys,
        local_session_id: int,
        peer_session_id: int,
        counter: int,
    ) -> None:
        encrypt_key, decrypt_key = (keys.i2r, keys.r2i) if initiator else (keys.r2i, keys.i2r)
        self._encrypt = AesCcm(encrypt_key)
        self._decrypt = AesCcm(decrypt_key)
        self.initiator = initiator
        self.local_session_id = local_session_id
        self.peer_session_id = peer_session_id
        self._counter = counter
        self._highest_received: int | None = None

    def seal(
        self,
        protocol_id: int,
        opcode: int,
        payload: bytes,
        exchange_id: int,
        *,
        initiator: bool = True,
        ack_counter: int | None = None,
        needs_ack: bool = False,
    ) -> bytes:
        """Encrypt one message for the peer; returns the datagram.

        ``needs_ack`` sets the R flag (Matter Core Specification 1.3, section 4.12.2): the
        peer then acknowledges the message. Retransmitting it is the caller's business.
        """
        counter = self._counter
        if counter > 0xFFFFFFFF:
            # Wrapping to 0 would make the peer reject every later message as a replay:
            # the session has to be replaced instead.
            raise LocalProtocolError("message counter exhausted: establish a new session")
        self._counter += 1
        header = MessageHeader(session_id=self.peer_session_id, message_counter=counter)
        proto = ProtocolHeader(
            opcode=opcode,
            exchange_id=exchange_id,
            protocol_id=protocol_id,
            initiator=initiator,
            ack_counter=ack_counter,
            needs_ack=needs_ack,
        )
        header_bytes = header.encode()
        nonce = matter_nonce(header.security_flags, counter, PASE_NONCE_NODE_ID)
        sealed = self._encrypt.encrypt(nonce, encode_protocol_payload(proto, payload), header_bytes)
        return header_bytes + sealed

    @property
    def last_counter(self) -> int:
        """The message counter of the last sealed message."""
        return self._counter - 1

    def seal_ack(self, exchange_id: int, initiator: bool, ack_counter: int) -> bytes:
        """A secured standalone acknowledgement of the peer's message ``ack_counter`` on
        its exchange (Matter Core Specification 1.3, section 4.12.2.2): ``initiator`` is
        our side's I flag on that exchange, the opposite of the acked message's."""
        return self.seal(
            ProtocolId.SECURE_CHANNEL,
            SecureChannelOpcode.STANDALONE_ACK,
            b"",
            exchange_id,
            initiator=initiator,
            ack_counter=ack_counter,
        )

    def open(self, datagram: bytes) -> OpenedMessage:
        """Decrypt one message from the peer, or raise a CoreError (a replayed counter too)."""
        frame = self.open_frame(datagram)
        if frame.duplicate:
            raise RemoteProtocolError(
                f"replayed or stale message counter {frame.message.message_counter}"
            )
        return frame.message

    def open_frame(self, datagram: bytes) -> ReceivedFrame:
        """Authenticate and decrypt one message from the peer; a counter at or below the
        highest seen is reported as a duplicate (after authentication, so a forged
        header cannot make us acknowledge anything)."""
        message = SecuredMessage.split(datagram)
        header = message.header
        if header.session_id != self.local_session_id:
            raise RemoteProtocolError(
                f"message for session {header.session_id}, ours is {self.local_session_id}"
            )
        counter = header.message_counter
        nonce = matter_nonce(header.security_flags, counter, PASE_NONCE_NODE_ID)
        try:
            plaintext = self._decrypt.decrypt(
                nonce, message.ciphertext + message.mic, message.header_bytes
            )
        except CryptoError:
            raise CryptoError("secured message failed authentication (MIC mismatch)") from None
        try:
            proto, payload = decode_protocol_payload(plaintext)
        except DecodeError as exc:
            raise DecodeError(f"secured message has a bad protocol header: {exc}") from None
        duplicate = self._highest_received is not None and counter <= self._highest_received
        if not duplicate:
            self._highest_received = counter
        opened = OpenedMessage(proto.protocol_id, proto.opcode, proto.exchange_id, payload, counter)
        return ReceivedFrame(opened, proto, duplicate)
