"""Benchmarks of the PASE handshake under seeded link faults, native and composed.

Run: ``python benchmarks/bench_faults.py [--repeat 5] [--quick]``.
For each fault setting (none, each fault alone, the issue's mix) the native handshake and
the handshake across the composed graph alternate, seed after seed, so both see the same
load. Per setting and placement it prints the median wall time of the handshake, the
median virtual (clock) time it took, how many runs established, and the median number of
each fault applied. Seeds are fixed (1000, 1001, ...): the virtual times and counts
repeat exactly from one run of this script to the next; only the wall times vary.
Exit status is 0 either way: this reports, it does not gate. Nothing here has a target.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

# bench_components (beside this script) also puts this source tree first on sys.path.
from bench_components import CACHE_DIR, PROJECT, counts, machine_facts, option_parser

from harness.build.componentize import build_all
from harness.build.compositions import ComposedArtifact, compose_cached
from harness.drive.composed import run_composed
from harness.drive.config import RunConfig
from harness.drive.placements import RunReport, run_native
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime.engine import Runtime
from harness.seams.linkfaults import FaultPlan, parse_fault_plan

GRAPH = PROJECT / "components" / "graphs" / "pase-loopback.toml"
#: The settings measured: a name and the plan in the --faults syntax.
SETTINGS = (
    ("none", ""),
    ("drop=0.3", "drop=0.3"),
    ("duplicate=0.1", "duplicate=0.1"),
    ("reorder=0.1", "reorder=0.1"),
    ("delay=40", "delay=40"),
    ("corrupt=0.05", "corrupt=0.05"),
    ("issue mix", "drop=0.3,duplicate=0.1,reorder=0.1"),
)
FIRST_SEED = 1000


@dataclass
class Samples:
    """What the runs of one setting in one placement measured."""

    wall_ms: list[float] = field(default_factory=list)
    virtual_ms: list[int] = field(default_factory=list)
    established: int = 0
    faults: list[dict[str, int]] = field(default_factory=list)

    def add(self, report: RunReport) -> None:
        self.wall_ms.append(report.outcome.seconds * 1000)
        self.virtual_ms.append(report.outcome.virtual_ms)
        self.established += report.outcome.established
        if report.faults is not None:
            self.faults.append(report.faults.as_dict())

    def fault_medians(self) -> str:
        if not self.faults:
            return "-"
        kinds = [k for k in self.faults[0] if k != "injected"]
        medians = {k: statistics.median(f[k] for f in self.faults) for k in kinds}
        return " ".join(f"{k}={v:g}" for k, v in medians.items() if v) or "none applied"


def measure(
    plan: FaultPlan, repeat: int, runtime: Runtime, composed: ComposedArtifact
) -> dict[str, Samples]:
    """Native and composed runs alternating over ``repeat`` seeds."""
    out = {"native": Samples(), "composed": Samples()}
    for i in range(repeat):
        config = RunConfig(seed=FIRST_SEED + i, faults=plan)
        out["native"].add(run_native(config))
        out["composed"].add(
            run_composed(config, runtime, composed.path, verified=composed.verified)
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every setting and print the table."""
    parser = option_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    counts(args, {"repeat": (5, 2), "cold": (0, 0)})
    print(f"repeat {args.repeat} seeds per setting and placement", flush=True)
    build_all(DEFAULT_BUILD_DIR, names=["core", "loopback"])
    runtime = Runtime(CACHE_DIR)
    try:
        artifact = compose_cached(GRAPH, runtime, DEFAULT_BUILD_DIR)
        run_composed(RunConfig(seed=1), runtime, artifact.path, verified=artifact.verified)
        header = (
            f"{'setting':16} {'placement':9} {'wall (median)':>14} {'virtual (median)':>17} "
            f"{'established':>12}  faults (median per run)"
        )
        print("\nPASE handshake under link faults\n" + header)
        for name, spec in SETTINGS:
            samples = measure(parse_fault_plan(spec), args.repeat, runtime, artifact)
            for placement, s in samples.items():
                wall = f"{statistics.median(s.wall_ms):.1f} ms"
                virtual = f"{statistics.median(s.virtual_ms):g} ms"
                ok = f"{s.established}/{len(s.wall_ms)}"
                print(
                    f"{name:16} {placement:9} {wall:>14} {virtual:>17} {ok:>12}  "
                    f"{s.fault_medians()}",
                    flush=True,
                )
    finally:
        runtime.close()
    print()
    for line in machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
