"""Shared helpers for the PASE state-machine, secure-session and endpoint tests.

Kept free of the ``harness`` package on purpose: the core's tests must stand alone, the
way the core itself does. Entropy here is a small HMAC-SHA256 counter generator (the
same seed always gives the same bytes), and :func:`pump` delivers datagrams between
the two roles in-process until neither has anything left to say.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from matter_core import spake2p
from matter_core.message import UnsecuredMessage
from matter_core.pase import Commissionee, Commissioner, PaseSession, State

PASSCODE = 20202021
"""CHIP's well-known test passcode."""
SALT = b"SPAKE2P Key Salt"
"""CHIP's test salt (16 bytes, the shortest allowed)."""
ITERATIONS = 1000
"""The fewest PBKDF2 iterations Matter allows, which keeps the tests quick."""

C2D = "commissioner->commissionee"
"""Direction label of datagrams the commissioner sends."""
D2C = "commissionee->commissioner"
"""Direction label of datagrams the commissionee sends."""


class HmacCounterEntropy:
    """Deterministic test entropy: HMAC-SHA256(key, counter) blocks, handed out in order.

    The key is SHA-256 of a fixed label, the seed and a role name, so two roles built
    from the same seed still draw different bytes. Every draw is kept in :attr:`draws`
    so a test can check what the core asked for.
    """

    def __init__(self, seed: int, role: str = "") -> None:
        self._key = hashlib.sha256(f"matter-core-tests/{seed}/{role}".encode()).digest()
        self._counter = 0
        self.draws: list[bytes] = []

    def random_bytes(self, n: int) -> bytes:
        """Return the next ``n`` bytes of the stream (each call starts a fresh block)."""
        out = bytearray()
        while len(out) < n:
            block = hmac.new(self._key, self._counter.to_bytes(8, "big"), hashlib.sha256)
            out += block.digest()
            self._counter += 1
        draw = bytes(out[:n])
        self.draws.append(draw)
        return draw


class ScriptedEntropy:
    """Entropy that returns pre-set draws in order and fails the test on any mismatch.

    The errors are AssertionErrors, not core errors, so a surprise draw escapes the
    state machine instead of being swallowed into ``FAILED``.
    """

    def __init__(self, draws: Iterable[bytes]) -> None:
        self._draws = list(draws)
        self.requests: list[int] = []

    def random_bytes(self, n: int) -> bytes:
        """Return the next scripted draw, which must be exactly ``n`` bytes long."""
        self.requests.append(n)
        if not self._draws:
            raise AssertionError(f"scripted entropy exhausted (request {len(self.requests)}: {n})")
        draw = self._draws.pop(0)
        if len(draw) != n:
            raise AssertionError(f"scripted draw has {len(draw)} bytes, the core asked for {n}")
        return draw

    @property
    def remaining(self) -> int:
        """Draws not taken yet."""
        return len(self._draws)


def state_of(session: PaseSession) -> State:
    """The session's state, read through a call so mypy does not narrow it across steps."""
    return session.state


@functools.lru_cache(maxsize=64)
def verifier_for(passcode: int, salt: bytes, iterations: int) -> bytes:
    """The commissionee's verifier ``w0 || L`` (cached: PBKDF2 dominates test time)."""
    return spake2p.compute_verifier(passcode, salt, iterations)


def make_pair(
    seed: int = 1,
    *,
    passcode: int = PASSCODE,
    device_passcode: int | None = None,
    salt: bytes = SALT,
    iterations: int = ITERATIONS,
    now_ms: int = 0,
    start: bool = True,
) -> tuple[Commissioner, Commissionee]:
    """A commissioner and a commissionee with seeded entropy, started at ``now_ms``.

    ``device_passcode`` sets up the commissionee with another passcode's verifier (for
    the mismatch tests); by default both sides know the same one.
    """
    device = passcode if device_passcode is None else device_passcode
    commissioner = Commissioner(
        passcode, entropy=HmacCounterEntropy(seed, "commissioner"), now_ms=now_ms
    )
    commissionee = Commissionee(
        verifier_for(device, salt, iterations),
        salt,
        iterations,
        entropy=HmacCounterEntropy(seed, "commissionee"),
        now_ms=now_ms,
    )
    if start:
        commissionee.start(now_ms)
        commissioner.start(now_ms)
    return commissioner, commissionee


@dataclass
class Trace:
    """Every datagram :func:`pump` moved, as (direction, bytes), in delivery order."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)

    def by(self, direction: str) -> list[bytes]:
        """The datagrams sent in one direction."""
        return [data for d, data in self.sent if d == direction]

    def decoded(self) -> list[tuple[str, UnsecuredMessage]]:
        """Every datagram decoded as an unsecured message."""
        return [(d, UnsecuredMessage.decode(data)) for d, data in self.sent]


Filter = Callable[[str, bytes], bool]
"""Decides whether :func:`pump` delivers a datagram (False drops it)."""


def pump(
    commissioner: Commissioner,
    commissionee: Commissionee,
    now_ms: int = 0,
    *,
    deliver: Filter | None = None,
    trace: Trace | None = None,
    max_rounds: int = 50,
) -> Trace:
    """Move datagrams between the roles until both are quiet; returns what moved.

    Time does not advance here: timers are the caller's business. ``deliver`` may drop
    datagrams (they still appear in the trace, since they were sent).
    """
    trace = trace if trace is not None else Trace()
    ends: list[tuple[PaseSession, PaseSession, str]] = [
        (commissioner, commissionee, C2D),
        (commissionee, commissioner, D2C),
    ]
    for _ in range(max_rounds):
        moved = False
        for sender, receiver, direction in ends:
            for datagram in sender.datagrams_to_send():
                moved = True
                trace.sent.append((direction, datagram))
                if deliver is None or deliver(direction, datagram):
                    receiver.receive_datagram(datagram, now_ms)
        if not moved:
            return trace
    raise AssertionError(f"the roles were still talking after {max_rounds} rounds")


def handshake(
    seed: int = 1,
    *,
    passcode: int = PASSCODE,
    device_passcode: int | None = None,
    salt: bytes = SALT,
    iterations: int = ITERATIONS,
) -> tuple[Commissioner, Commissionee, Trace]:
    """Run a whole loss-free handshake at time 0; returns both roles and the trace."""
    commissioner, commissionee = make_pair(
        seed,
        passcode=passcode,
        device_passcode=device_passcode,
        salt=salt,
        iterations=iterations,
    )
    trace = pump(commissioner, commissionee)
    return commissioner, commissionee, trace


def reframe(
    datagram: bytes,
    *,
    payload: bytes | None = None,
    header: Mapping[str, object] | None = None,
    protocol: Mapping[str, object] | None = None,
) -> bytes:
    """``datagram`` re-encoded with another payload and/or changed header fields."""
    message = UnsecuredMessage.decode(datagram)
    return UnsecuredMessage(
        dataclasses.replace(message.header, **(header or {})),  # type: ignore[arg-type]
        dataclasses.replace(message.protocol, **(protocol or {})),  # type: ignore[arg-type]
        message.payload if payload is None else payload,
    ).encode()
