"""Fuzz cases: the captured handshake, the steps a case is fed at, seeded mutation, shards.

A case is one datagram fed to one PASE role held at one *step* of the handshake. The
steps come from a handshake captured natively between two :class:`CoreEndpoint` objects
on a fixed clock, each role with an entropy stream of its own: restarting a role with its
stream reset and replaying the peer's datagrams before the step (the *prefix*) puts it in
exactly the captured state again, natively or in a component. (The seeded run's trace,
``run_native(RunConfig(seed=7)).trace``, cannot be replayed this way: both roles of a run
draw from one stream, so one role alone would draw other values.)

The seeded mutational generator draws every case from ``(seed, index)`` alone, so a case
is the same whichever shard or process makes it: shard ``I/N`` takes the indices ``i``
with ``i % N == I - 1`` of ``range(cases)``, which are disjoint across shards and together
cover the campaign.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import dataclass
from functools import cache

from matter_core import spake2p
from matter_core.endpoint import CoreEndpoint
from matter_core.errors import DecodeError
from matter_core.message import MessageHeader, ProtocolHeader, SecureChannelOpcode
from matter_core.tlv import ByteReader

from harness.drive.config import DEFAULT_ITERATIONS, DEFAULT_PASSCODE, DEFAULT_SALT
from harness.errors import HarnessError
from harness.seams import SeededEntropy
from harness.wit import COMMISSIONEE, COMMISSIONER

#: The clock every fuzzed role reads: fixed, so no retransmission timer ever fires and a
#: replayed prefix reaches the same state every time.
FUZZ_NOW_MS = 1_000
#: The seed of the captured handshake (the gate's seed).
CAPTURE_SEED = 7
#: Iterations of the captured handshake: the smallest the specification allows (Matter Core
#: Specification 1.3, section 3.9, PBKDF2 iterations 1000..100000), so a replayed prefix
#: that runs PBKDF2 is cheap.
CAPTURE_ITERATIONS = DEFAULT_ITERATIONS


class FuzzError(HarnessError):
    """A fuzz campaign that cannot run: bad parameters, a capture that does not replay."""


def parse_shard(text: str) -> tuple[int, int]:
    """``I/N`` (1 <= I <= N) as ``(I, N)``; a :class:`FuzzError` for anything else."""
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise FuzzError(f"--shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}")
    shard, shards = int(index), int(count)
    if not 1 <= shard <= shards:
        raise FuzzError(f"--shard must be I/N with 1 <= I <= N, e.g. 2/4; got {text!r}")
    return shard, shards


def shard_indices(cases: int, shard: tuple[int, int] = (1, 1)) -> range:
    """The case indices of ``shard`` (``(I, N)``) in a campaign of ``cases`` cases."""
    index, count = shard
    return range(index - 1, cases, count)


class RoleEntropy:
    """A role's entropy stream, reset to its start whenever the role is restarted."""

    def __init__(self, role: str, seed: int = CAPTURE_SEED) -> None:
        self.role = role
        self.seed = seed
        self._source = SeededEntropy(seed, f"fuzz-{role}")

    def reset(self) -> None:
        """Start the stream over."""
        self._source = SeededEntropy(self.seed, f"fuzz-{self.role}")

    def random_bytes(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        return self._source.random_bytes(n)


class FixedClock:
    """A clock that always reads :data:`FUZZ_NOW_MS`."""

    def now_ms(self) -> int:
        """:data:`FUZZ_NOW_MS`."""
        return FUZZ_NOW_MS


class QueueTransport:
    """A transport seam over two queues: what the host puts in, what the role sent."""

    def __init__(self) -> None:
        self.inbox: deque[bytes] = deque()
        self.sent: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        """Keep what the role sends."""
        self.sent.append(bytes(datagram))
        return True

    def receive(self) -> bytes | None:
        """The next datagram put in, or None."""
        return self.inbox.popleft() if self.inbox else None

    def take_sent(self) -> list[bytes]:
        """What the role sent since the last call."""
        sent, self.sent = self.sent, []
        return sent


@dataclass(frozen=True)
class Step:
    """A role held where it waits for the peer's ``opcode``: started, the ``prefix``
    replayed, then each case fed in place of the captured ``base`` datagram."""

    name: str
    role: str
    prefix: tuple[bytes, ...]
    base: bytes
    sent: tuple[bytes, ...]
    """What the role sent while the prefix was replayed in the capture."""


@dataclass(frozen=True)
class Capture:
    """The captured handshake: role parameters, every datagram in order, the steps."""

    passcode: int
    salt: bytes
    iterations: int
    verifier: bytes
    datagrams: tuple[tuple[str, bytes], ...]
    """(sender, datagram), in the order they were delivered."""
    steps: tuple[Step, ...]


def start_role(endpoint: CoreEndpoint, role: str, capture: Capture) -> None:
    """Start ``endpoint`` as ``role`` with the captured parameters."""
    if role == COMMISSIONER:
        endpoint.start_commissioner(capture.passcode)
    else:
        endpoint.start_commissionee(capture.verifier, capture.salt, capture.iterations)


@cache
def capture_handshake() -> Capture:
    """Run one native handshake on the fixed clock and cut it into steps (computed once)."""
    verifier = spake2p.compute_verifier(DEFAULT_PASSCODE, DEFAULT_SALT, CAPTURE_ITERATIONS)
    partial = Capture(DEFAULT_PASSCODE, DEFAULT_SALT, CAPTURE_ITERATIONS, verifier, (), ())
    transports = {COMMISSIONER: QueueTransport(), COMMISSIONEE: QueueTransport()}
    endpoints = {
        role: CoreEndpoint(transports[role], FixedClock(), RoleEntropy(role))
        for role in (COMMISSIONEE, COMMISSIONER)
    }
    log: list[tuple[str, bytes]] = []
    for role in (COMMISSIONEE, COMMISSIONER):
        start_role(endpoints[role], role, partial)
    for _ in range(16):
        moved = False
        for role, peer in ((COMMISSIONER, COMMISSIONEE), (COMMISSIONEE, COMMISSIONER)):
            for datagram in transports[role].take_sent():
                log.append((role, datagram))
                transports[peer].inbox.append(datagram)
                moved = True
            endpoints[peer].poll()
        if not moved:
            break
    if not all(endpoints[role].status().established for role in endpoints):
        raise FuzzError("the captured handshake did not establish on the fixed clock")
    steps = tuple(_steps(log, COMMISSIONEE) + _steps(log, COMMISSIONER))
    return Capture(DEFAULT_PASSCODE, DEFAULT_SALT, CAPTURE_ITERATIONS, verifier, tuple(log), steps)


def _steps(log: list[tuple[str, bytes]], role: str) -> list[Step]:
    """One step per message (not a standalone ack) the peer of ``role`` sent."""
    steps: list[Step] = []
    received: list[bytes] = []
    sent: list[bytes] = []
    for sender, datagram in log:
        if sender == role:
            sent.append(datagram)
            continue
        opcode = _opcode(datagram)
        if opcode is not None and opcode != SecureChannelOpcode.STANDALONE_ACK:
            name = f"{role}/{SecureChannelOpcode(opcode).name.lower().replace('_', '-')}"
            steps.append(Step(name, role, tuple(received), datagram, tuple(sent)))
        received.append(datagram)
    return steps


def _opcode(datagram: bytes) -> int | None:
    try:
        reader = ByteReader(datagram)
        MessageHeader.pull(reader)
        return ProtocolHeader.pull(reader).opcode
    except DecodeError:
        return None


def payload_offset(datagram: bytes) -> int:
    """Where the message's payload starts (0 if its headers do not decode)."""
    try:
        reader = ByteReader(datagram)
        MessageHeader.pull(reader)
        ProtocolHeader.pull(reader)
    except DecodeError:
        return 0
    return reader.position


_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x10, 0x18, 0x15, 0x30, 0x24, 0x25)


def _mutate_once(rng: random.Random, data: bytearray, start: int, pool: list[bytes]) -> None:
    """One mutation of ``data``, mostly at or after ``start`` (the payload)."""
    low = start if rng.random() < 0.75 and start < len(data) else 0
    where = rng.randrange(low, len(data)) if len(data) > low else len(data)
    kind = rng.randrange(9)
    if kind == 0 and data:  # flip a bit
        data[min(where, len(data) - 1)] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:  # an interesting byte
        data[min(where, len(data) - 1)] = rng.choice(_INTERESTING)
    elif kind == 2:  # truncate
        del data[where:]
    elif kind == 3:  # append random bytes
        data.extend(rng.randbytes(rng.randrange(1, 40)))
    elif kind == 4:  # delete a slice
        del data[where : where + rng.randrange(1, 17)]
    elif kind == 5:  # insert random bytes
        data[where:where] = rng.randbytes(rng.randrange(1, 9))
    elif kind == 6:  # duplicate a slice
        length = rng.randrange(1, 17)
        data[where:where] = data[where : where + length]
    elif kind == 7:  # splice with another captured datagram
        other = rng.choice(pool)
        cut = rng.randrange(len(other) + 1)
        data[where:] = other[cut:]
    elif data:  # a random little-endian integer field
        width = rng.choice((1, 2, 4))
        end = min(len(data), where + width)
        data[where:end] = rng.randbytes(end - where)


def generate_case(seed: int, index: int, capture: Capture) -> tuple[int, bytes]:
    """Case ``index`` of the campaign ``seed``: (step index, datagram). A function of
    ``(seed, index)`` alone."""
    digest = hashlib.sha256(f"matter-harness-fuzz:{seed}:{index}".encode()).digest()
    rng = random.Random(digest)
    step_index = rng.randrange(len(capture.steps))
    step = capture.steps[step_index]
    pool = [datagram for _, datagram in capture.datagrams]
    if rng.random() < 0.02:
        return step_index, rng.randbytes(rng.randrange(0, 96))
    base = step.base if rng.random() < 0.9 else rng.choice(pool)
    data = bytearray(base)
    start = payload_offset(base)
    for _ in range(1 + min(rng.getrandbits(3).bit_count(), 3)):
        _mutate_once(rng, data, start, pool)
    return step_index, bytes(data)


def encode_regression(step: int, datagram: bytes) -> bytes:
    """A crashing case as a regression file: the step index, then the datagram."""
    return bytes([step]) + datagram


def decode_regression(data: bytes, capture: Capture) -> tuple[int, bytes]:
    """(step index, datagram) of a regression file."""
    if not data or data[0] >= len(capture.steps):
        raise FuzzError("a regression file starts with a step index of the captured handshake")
    return data[0], data[1:]
