"""The link fault model inside the loopback transport component (the composed graph).

A second implementation of the host's model (``harness/seams/linkfaults.py`` in the
harness) with identical semantics, so the same plan, seed material and sends get the
same decisions on either side of the component boundary. It imports nothing but
``hashlib`` (componentize-py's CPython has no OpenSSL, and ``hmac.new`` traps there, so
HMAC-SHA256 is written out per RFC 2104 over ``hashlib.sha256``) and raises nothing once
configured: the exports that call it must never trap.

Randomness: HMAC-DRBG with SHA-256 (NIST SP 800-90A Rev. 1, section 10.1.2), no
reseeding, entropy input = the seed material the host passes, personalization
``faults``. Every send under a non-empty plan takes one Generate call of 24 bytes, read
as six big-endian u32 values u0..u5; a rate r fires when u < floor(r * 2**32). Order:
drop (u0; nothing else applies), corrupt (u1: XOR the byte at u2 mod len with
1 + u3 mod 255), duplicate (u4), reorder (u5: held until the next datagram in the same
direction is delivered, or REORDER_HOLD_MS after it was sent), delay (every datagram
not dropped is delivered delay-ms after it was sent, or after it is released).
"""

from __future__ import annotations

import hashlib

_TRANS_36 = bytes(i ^ 0x36 for i in range(256))
_TRANS_5C = bytes(i ^ 0x5C for i in range(256))

FAULT_STREAM = b"faults"
DECISION_BYTES = 24
REORDER_HOLD_MS = 1_000
MAX_DELAY_MS = 3_600_000
FAULT_LOG_LIMIT = 4096
KINDS = ("dropped", "corrupted", "duplicated", "reordered", "delayed", "injected")


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104, section 2; block size 64 bytes)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\x00")
    inner = hashlib.sha256(key.translate(_TRANS_36) + data).digest()
    return hashlib.sha256(key.translate(_TRANS_5C) + inner).digest()


class HmacDrbg:
    """HMAC-DRBG with SHA-256 (SP 800-90A Rev. 1, section 10.1.2), without reseeding."""

    def __init__(self, seed_material: bytes, personalization: bytes) -> None:
        self._key = bytes(32)
        self._value = b"\x01" * 32
        self._update(seed_material + personalization)

    def _mac(self, key: bytes, data: bytes) -> bytes:
        return hmac_sha256(key, data)

    def _update(self, provided: bytes) -> None:
        self._key = self._mac(self._key, self._value + b"\x00" + provided)
        self._value = self._mac(self._key, self._value)
        if provided:
            self._key = self._mac(self._key, self._value + b"\x01" + provided)
            self._value = self._mac(self._key, self._value)

    def generate(self, length: int) -> bytes:
        out = bytearray()
        while len(out) < length:
            self._value = self._mac(self._key, self._value)
            out += self._value
        self._update(b"")
        return bytes(out[:length])


def check_plan(rates: tuple[float, float, float, float], delay_ms: int) -> str | None:
    """Why ``(drop, corrupt, duplicate, reorder)`` and ``delay_ms`` are unusable, or None."""
    for name, rate in zip(("drop", "corrupt", "duplicate", "reorder"), rates, strict=True):
        if not 0.0 <= rate <= 1.0:  # also false for NaN
            return f"fault rate {name}={rate} is outside 0..1"
    if not 0 <= delay_ms <= MAX_DELAY_MS:
        return f"fault delay={delay_ms} ms is outside 0..{MAX_DELAY_MS}"
    return None


class LinkFaults:
    """The fault model on the two directions of the link (0: A to B, 1: B to A)."""

    def __init__(
        self, rates: tuple[float, float, float, float], delay_ms: int, seed: bytes
    ) -> None:
        self.delay_ms = delay_ms
        self.empty = delay_ms == 0 and all(rate == 0 for rate in rates)
        self.thresholds = tuple(int(rate * 4294967296.0) for rate in rates)
        self.counts = dict.fromkeys(KINDS, 0)
        self.log: list[tuple[int, int, int, str, int]] = []
        self.sends = 0
        self.calmed = False
        self._drbg = HmacDrbg(seed, FAULT_STREAM)
        self._seq = 0
        # (release_ms, seq, data) per direction; [deadline_ms, copies] held per direction.
        self._flight: tuple[list[tuple[int, int, bytes]], ...] = ([], [])
        self._held: tuple[list[tuple[int, list[bytes]]], ...] = ([], [])

    def submit(self, direction: int, data: bytes, now_ms: int) -> None:
        index = self.sends
        self.sends += 1
        self._expire(direction, now_ms)
        if self.empty or self.calmed:
            self._deliver(direction, [data], now_ms)
            return
        block = self._drbg.generate(DECISION_BYTES)
        u = [int.from_bytes(block[i : i + 4], "big") for i in range(0, DECISION_BYTES, 4)]
        drop, corrupt, duplicate, reorder = self.thresholds
        if u[0] < drop:
            self._record(index, direction, now_ms, "dropped", 0)
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
            self._record(index, direction, now_ms, "duplicated", 0)
        if u[5] < reorder:
            self._record(index, direction, now_ms, "reordered", 0)
            if self.delay_ms:
                self._record(index, direction, now_ms, "delayed", 0)
            self._held[direction].append((now_ms + REORDER_HOLD_MS, copies))
            return
        release = now_ms + self.delay_ms
        if self.delay_ms:
            self._record(index, direction, now_ms, "delayed", release)
        self._deliver(direction, copies, release)

    def inject(self, direction: int, data: bytes, now_ms: int) -> None:
        self._record(self.counts["injected"], direction, now_ms, "injected", len(data))
        self._schedule(direction, [data], now_ms)

    def due(self, direction: int, now_ms: int) -> list[bytes]:
        self._expire(direction, now_ms)
        flight = self._flight[direction]
        ready = sorted(item for item in flight if item[0] <= now_ms)
        if ready:
            flight[:] = [item for item in flight if item[0] > now_ms]
        return [item[2] for item in ready]

    def next_release_ms(self) -> int | None:
        times = [item[0] for flight in self._flight for item in flight]
        times.extend(held[0] + self.delay_ms for queue in self._held for held in queue)
        return min(times) if times else None

    def pending(self, direction: int) -> int:
        held = sum(len(copies) for _deadline, copies in self._held[direction])
        return len(self._flight[direction]) + held

    def _expire(self, direction: int, now_ms: int) -> None:
        queue = self._held[direction]
        while queue and queue[0][0] <= now_ms:
            deadline, copies = queue.pop(0)
            self._schedule(direction, copies, deadline + self.delay_ms)

    def _deliver(self, direction: int, copies: list[bytes], release_ms: int) -> None:
        self._schedule(direction, copies, release_ms)
        for _deadline, held in self._held[direction]:
            self._schedule(direction, held, release_ms)
        self._held[direction].clear()

    def _schedule(self, direction: int, copies: list[bytes], release_ms: int) -> None:
        for data in copies:
            self._flight[direction].append((release_ms, self._seq, data))
            self._seq += 1

    def _record(self, index: int, direction: int, now_ms: int, kind: str, detail: int) -> None:
        self.counts[kind] += 1
        if len(self.log) < FAULT_LOG_LIMIT:
            self.log.append((index, direction, now_ms, kind, detail))
