"""AES-128 (encryption direction) and AES-CCM in pure Python.

componentize-py's CPython has no OpenSSL, so the secure-session AEAD of Matter
(AES-CCM-128: 16-byte key, 13-byte nonce, 16-byte MIC; Matter Core Specification 1.0,
§3.6 Data Confidentiality and Integrity) is built here from the standard library alone.
CCM (RFC 3610, NIST SP 800-38C) only ever runs the block cipher forwards (CTR for
secrecy, CBC-MAC for the tag), so only the forward cipher exists.

Speed in CPython comes from the classic 32-bit T-table formulation: one round is 16
table lookups and XORs on small ints, with the round keys expanded once per key object.
The tables are computed at import from the S-box (itself derived from GF(2^8)
arithmetic) rather than pasted, which costs well under a millisecond.

Table-driven AES is not constant-time with respect to cache timing, and nothing in a
CPython interpreter is. The MIC comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
import struct

from matter_core.errors import CryptoError

BLOCK_SIZE = 16
KEY_SIZE = 16
MATTER_NONCE_SIZE = 13
MATTER_TAG_SIZE = 16

_MASK32 = 0xFFFFFFFF

BytesLike = bytes | bytearray | memoryview
"""Byte inputs accepted by this module (copied to ``bytes`` on entry)."""


def _build_tables() -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """Derive the S-box and the four encryption T-tables (FIPS-197 5.1.1, 5.2)."""
    # exp/log tables over GF(2^8) with generator 3 make inversion a table lookup.
    exp = [0] * 255
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x ^= (x << 1) ^ (0x11B if x & 0x80 else 0)
    sbox = [0] * 256
    for a in range(256):
        inv = exp[(255 - log[a]) % 255] if a else 0
        s = inv
        for shift in range(1, 5):
            s ^= ((inv << shift) | (inv >> (8 - shift))) & 0xFF
        sbox[a] = s ^ 0x63
    t0 = [0] * 256
    for a in range(256):
        s = sbox[a]
        s2 = ((s << 1) ^ (0x11B if s & 0x80 else 0)) & 0xFF
        # Column (2s, s, s, 3s): MixColumns applied to an S-box output in row 0.
        t0[a] = (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)
    t1 = [((w >> 8) | (w << 24)) & _MASK32 for w in t0]
    t2 = [((w >> 8) | (w << 24)) & _MASK32 for w in t1]
    t3 = [((w >> 8) | (w << 24)) & _MASK32 for w in t2]
    return sbox, t0, t1, t2, t3


_SBOX, _T0, _T1, _T2, _T3 = _build_tables()
# The last round has no MixColumns: S-box bytes already shifted into place.
_S24 = [s << 24 for s in _SBOX]
_S16 = [s << 16 for s in _SBOX]
_S8 = [s << 8 for s in _SBOX]


def _check_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    return bytes(value)


_Words = tuple[int, int, int, int]
# Round keys as (initial AddRoundKey, the nine full rounds, the final round).
_Schedule = tuple[_Words, tuple[_Words, ...], _Words]


def _expand_key(key: bytes) -> _Schedule:
    """AES-128 key schedule (FIPS-197 5.2): 44 words grouped per round."""
    w = list(struct.unpack(">4I", key))
    rcon = 1
    for i in range(4, 44):
        t = w[i - 1]
        if i % 4 == 0:
            t = (
                (_SBOX[(t >> 16) & 0xFF] << 24)
                | (_SBOX[(t >> 8) & 0xFF] << 16)
                | (_SBOX[t & 0xFF] << 8)
                | _SBOX[t >> 24]
            ) ^ (rcon << 24)
            rcon = ((rcon << 1) ^ (0x11B if rcon & 0x80 else 0)) & 0xFF
        w.append(w[i - 4] ^ t)
    rounds = [(w[i], w[i + 1], w[i + 2], w[i + 3]) for i in range(0, 44, 4)]
    return rounds[0], tuple(rounds[1:10]), rounds[10]


def _encrypt_words(schedule: _Schedule, s0: int, s1: int, s2: int, s3: int) -> _Words:
    """Encrypt one block given as four big-endian 32-bit words."""
    # Short aliases keep each round expression on one line.
    e0, e1, e2, e3 = _T0, _T1, _T2, _T3
    first, rounds, last = schedule
    s0 ^= first[0]
    s1 ^= first[1]
    s2 ^= first[2]
    s3 ^= first[3]
    for k0, k1, k2, k3 in rounds:
        s0, s1, s2, s3 = (
            e0[s0 >> 24] ^ e1[(s1 >> 16) & 255] ^ e2[(s2 >> 8) & 255] ^ e3[s3 & 255] ^ k0,
            e0[s1 >> 24] ^ e1[(s2 >> 16) & 255] ^ e2[(s3 >> 8) & 255] ^ e3[s0 & 255] ^ k1,
            e0[s2 >> 24] ^ e1[(s3 >> 16) & 255] ^ e2[(s0 >> 8) & 255] ^ e3[s1 & 255] ^ k2,
            e0[s3 >> 24] ^ e1[(s0 >> 16) & 255] ^ e2[(s1 >> 8) & 255] ^ e3[s2 & 255] ^ k3,
        )
    u24, u16, u8, u0 = _S24, _S16, _S8, _SBOX
    k0, k1, k2, k3 = last
    return (
        u24[s0 >> 24] ^ u16[(s1 >> 16) & 255] ^ u8[(s2 >> 8) & 255] ^ u0[s3 & 255] ^ k0,
        u24[s1 >> 24] ^ u16[(s2 >> 16) & 255] ^ u8[(s3 >> 8) & 255] ^ u0[s0 & 255] ^ k1,
        u24[s2 >> 24] ^ u16[(s3 >> 16) & 255] ^ u8[(s0 >> 8) & 255] ^ u0[s1 & 255] ^ k2,
        u24[s3 >> 24] ^ u16[(s0 >> 16) & 255] ^ u8[(s1 >> 8) & 255] ^ u0[s2 & 255] ^ k3,
    )


class Aes128:
    """The AES-128 forward block cipher (FIPS-197), keyed once."""

    __slots__ = ("_schedule",)

    def __init__(self, key: BytesLike) -> None:
        key = _check_bytes("key", key)
        if len(key) != KEY_SIZE:
            raise ValueError(f"AES-128 key must be 16 bytes, got {len(key)}")
        self._schedule = _expand_key(key)

    def encrypt_block(self, block: BytesLike) -> bytes:
        """Encrypt one 16-byte block."""
        block = _check_bytes("block", block)
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"AES block must be 16 bytes, got {len(block)}")
        return struct.pack(">4I", *_encrypt_words(self._schedule, *struct.unpack(">4I", block)))


class AesCcm:
    """AES-CCM with a 128-bit key (RFC 3610, NIST SP 800-38C), pyca-style.

    Matter uses a 13-byte nonce and a 16-byte tag; other valid parameters (nonce
    7..13 bytes, tag 4..16 bytes and even) work too. ``encrypt`` returns
    ciphertext || tag; ``decrypt`` raises :class:`CryptoError` when the tag does not
    verify, and then returns no plaintext.
    """

    __slots__ = ("_schedule", "_tag_length")

    def __init__(self, key: BytesLike, tag_length: int = MATTER_TAG_SIZE) -> None:
        key = _check_bytes("key", key)
        if not isinstance(tag_length, int) or isinstance(tag_length, bool):
            raise TypeError("tag_length must be an int")
        if len(key) != KEY_SIZE:
            raise ValueError(f"AES-CCM-128 key must be 16 bytes, got {len(key)}")
        if tag_length not in (4, 6, 8, 10, 12, 14, 16):
            raise ValueError("tag_length must be one of 4, 6, 8, 10, 12, 14, 16")
        self._schedule = _expand_key(key)
        self._tag_length = tag_length

    @property
    def tag_length(self) -> int:
        """Length in bytes of the MIC appended to every ciphertext."""
        return self._tag_length

    def encrypt(
        self, nonce: BytesLike, plaintext: BytesLike, aad: BytesLike | None = None
    ) -> bytes:
        """Return ciphertext || tag for ``plaintext`` authenticated with ``aad``."""
        nonce, plaintext, aad = self._check_args(nonce, plaintext, aad)
        tag = self._mac(nonce, plaintext, aad)
        stream = self._keystream(nonce, len(plaintext) + BLOCK_SIZE)
        s0 = stream[:BLOCK_SIZE]
        return _xor(plaintext, stream[BLOCK_SIZE:]) + _xor(tag, s0)[: self._tag_length]

    def decrypt(self, nonce: BytesLike, data: BytesLike, aad: BytesLike | None = None) -> bytes:
        """Return the plaintext of ciphertext || tag, or raise :class:`CryptoError`."""
        nonce, data, aad = self._check_args(nonce, data, aad)
        if len(data) < self._tag_length:
            raise CryptoError("AES-CCM data shorter than the tag")
        split = len(data) - self._tag_length
        ciphertext, received = data[:split], data[split:]
        stream = self._keystream(nonce, split + BLOCK_SIZE)
        plaintext = _xor(ciphertext, stream[BLOCK_SIZE:])
        expected = _xor(self._mac(nonce, plaintext, aad), stream[:BLOCK_SIZE])
        if not hmac.compare_digest(expected[: self._tag_length], received):
            raise CryptoError("AES-CCM tag mismatch")
        return plaintext

    def _check_args(self, nonce: object, data: object, aad: object) -> tuple[bytes, bytes, bytes]:
        nonce_b = _check_bytes("nonce", nonce)
        data_b = _check_bytes("data", data)
        aad_b = b"" if aad is None else _check_bytes("aad", aad)
        if not 7 <= len(nonce_b) <= 13:
            raise ValueError(f"AES-CCM nonce must be 7..13 bytes, got {len(nonce_b)}")
        # The message length field has L = 15 - len(nonce) bytes.
        if len(data_b) >= 1 << (8 * (15 - len(nonce_b))):
            raise ValueError("AES-CCM message too long for this nonce length")
        return nonce_b, data_b, aad_b

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        """CTR blocks A_0, A_1, ... encrypted; A_0 yields the tag mask S_0."""
        q = 15 - len(nonce)
        base = int.from_bytes(bytes([q - 1]) + nonce + bytes(q), "big")
        schedule = self._schedule
        words: list[int] = []
        for i in range((length + BLOCK_SIZE - 1) // BLOCK_SIZE):
            a = base | i
            words.extend(
                _encrypt_words(
                    schedule, a >> 96, (a >> 64) & _MASK32, (a >> 32) & _MASK32, a & _MASK32
                )
            )
        return struct.pack(f">{len(words)}I", *words)[:length]

    def _mac(self, nonce: bytes, message: bytes, aad: bytes) -> bytes:
        """CBC-MAC T over B_0, the encoded AAD and the message (RFC 3610 2.2)."""
        q = 15 - len(nonce)
        flags = (0x40 if aad else 0) | (((self._tag_length - 2) // 2) << 3) | (q - 1)
        parts = [bytes([flags]), nonce, len(message).to_bytes(q, "big")]
        if aad:
            n = len(aad)
            if n < 0xFF00:
                encoded_len = n.to_bytes(2, "big")
            elif n < 1 << 32:
                encoded_len = b"\xff\xfe" + n.to_bytes(4, "big")
            else:
                encoded_len = b"\xff\xff" + n.to_bytes(8, "big")
            parts += (encoded_len, aad, bytes(-(len(encoded_len) + n) % BLOCK_SIZE))
        parts.append(message)
        parts.append(bytes(-len(message) % BLOCK_SIZE))
        blob = b"".join(parts)
        words = struct.unpack(f">{len(blob) // 4}I", blob)
        schedule = self._schedule
        x0 = x1 = x2 = x3 = 0
        for i in range(0, len(words), 4):
            x0, x1, x2, x3 = _encrypt_words(
                schedule, x0 ^ words[i], x1 ^ words[i + 1], x2 ^ words[i + 2], x3 ^ words[i + 3]
            )
        return struct.pack(">4I", x0, x1, x2, x3)


def _xor(a: bytes, b: bytes) -> bytes:
    """XOR ``a`` with the first len(a) bytes of ``b`` (as one big integer: fast in CPython)."""
    n = len(a)
    if n == 0:
        return b""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b[:n], "big")).to_bytes(n, "big")


def matter_nonce(security_flags: int, counter: int, source_node_id: int) -> bytes:
    """The 13-byte Matter message nonce.

    Security flags (1 byte) || message counter (u32 LE) || source node id (u64 LE), as
    Matter Core Specification 1.0, §4.7 Message Security builds it (CHIP
    ``CryptoContext::BuildNonce``). PASE sessions use source node id 0, the unspecified
    node id: a PASE session has no operational node ids (CHIP ``SessionManager``).
    """
    for name, value, bits in (
        ("security_flags", security_flags, 8),
        ("counter", counter, 32),
        ("source_node_id", source_node_id, 64),
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int")
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{name} out of range for {bits} bits")
    return (
        security_flags.to_bytes(1, "little")
        + counter.to_bytes(4, "little")
        + source_node_id.to_bytes(8, "little")
    )
