"""Benchmark: the core component under wasmtime and under V8 (jco), side by side.

Run: ``python benchmarks/bench_runtimes.py [--repeat 5] [--quick]``. Each repetition runs
the seeded handshake once under wasmtime and once under V8 (alternating, so both see the
same load) and records instantiate (both roles) and handshake time; the table shows the
medians and the V8/wasmtime ratio. Verification, transpiling (cached) and starting Node
are outside both figures. Every run must print the same transcript, or the script says so
and exits 1. It reports; it does not gate.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT), str(PROJECT / "components" / "core")]

from bench_components import Row, machine_facts, print_table  # noqa: E402

from harness.build import build_all  # noqa: E402
from harness.drive import JcoTarget, RunConfig, run_component, run_jco  # noqa: E402
from harness.project import DEFAULT_BUILD_DIR  # noqa: E402
from harness.runtime import Runtime  # noqa: E402
from harness.supply import SupplyChain  # noqa: E402


def main() -> int:
    """Measure and print the table; 1 if the runtimes disagree on a transcript."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="two repetitions")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    core = build_all(DEFAULT_BUILD_DIR, names=["core"], supply_chain=chain)["core"].path
    config = RunConfig(seed=7)
    runtime = Runtime(DEFAULT_BUILD_DIR / "cache")
    times: dict[str, list[float]] = {}
    hashes = set()
    try:
        run_jco(config, JcoTarget(core, False), chain, DEFAULT_BUILD_DIR)  # transpile once
        for _ in range(repeat):
            for name, report in (
                ("wasmtime", run_component(config, runtime, core, supply_chain=chain)),
                ("V8 (jco)", run_jco(config, JcoTarget(core, False), chain, DEFAULT_BUILD_DIR)),
            ):
                hashes.add(report.transcript_hash.hex())
                for step in ("instantiate", "handshake"):
                    times.setdefault(f"{step} ({name})", []).append(report.timings[step])
    finally:
        runtime.close()
    rows = [
        Row(name, statistics.median(values) * 1000, "ms", samples=len(values))
        for name, values in times.items()
    ]
    for step in ("instantiate", "handshake"):
        ratio = statistics.median(times[f"{step} (V8 (jco))"]) / statistics.median(
            times[f"{step} (wasmtime)"]
        )
        rows.append(Row(f"{step}: V8 / wasmtime", ratio, "x"))
    print_table("core component, seed 7: wasmtime and V8 (jco) side by side", rows)
    for line in machine_facts():
        print(line)
    print(f"transcripts: {sorted(hashes)}")
    if len(hashes) != 1:
        print("the runtimes disagree on the transcript", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
