"""Benchmarks of the core component: build, compile, instantiate, handshake, whole process.

Run: ``python benchmarks/bench_components.py [--repeat 20] [--builds 3] [--cold 3] [--quick]``.
Every figure is a median over repeated runs, measured in this one process, side by side:
the component handshake and the native handshake alternate, so both see the same load.
Prints a table of name, median, target and ratio (median / target; <= 1.0 meets the
target) and the machine it ran on. Exit status is 0 either way: this reports, it does not
gate.

Targets (from the issue tracker): one handshake in the component (1000 PBKDF2
iterations) at most 60 ms and at most 2.5x the native handshake; ``matter-harness run
--seed 7`` with warm caches under 2 s for the whole process.

The table helpers here (:class:`Row`, :func:`print_table`, :func:`machine_facts`) are
shared with ``bench_composition.py``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
# Benchmark the source tree this script belongs to, installed or not.
sys.path[:0] = [str(PROJECT), str(PROJECT / "components" / "core")]

from harness.build.componentize import build_component  # noqa: E402
from harness.build.specs import CORE  # noqa: E402
from harness.drive.config import RunConfig  # noqa: E402
from harness.drive.placements import RunReport, run_component, run_native  # noqa: E402
from harness.project import DEFAULT_BUILD_DIR  # noqa: E402
from harness.runtime.engine import Runtime  # noqa: E402

CACHE_DIR = DEFAULT_BUILD_DIR / "cache"
HANDSHAKE_TARGET_MS = 60.0
HANDSHAKE_RATIO_TARGET = 2.5
PROCESS_TARGET_MS = 2000.0
#: Timings of a component run besides the handshake, with the names they print under.
STEPS = {
    "verify": "verify (signature check)",
    "compile": "compile, warm (artifact cache)",
    "instantiate": "instantiate, both roles",
}


@dataclass(frozen=True)
class Row:
    """One line of the table: a median (or a ratio of medians) and its target, if any."""

    name: str
    value: float
    unit: str
    target: float | None = None
    samples: int = 0

    @property
    def ratio(self) -> float | None:
        """``value / target``: at most 1.0 meets the target."""
        return None if self.target is None else self.value / self.target


def median_ms(samples: Sequence[float]) -> float:
    """The median of ``samples`` (seconds) in milliseconds."""
    return statistics.median(samples) * 1e3


def ms_row(name: str, samples: Sequence[float], target_ms: float | None = None) -> Row:
    """A row for timings given in seconds, shown in milliseconds."""
    return Row(name, median_ms(samples), "ms", target_ms, len(samples))


def ratio_row(name: str, numerator: Row, denominator: Row, target: float | None = None) -> Row:
    """A row for the ratio of two medians (same unit)."""
    return Row(name, numerator.value / denominator.value, "x", target, 0)


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _number(value: float) -> str:
    return f"{value:.3g}" if value < 10 else f"{value:,.1f}"


def print_table(title: str, rows: Sequence[Row]) -> None:
    """Print ``rows`` as name, median, target, ratio and sample count."""
    width = max(len(row.name) for row in rows) + 2
    print(f"\n{title}")
    print(f"{'name':{width}} {'median':>14} {'target':>12} {'ratio':>7} {'n':>4}")
    for row in rows:
        value = f"{_number(row.value)} {row.unit}"
        target = "-" if row.target is None else f"{_number(row.target)} {row.unit}"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        count = str(row.samples) if row.samples else ""
        print(f"{row.name:{width}} {value:>14} {target:>12} {ratio:>7} {count:>4}")


def machine_facts() -> list[str]:
    """What the numbers depend on: cores, load, Python, wasmtime, componentize-py."""

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()}, "
        f"load average {load}",
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"wasmtime {version('wasmtime')}, componentize-py {version('componentize-py')}",
    ]


def require_ok(report: RunReport) -> RunReport:
    """``report`` itself; a failed run would make every figure meaningless."""
    if not report.ok:
        raise SystemExit(f"{report.mode} run with seed {report.config.seed} failed: {report}")
    return report


# --------------------------------------------------------------------------- measurements


def cold_builds(count: int) -> list[float]:
    """Seconds of ``count`` forced componentize-py builds of the core into temp dirs."""
    samples = []
    for _ in range(count):
        with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
            samples.append(build_component(CORE, Path(tmp), force=True).seconds)
    return samples


def cold_compiles(data: bytes, count: int) -> list[float]:
    """Seconds of ``count`` compiles of the component ``data`` with no artifact cache."""
    samples = []
    for _ in range(count):
        runtime = Runtime(None)
        try:
            started = time.perf_counter()
            runtime.load_bytes(data)
            samples.append(time.perf_counter() - started)
        finally:
            runtime.close()
    return samples


@dataclass
class HandshakeSamples:
    """Per-repetition timings of the native and the component run (seconds).

    ``steps`` holds the component run's other timings by name: ``compile`` (from the
    artifact cache, after the warm-up run), ``instantiate`` and, where the run checks
    the component's signature first, ``verify``.
    """

    native: list[float] = field(default_factory=list)
    component: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)


def collect_steps(steps: dict[str, list[float]], timings: dict[str, float]) -> None:
    """Append a run's :data:`STEPS` timings to ``steps`` (a step a run lacks is skipped)."""
    for name in STEPS:
        if name in timings:
            steps.setdefault(name, []).append(timings[name])


def handshakes(core: Path, count: int, first_seed: int = 1000) -> HandshakeSamples:
    """``count`` native and component handshakes, alternating, one seed per pair."""
    runtime = Runtime(CACHE_DIR)
    samples = HandshakeSamples()
    try:
        require_ok(run_component(RunConfig(seed=first_seed - 1), runtime, core))  # warm-up
        require_ok(run_native(RunConfig(seed=first_seed - 1)))
        for seed in range(first_seed, first_seed + count):
            native = require_ok(run_native(RunConfig(seed=seed)))
            component = require_ok(run_component(RunConfig(seed=seed), runtime, core))
            samples.native.append(native.timings["handshake"])
            samples.component.append(component.timings["handshake"])
            collect_steps(samples.steps, component.timings)
    finally:
        runtime.close()
    return samples


def whole_process(count: int, args: Sequence[str] = ("run", "--seed", "7")) -> list[float]:
    """Wall seconds of ``matter-harness <args>`` as a subprocess, caches warm."""
    script = Path(sys.executable).with_name("matter-harness")
    if not script.is_file():
        raise SystemExit(f"the matter-harness script is not installed beside {sys.executable}")
    command = [str(script), *args]

    def once() -> float:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT)
        seconds = time.perf_counter() - started
        if done.returncode != 0 or "PASE-RUNS-OK" not in done.stdout:
            raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        return seconds

    once()  # warm-up: builds or compiles whatever is not cached yet
    return [once() for _ in range(count)]


# --------------------------------------------------------------------------- main


def option_parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script here takes (see :func:`counts`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeat", type=int, help="repetitions of the cheap entries")
    parser.add_argument("--cold", type=int, help="repetitions of the cold compiles")
    parser.add_argument(
        "--quick", action="store_true", help="a short run: few repetitions, one of each cold step"
    )
    return parser


def counts(args: argparse.Namespace, defaults: dict[str, tuple[int, int]]) -> None:
    """Fill each count option left unset from ``defaults``: name -> (normal, quick).

    A count given on the command line wins over ``--quick``.
    """
    for name, (normal, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else normal)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure everything and print the table."""
    parser = option_parser(__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, help="cold componentize-py builds [default: 3]")
    parser.add_argument("--processes", type=int, help="whole-process runs [default: 5]")
    args = parser.parse_args(argv)
    counts(args, {"repeat": (20, 5), "cold": (3, 1), "builds": (3, 1), "processes": (5, 3)})
    print(f"repeat {args.repeat}, cold builds {args.builds}, cold compiles {args.cold}")

    build = build_component(CORE, DEFAULT_BUILD_DIR)
    core = build.path
    print(f"core component: {core} ({core.stat().st_size / 1e6:.1f} MB)", flush=True)
    rows = [
        ms_row(
            "build, cache hit (up-to-date check)",
            [timed(lambda: build_component(CORE, DEFAULT_BUILD_DIR)) for _ in range(args.repeat)],
        )
    ]
    if args.builds > 0:
        print(f"cold builds ({args.builds}) ...", flush=True)
        rows.append(ms_row("build, cold (componentize-py)", cold_builds(args.builds)))
    if args.cold > 0:
        print(f"cold compiles ({args.cold}) ...", flush=True)
        rows.append(
            ms_row("compile, cold (no artifact cache)", cold_compiles(core.read_bytes(), args.cold))
        )
    print(f"handshakes ({args.repeat} pairs) ...", flush=True)
    samples = handshakes(core, args.repeat)
    rows += [ms_row(f"core {STEPS[name]}", samples.steps[name]) for name in samples.steps]
    native = ms_row("handshake native, 1000 it", samples.native)
    component = ms_row("handshake component, 1000 it", samples.component, HANDSHAKE_TARGET_MS)
    rows += [
        native,
        component,
        ratio_row("handshake component / native", component, native, HANDSHAKE_RATIO_TARGET),
    ]
    print(f"whole process ({args.processes}) ...", flush=True)
    rows.append(
        ms_row(
            "`matter-harness run --seed 7`, warm caches",
            whole_process(args.processes),
            PROCESS_TARGET_MS,
        )
    )
    print_table("core component (medians; ratio = median / target, <= 1 meets it)", rows)
    for line in machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
