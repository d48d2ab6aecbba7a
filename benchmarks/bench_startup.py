"""Command-line start-up: how long `matter-harness --version` and `--help` take.

The CLI imports nothing heavy until a command needs it (no wasmtime, componentize-py or
the core): the package faces load their modules on first use (harness/lazy.py). Each
figure is the median wall time of whole processes, measured side by side in one run
with a bare `python -c pass` for scale; the modules the CLI loaded are checked too.

    python benchmarks/bench_startup.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_components import Row, machine_facts, print_table

PROJECT = Path(__file__).resolve().parents[1]
#: The target for `matter-harness --version` on the 2-core development machine.
STARTUP_TARGET_MS = 150.0
#: Modules `--help` must not load (each is slow to import, and no help text needs it).
HEAVY = ("wasmtime", "componentize_py", "matter_core", "cryptography", "yaml", "coverage")


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("matter-harness")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli import main; main()"]


def median_ms(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` runs of ``command`` (after one warm-up), in ms."""
    subprocess.run(command, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def heavy_modules_loaded() -> list[str]:
    """The heavy modules importing the CLI and building its help text loads."""
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from harness.cli import cli\n"
        "for args in (['--help'], ['run', '--help'], ['gate', '--help'], ['peer', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return done.stdout.split()


def main(argv: list[str] | None = None) -> int:
    """Measure and print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args(argv)
    runs = 5 if args.quick else 21
    python = median_ms([sys.executable, "-c", "pass"], runs)
    version = median_ms([*_cli(), "--version"], runs)
    help_ = median_ms([*_cli(), "--help"], runs)
    for line in machine_facts():
        print(line)
    print_table(
        "command-line start-up (whole process, median)",
        [
            Row("python -c pass (for scale)", python, "ms", samples=runs),
            Row("matter-harness --version", version, "ms", STARTUP_TARGET_MS, runs),
            Row("matter-harness --help", help_, "ms", STARTUP_TARGET_MS, runs),
        ],
    )
    loaded = heavy_modules_loaded()
    print(f"\nheavy modules loaded by --help: {', '.join(loaded) or 'none'}")
    return 1 if loaded else 0


if __name__ == "__main__":
    sys.exit(main())
