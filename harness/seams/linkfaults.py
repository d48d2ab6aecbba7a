"""Seeded, rate-based link faults: drop, corrupt, duplicate, reorder, delay; and injection.

One fault model serves every placement. The host applies it here (the native and
component runs over :class:`~harness.seams.loopback.LoopbackLink`, and ``peer`` over UDP
through :class:`FaultyDatagramTransport`); the loopback transport component applies the
same model inside the composed graph (``components/loopback/link.wat``, a second
implementation with identical semantics in WebAssembly text, configured through the
``link-faults`` export).
The same plan, seed material and sequence of sends give the same decisions in both.

**The plan** (:class:`FaultPlan`, parsed from ``drop=0.3,duplicate=0.1,...``): rates in
[0, 1] for ``drop``, ``corrupt``, ``duplicate`` and ``reorder``, and ``delay`` in
milliseconds of (virtual, in seeded runs) clock time. An empty plan draws nothing and
changes nothing.

**The randomness.** Decisions come from HMAC-DRBG (:class:`~harness.seams.entropy.HmacDrbg`)
over the run's seed material (:func:`~harness.seams.entropy.seed_material`, or 32 bytes
of OS randomness without a seed) with personalization ``faults``: a stream separate from
the cores' entropy stream, so the cores draw exactly what they draw unfaulted.

**Per datagram, decided at send time**, every send with a non-empty plan takes one
Generate call of :data:`DECISION_BYTES` bytes, read as six big-endian u32 values
``u0..u5``. A rate ``r`` fires when ``u < floor(r * 2**32)``. In this fixed order:

1. drop (``u0``): the datagram is lost; nothing else applies;
2. corrupt (``u1``): the byte at ``u2 mod len`` is XORed with ``1 + u3 mod 255``
   (an empty datagram cannot be corrupted);
3. duplicate (``u4``): the datagram is delivered twice;
4. reorder (``u5``): the datagram (with its duplicate) is held back and delivered right
   after the next datagram sent in the same direction, or :data:`REORDER_HOLD_MS` after
   it was sent if no other datagram comes first, so nothing is held forever;
5. delay: every datagram not dropped is delivered ``delay`` ms after it was sent (a held
   datagram: after it is released).

:meth:`LinkFaults.calm` ends the faults (the driver calls it once the handshake is over,
before the secure-session probes, which have no retransmission): later datagrams pass
at once and draw nothing. Decisions depend only on the plan, the seed material and the
send's index, never on when the receiver looks. Datagrams a run injects
(:meth:`LinkFaults.inject`, the link adversary) draw nothing and are counted as
``injected``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Protocol

from harness.errors import HarnessError
from harness.seams.entropy import HmacDrbg, seed_material

#: The personalization string of the fault stream (the cores' stream is ``run``).
FAULT_STREAM = "faults"
#: Bytes drawn per faulted send: six u32 decision values.
DECISION_BYTES = 24
#: The longest a reordered datagram is held when no later datagram overtakes it.
REORDER_HOLD_MS = 1_000
#: The largest delay a plan may ask for (one hour of clock time).
MAX_DELAY_MS = 3_600_000
#: Fault events a link keeps in its log; later ones are counted but not logged.
FAULT_LOG_LIMIT = 4096
#: The rate keys of the plan syntax, in decision order, and the delay key.
RATE_KEYS = ("drop", "corrupt", "duplicate", "reorder")
DELAY_KEY = "delay"
#: The kinds of fault event, as the counters and the log name them.
FAULT_KINDS = ("dropped", "corrupted", "duplicated", "reordered", "delayed", "injected")


class FaultPlanError(HarnessError, ValueError):
    """A fault plan that cannot be used: unknown key, bad number, rate out of range."""


@dataclass(frozen=True)
class FaultPlan:
    """What faults a link applies: four rates in [0, 1] and a delay in ms."""

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    delay_ms: int = 0

    def __post_init__(self) -> None:
        for key in RATE_KEYS:
            rate = getattr(self, key)
            if isinstance(rate, bool) or not isinstance(rate, int | float):
                raise FaultPlanError(f"fault rate {key} must be a number, not {rate!r}")
            if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
                raise FaultPlanError(f"fault rate {key}={rate} is outside 0..1")
        delay = self.delay_ms
        if isinstance(delay, bool) or not isinstance(delay, int):
            raise FaultPlanError(f"fault delay must be a whole number of ms, not {delay!r}")
        if not 0 <= delay <= MAX_DELAY_MS:
            raise FaultPlanError(f"fault delay={delay} ms is outside 0..{MAX_DELAY_MS}")

    @property
    def empty(self) -> bool:
        """True when the plan changes nothing (and draws nothing)."""
        return self.delay_ms == 0 and all(getattr(self, key) == 0 for key in RATE_KEYS)

    def thresholds(self) -> tuple[int, int, int, int]:
        """drop, corrupt, duplicate, reorder as u32 thresholds: ``floor(rate * 2**32)``."""
        return (
            int(self.drop * 4294967296.0),
            int(self.corrupt * 4294967296.0),
            int(self.duplicate * 4294967296.0),
            int(self.reorder * 4294967296.0),
        )

    def text(self) -> str:
        """The plan in the ``k=v,k=v`` syntax (only the faults it applies); parsing it
        gives the same plan (rates are written in full: ``repr`` round-trips a float)."""
        parts = [f"{key}={getattr(self, key)!r}" for key in RATE_KEYS if getattr(self, key)]
        if self.delay_ms:
            parts.append(f"{DELAY_KEY}={self.delay_ms}")
        return ",".join(parts) or "none"


def parse_fault_plan(text: str) -> FaultPlan:
    """Parse ``drop=0.3,duplicate=0.1,reorder=0.1,delay=40,corrupt=0.05``.

    Keys may come in any order, each at most once; an empty text is the empty plan.
    Raises :class:`FaultPlanError` saying what is wrong.
    """
    values: dict[str, float | int] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            if text.strip():
                raise FaultPlanError(f"empty entry in fault plan {text!r}")
            continue
        key, sep, number = (part.strip() for part in item.partition("="))
        if not sep:
            raise FaultPlanError(f"fault plan entry {item!r} is not key=value")
        if key not in RATE_KEYS and key != DELAY_KEY:
            known = ", ".join((*RATE_KEYS, DELAY_KEY))
            raise FaultPlanError(f"unknown fault {key!r}; known: {known}")
        if key in values:
            raise FaultPlanError(f"fault {key!r} is given twice")
        values[key] = _parse_delay(number) if key == DELAY_KEY else _parse_rate(key, number)
    delay = int(values.pop(DELAY_KEY, 0))
    return FaultPlan(**{k: float(v) for k, v in values.items()}, delay_ms=delay)


def _parse_rate(key: str, number: str) -> float:
    try:
        rate = float(number)
    except ValueError:
        raise FaultPlanError(f"fault rate {key}={number!r} is not a number") from None
    if not math.isfinite(rate) or not 0.0 <= rate <= 1.0:
        raise FaultPlanError(f"fault rate {key}={number} is outside 0..1")
    return rate


def _parse_delay(number: str) -> int:
    if not number.isdigit():
        raise FaultPlanError(f"fault delay={number!r} is not a whole number of ms")
    delay = int(number)
    if delay > MAX_DELAY_MS:
        raise FaultPlanError(f"fault delay={delay} ms is outside 0..{MAX_DELAY_MS}")
    return delay


def fault_seed_material(seed: int | None) -> bytes:
    """The fault stream's entropy input: the run's seed material, or OS randomness."""
    return seed_material(seed) if seed is not None else os.urandom(32)


@dataclass
class FaultCounts:
    """How many times each fault was applied (per datagram sent; injections apart)."""

    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0
    injected: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain mapping (for reports and evidence)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def line(self) -> str:
        """``dropped=3 corrupted=0 duplicated=1 reordered=1 delayed=9 injected=0``."""
        return " ".join(f"{k}={v}" for k, v in self.as_dict().items())


@dataclass(frozen=True)
class FaultEvent:
    """One fault applied: to which send (or injection), which way, when, and a detail.

    ``index`` counts sends from 0 (injections: counts injections from 0); ``direction``
    is 0 from endpoint A (the commissioner) to B, 1 back; ``detail`` is the corrupted
    byte's offset, the delayed datagram's release time, the injected datagram's length,
    and 0 otherwise.
    """

    index: int
    direction: int
    at_ms: int
    kind: str
    detail: int = 0


@dataclass(order=True)
class _Flight:
    release_ms: int
    seq: int
    data: bytes = field(compare=False)


@dataclass
class _Held:
    deadline_ms: int
    copies: list[bytes]


class LinkFaults:
    """The fault model applied to a two-direction datagram link (see the module docstring).

    The link calls :meth:`submit` for every datagram sent (direction 0: A to B, 1: B to
    A) and :meth:`due` before every receive; :meth:`next_release_ms` tells a driver when
    the next held or delayed datagram becomes deliverable.
    """

    def __init__(self, plan: FaultPlan, seed: bytes) -> None:
        self.plan = plan
        self.counts = FaultCounts()
        self.log: list[FaultEvent] = []
        self.sends = 0
        self.calmed = False
        self._thresholds = plan.thresholds()
        self._drbg = HmacDrbg(seed, FAULT_STREAM.encode("ascii"))
        self._seq = 0
        self._flight: tuple[list[_Flight], list[_Flight]] = ([], [])
        self._held: tuple[list[_Held], list[_Held]] = ([], [])

    def submit(self, direction: int, datagram: bytes, now_ms: int) -> None:
        """Apply the plan to one datagram sent in ``direction`` at ``now_ms``."""
        index = self.sends
        self.sends += 1
        self._expire(direction, now_ms)
        data = bytes(datagram)
        if self.plan.empty or self.calmed:
            self._deliver(direction, [data], now_ms)
            return
        block = self._drbg.generate(DECISION_BYTES)
        u = [int.from_bytes(block[i : i + 4], "big") for i in range(0, DECISION_BYTES, 4)]
        drop, corrupt, duplicate, reorder = self._thresholds
        if u[0] < drop:
            self._record(index, direction, now_ms, "dropped")
            return
        if data and u[1] < corrupt:
            offset = u[2] % len(data)
            damaged = bytearray(data)
            damaged[offset] ^= 1 + u[3] % 255
            data = bytes(damaged)
            self._record(index, direction, now_ms, "corrupted", offset)
        copies = [data]
        if u[4] < duplicate:
            copies.append(data)
            self._record(index, direction, now_ms, "duplicated")
        if u[5] < reorder:
            self._record(index, direction, now_ms, "reordered")
            if self.plan.delay_ms:
                self._record(index, direction, now_ms, "delayed")
            self._held[direction].append(_Held(now_ms + REORDER_HOLD_MS, copies))
            return
        release = now_ms + self.plan.delay_ms
        if self.plan.delay_ms:
            self._record(index, direction, now_ms, "delayed", release)
        self._deliver(direction, copies, release)

    def calm(self) -> None:
        """Apply no more faults: later datagrams pass at once, drawing nothing; those
        already held or delayed are still delivered as decided."""
        self.calmed = True

    def inject(self, direction: int, datagram: bytes, now_ms: int) -> None:
        """Deliver ``datagram`` in ``direction`` now, as if sent (the link adversary)."""
        self._record(self.counts.injected, direction, now_ms, "injected", len(datagram))
        self._schedule(direction, [bytes(datagram)], now_ms)

    def due(self, direction: int, now_ms: int) -> list[bytes]:
        """The datagrams deliverable in ``direction`` at ``now_ms``, in delivery order."""
        self._expire(direction, now_ms)
        flight = self._flight[direction]
        ready = sorted(item for item in flight if item.release_ms <= now_ms)
        if ready:
            flight[:] = [item for item in flight if item.release_ms > now_ms]
        return [item.data for item in ready]

    def next_release_ms(self) -> int | None:
        """When the next held or delayed datagram becomes deliverable; None if none."""
        times = [item.release_ms for flight in self._flight for item in flight]
        delay = self.plan.delay_ms
        times.extend(held.deadline_ms + delay for queue in self._held for held in queue)
        return min(times) if times else None

    def pending(self, direction: int) -> int:
        """Datagrams held or in flight in ``direction``."""
        held = sum(len(h.copies) for h in self._held[direction])
        return len(self._flight[direction]) + held

    def _expire(self, direction: int, now_ms: int) -> None:
        """Release held datagrams whose hold time ran out by ``now_ms``, at that time."""
        queue = self._held[direction]
        while queue and queue[0].deadline_ms <= now_ms:
            held = queue.pop(0)
            self._schedule(direction, held.copies, held.deadline_ms + self.plan.delay_ms)

    def _deliver(self, direction: int, copies: list[bytes], release_ms: int) -> None:
        """Schedule ``copies``, then every datagram held back in ``direction`` after them."""
        self._schedule(direction, copies, release_ms)
        for held in self._held[direction]:
            self._schedule(direction, held.copies, release_ms)
        self._held[direction].clear()

    def _schedule(self, direction: int, copies: list[bytes], release_ms: int) -> None:
        for data in copies:
            self._flight[direction].append(_Flight(release_ms, self._seq, data))
            self._seq += 1

    def _record(self, index: int, direction: int, now_ms: int, kind: str, detail: int = 0) -> None:
        setattr(self.counts, kind, getattr(self.counts, kind) + 1)
        if len(self.log) < FAULT_LOG_LIMIT:
            self.log.append(FaultEvent(index, direction, now_ms, kind, detail))


class _Transport(Protocol):
    def send(self, datagram: bytes) -> bool: ...

    def receive(self) -> bytes | None: ...


class _PeekClock(Protocol):
    def peek(self) -> int: ...


class FaultyDatagramTransport:
    """A transport seam that applies a :class:`LinkFaults` model to a real transport.

    For ``peer --faults`` over UDP: direction 0 is what the core sends (released to the
    wrapped transport when due), direction 1 what arrives (faulted as it is taken from
    the wrapped transport, handed to the core when due). A send the plan drops or holds
    reports success, like a datagram lost on the network. ``next_release_ms`` tells the
    caller's loop when to wake for a delayed datagram.
    """

    OUT = 0
    IN = 1

    def __init__(self, inner: _Transport, faults: LinkFaults, clock: _PeekClock) -> None:
        self.inner = inner
        self.faults = faults
        self.clock = clock
        self._arrived: list[bytes] = []

    def send(self, datagram: bytes) -> bool:
        """Fault ``datagram`` and send what is due now."""
        now = self.clock.peek()
        self.faults.submit(self.OUT, datagram, now)
        ok = True
        for data in self.faults.due(self.OUT, now):
            ok = self.inner.send(data) and ok
        return ok

    def receive(self) -> bytes | None:
        """The next datagram due for the core, after faulting what arrived."""
        now = self.clock.peek()
        for data in self.faults.due(self.OUT, now):  # delayed sends go out on any call
            self.inner.send(data)
        while (arrived := self.inner.receive()) is not None:
            self.faults.submit(self.IN, arrived, now)
        self._arrived.extend(self.faults.due(self.IN, now))
        return self._arrived.pop(0) if self._arrived else None

    def next_release_ms(self) -> int | None:
        """When the next held or delayed datagram is due (for the caller's wait)."""
        return self.faults.next_release_ms()
