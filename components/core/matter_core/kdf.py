"""HMAC-SHA256, HKDF-SHA256 and PBKDF2-HMAC-SHA256 in pure Python.

componentize-py's CPython has no OpenSSL, so ``hashlib.pbkdf2_hmac`` is missing there;
``hashlib.sha256`` and ``hmac`` exist. Natively, PBKDF2 uses ``hashlib.pbkdf2_hmac``.
PBKDF2 is the hot spot of a handshake, so the pure loop's HMAC keeps the keyed inner
and outer SHA-256 states and copies them per block instead of re-hashing the padded key
every iteration.
"""

from __future__ import annotations

import hashlib
import hmac

_BLOCK = 64
_DIGEST = 32
_TRANS_36 = bytes(x ^ 0x36 for x in range(256))
_TRANS_5C = bytes(x ^ 0x5C for x in range(256))


class HmacSha256:
    """HMAC-SHA256 keyed once, usable for many messages (precomputed pad states)."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise TypeError("HMAC key must be bytes")
        key = bytes(key)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\x00")
        self._inner = hashlib.sha256(key.translate(_TRANS_36))
        self._outer = hashlib.sha256(key.translate(_TRANS_5C))

    def digest(self, message: bytes) -> bytes:
        """Return HMAC-SHA256(key, message)."""
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Return HMAC-SHA256(key, message) (32 bytes)."""
    return HmacSha256(key).digest(message)


def verify_hmac_sha256(key: bytes, message: bytes, tag: bytes) -> bool:
    """True when ``tag`` is HMAC-SHA256(key, message); compared in constant time."""
    return hmac.compare_digest(hmac_sha256(key, message), bytes(tag))


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869) with SHA-256. An empty salt means 32 zero bytes."""
    return hmac_sha256(salt if salt else bytes(_DIGEST), ikm)


def hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand (RFC 5869) with SHA-256."""
    if not 0 <= length <= 255 * _DIGEST:
        raise ValueError("HKDF output length must be 0..8160 bytes")
    mac = HmacSha256(prk)
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = mac.digest(block + info + bytes([counter]))
        out += block
        counter += 1
    return bytes(out[:length])


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256(IKM, salt, info, L): extract then expand."""
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


#: ``hashlib.pbkdf2_hmac`` where this CPython has it (built with OpenSSL: the core run
#: natively), else None (componentize-py's CPython, where the core component runs). Both
#: compute PBKDF2 as RFC 8018 section 5.2 defines it and give the same bytes; the native
#: one is what keeps a commissioner's handshake with a device using 10,000 iterations
#: from spending most of its time in the interpreter's HMAC loop.
_OPENSSL_PBKDF2 = getattr(hashlib, "pbkdf2_hmac", None)


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    """PBKDF2-HMAC-SHA256 (RFC 8018): OpenSSL's when available, else :func:`pbkdf2_pure`."""
    if iterations < 1:
        raise ValueError("PBKDF2 needs at least one iteration")
    if length < 1:
        raise ValueError("PBKDF2 output length must be positive")
    if _OPENSSL_PBKDF2 is not None:
        return bytes(_OPENSSL_PBKDF2("sha256", bytes(password), bytes(salt), iterations, length))
    return pbkdf2_pure(password, salt, iterations, length)


def pbkdf2_pure(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    """PBKDF2-HMAC-SHA256 (RFC 8018) without OpenSSL (what the core component runs).

    The inner loop XORs blocks as 256-bit integers, which is far cheaper in CPython
    than byte-wise XOR.
    """
    if iterations < 1:
        raise ValueError("PBKDF2 needs at least one iteration")
    if length < 1:
        raise ValueError("PBKDF2 output length must be positive")
    mac = HmacSha256(password)
    inner0, outer0 = mac._inner, mac._outer
    out = bytearray()
    block_index = 1
    while len(out) < length:
        inner = inner0.copy()
        inner.update(salt + block_index.to_bytes(4, "big"))
        outer = outer0.copy()
        outer.update(inner.digest())
        u = outer.digest()
        acc = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            inner = inner0.copy()
            inner.update(u)
            outer = outer0.copy()
            outer.update(inner.digest())
            u = outer.digest()
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(_DIGEST, "big")
        block_index += 1
    return bytes(out[:length])
