"""Strict Ed25519 verification: the checks libsodium makes before the curve arithmetic.

Implementations of RFC 8032 (section 5.1.7) differ on edge cases ("Taming the many
EdDSAs", Chalkias, Garillot and Nikolaenko, SSR 2020, whose 12 edge-case vectors the
tests replay). OpenSSL, which does the arithmetic here (through ``cryptography``),
accepts small-order keys, for which anyone can forge signatures, and a non-canonical key
encoding. So, before OpenSSL sees them, we refuse, as libsodium's
``crypto_sign_verify_detached`` does:

* a public key ``A`` or signature point ``R`` of *small order* (an order dividing 8, the
  curve's cofactor): with ``A`` the identity, ``R`` the identity and ``S = 0`` "verify"
  any message; such a key proves nothing about who signed. Refused in every encoding,
  the non-canonical ones included (the sign bit is ignored; ``y = p`` and ``y = p + 1``);
* a non-canonical point encoding, ``y >= p`` (RFC 8032, section 5.1.3, step 1);
* a non-canonical scalar, ``S >= L`` (RFC 8032, section 5.1.7, step 1): ``S + L`` would
  be a second valid signature of the same message (malleability);
* a public key that is not the encoding of a curve point at all (section 5.1.3, steps
  2-4; OpenSSL only notices when it verifies).

Keys of *mixed* order (a large-order point plus a small-order one) are accepted, as in
libsodium; OpenSSL's cofactorless equation then decides (the paper's vectors 3 and 4).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

P = 2**255 - 19
"""The field prime p (RFC 8032, section 5.1)."""
L = 2**252 + 27742317777372353535851937790883648493
"""The order of the base point, and of the prime-order subgroup (RFC 8032, section 5.1)."""
D = -121665 * pow(121666, P - 2, P) % P
"""The curve constant d = -121665/121666 (RFC 8032, section 5.1)."""

_Y_MASK = (1 << 255) - 1
# The y coordinates of the 8 points whose order divides 8 (the torsion subgroup, cyclic
# of order 8): y = 1, the identity (x = 0); y = -1, order 2 (x = 0); y = 0, the two points
# of order 4 (x = +-sqrt(-1)); y = +-Y8, the four points of order 8 (two x each). These
# are the y values of libsodium's blocklist in ge25519_has_small_order.
_Y8 = 0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826
_SMALL_ORDER: dict[int, int] = {1: 1, P - 1: 2, 0: 4, _Y8: 8, P - _Y8: 8}
# ... and their non-canonical encodings y + p, where that still fits in 255 bits.
_SMALL_ORDER.update({y + P: order for y, order in list(_SMALL_ORDER.items()) if y + P <= _Y_MASK})


def encoded_y(encoding: bytes) -> int:
    """The y coordinate an encoded point states: little-endian, without the sign bit."""
    return int.from_bytes(encoding, "little") & _Y_MASK


def small_order(encoding: bytes) -> int | None:
    """The order (1, 2, 4 or 8) of the point ``encoding`` names, if it is a small one.

    Every encoding counts: either sign bit, and ``y >= p`` forms. None for any other
    point (and for bytes that are no point at all).
    """
    return _SMALL_ORDER.get(encoded_y(encoding))


def is_canonical(encoding: bytes) -> bool:
    """Whether the encoded y is below p (RFC 8032, section 5.1.3, step 1)."""
    return encoded_y(encoding) < P


def is_curve_point(encoding: bytes) -> bool:
    """Whether ``encoding`` decodes to a point (RFC 8032, section 5.1.3, steps 1-4)."""
    if len(encoding) != 32 or not is_canonical(encoding):
        return False
    y = encoded_y(encoding)
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x2 = u * pow(v, P - 2, P) % P
    if x2 == 0:  # x = 0: with the sign bit set this is "-0", which step 4 refuses
        return encoding[31] >> 7 == 0
    return pow(x2, (P - 1) // 2, P) == 1  # Euler's criterion: x^2 has a square root


def point_problem(encoding: bytes) -> str | None:
    """Why strict Ed25519 refuses ``encoding`` as a point (``A`` or ``R``); None if it
    does not. Small order is reported before non-canonical encoding."""
    if len(encoding) != 32:
        return f"{len(encoding)} bytes, not 32"
    order = small_order(encoding)
    if order is not None:
        what = "the identity" if order == 1 else f"of order {order}"
        return f"a point of small order ({what})"
    if not is_canonical(encoding):
        return "a non-canonical point encoding (y >= p)"
    return None


def signature_problem(signature: bytes) -> str | None:
    """Why strict Ed25519 refuses ``signature`` whatever the key and message; or None.

    Checked: the length, ``S < L``, and that ``R`` is neither small-order nor
    non-canonically encoded.
    """
    if len(signature) != 64:
        return f"the signature is {len(signature)} bytes, not 64"
    if int.from_bytes(signature[32:], "little") >= L:
        return "its S is not reduced (S >= L, the group order)"
    problem = point_problem(signature[:32])
    if problem is not None:
        return f"its R is {problem}"
    return None


def verify_strict(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Strict Ed25519: whether ``signature`` is a valid signature of ``message`` by
    ``public_key`` (32 bytes) and none of the checks above refuses it."""
    if point_problem(public_key) is not None or not is_curve_point(public_key):
        return False
    if signature_problem(signature) is not None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True
