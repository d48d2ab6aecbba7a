"""Host-side implementations of the three seams: entropy, clock and transport.

The same objects serve the native core and the core component (through the linker in
:mod:`harness.runtime`), which is what makes a seeded native run and a seeded component
run byte-for-byte equal. Every call across a seam is counted in :class:`SeamCounters`.

Deterministic entropy is HMAC-DRBG (NIST SP 800-90A Rev. 1, section 10.1.2) with
SHA-256, documented in :class:`HmacDrbg`; one generator per role, separated by the
personalization string, so the two roles never share random bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import deque
from dataclasses import dataclass, field

#: The largest single entropy request the seam serves (the WIT interface says so).
MAX_ENTROPY_REQUEST = 1024
#: Datagrams a loopback queue holds before it refuses more.
LOOPBACK_QUEUE_LIMIT = 256
#: The largest datagram the loopback accepts (an IPv6 minimum-MTU UDP payload).
MAX_DATAGRAM = 1280


@dataclass
class SeamCounters:
    """How often each seam was crossed, and how many bytes went over it."""

    clock_reads: int = 0
    entropy_calls: int = 0
    entropy_bytes: int = 0
    transport_sends: int = 0
    transport_send_bytes: int = 0
    transport_receives: int = 0
    transport_receive_bytes: int = 0
    transport_empty_receives: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain mapping (for reports and evidence)."""
        return dict(self.__dict__)

    def merged(self, other: SeamCounters) -> SeamCounters:
        """The sum of two sets of counters."""
        return SeamCounters(**{k: v + getattr(other, k) for k, v in self.__dict__.items()})


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
    """Deterministic entropy for one role: HMAC-DRBG from the run's seed and the role name."""

    def __init__(self, seed: int, role: str, counters: SeamCounters | None = None) -> None:
        self.seed = seed
        self.role = role
        self._drbg = HmacDrbg(seed_material(seed), role.encode("utf-8"))
        self.counters = counters if counters is not None else SeamCounters()

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes from the role's DRBG stream."""
        _check_request(n)
        self.counters.entropy_calls += 1
        self.counters.entropy_bytes += n
        return self._drbg.generate(n)


class OsEntropy:
    """Entropy from the operating system (for runs without ``--seed``)."""

    def __init__(self, counters: SeamCounters | None = None) -> None:
        self.counters = counters if counters is not None else SeamCounters()

    def random_bytes(self, n: int) -> bytes:
        """Return ``n`` bytes from ``os.urandom``."""
        _check_request(n)
        self.counters.entropy_calls += 1
        self.counters.entropy_bytes += n
        return os.urandom(n)


class ScriptedEntropy:
    """Entropy that hands out pre-recorded draws in order (replaying a real device)."""

    def __init__(self, draws: list[bytes], counters: SeamCounters | None = None) -> None:
        self._draws = deque(draws)
        self.counters = counters if counters is not None else SeamCounters()

    def random_bytes(self, n: int) -> bytes:
        """Return the next scripted draw, which must be exactly ``n`` bytes."""
        _check_request(n)
        self.counters.entropy_calls += 1
        self.counters.entropy_bytes += n
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


class EntropyExhausted(RuntimeError):
    """A scripted entropy source ran out or did not match the request."""


def _check_request(n: int) -> None:
    if not 0 <= n <= MAX_ENTROPY_REQUEST:
        raise ValueError(f"entropy request of {n} bytes is outside 0..{MAX_ENTROPY_REQUEST}")


class VirtualClock:
    """A clock the driver advances; reading it is counted, not timed."""

    def __init__(self, start_ms: int = 0, counters: SeamCounters | None = None) -> None:
        self._now = start_ms
        self.counters = counters if counters is not None else SeamCounters()

    def now_ms(self) -> int:
        """The current virtual time in milliseconds."""
        self.counters.clock_reads += 1
        return self._now

    def peek(self) -> int:
        """The current time without counting a seam crossing (for the driver itself)."""
        return self._now

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms`` milliseconds."""
        if ms < 0:
            raise ValueError("a monotonic clock does not go backwards")
        self._now += ms

    def advance_to(self, when_ms: int) -> None:
        """Move time forward to ``when_ms`` (never backwards)."""
        self._now = max(self._now, when_ms)


class MonotonicClock:
    """The host's real monotonic clock, in milliseconds since this object was made."""

    def __init__(self, counters: SeamCounters | None = None) -> None:
        self._origin = time.monotonic_ns()
        self.counters = counters if counters is not None else SeamCounters()

    def now_ms(self) -> int:
        """Milliseconds since creation on the monotonic clock."""
        self.counters.clock_reads += 1
        return (time.monotonic_ns() - self._origin) // 1_000_000

    def peek(self) -> int:
        """The current time without counting a seam crossing."""
        return (time.monotonic_ns() - self._origin) // 1_000_000

    def advance_to(self, when_ms: int) -> None:
        """Wait until ``when_ms`` (real time cannot be skipped)."""
        delay = when_ms - self.peek()
        if delay > 0:
            time.sleep(delay / 1000)


@dataclass(frozen=True)
class PacketRecord:
    """One datagram that crossed the transport: who sent it, when, and its bytes."""

    direction: str
    time_ms: int
    data: bytes


@dataclass
class LoopbackLink:
    """In-memory datagram link between two endpoints with a per-packet trace.

    Endpoint names are the role names; :meth:`endpoint` gives each side an object with
    the transport seam's shape.
    """

    names: tuple[str, str] = ("commissioner", "commissionee")
    clock: VirtualClock | MonotonicClock | None = None
    queue_limit: int = LOOPBACK_QUEUE_LIMIT
    trace: list[PacketRecord] = field(default_factory=list)
    dropped: int = 0
    _queues: dict[str, deque[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queues = {name: deque() for name in self.names}

    def endpoint(self, name: str, counters: SeamCounters | None = None) -> LoopbackEndpoint:
        """The transport seam for the side called ``name``."""
        if name not in self._queues:
            raise ValueError(f"unknown endpoint {name!r}; the link has {self.names}")
        peer = self.names[1] if name == self.names[0] else self.names[0]
        return LoopbackEndpoint(self, name, peer, counters or SeamCounters())

    def deliver(self, sender: str, receiver: str, datagram: bytes) -> bool:
        """Queue ``datagram`` for ``receiver``; False when refused."""
        queue = self._queues[receiver]
        if len(queue) >= self.queue_limit or len(datagram) > MAX_DATAGRAM:
            self.dropped += 1
            return False
        now = self.clock.peek() if self.clock is not None else 0
        self.trace.append(PacketRecord(f"{sender}->{receiver}", now, datagram))
        queue.append(datagram)
        return True

    def take(self, receiver: str) -> bytes | None:
        """The next datagram waiting for ``receiver``, or None."""
        queue = self._queues[receiver]
        return queue.popleft() if queue else None

    def pending(self) -> int:
        """Datagrams waiting in either direction."""
        return sum(len(q) for q in self._queues.values())

    def inject(self, receiver: str, datagram: bytes) -> None:
        """Put a datagram in front of ``receiver`` as if the peer had sent it (fault tests)."""
        self._queues[receiver].append(datagram)


@dataclass
class LoopbackEndpoint:
    """One side of a :class:`LoopbackLink`, with the transport seam's shape."""

    link: LoopbackLink
    name: str
    peer: str
    counters: SeamCounters

    def send(self, datagram: bytes) -> bool:
        """Send a datagram to the peer."""
        self.counters.transport_sends += 1
        self.counters.transport_send_bytes += len(datagram)
        return self.link.deliver(self.name, self.peer, bytes(datagram))

    def receive(self) -> bytes | None:
        """Take the next datagram for this side."""
        datagram = self.link.take(self.name)
        if datagram is None:
            self.counters.transport_empty_receives += 1
        else:
            self.counters.transport_receives += 1
            self.counters.transport_receive_bytes += len(datagram)
        return datagram


def transcript_digest(trace: list[PacketRecord], initiator: str = "commissioner") -> bytes:
    """SHA-256 over datagrams framed as direction byte, u32 LE length, bytes.

    The same framing as the core's transcript hash and the loopback component's traffic
    digest: 1 for datagrams the initiator sent, 2 for the responder's.
    """
    digest = hashlib.sha256()
    for packet in trace:
        direction = 1 if packet.direction.startswith(initiator + "->") else 2
        digest.update(bytes([direction]) + len(packet.data).to_bytes(4, "little") + packet.data)
    return digest.digest()


#: The faults :class:`FaultyTransport` can apply to an outgoing datagram.
FAULTS = ("flip", "truncate", "drop")


@dataclass
class FaultyTransport:
    """A transport seam that damages chosen outgoing datagrams (fault-injection tests).

    Wraps a loopback endpoint (or another faulty transport). The datagrams whose
    0-based send index is in ``on_sends`` (every one when None) get ``fault``:

    * ``flip``: XOR the byte at ``offset`` (negative counts from the end) with ``mask``;
    * ``truncate``: keep only the first ``keep`` bytes;
    * ``drop``: report success but deliver nothing (a lost datagram).

    Receiving is passed through untouched. ``faults_applied`` counts damaged datagrams,
    so a test can tell a fault that never fired from one the core shrugged off.
    """

    inner: LoopbackEndpoint | FaultyTransport
    fault: str = "flip"
    on_sends: frozenset[int] | None = None
    offset: int = -1
    mask: int = 0xFF
    keep: int = 8
    sends: int = 0
    faults_applied: int = 0

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {FAULTS}")
        if not 1 <= self.mask <= 0xFF:
            raise ValueError("a flip mask must change at least one bit of one byte")
        if self.keep < 0:
            raise ValueError("cannot keep a negative number of bytes")

    def send(self, datagram: bytes) -> bool:
        """Send ``datagram``, damaged first if this send is one of the chosen ones."""
        index = self.sends
        self.sends += 1
        if self.on_sends is not None and index not in self.on_sends:
            return self.inner.send(datagram)
        data = bytes(datagram)
        if self.fault == "drop":
            self.faults_applied += 1
            return True
        if self.fault == "truncate":
            if len(data) <= self.keep:
                return self.inner.send(data)  # nothing to cut: not a fault
            self.faults_applied += 1
            return self.inner.send(data[: self.keep])
        if not -len(data) <= self.offset < len(data):
            return self.inner.send(data)  # offset outside this datagram: leave it intact
        damaged = bytearray(data)
        damaged[self.offset] ^= self.mask
        self.faults_applied += 1
        return self.inner.send(bytes(damaged))

    def receive(self) -> bytes | None:
        """Take the next datagram from the wrapped transport, unchanged."""
        return self.inner.receive()
