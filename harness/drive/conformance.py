"""Conformance vectors run through the core, graded on the host (claim C7).

The host sends each vector's inputs to the core and compares every output with the
published value itself: the core never grades its own answers. The same runner drives
two targets, so a gate can put their results side by side:

* :class:`ComponentConformance`: the core component's ``conformance`` export, called
  through :class:`~harness.runtime.GuestCall` on an instance linked like a handshake
  role (the export crosses no seam, but the instance cannot exist without them);
* :class:`NativeConformance`: the same computations on the ``matter_core`` package in
  this process.

Vectors come from ``tests/vectors/spake2p-vectors.json`` (provenance in that folder's
README): the four SPAKE2+ draft-01 vectors with every intermediate value, the two PBKDF2
passcode vectors, and the Apple Home recording. Apple's scalar x is unknown, so for that
run the checks are the verifier from the passcode, the session keys from Ke, and both
first secured messages decrypted and re-encrypted with AES-CCM.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from matter_core import aes_ccm
from matter_core import conformance as core_conformance
from matter_core.errors import CoreError

from harness.drive.config import RunConfig
from harness.drive.placements import Seams, instantiate_core
from harness.errors import HarnessError
from harness.project import VECTORS_PATH
from harness.runtime import Component, GuestCall, GuestError, GuestTrap, Limits, Runtime
from harness.runtime import field as wit_field
from harness.runtime import record as wit_record
from harness.wit import CONFORMANCE

"""The project's vector file (a byte-for-byte copy of the shared reference)."""

#: SPAKE2+ outputs in the order they are compared: (vector key, output key).
SPAKE2P_FIELDS: tuple[tuple[str, str], ...] = (
    ("L", "l"),
    ("X", "share_x"),
    ("Y", "share_y"),
    ("Z", "z"),
    ("V", "v"),
    ("TT", "transcript"),
    ("Ka", "ka"),
    ("Ke", "ke"),
    ("KcA", "kca"),
    ("KcB", "kcb"),
    ("cA", "ca"),
    ("cB", "cb"),
)
#: Bytes of w0 at the start of a serialized verifier.
W0_SIZE = 32
#: How many hex digits of a mismatching value a detail line shows.
_SHOWN_HEX = 24


class ConformanceVectorsError(HarnessError):
    """The vector file is missing, unreadable or lacks a value the runner needs."""


class ConformanceCallError(HarnessError):
    """A conformance call did not return a value (the core refused it, or trapped)."""


@dataclass(frozen=True)
class VectorResult:
    """The verdict on one vector: which, whether every output matched, and why not."""

    name: str
    passed: bool
    detail: str
    checked: tuple[str, ...] = ()
    """The output fields compared (all of them when the vector passed)."""


@dataclass(frozen=True)
class Spake2pInput:
    """The inputs of one SPAKE2+ exchange with forced scalars."""

    context: bytes
    id_prover: bytes
    id_verifier: bytes
    w0: bytes
    w1: bytes
    x: bytes
    y: bytes


class ConformanceTarget(Protocol):
    """Where the computations run: the component's export or the native package."""

    label: str

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        """PBKDF2 output w0s || w1s (80 bytes) and the verifier w0 || L (97 bytes)."""
        ...

    def spake2p_exchange(self, inputs: Spake2pInput) -> dict[str, bytes]:
        """Every intermediate value of the exchange, keyed as in :data:`SPAKE2P_FIELDS`."""
        ...

    def session_keys(self, ke: bytes) -> bytes:
        """I2R || R2I || attestation challenge (48 bytes) from Ke."""
        ...

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        """Open ``data`` (ciphertext || MIC) with AES-CCM-128."""
        ...

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Seal ``plaintext`` with AES-CCM-128 (ciphertext || MIC)."""
        ...


# --------------------------------------------------------------------------- targets


class ComponentConformance:
    """The core component's ``conformance`` export, values converted to Python bytes."""

    def __init__(self, guest: GuestCall, interface: str = CONFORMANCE) -> None:
        self.guest = guest
        self.interface = interface
        self.label = guest.label

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self.guest.call(self.interface, name, *args)
        except GuestError as exc:
            raise ConformanceCallError(f"{name} returned an error: {exc}") from exc
        except GuestTrap as exc:
            raise ConformanceCallError(f"{name}: {exc}") from exc

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        """PBKDF2 output and verifier, computed in the component."""
        value = self._call("passcode-verifier", passcode, salt, iterations)
        try:
            ws, verifier = value
            return bytes(ws), bytes(verifier)
        except (TypeError, ValueError) as exc:
            raise ConformanceCallError(f"passcode-verifier returned {value!r}") from exc

    def spake2p_exchange(self, inputs: Spake2pInput) -> dict[str, bytes]:
        """The exchange's values, computed in the component."""
        value = self._call(
            "spake2p-exchange",
            wit_record(
                context=inputs.context,
                id_prover=inputs.id_prover,
                id_verifier=inputs.id_verifier,
                w0=inputs.w0,
                w1=inputs.w1,
                x=inputs.x,
                y=inputs.y,
            ),
        )
        try:
            return {key: bytes(wit_field(value, key)) for _, key in SPAKE2P_FIELDS}
        except (AttributeError, TypeError) as exc:
            raise ConformanceCallError(f"spake2p-exchange returned {value!r}") from exc

    def _bytes(self, name: str, *args: Any) -> bytes:
        value = self._call(name, *args)
        if not isinstance(value, (bytes, bytearray, list)):
            raise ConformanceCallError(f"{name} returned {value!r}, not bytes")
        return bytes(value)

    def session_keys(self, ke: bytes) -> bytes:
        """Session keys, derived in the component."""
        return self._bytes("session-keys", ke)

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        """AES-CCM open, in the component."""
        return self._bytes("ccm-decrypt", key, nonce, aad, data)

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """AES-CCM seal, in the component."""
        return self._bytes("ccm-encrypt", key, nonce, aad, plaintext)


class NativeConformance:
    """The same computations as the component's export, on ``matter_core`` in-process."""

    label = "native core"

    def _run(self, name: str, body: Callable[[], Any]) -> Any:
        try:
            return body()
        except CoreError as exc:
            raise ConformanceCallError(f"{name} raised {exc.kind}: {exc.message}") from exc
        except (ValueError, TypeError) as exc:
            raise ConformanceCallError(f"{name} raised {type(exc).__name__}: {exc}") from exc

    def passcode_verifier(self, passcode: int, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
        """PBKDF2 output and verifier, computed natively."""
        result: tuple[bytes, bytes] = self._run(
            "passcode-verifier",
            lambda: core_conformance.passcode_verifier(passcode, salt, iterations),
        )
        return result

    def spake2p_exchange(self, inputs: Spake2pInput) -> dict[str, bytes]:
        """The exchange's values, computed natively (both roles, forced scalars)."""
        result: dict[str, bytes] = self._run(
            "spake2p-exchange",
            lambda: core_conformance.spake2p_exchange(
                inputs.context,
                inputs.id_prover,
                inputs.id_verifier,
                inputs.w0,
                inputs.w1,
                inputs.x,
                inputs.y,
            ),
        )
        return result

    def session_keys(self, ke: bytes) -> bytes:
        """Session keys, derived natively."""
        result: bytes = self._run("session-keys", lambda: core_conformance.session_key_block(ke))
        return result

    def ccm_decrypt(self, key: bytes, nonce: bytes, aad: bytes, data: bytes) -> bytes:
        """AES-CCM open, natively."""
        result: bytes = self._run(
            "ccm-decrypt", lambda: aes_ccm.AesCcm(key).decrypt(nonce, data, aad)
        )
        return result

    def ccm_encrypt(self, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """AES-CCM seal, natively."""
        result: bytes = self._run(
            "ccm-encrypt", lambda: aes_ccm.AesCcm(key).encrypt(nonce, plaintext, aad)
        )
        return result


def instantiate_conformance(
    runtime: Runtime, component: Component, limits: Limits | None = None
) -> tuple[ComponentConformance, Seams]:
    """A fresh core instance for the conformance export, linked like a handshake role.

    The seams are returned too: the export must not cross them, and a caller can check.
    """
    seams = Seams(RunConfig(seed=0))
    guest = instantiate_core(runtime, component, seams, "commissioner", limits or Limits())
    return ComponentConformance(guest), seams


# --------------------------------------------------------------------------- vectors


def load_vectors(path: Path = VECTORS_PATH) -> dict[str, Any]:
    """Parse the vector file (a fresh copy each call, so callers may edit it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConformanceVectorsError(
            f"cannot read the conformance vectors {path}: {exc.strerror}"
        ) from exc
    except ValueError as exc:
        raise ConformanceVectorsError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConformanceVectorsError(f"{path} does not hold a JSON object")
    return data


class _Vector:
    """Typed access to one vector's values, with errors that name the vector and key."""

    def __init__(self, name: str, values: Any) -> None:
        if not isinstance(values, dict):
            raise ConformanceVectorsError(f"vector {name} is not an object")
        self.name = name
        self._values = values

    def raw(self, key: str) -> Any:
        if key not in self._values:
            raise ConformanceVectorsError(f"vector {self.name} has no {key!r}")
        return self._values[key]

    def hex(self, key: str) -> bytes:
        value = self.raw(key)
        try:
            return bytes.fromhex(value)
        except (TypeError, ValueError) as exc:
            raise ConformanceVectorsError(f"vector {self.name}: {key!r} is not hex") from exc

    def ascii(self, key: str) -> bytes:
        value = self.raw(key)
        if not isinstance(value, str):
            raise ConformanceVectorsError(f"vector {self.name}: {key!r} is not a string")
        return value.encode("ascii")

    def int(self, key: str) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConformanceVectorsError(f"vector {self.name}: {key!r} is not an integer")
        return value


class _Grader:
    """Compares outputs with expected values; stops at the first mismatch."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.mismatch: str | None = None

    def expect(self, name: str, expected: bytes, actual: bytes) -> bool:
        self.checked.append(name)
        if expected == actual:
            return True
        self.mismatch = (
            f"first mismatching field: {name} (expected {_short(expected)}, got {_short(actual)})"
        )
        return False


def _short(value: bytes) -> str:
    text = value.hex()
    more = f"... ({len(value)} bytes)" if len(text) > _SHOWN_HEX else f" ({len(value)} bytes)"
    return (text[:_SHOWN_HEX] + more) if text else "empty"


def _list(vectors: dict[str, Any], key: str) -> list[Any]:
    value = vectors.get(key)
    if not isinstance(value, list):
        raise ConformanceVectorsError(f"the vector file has no list {key!r}")
    return value


def _spake2p_vectors(vectors: dict[str, Any]) -> Iterator[tuple[str, Callable[..., Any]]]:
    for index, values in enumerate(_list(vectors, "spake2p_draft01_matter")):
        name = values.get("name", f"#{index}") if isinstance(values, dict) else f"#{index}"
        vector = _Vector(f"spake2p-draft01/{name}", values)
        yield vector.name, lambda target, v=vector: _check_spake2p(target, v)


def _check_spake2p(target: ConformanceTarget, vector: _Vector) -> _Grader:
    inputs = Spake2pInput(
        context=vector.ascii("context_ascii"),
        id_prover=vector.ascii("id_prover_ascii"),
        id_verifier=vector.ascii("id_verifier_ascii"),
        w0=vector.hex("w0"),
        w1=vector.hex("w1"),
        x=vector.hex("x"),
        y=vector.hex("y"),
    )
    expected = {key: vector.hex(key) for key, _ in SPAKE2P_FIELDS}
    output = target.spake2p_exchange(inputs)
    grader = _Grader()
    for key, out_key in SPAKE2P_FIELDS:
        if not grader.expect(key, expected[key], output.get(out_key, b"")):
            break
    return grader


def _check_verifier(target: ConformanceTarget, vector: _Vector) -> _Grader:
    passcode, salt, iterations = (
        vector.int("passcode"),
        vector.hex("salt"),
        vector.int("iterations"),
    )
    expected_ws, expected_w0, expected_l = (
        vector.hex("w0s_w1s_pbkdf2_output_80"),
        vector.hex("w0"),
        vector.hex("L"),
    )
    ws, verifier = target.passcode_verifier(passcode, salt, iterations)
    grader = _Grader()
    _ = (
        grader.expect("w0s_w1s", expected_ws, ws)
        and grader.expect("w0", expected_w0, verifier[:W0_SIZE])
        and grader.expect("L", expected_l, verifier[W0_SIZE:])
    )
    return grader


def _pbkdf2_vectors(vectors: dict[str, Any]) -> Iterator[tuple[str, Callable[..., Any]]]:
    for index, values in enumerate(_list(vectors, "pbkdf2_passcode_to_w0_w1")):
        probe = _Vector(f"pbkdf2/#{index}", values)
        name = f"pbkdf2/passcode-{probe.raw('passcode')}-iterations-{probe.raw('iterations')}"
        vector = _Vector(name, values)
        yield vector.name, lambda target, v=vector: _check_verifier(target, v)


def message_header_length(message: bytes) -> int:
    """Length of a Matter message header (the AAD of a secured message), from its flags.

    Flags (1) + session id (2) + security flags (1) + counter (4), then the source node
    id if S is set, the destination node or group id per DSIZ, and the message
    extensions if MX is set (Matter Core Specification 1.0, §4.4.1 Message Header
    Field Descriptions).
    """
    if len(message) < 8:
        raise ConformanceVectorsError(f"a {len(message)}-byte message has no full header")
    flags, security_flags = message[0], message[3]
    length = 8
    if flags & 0x04:
        length += 8
    length += {0: 0, 1: 8, 2: 2}.get(flags & 0x03, 0)
    if security_flags & 0x20:
        if len(message) < length + 2:
            raise ConformanceVectorsError("message extensions run past the message")
        length += 2 + int.from_bytes(message[length : length + 2], "little")
    if len(message) < length:
        raise ConformanceVectorsError("the message header runs past the message")
    return length


def _check_apple_ccm(target: ConformanceTarget, apple: _Vector, direction: str) -> _Grader:
    prefix = f"first_secured_msg_from_{direction}"
    key = apple.hex("I2RKey" if direction == "initiator" else "R2IKey")
    message, nonce = apple.hex(prefix), apple.hex(prefix + "_nonce")
    expected_plaintext = apple.hex(prefix + "_plaintext")
    split = message_header_length(message)
    aad, sealed = message[:split], message[split:]
    grader = _Grader()
    plaintext = target.ccm_decrypt(key, nonce, aad, sealed)
    if grader.expect("plaintext", expected_plaintext, plaintext):
        grader.expect("re-encrypted", sealed, target.ccm_encrypt(key, nonce, aad, plaintext))
    return grader


def _check_apple_keys(target: ConformanceTarget, apple: _Vector) -> _Grader:
    expected = apple.hex("I2RKey") + apple.hex("R2IKey") + apple.hex("AttestationChallenge")
    keys = target.session_keys(apple.hex("Ke"))
    grader = _Grader()
    _ = (
        grader.expect("I2RKey", expected[:16], keys[:16])
        and grader.expect("R2IKey", expected[16:32], keys[16:32])
        and grader.expect("AttestationChallenge", expected[32:], keys[32:])
        and grader.expect("length", expected, keys)
    )
    return grader


def _apple_vectors(vectors: dict[str, Any]) -> Iterator[tuple[str, Callable[..., Any]]]:
    values = vectors.get("matter_pase_end_to_end_apple_recording")
    apple = _Vector("apple-recording", values)
    yield "apple-recording/passcode-verifier", lambda t: _check_verifier(t, apple)
    yield "apple-recording/session-keys", lambda t: _check_apple_keys(t, apple)
    for direction, label in (("initiator", "i2r"), ("responder", "r2i")):
        yield (
            f"apple-recording/ccm-{label}-first-message",
            lambda t, d=direction: _check_apple_ccm(t, apple, d),
        )


def vector_names(vectors: dict[str, Any]) -> list[str]:
    """The names :func:`run_conformance` gives its results, in order."""
    return [name for name, _ in _all_checks(vectors)]


def _all_checks(vectors: dict[str, Any]) -> list[tuple[str, Callable[..., Any]]]:
    return [*_spake2p_vectors(vectors), *_pbkdf2_vectors(vectors), *_apple_vectors(vectors)]


# --------------------------------------------------------------------------- runner


def run_conformance(
    target: ConformanceTarget | GuestCall, vectors: dict[str, Any]
) -> list[VectorResult]:
    """Run every vector through ``target`` and grade each output on the host.

    ``target`` is a :class:`ConformanceTarget` or a :class:`GuestCall` on a core
    instance (wrapped in :class:`ComponentConformance`). A vector whose call fails (an
    error value, or a trap that kills the instance) is a failed result, not an
    exception; a vector file lacking a value raises :class:`ConformanceVectorsError`.
    The input ``vectors`` is not modified.
    """
    if isinstance(target, GuestCall):
        target = ComponentConformance(target)
    checks = _all_checks(copy.deepcopy(vectors))
    results = []
    for name, check in checks:
        try:
            grader: _Grader = check(target)
        except ConformanceCallError as exc:
            results.append(VectorResult(name, False, str(exc)))
            continue
        if grader.mismatch is not None:
            results.append(VectorResult(name, False, grader.mismatch, tuple(grader.checked)))
        else:
            detail = f"{len(grader.checked)} values match ({', '.join(grader.checked)})"
            results.append(VectorResult(name, True, detail, tuple(grader.checked)))
    return results


def all_passed(results: list[VectorResult]) -> bool:
    """True when there is at least one result and every result passed."""
    return bool(results) and all(result.passed for result in results)
