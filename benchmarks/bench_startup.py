"""Command-line start-up: how long `matter-harness --version` and `--help` take.

The CLI imports nothing heavy until a command needs it (no wasmtime, componentize-py or
the core): the package faces load their modules on first use (harness/lazy.py), and the
top-level group loads a command's module only when that command is looked up
(harness/cli/app.py). Each figure is the median wall time of whole processes, measured
side by side in one run with a bare `python -c pass` for scale; the modules the CLI
loaded are checked too.

``--against REF`` measures the ``harness`` package of a git revision (say ``HEAD~1``)
next to the working tree's, in the same run: the revision's ``harness/`` and a copy of
the working tree's (without ``__pycache__``, so both start alike) are put in temporary
directories and each first on ``PYTHONPATH`` (checked), the same script and interpreter
run both, and their runs alternate, so a change of machine load touches both alike.

Python reads cached bytecode (``__pycache__``) if it is there, but writes none when
``PYTHONDONTWRITEBYTECODE`` is set: then every start compiles each ``harness`` module it
imports from source. The bench says which case it measured; ``--bytecode`` unsets the
variable for the runs, so the warm-up writes the caches (as an ordinary install does).

    python benchmarks/bench_startup.py [--quick] [--runs N] [--against REF] [--bytecode]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from bench_components import Row, machine_facts, print_table

PROJECT = Path(__file__).resolve().parents[1]
#: The target for `matter-harness --version` and `--help` on the 2-core development
#: machine (issue 15, figure 4 of benchmarks/bench_coldpath.py).
STARTUP_TARGET_MS = 150.0
#: Modules `--help` must not load (each is slow to import, and no help text needs it).
HEAVY = ("wasmtime", "componentize_py", "matter_core", "cryptography", "yaml", "coverage")
#: Set in the environment of an exported revision's runs: the directory it is in.
EXPORT_ENV = "BENCH_STARTUP_EXPORT"


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("matter-harness")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli import main; main()"]


#: The environment a command runs in (``None``: this process's).
Env = Mapping[str, str] | None


def _run(command: list[str], env: Env) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=_cwd(env))
    return (time.perf_counter() - started) * 1000


def _cwd(env: Env) -> str | None:
    """Where a command runs: an exported revision's directory, so that ``python -c``
    cannot pick up the working tree's ``harness`` from the current directory."""
    return None if env is None else env.get(EXPORT_ENV)


def medians_ms(commands: list[tuple[list[str], Env]], runs: int) -> list[float]:
    """The median wall time of ``runs`` runs of each ``(command, environment)``, in ms,
    after one warm-up of each; the commands' runs alternate."""
    for command, env in commands:
        _run(command, env)
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for samples, (command, env) in zip(times, commands, strict=True):
            samples.append(_run(command, env))
    return [statistics.median(samples) for samples in times]


def median_ms(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` runs of ``command`` (after one warm-up), in ms."""
    return medians_ms([(command, None)], runs)[0]


def heavy_modules_loaded(env: Env = None) -> list[str]:
    """The heavy modules importing the CLI and building its help text loads."""
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from harness.cli import cli\n"
        "for args in (['--help'], ['run', '--help'], ['gate', '--help'], ['peer', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=_cwd(env),
    )
    return done.stdout.split()


def export_harness(ref: str | None, into: Path, base: Mapping[str, str]) -> dict[str, str]:
    """Export ``ref``'s ``harness`` package (``None``: the working tree's, without
    bytecode) into ``into``; the environment (``base`` and more) that makes the CLI run
    it (checked)."""
    if ref is None:
        shutil.copytree(
            PROJECT / "harness", into / "harness", ignore=shutil.ignore_patterns("__pycache__")
        )
    else:
        archive = subprocess.run(
            ["git", "-C", str(PROJECT), "archive", "--format=tar", ref, "harness"],
            check=True,
            capture_output=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(into, filter="data")
    env = {
        **base,
        "PYTHONPATH": os.pathsep.join([str(into), str(PROJECT)]),
        EXPORT_ENV: str(into),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import harness; print(harness.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=into,
    ).stdout.strip()
    if Path(where).resolve() != (into / "harness" / "__init__.py").resolve():
        raise SystemExit(f"{ref}'s harness is not the one imported ({where})")
    return env


def main(argv: list[str] | None = None) -> int:
    """Measure and print the start-up figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--runs", type=int, help="runs per figure [default: 21; --quick: 5]")
    parser.add_argument(
        "--against", metavar="REF", help="measure git revision REF's CLI side by side"
    )
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="let the runs write and use __pycache__ (unset PYTHONDONTWRITEBYTECODE)",
    )
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 21)
    base = dict(os.environ)
    if args.bytecode:
        base.pop("PYTHONDONTWRITEBYTECODE", None)
    for line in machine_facts():
        print(line)
    cached = any((PROJECT / "harness").rglob("__pycache__/*.pyc"))
    print(
        "bytecode: harness modules compiled from source on every start "
        "(PYTHONDONTWRITEBYTECODE is set)"
        if base.get("PYTHONDONTWRITEBYTECODE") and (args.against or not cached)
        else "bytecode: cached in __pycache__ (at the latest after the warm-up)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        new_env: Env = base
        old_env: Env = None
        if args.against:
            new_env = export_harness(None, Path(tmp) / "new", base)
            old_env = export_harness(args.against, Path(tmp) / "old", base)
        cases: list[tuple[str, list[str], Env, float | None]] = [
            ("python -c pass (for scale)", [sys.executable, "-c", "pass"], new_env, None)
        ]
        for flag in ("--version", "--help"):
            if old_env is not None:
                cases.append(
                    (f"matter-harness {flag} ({args.against})", [*_cli(), flag], old_env, None)
                )
            cases.append((f"matter-harness {flag}", [*_cli(), flag], new_env, STARTUP_TARGET_MS))
        medians = medians_ms([(command, env) for _, command, env, _ in cases], runs)
        old_loaded = heavy_modules_loaded(old_env) if old_env is not None else []
        loaded = heavy_modules_loaded(new_env)
    print_table(
        "command-line start-up (whole process, median)",
        [
            Row(name, value, "ms", target, runs)
            for (name, _, _, target), value in zip(cases, medians, strict=True)
        ],
    )
    print(machine_facts()[0])
    print(f"\nheavy modules loaded by --help: {', '.join(loaded) or 'none'}")
    if args.against:
        print(f"heavy modules loaded by {args.against}'s --help: {', '.join(old_loaded) or 'none'}")
    return 1 if loaded else 0


if __name__ == "__main__":
    sys.exit(main())
