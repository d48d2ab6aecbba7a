"""SPAKE2+ over P-256 exactly as Matter PASE uses it (draft-bar-cfrg-spake2plus-01).

Matter follows the draft-01 key schedule (draft-bar-cfrg-spake2plus-01 §4 Key Schedule
and Key Confirmation), not that of RFC 9383 (§3.4 Key Schedule and Key Confirmation): the
hash of the transcript is split into Ka || Ke, the confirmation keys come from
HKDF(Ka, "ConfirmationKeys", 32), and the shared secret is Ke (16 bytes). An RFC 9383
library gives different confirmations.

Roles: the commissioner is the *prover* (knows the passcode, so w0 and w1), the device
is the *verifier* (stores only w0 and L = w1*G). Each party object runs one exchange and
refuses reuse, like a pyca context::

    prover.share() -> X            verifier.share() -> Y
    prover.process_peer_share(Y) -> cA
                                   verifier.process_peer_share(X) -> cB
    prover.verify_peer_confirmation(cB)
                                   verifier.verify_peer_confirmation(cA)
    prover.shared_key == verifier.shared_key == Ke

Errors: calls out of order, reuse and bad local parameters raise LocalProtocolError.
A peer share that does not decode to a valid curve point, is the identity, or cancels
the blinding (``X == w0*M`` / ``Y == w0*N``, which would make Z the identity) raises
:class:`~matter_core.errors.CryptoError`: it is the "crypto" failure kind of the WIT
seam ("invalid point"), and the state machine catches every CoreError anyway. A wrong
confirmation raises ConfirmationError. After any error the party is dead: every later
protocol step raises LocalProtocolError, and :attr:`shared_key` is never handed out.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Final

from matter_core.entropy import EntropySource
from matter_core.errors import (
    ConfirmationError,
    CoreError,
    CryptoError,
    LocalProtocolError,
)
from matter_core.kdf import hkdf_sha256, hmac_sha256, pbkdf2_sha256
from matter_core.p256 import (
    M_BASE,
    N_BASE,
    ORDER,
    M,
    N,
    Point,
    add_multiple,
    base_mult,
    mul_add,
    random_scalar,
    scalar_mult,
    scalar_to_bytes,
)

PBKDF_MIN_ITERATIONS: Final = 1000
"""Fewest PBKDF2 iterations Matter allows (kSpake2p_Min_PBKDF_Iterations)."""
PBKDF_MAX_ITERATIONS: Final = 100000
"""Most PBKDF2 iterations Matter allows (kSpake2p_Max_PBKDF_Iterations)."""
PBKDF_MIN_SALT_SIZE: Final = 16
"""Shortest PBKDF2 salt Matter allows, in bytes."""
PBKDF_MAX_SALT_SIZE: Final = 32
"""Longest PBKDF2 salt Matter allows, in bytes."""
W_HALF_SIZE: Final = 40
"""Bytes of PBKDF2 output per scalar (w0s, w1s): a field element plus 8 bytes."""
VERIFIER_SIZE: Final = 97
"""Bytes in a serialized verifier: w0 (32, big-endian) || L (65, uncompressed)."""
CONFIRMATION_SIZE: Final = 32
"""Bytes in cA and cB (HMAC-SHA256)."""
SHARED_KEY_SIZE: Final = 16
"""Bytes in Ke, the shared secret."""
PASE_CONTEXT_PREFIX: Final = b"CHIP PAKE V1 Commissioning"
"""Prefix hashed before the PBKDF parameter messages to form the PASE context."""
SESSION_KEYS_INFO: Final = b"SessionKeys"
"""HKDF info string deriving the secure-session keys from Ke."""
CONFIRMATION_KEYS_INFO: Final = b"ConfirmationKeys"
"""HKDF info string deriving KcA || KcB from Ka."""

_M_BYTES: Final = M.to_bytes()
_N_BYTES: Final = N.to_bytes()


# --- Passcode to verifier --------------------------------------------------------------


def validate_pbkdf_params(salt: bytes, iterations: int) -> None:
    """Raise LocalProtocolError unless salt is 16..32 bytes and iterations 1000..100000.

    These are CHIP's limits (``ComputeWS``); both roles enforce them.
    """
    if not isinstance(salt, (bytes, bytearray)):
        raise LocalProtocolError("PBKDF salt must be bytes")
    if not PBKDF_MIN_SALT_SIZE <= len(salt) <= PBKDF_MAX_SALT_SIZE:
        unit = "byte" if len(salt) == 1 else "bytes"
        raise LocalProtocolError(
            f"PBKDF salt is {len(salt)} {unit} long; Matter allows "
            f"{PBKDF_MIN_SALT_SIZE}..{PBKDF_MAX_SALT_SIZE} bytes"
        )
    if type(iterations) is not int or not (
        PBKDF_MIN_ITERATIONS <= iterations <= PBKDF_MAX_ITERATIONS
    ):
        raise LocalProtocolError(
            f"PBKDF iterations {iterations!r} outside "
            f"{PBKDF_MIN_ITERATIONS}..{PBKDF_MAX_ITERATIONS}"
        )


def compute_w0_w1(passcode: int, salt: bytes, iterations: int) -> tuple[int, int]:
    """Derive (w0, w1) from a setup passcode.

    Matter Core Specification 1.0, §3.10 Password-Authenticated Key Exchange (PAKE), with
    the PBKDF of §3.9 Password-Based Key Derivation Function (PBKDF) (PBKDF2, RFC 8018
    §5.2):

    ``ws = PBKDF2-HMAC-SHA256(passcode as 4-byte little-endian, salt, iterations, 80)``;
    w0 and w1 are its two 40-byte halves, big-endian, reduced mod n. Only the uint32
    range of the passcode is checked here; which passcodes are valid setup codes is the
    caller's rule.
    """
    if type(passcode) is not int or not 0 <= passcode < 1 << 32:
        raise LocalProtocolError("passcode must be an unsigned 32-bit integer")
    validate_pbkdf_params(salt, iterations)
    ws = pbkdf2_sha256(passcode.to_bytes(4, "little"), bytes(salt), iterations, 2 * W_HALF_SIZE)
    w0 = int.from_bytes(ws[:W_HALF_SIZE], "big") % ORDER
    w1 = int.from_bytes(ws[W_HALF_SIZE:], "big") % ORDER
    return w0, w1


def compute_verifier(passcode: int, salt: bytes, iterations: int) -> bytes:
    """Return the device's stored verifier ``w0 (32 B) || L (65 B)`` with ``L = w1*G``."""
    w0, w1 = compute_w0_w1(passcode, salt, iterations)
    return scalar_to_bytes(w0) + base_mult(w1).to_bytes()


def parse_verifier(data: bytes) -> tuple[int, Point]:
    """Split a 97-byte verifier into (w0, L), validating both.

    Raises LocalProtocolError (the verifier is local configuration) unless the length
    is 97, 0 < w0 < n, and L is a valid non-identity point.
    """
    if len(data) != VERIFIER_SIZE:
        raise LocalProtocolError(f"verifier is {len(data)} bytes, expected {VERIFIER_SIZE}")
    w0 = int.from_bytes(data[:32], "big")
    if not 0 < w0 < ORDER:
        raise LocalProtocolError("verifier w0 is not in 1..n-1")
    try:
        big_l = Point.from_bytes(bytes(data[32:]))
    except CryptoError as exc:
        raise LocalProtocolError(f"verifier L is invalid: {exc}") from exc
    return w0, big_l


# --- PASE glue -------------------------------------------------------------------------


def pase_context(request_tlv: bytes, response_tlv: bytes) -> bytes:
    """SPAKE2+ Context for PASE.

    Matter Core Specification 1.0, §4.13.1 Passcode-Authenticated Session Establishment
    (PASE). The prefix string is CHIP's ``kSpake2pContext``; the Apple Home recording in
    ``tests/vectors`` confirms it.

    ``SHA-256("CHIP PAKE V1 Commissioning" || PBKDFParamRequest || PBKDFParamResponse)``
    over the exact TLV payload bytes as sent or received.
    """
    h = hashlib.sha256(PASE_CONTEXT_PREFIX)
    h.update(request_tlv)
    h.update(response_tlv)
    return h.digest()


@dataclass(frozen=True, slots=True)
class SessionKeys:
    """The keys of a PASE secure session; none of them appears in ``repr``.

    The initiator (commissioner) encrypts with ``i2r`` and decrypts with ``r2i``; the
    responder does the reverse.
    """

    i2r: bytes = field(repr=False)
    r2i: bytes = field(repr=False)
    attestation_challenge: bytes = field(repr=False)


def session_keys(ke: bytes) -> SessionKeys:
    """Derive I2R || R2I || AttestationChallenge from Ke.

    Matter Core Specification 1.0, §4.13.1 Passcode-Authenticated Session Establishment
    (PASE), with the KDF of §3.8 Key Derivation Function (KDF) (HKDF, RFC 5869 §2.2 and
    §2.3):

    ``HKDF-SHA256(IKM=Ke, salt=empty, info="SessionKeys", 48)``, split 16/16/16.
    """
    if len(ke) != SHARED_KEY_SIZE:
        raise CryptoError(f"Ke is {len(ke)} bytes, expected {SHARED_KEY_SIZE}")
    okm = hkdf_sha256(bytes(ke), b"", SESSION_KEYS_INFO, 48)
    return SessionKeys(okm[:16], okm[16:32], okm[32:])


# --- The exchange ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spake2pTranscript:
    """Every value one SPAKE2+ exchange derived, for tests and evidence.

    Points are uncompressed SEC1 bytes and w0 is 32 bytes big-endian, exactly as they
    enter TT. ``ka || ke`` is SHA-256(TT), ``kca || kcb`` the confirmation keys,
    ``ca``/``cb`` the two confirmations. Public values (context, identities, the shares
    and the confirmations, which all cross the wire) appear in ``repr``; secrets (Z, V,
    w0, TT and the keys) do not.
    """

    context: bytes
    id_prover: bytes
    id_verifier: bytes
    X: bytes
    Y: bytes
    Z: bytes = field(repr=False)
    V: bytes = field(repr=False)
    w0: bytes = field(repr=False)
    tt: bytes = field(repr=False)
    ka: bytes = field(repr=False)
    ke: bytes = field(repr=False)
    kca: bytes = field(repr=False)
    kcb: bytes = field(repr=False)
    ca: bytes
    cb: bytes


def _length_prefixed(element: bytes) -> bytes:
    return len(element).to_bytes(8, "little") + element


def _key_schedule(
    context: bytes,
    id_prover: bytes,
    id_verifier: bytes,
    x_share: bytes,
    y_share: bytes,
    z: Point,
    v: Point,
    w0: int,
) -> Spake2pTranscript:
    z_bytes = z.to_bytes()
    v_bytes = v.to_bytes()
    w0_bytes = scalar_to_bytes(w0)
    tt = b"".join(
        _length_prefixed(e)
        for e in (
            context,
            id_prover,
            id_verifier,
            _M_BYTES,
            _N_BYTES,
            x_share,
            y_share,
            z_bytes,
            v_bytes,
            w0_bytes,
        )
    )
    digest = hashlib.sha256(tt).digest()
    ka, ke = digest[:16], digest[16:]
    kc = hkdf_sha256(ka, b"", CONFIRMATION_KEYS_INFO, 32)
    kca, kcb = kc[:16], kc[16:]
    return Spake2pTranscript(
        context=context,
        id_prover=id_prover,
        id_verifier=id_verifier,
        X=x_share,
        Y=y_share,
        Z=z_bytes,
        V=v_bytes,
        w0=w0_bytes,
        tt=tt,
        ka=ka,
        ke=ke,
        kca=kca,
        kcb=kcb,
        ca=hmac_sha256(kca, y_share),
        cb=hmac_sha256(kcb, x_share),
    )


class _State(enum.Enum):
    NEW = "new"
    SHARE_SENT = "share-sent"
    KEYS_DERIVED = "keys-derived"
    CONFIRMED = "confirmed"
    FAILED = "failed"


def _ephemeral_scalar(scalar: int | None, entropy: EntropySource | None) -> int:
    if scalar is None:
        if entropy is None:
            raise LocalProtocolError("share() needs an entropy source or an explicit scalar")
        return random_scalar(entropy)
    if entropy is not None:
        raise LocalProtocolError("share() takes an explicit scalar or an entropy source, not both")
    if type(scalar) is not int or not 0 < scalar < ORDER:
        raise LocalProtocolError("ephemeral scalar must be in 1..n-1")
    return scalar


def _check_secret_scalar(name: str, value: int) -> int:
    if type(value) is not int or not 0 < value < ORDER:
        raise LocalProtocolError(f"{name} must be an int in 1..n-1")
    return value


class _Party:
    """What prover and verifier share: the state guard and the confirmation step."""

    __slots__ = ("_context", "_id_prover", "_id_verifier", "_scalar", "_state", "_transcript")

    _role = "party"

    def __init__(self, context: bytes, id_prover: bytes, id_verifier: bytes) -> None:
        self._context = bytes(context)
        self._id_prover = bytes(id_prover)
        self._id_verifier = bytes(id_verifier)
        self._state = _State.NEW
        self._scalar = 0
        self._transcript: Spake2pTranscript | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state.value}>"

    def _require(self, state: _State, action: str) -> None:
        if self._state is not state:
            raise LocalProtocolError(
                f"SPAKE2+ {self._role}: cannot {action} in state {self._state.value}"
            )

    def _finish_exchange(self, transcript: Spake2pTranscript) -> None:
        self._transcript = transcript
        self._scalar = 0
        self._state = _State.KEYS_DERIVED

    def _confirm(self, expected: bytes, received: bytes, name: str) -> None:
        if not hmac.compare_digest(expected, bytes(received)):
            self._state = _State.FAILED
            raise ConfirmationError(f"SPAKE2+ {self._role}: peer confirmation {name} mismatch")
        self._state = _State.CONFIRMED

    @property
    def transcript(self) -> Spake2pTranscript:
        """All derived values, once the peer share has been processed."""
        if self._transcript is None:
            raise LocalProtocolError(f"SPAKE2+ {self._role}: no transcript yet")
        return self._transcript

    @property
    def shared_key(self) -> bytes:
        """Ke (16 bytes): available only after the peer's confirmation verified."""
        self._require(_State.CONFIRMED, "hand out the shared key")
        assert self._transcript is not None
        return self._transcript.ke

    @property
    def confirmed(self) -> bool:
        """True once the peer's confirmation verified."""
        return self._state is _State.CONFIRMED


class Spake2pProver(_Party):
    """The SPAKE2+ prover (Matter commissioner, PASE initiator): holds w0 and w1."""

    __slots__ = ("_w0", "_w1", "_x_share")

    _role = "prover"

    def __init__(
        self,
        context: bytes,
        w0: int,
        w1: int,
        *,
        id_prover: bytes = b"",
        id_verifier: bytes = b"",
    ) -> None:
        super().__init__(context, id_prover, id_verifier)
        self._w0 = _check_secret_scalar("w0", w0)
        self._w1 = _check_secret_scalar("w1", w1)
        self._x_share = b""

    def share(self, x: int | None = None, *, entropy: EntropySource | None = None) -> bytes:
        """Return X = x*G + w0*M (65 bytes), drawing x from ``entropy`` unless given."""
        self._require(_State.NEW, "create a share")
        self._scalar = _ephemeral_scalar(x, entropy)
        self._x_share = mul_add(self._scalar, self._w0, M_BASE).to_bytes()
        self._state = _State.SHARE_SENT
        return self._x_share

    def process_peer_share(self, y_share: bytes) -> bytes:
        """Take the verifier's Y, derive the keys and return cA = HMAC(KcA, Y)."""
        self._require(_State.SHARE_SENT, "process the peer share")
        y_share = bytes(y_share)
        try:
            unblinded = add_multiple(Point.from_bytes(y_share), -self._w0, N_BASE)
            if unblinded.is_infinity:
                raise CryptoError("invalid SPAKE2+ share: Y equals w0*N")
        except CoreError:
            self._state = _State.FAILED
            raise
        z = scalar_mult(self._scalar, unblinded)
        v = scalar_mult(self._w1, unblinded)
        transcript = _key_schedule(
            self._context,
            self._id_prover,
            self._id_verifier,
            self._x_share,
            y_share,
            z,
            v,
            self._w0,
        )
        self._finish_exchange(transcript)
        return transcript.ca

    def verify_peer_confirmation(self, cb: bytes) -> None:
        """Check the verifier's cB in constant time; raise ConfirmationError on mismatch."""
        self._require(_State.KEYS_DERIVED, "verify the peer confirmation")
        assert self._transcript is not None
        self._confirm(self._transcript.cb, cb, "cB")


class Spake2pVerifier(_Party):
    """The SPAKE2+ verifier (Matter commissionee, the device): holds w0 and L = w1*G."""

    __slots__ = ("_l_point", "_w0", "_y_share")

    _role = "verifier"

    def __init__(
        self,
        context: bytes,
        w0: int,
        big_l: Point,
        *,
        id_prover: bytes = b"",
        id_verifier: bytes = b"",
    ) -> None:
        super().__init__(context, id_prover, id_verifier)
        self._w0 = _check_secret_scalar("w0", w0)
        if not isinstance(big_l, Point) or big_l.is_infinity:
            raise LocalProtocolError("L must be a non-identity P-256 point")
        self._l_point = big_l
        self._y_share = b""

    @classmethod
    def from_verifier(
        cls,
        context: bytes,
        verifier: bytes,
        *,
        id_prover: bytes = b"",
        id_verifier: bytes = b"",
    ) -> Spake2pVerifier:
        """Build a verifier from the stored 97-byte ``w0 || L``."""
        w0, big_l = parse_verifier(verifier)
        return cls(context, w0, big_l, id_prover=id_prover, id_verifier=id_verifier)

    def share(self, y: int | None = None, *, entropy: EntropySource | None = None) -> bytes:
        """Return Y = y*G + w0*N (65 bytes), drawing y from ``entropy`` unless given."""
        self._require(_State.NEW, "create a share")
        self._scalar = _ephemeral_scalar(y, entropy)
        self._y_share = mul_add(self._scalar, self._w0, N_BASE).to_bytes()
        self._state = _State.SHARE_SENT
        return self._y_share

    def process_peer_share(self, x_share: bytes) -> bytes:
        """Take the prover's X, derive the keys and return cB = HMAC(KcB, X).

        The device sends cB before it has seen cA; :attr:`shared_key` stays locked
        until :meth:`verify_peer_confirmation` accepts cA.
        """
        self._require(_State.SHARE_SENT, "process the peer share")
        x_share = bytes(x_share)
        try:
            unblinded = add_multiple(Point.from_bytes(x_share), -self._w0, M_BASE)
            if unblinded.is_infinity:
                raise CryptoError("invalid SPAKE2+ share: X equals w0*M")
        except CoreError:
            self._state = _State.FAILED
            raise
        z = scalar_mult(self._scalar, unblinded)
        v = scalar_mult(self._scalar, self._l_point)
        transcript = _key_schedule(
            self._context,
            self._id_prover,
            self._id_verifier,
            x_share,
            self._y_share,
            z,
            v,
            self._w0,
        )
        self._finish_exchange(transcript)
        return transcript.cb

    def verify_peer_confirmation(self, ca: bytes) -> None:
        """Check the prover's cA in constant time; raise ConfirmationError on mismatch."""
        self._require(_State.KEYS_DERIVED, "verify the peer confirmation")
        assert self._transcript is not None
        self._confirm(self._transcript.ca, ca, "cA")
