"""The newcomer's cold path (issue 15): four figures, each printed next to its target.

Run: ``python benchmarks/bench_coldpath.py [--skip-gate] [--runs 10] [--quick] [--keep]``.

1. **Fresh clone -> first PASE-RUNS-OK** (target 60 s after the install): the committed
   tree is cloned into a temporary directory (``git clone --local``, so uncommitted
   changes are not part of it) and ``matter-harness run --seed 7`` runs there with no
   ``build/`` at all: it builds and signs the components, compiles and runs. The install
   is not repeated: the clone runs on this virtualenv's interpreter and packages (its own
   sources first on ``PYTHONPATH``; the bench checks the clone's ``harness`` is the one
   imported), so the figure is the time after ``pip install``, as the target says. The
   clone itself is timed separately.
2. **Cold gate** (target 120 s): ``matter-harness gate`` in the clone with its compile
   cache (``build/cache``) emptied; the components are built (step 1 built them).
3. **Warm gate** (target 5 s): ``matter-harness gate --reuse`` right after, nothing
   changed: every claim's inputs match the cold gate's records, so each is recorded again
   from that run (``harness/evidence/reuse.py``); without ``--reuse`` a warm gate verifies
   every claim again (minutes: E1's mutation sample, E3's rebuild, C8-C10's campaigns).
4. **CLI start** (target 0.15 s): ``matter-harness --help`` as a whole process, the median
   of ``--runs`` after one warm-up.

The gate takes minutes: ``--skip-gate`` (what ``just bench-quick`` passes) leaves out
figures 2 and 3. The load average is printed before and after, since every figure here
is wall time on a shared machine. Measured against the targets, never asserted: exit
status is 0 unless a step failed outright.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# bench_components (beside this script) also puts this source tree first on sys.path.
from bench_components import PROJECT, machine_facts

from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS

FIRST_RUN_TARGET_S = 60.0
COLD_GATE_TARGET_S = 120.0
WARM_GATE_TARGET_S = 5.0
CLI_START_TARGET_S = 0.15


@dataclass(frozen=True)
class Figure:
    """One measured figure and its target."""

    name: str
    seconds: float
    target: float
    note: str = ""

    @property
    def verdict(self) -> str:
        return "meets" if self.seconds <= self.target else "misses"


def script() -> Path:
    path = Path(sys.executable).with_name("matter-harness")
    if not path.is_file():
        raise SystemExit(f"the matter-harness script is not installed beside {sys.executable}")
    return path


def clone_env(clone: Path) -> dict[str, str]:
    """This virtualenv's environment with the clone's sources imported first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(clone), str(clone / "components" / "core")])
    for name in ("MATTER_HARNESS_SIGNING_KEY", "MATTER_HARNESS_TRUST_STORE"):
        env.pop(name, None)
    return env


def timed_run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    return time.perf_counter() - started, done


def check_sources(clone: Path, env: dict[str, str]) -> None:
    """Refuse to measure if the clone's ``harness`` is not the one that would run."""
    probe = "import harness.project as p; print(p.PROJECT_ROOT)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=clone, env=env, capture_output=True, text=True
    )
    root = done.stdout.strip()
    if done.returncode != 0 or Path(root).resolve() != clone.resolve():
        raise SystemExit(f"the clone's sources are not the ones imported (got {root!r})")


def tail(done: subprocess.CompletedProcess[str], lines: int = 12) -> str:
    text = (done.stdout + done.stderr).strip().splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def first_run(clone: Path, env: dict[str, str]) -> Figure:
    seconds, done = timed_run([str(script()), "run", "--seed", "7"], clone, env, 3600)
    ok_line = next((x for x in done.stdout.splitlines() if x.startswith("PASE-RUNS-OK")), "")
    if done.returncode != 0 or not ok_line:
        raise SystemExit(
            f"the first run in the clone failed (exit {done.returncode}):\n{tail(done)}"
        )
    known = KNOWN_GOOD_TRANSCRIPTS.get(7)
    if known is not None and f"transcript={known}" not in ok_line:
        raise SystemExit(f"the first run gave another transcript: {ok_line}")
    return Figure("fresh clone -> first PASE-RUNS-OK", seconds, FIRST_RUN_TARGET_S, ok_line[:40])


def gate(clone: Path, env: dict[str, str], name: str, target: float, *options: str) -> Figure:
    seconds, done = timed_run([str(script()), "gate", *options], clone, env, 7200)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    return Figure(name, seconds, target, f"exit {done.returncode}: {last[:70]}")


def cli_start(runs: int) -> Figure:
    command = [str(script()), "--help"]
    subprocess.run(command, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return Figure(
        "CLI start (matter-harness --help)",
        statistics.median(samples),
        CLI_START_TARGET_S,
        f"median of {runs}",
    )


def print_figures(figures: list[Figure]) -> None:
    width = max(len(f.name) for f in figures) + 2
    print(f"\n{'figure':{width}} {'measured':>10} {'target':>8} {'':>7}  note")
    for f in figures:
        print(f"{f.name:{width}} {f.seconds:>9.2f}s {f.target:>7.2f}s {f.verdict:>7}  {f.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-gate", action="store_true", help="leave out the two gate figures")
    parser.add_argument("--runs", type=int, help="CLI start runs [default: 10; --quick: 5]")
    parser.add_argument("--quick", action="store_true", help="fewer CLI start runs")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 10)
    for line in machine_facts():
        print(line)
    head = subprocess.run(
        ["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"cloning {PROJECT} at {head} (committed state only); no pip install: the clone "
        f"runs on {sys.executable} with its own sources first on PYTHONPATH",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-coldpath-"))
    clone = workdir / "clone"
    figures: list[Figure] = []
    try:
        started = time.perf_counter()
        subprocess.run(["git", "clone", "--quiet", "--local", str(PROJECT), str(clone)], check=True)
        print(f"cloned in {time.perf_counter() - started:.2f} s into {clone}", flush=True)
        env = clone_env(clone)
        check_sources(clone, env)
        assert not (clone / "build").exists()
        figures.append(first_run(clone, env))
        print(f"first run: {figures[-1].seconds:.1f} s", flush=True)
        if not args.skip_gate:
            shutil.rmtree(clone / "build" / "cache", ignore_errors=True)
            figures.append(gate(clone, env, "cold gate (empty build/cache)", COLD_GATE_TARGET_S))
            print(f"cold gate: {figures[-1].seconds:.1f} s", flush=True)
            figures.append(
                gate(clone, env, "warm gate (gate --reuse)", WARM_GATE_TARGET_S, "--reuse")
            )
        figures.append(cli_start(runs))
    finally:
        if args.keep:
            print(f"kept {clone}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_figures(figures)
    if args.skip_gate:
        print("(gate figures skipped: --skip-gate)")
    for line in machine_facts():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
