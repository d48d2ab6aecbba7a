"""Micro-benchmarks of the core's pure-Python crypto, natively.

Run: ``python benchmarks/bench_core_crypto.py [--runs 50]``. Prints the median time of
each entry over repeated runs and, where one exists, the ratio to its target
(ratio <= 1.0 meets it). Exit status is 0 either way: this reports, it does not gate.

To measure something else, append a :class:`Benchmark` to the list built in
:func:`benchmarks` (for example one full native handshake).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Benchmark the source tree this script belongs to, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components" / "core"))

from matter_core import kdf, p256, spake2p
from matter_core.pase import Commissionee, Commissioner, State


@dataclass(frozen=True)
class Benchmark:
    """One timed operation: ``fn`` is called once per run."""

    name: str
    fn: Callable[[], object]
    target_ms: float | None = None


class _SeededEntropy:
    """Reproducible entropy for the benchmark (never used by the core itself)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n)


def _scalars(count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(1, p256.ORDER) for _ in range(count)]


def _cycle(values: list[int]) -> Callable[[], int]:
    index = -1

    def next_value() -> int:
        nonlocal index
        index = (index + 1) % len(values)
        return values[index]

    return next_value


def _build_tables() -> None:
    for point in (p256.G, p256.M, p256.N):
        p256.FixedBase(point).prepare()


def _spake2p_exchange() -> None:
    w0, w1 = _scalars(2, 7)
    context = bytes(32)
    prover = spake2p.Spake2pProver(context, w0, w1)
    verifier = spake2p.Spake2pVerifier(context, w0, p256.base_mult(w1))
    x_share = prover.share(entropy=_SeededEntropy(1))
    y_share = verifier.share(entropy=_SeededEntropy(2))
    cb = verifier.process_peer_share(x_share)
    ca = prover.process_peer_share(y_share)
    prover.verify_peer_confirmation(cb)
    verifier.verify_peer_confirmation(ca)


def _native_handshake(iterations: int) -> Callable[[], None]:
    """One whole PASE handshake, both roles in-process, datagrams handed straight across.

    The device's verifier is computed once outside the timing (a device stores it); the
    commissioner's PBKDF2 from the passcode is part of every run.
    """
    salt = b"SPAKE2P Key Salt"
    verifier = spake2p.compute_verifier(20202021, salt, iterations)
    seeds = iter(range(1, 1 << 30))

    def run() -> None:
        seed = next(seeds)
        commissioner = Commissioner(20202021, entropy=_SeededEntropy(2 * seed), now_ms=0)
        commissionee = Commissionee(
            verifier, salt, iterations, entropy=_SeededEntropy(2 * seed + 1), now_ms=0
        )
        commissionee.start(0)
        commissioner.start(0)
        while outgoing := commissioner.datagrams_to_send():
            for datagram in outgoing:
                commissionee.receive_datagram(datagram, 0)
            for datagram in commissionee.datagrams_to_send():
                commissioner.receive_datagram(datagram, 0)
        if not (commissioner.state is commissionee.state is State.ESTABLISHED):
            raise RuntimeError(f"handshake ended {commissioner.state} / {commissionee.state}")

    return run


def benchmarks() -> list[Benchmark]:
    """The measured operations, in print order."""
    next_scalar = _cycle(_scalars(64, 1))
    point = p256.base_mult(next_scalar())
    salt = b"SPAKE2P Key Salt"
    return [
        Benchmark("P-256 variable-base k*Q", lambda: p256.scalar_mult(next_scalar(), point), 1.5),
        Benchmark("P-256 fixed-base k*G", lambda: p256.base_mult(next_scalar()), 0.5),
        Benchmark(
            "P-256 share x*G + w0*M",
            lambda: p256.mul_add(next_scalar(), next_scalar(), p256.M_BASE),
        ),
        Benchmark(
            "PBKDF2-HMAC-SHA256 1000 it, 80 B",
            lambda: kdf.pbkdf2_sha256(b"\x25\x42\x34\x01", salt, 1000, 80),
        ),
        Benchmark("SPAKE2+ both roles (no PBKDF2)", _spake2p_exchange),
        Benchmark("fixed-base tables G+M+N (first use)", _build_tables, 50.0),
        Benchmark("native PASE handshake, 1000 it", _native_handshake(1000), 20.0),
    ]


def cold_import_ms() -> float:
    """Time ``import matter_core.spake2p`` in a fresh interpreter (M, N decoding incl.)."""
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter();"
        " import matter_core.spake2p; print((time.perf_counter() - t) * 1e3)"
    )
    core = str(Path(__file__).resolve().parents[1] / "components" / "core")
    out = subprocess.run(
        [sys.executable, "-c", code, core], check=True, capture_output=True, text=True
    )
    return float(out.stdout.strip())


def measure(bench: Benchmark, runs: int) -> float:
    """Median wall time of ``bench.fn`` over ``runs`` calls, in milliseconds."""
    bench.fn()  # warm-up: lazy tables, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        bench.fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="timed runs per entry")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}, {args.runs} runs per entry, medians")
    print(f"{'operation':40} {'median ms':>10} {'target ms':>10} {'ratio':>7}")
    for bench in benchmarks():
        median = measure(bench, args.runs)
        if bench.target_ms is None:
            print(f"{bench.name:40} {median:10.3f} {'-':>10} {'-':>7}")
        else:
            ratio = median / bench.target_ms
            print(f"{bench.name:40} {median:10.3f} {bench.target_ms:10.3f} {ratio:7.2f}")
    imports = sorted(cold_import_ms() for _ in range(5))
    print(f"{'import matter_core.spake2p (cold)':40} {statistics.median(imports):10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
