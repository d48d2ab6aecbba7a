"""Tests for matter_core.p256: differentials against pyca/cryptography, encodings, edges."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core import p256
from matter_core.errors import CryptoError
from matter_core.p256 import (
    FIELD_PRIME,
    INFINITY,
    M_BASE,
    N_BASE,
    ORDER,
    FixedBase,
    G,
    M,
    N,
    Point,
    add_multiple,
    base_mult,
    mul_add,
    point_add,
    point_negate,
    random_scalar,
    scalar_from_bytes,
    scalar_mult,
    scalar_to_bytes,
)
from vectors import load_vectors

scalars = st.integers(min_value=1, max_value=ORDER - 1)
# Scalars near the edges of the recodings: tiny, near n, near 2^k boundaries.
EDGE_SCALARS = [
    *range(1, 40),
    *(ORDER - i for i in range(1, 40)),
    *(1 << i for i in (31, 32, 33, 63, 64, 127, 128, 224, 255)),
    *((1 << i) - 1 for i in (32, 64, 128, 224, 255)),
    (ORDER - 1) // 2,
    (ORDER + 1) // 2,
    (1 << 256) - 1 - ORDER,
]


def _pyca_point(k: int) -> Point:
    """k*G according to OpenSSL, via cryptography's key derivation."""
    numbers = ec.derive_private_key(k, ec.SECP256R1()).public_key().public_numbers()
    return Point(numbers.x, numbers.y)


class _ListEntropy:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)
        self.calls: list[int] = []

    def random_bytes(self, n: int) -> bytes:
        self.calls.append(n)
        return self.chunks.pop(0)


# --- Constants ---------------------------------------------------------------------


def test_generator_and_order_match_pyca() -> None:
    assert _pyca_point(1) == G
    assert base_mult(ORDER) == INFINITY
    assert scalar_mult(ORDER, G) == INFINITY
    assert hex(ORDER)[2:] == load_vectors()["constants"]["P256_order"]


def test_m_and_n_match_the_uncompressed_vectors() -> None:
    constants = load_vectors()["constants"]
    assert M.to_bytes().hex() == constants["M_uncompressed"]
    assert N.to_bytes().hex() == constants["N_uncompressed"]
    assert Point.from_bytes(bytes.fromhex(constants["M_uncompressed"])) == M
    assert Point.from_bytes(bytes.fromhex(constants["N_compressed"]), allow_compressed=True) == N


def test_curve_constants() -> None:
    assert p256.A == FIELD_PRIME - 3
    # b from SEC 2; G must satisfy y^2 = x^3 - 3x + b.
    assert (G.y * G.y - (G.x**3 - 3 * G.x + p256.B)) % FIELD_PRIME == 0


# --- Multiplication against cryptography --------------------------------------------


@pytest.mark.parametrize("k", EDGE_SCALARS)
def test_edge_scalars_fixed_and_variable_base(k: int) -> None:
    expected = _pyca_point(k)
    assert base_mult(k) == expected
    assert scalar_mult(k, G) == expected


@settings(max_examples=40, deadline=None)
@given(k=scalars)
def test_base_mult_matches_pyca(k: int) -> None:
    assert base_mult(k) == _pyca_point(k)


@settings(max_examples=40, deadline=None)
@given(k=scalars, q=scalars)
def test_variable_base_matches_pyca(k: int, q: int) -> None:
    # Q = q*G is a random point; k*Q = (k*q mod n)*G, which OpenSSL computes independently.
    point_q = _pyca_point(q)
    assert scalar_mult(k, point_q) == _pyca_point(k * q % ORDER)


@settings(max_examples=30, deadline=None)
@given(k=scalars)
def test_variable_base_x_matches_pyca_ecdh(k: int) -> None:
    peer = ec.generate_private_key(ec.SECP256R1())
    numbers = peer.public_key().public_numbers()
    shared_x = ec.derive_private_key(k, ec.SECP256R1()).exchange(ec.ECDH(), peer.public_key())
    assert scalar_mult(k, Point(numbers.x, numbers.y)).x.to_bytes(32, "big") == shared_x


@settings(max_examples=30, deadline=None)
@given(k=scalars, w=scalars)
def test_fixed_bases_m_n_and_combined(k: int, w: int) -> None:
    assert M_BASE.multiply(w) == scalar_mult(w, M)
    assert N_BASE.multiply(w) == scalar_mult(w, N)
    expected = point_add(_pyca_point(k), scalar_mult(w, M))
    assert mul_add(k, w, M_BASE) == expected
    assert add_multiple(_pyca_point(k), w, N_BASE) == point_add(_pyca_point(k), N_BASE.multiply(w))


@settings(max_examples=30, deadline=None)
@given(a=scalars, b=scalars)
def test_point_add_matches_pyca(a: int, b: int) -> None:
    assert point_add(_pyca_point(a), _pyca_point(b)) == base_mult(a + b)


def test_scalar_reduction_and_identity() -> None:
    assert base_mult(0) == INFINITY
    assert scalar_mult(0, G) == INFINITY
    assert scalar_mult(5, INFINITY) == INFINITY
    assert base_mult(ORDER + 7) == _pyca_point(7)
    assert scalar_mult(-1, G) == point_negate(G)
    assert mul_add(0, 0, M_BASE) == INFINITY
    assert mul_add(3, 0, M_BASE) == _pyca_point(3)
    assert add_multiple(INFINITY, 2, M_BASE) == scalar_mult(2, M)


def test_combined_edge_cases_cancel_to_identity() -> None:
    # 5*G + w*M where w*M = -5*G: the accumulator must pass through the identity cleanly.
    w = 12345
    target = point_negate(scalar_mult(w, M))
    assert add_multiple(target, w, M_BASE) == INFINITY
    assert add_multiple(scalar_mult(w, M), w, M_BASE) == scalar_mult(2 * w, M)


def test_point_add_special_cases() -> None:
    two_g = _pyca_point(2)
    assert point_add(G, G) == two_g
    assert point_add(G, point_negate(G)) == INFINITY
    assert point_add(INFINITY, G) == G
    assert point_add(G, INFINITY) == G
    assert point_negate(INFINITY) == INFINITY


def _jacobian(point: Point, z: int) -> tuple[int, int, int]:
    """The same point with Jacobian coordinate Z = z."""
    return point.x * z * z % FIELD_PRIME, point.y * z**3 % FIELD_PRIME, z


def test_jacobian_addition_special_cases() -> None:
    # The full Jacobian addition only meets these cases on unusual inputs, so drive it
    # directly: equal points in different representations, opposite points, identity.
    a, b = _jacobian(G, 5), _jacobian(G, 7)
    assert p256._to_affine(*p256._add(*a, *b)) == _pyca_point(2)
    minus = _jacobian(point_negate(G), 11)
    assert p256._to_affine(*p256._add(*a, *minus)) == INFINITY
    identity = (1, 1, 0)
    assert p256._to_affine(*p256._add(*identity, *b)) == G
    assert p256._to_affine(*p256._add(*a, *identity)) == G
    three = _jacobian(_pyca_point(3), 13)
    assert p256._to_affine(*p256._add(*a, *three)) == _pyca_point(4)


def test_fixed_base_rejects_identity_and_builds_lazily() -> None:
    with pytest.raises(CryptoError):
        FixedBase(INFINITY)
    base = FixedBase(_pyca_point(99))
    assert base._table is None
    base.prepare()
    table = base._table
    assert table is not None and len(table) == 128
    base.prepare()
    assert base._table is table
    assert base.multiply(3) == _pyca_point(297)


# --- Encoding ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(k=scalars)
def test_encode_decode_round_trip(k: int) -> None:
    point = base_mult(k)
    public_key = ec.derive_private_key(k, ec.SECP256R1()).public_key()
    pyca_bytes = public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert point.to_bytes() == pyca_bytes
    assert Point.from_bytes(pyca_bytes) == point
    compressed = bytes([2 + (point.y & 1)]) + point.x.to_bytes(32, "big")
    assert Point.from_bytes(compressed, allow_compressed=True) == point


def _valid_encoding() -> bytes:
    return _pyca_point(1234567).to_bytes()


def _small_x_point() -> Point:
    """A point whose x is small enough that x + p still fits in 32 bytes."""
    for x in range(1, 1000):
        rhs = (x**3 - 3 * x + p256.B) % FIELD_PRIME
        y = pow(rhs, (FIELD_PRIME + 1) // 4, FIELD_PRIME)
        if y * y % FIELD_PRIME == rhs:
            return Point(x, y)
    raise AssertionError("no small-x point found")


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        (b"", "0 bytes"),
        (b"\x04", "1 bytes"),
        (_valid_encoding()[:-1], "64 bytes"),
        (_valid_encoding() + b"\x00", "66 bytes"),
        (b"\x02" + _valid_encoding()[1:], "prefix 0x02"),
        (b"\x03" + _valid_encoding()[1:], "prefix 0x03"),
        (b"\x00" + _valid_encoding()[1:], "prefix 0x00"),
        (b"\x06" + _valid_encoding()[1:], "prefix 0x06"),
        (_valid_encoding()[:-1] + bytes([_valid_encoding()[-1] ^ 1]), "not on the curve"),
        (b"\x04" + bytes(64), "identity"),
        (b"\x04" + (b"\xff" * 64), "out of range"),
        (_valid_encoding()[:33] + FIELD_PRIME.to_bytes(32, "big"), "out of range"),
        (_valid_encoding()[1:34], "33 bytes"),  # compressed form without allow_compressed
    ],
)
def test_invalid_encodings_raise_crypto_error(encoding: bytes, message: str) -> None:
    with pytest.raises(CryptoError, match=message):
        Point.from_bytes(encoding)


def test_coordinate_not_reduced_mod_p_is_rejected() -> None:
    point = _small_x_point()
    good = point.to_bytes()
    assert Point.from_bytes(good) == point
    # x + p is congruent to a valid x; only the explicit range check can catch it.
    bad = b"\x04" + (point.x + FIELD_PRIME).to_bytes(32, "big") + good[33:]
    with pytest.raises(CryptoError, match="out of range"):
        Point.from_bytes(bad)


def test_invalid_compressed_encodings() -> None:
    good = M_BASE.point
    with pytest.raises(CryptoError, match="prefix 0x04"):
        Point.from_bytes(b"\x04" + good.x.to_bytes(32, "big"), allow_compressed=True)
    # An x whose x^3 - 3x + b is a non-residue has no point, so decompression must fail.
    x = next(
        x
        for x in range(1, 100)
        if pow((x**3 - 3 * x + p256.B) % FIELD_PRIME, (FIELD_PRIME - 1) // 2, FIELD_PRIME) != 1
    )
    with pytest.raises(CryptoError, match="no point"):
        Point.from_bytes(b"\x02" + x.to_bytes(32, "big"), allow_compressed=True)
    with pytest.raises(CryptoError, match="out of range"):
        Point.from_bytes(b"\x02" + b"\xff" * 32, allow_compressed=True)


def test_point_constructor_validates() -> None:
    with pytest.raises(CryptoError, match="not on the curve"):
        Point(G.x, G.y + 1)
    with pytest.raises(CryptoError, match="out of range"):
        Point(G.x + FIELD_PRIME, G.y)
    with pytest.raises(TypeError):
        Point(G.x, float(G.y))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Point.from_bytes("04" * 65)  # type: ignore[arg-type]
    assert Point(0, 0).is_infinity
    with pytest.raises(CryptoError, match="identity"):
        INFINITY.to_bytes()


# --- Scalars -------------------------------------------------------------------------


def test_scalar_bytes_round_trip_and_range() -> None:
    assert scalar_to_bytes(1) == bytes(31) + b"\x01"
    assert scalar_from_bytes(scalar_to_bytes(ORDER - 1)) == ORDER - 1
    assert scalar_from_bytes(bytes(32)) == 0
    with pytest.raises(ValueError):
        scalar_to_bytes(ORDER)
    with pytest.raises(ValueError):
        scalar_to_bytes(-1)
    with pytest.raises(CryptoError, match="order"):
        scalar_from_bytes(ORDER.to_bytes(32, "big"))
    with pytest.raises(CryptoError, match="31 bytes"):
        scalar_from_bytes(bytes(31))


def test_random_scalar_rejection_sampling() -> None:
    too_big = ORDER.to_bytes(32, "big")
    entropy = _ListEntropy([bytes(32), too_big, b"\xff" * 32, scalar_to_bytes(42)])
    assert random_scalar(entropy) == 42
    assert entropy.calls == [32, 32, 32, 32]
    assert random_scalar(_ListEntropy([scalar_to_bytes(ORDER - 1)])) == ORDER - 1


def test_random_scalar_gives_up_on_a_broken_source() -> None:
    entropy = _ListEntropy([bytes(32)] * 64)
    with pytest.raises(CryptoError, match="64 draws"):
        random_scalar(entropy)
    with pytest.raises(CryptoError, match="16 bytes"):
        random_scalar(_ListEntropy([bytes(16)]))


def test_x_zero_decompresses_to_its_curve_points() -> None:
    # x = 0 is a field element like any other: y^2 = b has two roots, one of each parity.
    for prefix in (b"\x02", b"\x03"):
        point = Point.from_bytes(prefix + bytes(32), allow_compressed=True)
        assert point.x == 0 and point.y % 2 == prefix[0] - 2
        assert point.y * point.y % FIELD_PRIME == p256.B
