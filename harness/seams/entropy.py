"""Entropy sources for the entropy seam, and the one convention a seeded run follows.

**The convention.** A run has one entropy stream. With ``--seed N`` it is HMAC-DRBG (NIST
SP 800-90A Rev. 1, section 10.1.2) with SHA-256, entropy input
``SHA-256("matter-harness seed:" || decimal N)``, personalization ``run``, and one
Generate call per ``random-bytes`` request; without a seed it is the operating system's
``os.urandom``. Both roles draw from that one stream, in the order the core asks (the
driver polls the commissioner first), because the composed graph has a single entropy
import shared by both cores: a stream per role could not be reproduced there. ``run``
(native, component), ``run --graph``, ``peer`` and the gate all follow it, so one seed
gives one transcript wherever the core runs.

Sources count nothing: the per-role :class:`~harness.seams.counters.CountingEntropy` view
counts each draw once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import deque

from harness.errors import HarnessError

#: The largest single entropy request the seam serves (the WIT interface says so).
MAX_ENTROPY_REQUEST = 1024
#: The personalization string of a run's stream (see the module docstring).
RUN_STREAM = "run"


class HmacDrbg:
    """HMAC-DRBG with SHA-256, NIST SP 800-90A Rev. 1 section 10.1.2, without reseeding.

    ``seed_material`` is the entropy input (with the nonce appended by the caller if it
    has one); ``personalization`` separates independent streams from one seed. Each
    :meth:`generate` call is one Generate call with no additional input.
    """

    def __init__(self, seed_material: bytes, personalization: bytes = b"") -> None:
        self._key = bytes(32)
        self._value = b"\x01" * 32
        self._update(seed_material + personalization)
        self.reseed_counter = 1

    def _mac(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    def _update(self, provided: bytes) -> None:
        self._key = self._mac(self._key, self._value + b"\x00" + provided)
        self._value = self._mac(self._key, self._value)
        if provided:
            self._key = self._mac(self._key, self._value + b"\x01" + provided)
            self._value = self._mac(self._key, self._value)

    def generate(self, length: int) -> bytes:
        """Return ``length`` pseudo-random bytes."""
        if length < 0:
            raise ValueError("cannot generate a negative number of bytes")
        out = bytearray()
        while len(out) < length:
            self._value = self._mac(self._key, self._value)
            out += self._value
        self._update(b"")
        self.reseed_counter += 1
        return bytes(out[:length])


def seed_material(seed: int) -> bytes:
    """The DRBG entropy input for a user-given seed: SHA-256 of a fixed label and the seed."""
    return hashlib.sha256(b"matter-harness seed:" + str(seed).encode("ascii")).digest()


class SeededEntropy:
    """Deterministic entropy: the HMAC-DRBG stream of a seed (see the module docstring).

    ``stream`` is the personalization string; a run uses :data:`RUN_STREAM`. Other
    strings give independent streams from the same seed (tests and tools use them).
    """

    def __init__(self, seed: int, stream: str = RUN_STREAM) -> None:
        self.seed = seed
        self.stream = stream
        self._drbg = HmacDrbg(seed_material(seed), stream.encode("utf-8"))

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes from the DRBG stream (one Generate call)."""
        _check_request(n)
        return self._drbg.generate(n)


class OsEntropy:
    """Entropy from the operating system (for runs without ``--seed``)."""

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes from ``os.urandom``."""
        _check_request(n)
        return os.urandom(n)


class ScriptedEntropy:
    """Entropy that hands out pre-recorded draws in order (replaying a real device)."""

    def __init__(self, draws: list[bytes]) -> None:
        self._draws = deque(draws)

    def random_bytes(self, n: int) -> bytes:
        """Return the next scripted draw, which must be exactly ``n`` bytes."""
        _check_request(n)
        if not self._draws:
            raise EntropyExhausted(f"scripted entropy has no draw left for {n} bytes")
        draw = self._draws.popleft()
        if len(draw) != n:
            raise EntropyExhausted(f"scripted draw has {len(draw)} bytes, the core asked for {n}")
        return draw

    @property
    def remaining(self) -> int:
        """Draws not yet taken."""
        return len(self._draws)


def entropy_for(seed: int | None) -> SeededEntropy | OsEntropy:
    """The run's one entropy stream: seeded when ``seed`` is given, else the OS's."""
    return SeededEntropy(seed) if seed is not None else OsEntropy()


class EntropyExhausted(HarnessError, ValueError):
    """A scripted entropy source ran out or did not match the request."""


class EntropyRequestError(HarnessError, ValueError):
    """A request for a number of bytes the entropy seam does not serve."""


def _check_request(n: int) -> None:
    if not 0 <= n <= MAX_ENTROPY_REQUEST:
        raise EntropyRequestError(
            f"entropy request of {n} bytes is outside 0..{MAX_ENTROPY_REQUEST}"
        )
