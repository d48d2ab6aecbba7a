"""Tests for matter_core.aes_ccm: known answers, real Matter traffic, and pyca differentials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings
from hypothesis import strategies as st
from matter_core.aes_ccm import Aes128, AesCcm, matter_nonce
from matter_core.errors import CryptoError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "spake2p-vectors.json"

TAG_LENGTHS = (4, 6, 8, 10, 12, 14, 16)


def _recording() -> dict[str, Any]:
    section: dict[str, Any] = json.loads(VECTORS.read_text())[
        "matter_pase_end_to_end_apple_recording"
    ]
    return section


# --- AES-128 block known answers -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "plaintext", "ciphertext"),
    [
        # FIPS-197 Appendix C.1 (AES-128 example vector).
        (
            "000102030405060708090a0b0c0d0e0f",
            "00112233445566778899aabbccddeeff",
            "69c4e0d86a7b0430d8cdb78070b4c55a",
        ),
        # FIPS-197 Appendix B (cipher example).
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            "3243f6a8885a308d313198a2e0370734",
            "3925841d02dc09fbdc118597196a0b32",
        ),
    ],
)
def test_aes128_fips197_known_answer(key: str, plaintext: str, ciphertext: str) -> None:
    cipher = Aes128(bytes.fromhex(key))
    assert cipher.encrypt_block(bytes.fromhex(plaintext)).hex() == ciphertext


@settings(max_examples=50, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=st.binary(min_size=16, max_size=16))
def test_aes128_matches_cryptography(key: bytes, block: bytes) -> None:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert Aes128(key).encrypt_block(block) == encryptor.update(block) + encryptor.finalize()


@pytest.mark.parametrize("length", [0, 15, 17, 24, 32])
def test_aes128_rejects_bad_key_length(length: int) -> None:
    with pytest.raises(ValueError):
        Aes128(bytes(length))


def test_aes128_rejects_bad_block() -> None:
    cipher = Aes128(bytes(16))
    with pytest.raises(ValueError):
        cipher.encrypt_block(bytes(15))
    with pytest.raises(TypeError):
        cipher.encrypt_block("0123456789abcdef")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Aes128("0123456789abcdef")  # type: ignore[arg-type]


# --- AES-CCM known answers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "nonce", "aad", "plaintext", "tag_length", "expected"),
    [
        # RFC 3610 section 8, Packet Vector #1: the first 8 packet bytes are the header (AAD).
        (
            bytes(range(0xC0, 0xD0)),
            "00000003020100a0a1a2a3a4a5",
            bytes(range(8)),
            bytes(range(8, 31)),
            8,
            "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0",
        ),
        # NIST SP 800-38C Appendix C, Example 1.
        (
            bytes(range(0x40, 0x50)),
            "10111213141516",
            bytes(range(8)),
            bytes(range(0x20, 0x24)),
            4,
            "7162015b4dac255d",
        ),
        # NIST SP 800-38C Appendix C, Example 2.
        (
            bytes(range(0x40, 0x50)),
            "1011121314151617",
            bytes(range(16)),
            bytes(range(0x20, 0x30)),
            6,
            "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
        ),
        # NIST SP 800-38C Appendix C, Example 3.
        (
            bytes(range(0x40, 0x50)),
            "101112131415161718191a1b",
            bytes(range(20)),
            bytes(range(0x20, 0x38)),
            8,
            "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951",
        ),
    ],
    ids=["rfc3610-packet-1", "sp800-38c-ex1", "sp800-38c-ex2", "sp800-38c-ex3"],
)
def test_ccm_published_vectors(
    key: bytes, nonce: str, aad: bytes, plaintext: bytes, tag_length: int, expected: str
) -> None:
    ccm = AesCcm(key, tag_length)
    sealed = ccm.encrypt(bytes.fromhex(nonce), plaintext, aad)
    assert sealed.hex() == expected
    assert ccm.decrypt(bytes.fromhex(nonce), sealed, aad) == plaintext


# --- Real Matter traffic: Apple Home <-> CircuitMatter -----------------------------------


@pytest.mark.parametrize(
    ("direction", "key_name", "session_id_name"),
    [
        ("initiator", "I2RKey", "responder_session_id"),
        ("responder", "R2IKey", "initiator_session_id"),
    ],
)
def test_apple_recording_first_secured_message(
    direction: str, key_name: str, session_id_name: str
) -> None:
    rec = _recording()
    wire = bytes.fromhex(rec[f"first_secured_msg_from_{direction}"])
    nonce = bytes.fromhex(rec[f"first_secured_msg_from_{direction}_nonce"])
    plaintext = bytes.fromhex(rec[f"first_secured_msg_from_{direction}_plaintext"])
    key = bytes.fromhex(rec[key_name])

    # The unsecured header: message flags, session id (LE), security flags, counter (LE).
    # Flags 0x00 mean no source node id (S bit) and no destination (DSIZ 0), so 8 bytes.
    flags, security_flags = wire[0], wire[3]
    assert flags == 0x00
    assert security_flags == 0x00  # no privacy, no control message, no extensions
    assert int.from_bytes(wire[1:3], "little") == rec[session_id_name]
    header, payload = wire[:8], wire[8:]
    counter = int.from_bytes(header[4:8], "little")
    # PASE sessions use the all-zero (unspecified) node id in the nonce (Matter Core
    # Specification 1.0, §4.7 Message Security).
    assert matter_nonce(security_flags, counter, 0) == nonce
    assert len(payload) == len(plaintext) + 16

    ccm = AesCcm(key)
    assert ccm.decrypt(nonce, payload, header) == plaintext
    assert header + ccm.encrypt(nonce, plaintext, header) == wire
    # The other direction's key must not open it.
    other = "R2IKey" if key_name == "I2RKey" else "I2RKey"
    with pytest.raises(CryptoError):
        AesCcm(bytes.fromhex(rec[other])).decrypt(nonce, payload, header)


def test_apple_recording_any_bit_flip_is_rejected() -> None:
    rec = _recording()
    wire = bytes.fromhex(rec["first_secured_msg_from_initiator"])
    nonce = bytes.fromhex(rec["first_secured_msg_from_initiator_nonce"])
    ccm = AesCcm(bytes.fromhex(rec["I2RKey"]))
    for i in range(len(wire)):
        for bit in (0x01, 0x80):
            bad = bytearray(wire)
            bad[i] ^= bit
            with pytest.raises(CryptoError):
                ccm.decrypt(nonce, bytes(bad[8:]), bytes(bad[:8]))


# --- Differential tests against pyca/cryptography ----------------------------------------


@st.composite
def ccm_cases(draw: st.DrawFn) -> tuple[bytes, int, bytes, bytes, bytes]:
    key = draw(st.binary(min_size=16, max_size=16))
    tag_length = draw(st.sampled_from(TAG_LENGTHS))
    nonce = draw(st.binary(min_size=7, max_size=13))
    plaintext = draw(st.binary(min_size=0, max_size=300))
    aad = draw(st.binary(min_size=0, max_size=100))
    return key, tag_length, nonce, plaintext, aad


@settings(max_examples=100, deadline=None)
@given(case=ccm_cases())
def test_ccm_matches_cryptography_both_directions(
    case: tuple[bytes, int, bytes, bytes, bytes],
) -> None:
    key, tag_length, nonce, plaintext, aad = case
    ours, theirs = AesCcm(key, tag_length), AESCCM(key, tag_length)
    sealed = ours.encrypt(nonce, plaintext, aad)
    assert sealed == theirs.encrypt(nonce, plaintext, aad)
    assert len(sealed) == len(plaintext) + tag_length
    assert ours.decrypt(nonce, sealed, aad) == plaintext
    assert theirs.decrypt(nonce, sealed, aad) == plaintext


@settings(max_examples=100, deadline=None)
@given(case=ccm_cases(), data=st.data())
def test_ccm_tampering_is_rejected(
    case: tuple[bytes, int, bytes, bytes, bytes], data: st.DataObject
) -> None:
    key, tag_length, nonce, plaintext, aad = case
    ccm = AesCcm(key, tag_length)
    sealed = ccm.encrypt(nonce, plaintext, aad)
    parts = {
        "ciphertext": sealed[:-tag_length],
        "tag": sealed[-tag_length:],
        "aad": aad,
        "nonce": nonce,
    }
    target = data.draw(st.sampled_from([name for name, value in parts.items() if value]))
    index = data.draw(st.integers(0, len(parts[target]) - 1))
    mask = data.draw(st.integers(1, 255))
    changed = bytearray(parts[target])
    changed[index] ^= mask
    parts[target] = bytes(changed)
    bad_sealed = parts["ciphertext"] + parts["tag"]
    with pytest.raises(CryptoError):
        ccm.decrypt(parts["nonce"], bad_sealed, parts["aad"])
    with pytest.raises(InvalidTag):
        AESCCM(key, tag_length).decrypt(parts["nonce"], bad_sealed, parts["aad"])


@pytest.mark.parametrize("aad_length", [0xFEFF, 0xFF00])
def test_ccm_long_aad_length_encodings(aad_length: int) -> None:
    # 0xFF00 is the first AAD length that needs the 6-byte 0xFFFE encoding (RFC 3610 2.2).
    key, nonce, aad = bytes(range(16)), bytes(13), bytes(aad_length)
    sealed = AesCcm(key).encrypt(nonce, b"payload", aad)
    assert sealed == AESCCM(key).encrypt(nonce, b"payload", aad)


# --- Errors and API shape ----------------------------------------------------------------


def test_ccm_decrypt_rejects_data_shorter_than_tag() -> None:
    ccm = AesCcm(bytes(16))
    with pytest.raises(CryptoError):
        ccm.decrypt(bytes(13), bytes(15), b"")
    with pytest.raises(CryptoError):
        ccm.decrypt(bytes(13), b"", b"")
    # Exactly a tag is an empty message, and must verify.
    assert ccm.decrypt(bytes(13), ccm.encrypt(bytes(13), b"", b"aad"), b"aad") == b""


def test_ccm_accepts_bytes_like_and_none_aad() -> None:
    ccm = AesCcm(bytearray(16))
    sealed = ccm.encrypt(memoryview(bytes(13)), bytearray(b"hello"), None)
    assert sealed == AESCCM(bytes(16)).encrypt(bytes(13), b"hello", None)
    assert ccm.decrypt(bytes(13), bytearray(sealed), b"") == b"hello"
    assert ccm.tag_length == 16


@pytest.mark.parametrize("length", [0, 15, 17, 24, 32])
def test_ccm_rejects_bad_key_length(length: int) -> None:
    with pytest.raises(ValueError):
        AesCcm(bytes(length))


@pytest.mark.parametrize("tag_length", [0, 2, 3, 5, 15, 17, 18])
def test_ccm_rejects_bad_tag_length(tag_length: int) -> None:
    with pytest.raises(ValueError):
        AesCcm(bytes(16), tag_length)


@pytest.mark.parametrize("length", [0, 6, 14, 16])
def test_ccm_rejects_bad_nonce_length(length: int) -> None:
    ccm = AesCcm(bytes(16))
    with pytest.raises(ValueError):
        ccm.encrypt(bytes(length), b"x", b"")
    with pytest.raises(ValueError):
        ccm.decrypt(bytes(length), bytes(17), b"")


def test_ccm_rejects_message_too_long_for_length_field() -> None:
    # A 13-byte nonce leaves L = 2 length bytes: at most 65535 message bytes.
    with pytest.raises(ValueError):
        AesCcm(bytes(16)).encrypt(bytes(13), bytes(65536), b"")


@pytest.mark.parametrize(
    "call",
    [
        lambda: AesCcm("0123456789abcdef"),  # type: ignore[arg-type]
        lambda: AesCcm(bytes(16), "16"),  # type: ignore[arg-type]
        lambda: AesCcm(bytes(16), True),
        lambda: AesCcm(bytes(16)).encrypt("n" * 13, b"", b""),  # type: ignore[arg-type]
        lambda: AesCcm(bytes(16)).encrypt(bytes(13), "text", b""),  # type: ignore[arg-type]
        lambda: AesCcm(bytes(16)).encrypt(bytes(13), b"", 5),  # type: ignore[arg-type]
        lambda: AesCcm(bytes(16)).decrypt(bytes(13), "x" * 20, b""),  # type: ignore[arg-type]
    ],
)
def test_ccm_rejects_wrong_types(call: Any) -> None:
    with pytest.raises(TypeError):
        call()


# --- Matter nonce --------------------------------------------------------------------------


def test_matter_nonce_layout() -> None:
    nonce = matter_nonce(0x81, 0x0AD6DBB9, 0x1122334455667788)
    assert nonce == bytes.fromhex("81b9dbd60a8877665544332211")
    assert len(matter_nonce(0, 0, 0)) == 13


@pytest.mark.parametrize(
    ("flags", "counter", "node_id"),
    [(-1, 0, 0), (256, 0, 0), (0, -1, 0), (0, 1 << 32, 0), (0, 0, -1), (0, 0, 1 << 64)],
)
def test_matter_nonce_rejects_out_of_range(flags: int, counter: int, node_id: int) -> None:
    with pytest.raises(ValueError):
        matter_nonce(flags, counter, node_id)


def test_matter_nonce_rejects_non_ints() -> None:
    with pytest.raises(TypeError):
        matter_nonce(0, 1.0, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        matter_nonce(True, 0, 0)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((256, 0, 0), "security_flags"),
        ((0, 1 << 32, 0), "counter"),
        ((0, 0, 1 << 64), "source_node_id"),
    ],
)
def test_matter_nonce_names_the_field_out_of_range(args: tuple[int, int, int], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} out of range"):
        matter_nonce(*args)


@pytest.mark.parametrize(("which", "name"), [(0, "nonce"), (1, "data"), (2, "aad")])
def test_ccm_names_the_argument_that_is_not_bytes(which: int, name: str) -> None:
    args: list[object] = [bytes(13), b"payload", b"aad"]
    args[which] = "text"
    with pytest.raises(TypeError, match=f"^{name} must be bytes, not str"):
        AesCcm(bytes(16)).encrypt(args[0], args[1], args[2])  # type: ignore[arg-type]
