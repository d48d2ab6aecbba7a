"""The core's error types.

Every failure inside the core is one of these. Each error carries the StatusReport it
maps to on the wire (general code and secure-channel protocol code), so the state
machines can answer a peer without a second lookup table, and the component glue can
turn any failure into a WIT error value instead of a trap.

The split follows h11: :class:`RemoteProtocolError` means the peer broke the rules (bad
bytes, wrong message, failed confirmation), :class:`LocalProtocolError` means we were
asked to do something the protocol does not allow (bad passcode, salt out of range,
sealing before the session exists).
"""

from __future__ import annotations

# StatusReport general codes (Matter Core Specification 1.0, Appendix D Status Report
# Messages; CHIP ``GeneralStatusCode`` in ``protocols/secure_channel/Constants.h``).
GENERAL_SUCCESS = 0
GENERAL_FAILURE = 1
GENERAL_BAD_PRECONDITION = 2
GENERAL_INVALID_ARGUMENT = 12
GENERAL_TIMEOUT = 9

# Secure-channel protocol codes of a StatusReport (Matter Core Specification 1.0, the
# protocol codes of the Secure Channel Protocol section; CHIP ``kProtocolCode*`` in
# ``protocols/secure_channel/Constants.h``).
PROTOCOL_SESSION_ESTABLISHMENT_SUCCESS = 0x0000
PROTOCOL_NO_SHARED_TRUST_ROOTS = 0x0001
PROTOCOL_INVALID_PARAMETER = 0x0002
PROTOCOL_CLOSE_SESSION = 0x0003
PROTOCOL_BUSY = 0x0004
PROTOCOL_SESSION_NOT_FOUND = 0x0005


class CoreError(Exception):
    """Base of every error the core raises.

    ``general_code`` and ``protocol_code`` are the StatusReport the core sends (or would
    send) because of this error. ``kind`` is a short stable name used across the WIT seam.
    """

    kind = "internal"

    def __init__(
        self,
        message: str,
        *,
        general_code: int = GENERAL_FAILURE,
        protocol_code: int = PROTOCOL_INVALID_PARAMETER,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.general_code = general_code
        self.protocol_code = protocol_code

    def __str__(self) -> str:
        return self.message


class DecodeError(CoreError):
    """Bytes that do not decode: truncated, bad length, wrong type, trailing data."""

    kind = "decode"


class RemoteProtocolError(CoreError):
    """The peer broke the protocol: unexpected message, bad field, failed check."""

    kind = "protocol"


class ConfirmationError(RemoteProtocolError):
    """SPAKE2+ key confirmation failed: the peer's cA/cB did not verify (wrong passcode)."""

    kind = "confirmation-failed"


class PeerStatusError(RemoteProtocolError):
    """The peer sent a failure StatusReport."""

    kind = "peer-status"


class LocalProtocolError(CoreError):
    """We were asked to do something the protocol forbids (bad parameters, wrong state)."""

    kind = "invalid-argument"


class HandshakeTimeout(CoreError):
    """The handshake did not finish before its deadline (retransmissions exhausted)."""

    kind = "timeout"

    def __init__(self, message: str) -> None:
        super().__init__(
            message, general_code=GENERAL_TIMEOUT, protocol_code=PROTOCOL_INVALID_PARAMETER
        )


class CryptoError(CoreError):
    """A cryptographic check failed: MIC mismatch, invalid point, bad key length."""

    kind = "crypto"


class WrongStateError(LocalProtocolError):
    """The call is not allowed in the session's current state (e.g. seal before PASE)."""

    kind = "wrong-state"
