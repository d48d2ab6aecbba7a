"""The ``matter-harness`` command line.

The click commands only parse options and print; the work is done by the modules they
call. Every :class:`~harness.errors.HarnessError` is caught in one place (:func:`main`)
and printed without a traceback; exit code 2 means bad usage or a broken environment.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from harness import __version__
from harness.build import COMPONENTS, DEFAULT_BUILD_DIR, build_all
from harness.driver import describe_failure
from harness.errors import HarnessError
from harness.placements import (
    DEFAULT_ITERATIONS,
    DEFAULT_PASSCODE,
    DEFAULT_SALT,
    RunConfig,
    RunReport,
    run_component,
    run_native,
)
from harness.runtime import Runtime

EXIT_FAILED = 1
EXIT_USAGE = 2


def _hex_bytes(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter("must be hex, e.g. 5350414b453250204b65792053616c74") from None


class HarnessGroup(click.Group):
    """A click group that prints HarnessError as a message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(exc.explain(), err=True)
            ctx.exit(getattr(exc, "exit_code", EXIT_USAGE))


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="matter-harness")
def cli() -> None:
    """Prove that Matter PASE runs inside sandboxed, composed WebAssembly components."""


build_dir_option = click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_BUILD_DIR,
    show_default=True,
    help="Where components, caches and composed graphs go.",
)


@cli.command()
@build_dir_option
@click.option("--force", is_flag=True, help="Rebuild even when the cache says it is current.")
@click.argument("names", nargs=-1, type=click.Choice(sorted(COMPONENTS)))
def build(build_dir: Path, force: bool, names: tuple[str, ...]) -> None:
    """Build the components (core, loopback) with componentize-py.

    A content-hash cache of the inputs (WIT, sources, tool version) skips unchanged
    rebuilds.
    """
    results = build_all(build_dir, names=names or None, force=force, progress=_progress)
    built = sum(not r.cached for r in results.values())
    click.echo(f"{len(results)} component(s) ready in {build_dir} ({built} built)")


@cli.command()
@click.argument("component", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(component: Path, as_json: bool) -> None:
    """Show a component's imports and exports with their types, size and digest."""
    from harness.inspect import describe_component

    info = describe_component(component)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{component}: {info['size']} bytes, sha256 {info['sha256']}")
    for title, key in (("imports", "imports"), ("exports", "exports")):
        click.echo(f"{title}:")
        for name, text in info[key].items():
            click.echo(f"  {name}")
            for line in text.splitlines():
                click.echo(f"    {line}")
    if info.get("manifest") is not None:
        click.echo("composition manifest:")
        click.echo("  " + json.dumps(info["manifest"], indent=2).replace("\n", "\n  "))


@cli.command()
@click.option(
    "--seed", type=int, default=None, help="Deterministic entropy (HMAC-DRBG) from this seed."
)
@click.option("--passcode", type=int, default=DEFAULT_PASSCODE, show_default=True)
@click.option(
    "--salt",
    callback=_hex_bytes,
    default=None,
    help=f"PBKDF salt in hex, 16..32 bytes [default: {DEFAULT_SALT.hex()}]",
)
@click.option("--iterations", type=int, default=DEFAULT_ITERATIONS, show_default=True)
@click.option(
    "--wrong-passcode",
    is_flag=True,
    help="Give the commissionee a verifier for another passcode; the run must fail cleanly.",
)
@click.option("--native", is_flag=True, help="Run the core natively instead of as a component.")
@click.option(
    "--real-clock", is_flag=True, help="Use the host's monotonic clock instead of a virtual one."
)
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the packet trace as JSON lines.",
)
@build_dir_option
def run(
    seed: int | None,
    passcode: int,
    salt: bytes | None,
    iterations: int,
    wrong_passcode: bool,
    native: bool,
    real_clock: bool,
    trace_file: Path | None,
    build_dir: Path,
) -> None:
    """Run PASE between two core instances and prove the secure session.

    Prints a line starting PASE-RUNS-OK with the transcript hash on success.
    """
    config = RunConfig(
        seed=seed,
        passcode=passcode,
        salt=salt if salt is not None else DEFAULT_SALT,
        iterations=iterations,
        wrong_passcode=wrong_passcode,
        real_clock=real_clock,
    )
    started = time.perf_counter()
    if native:
        report = run_native(config)
    else:
        results = build_all(build_dir, names=["core"], progress=_progress)
        runtime = Runtime(build_dir / "cache")
        try:
            report = run_component(config, runtime, results["core"].path)
        finally:
            runtime.close()
        report.timings["build"] = results["core"].seconds
    report.timings["total"] = time.perf_counter() - started
    if trace_file is not None:
        _write_trace(trace_file, report)
    _print_report(report)
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _write_trace(path: Path, report: RunReport) -> None:
    lines = [
        json.dumps(
            {
                "direction": p.direction,
                "time_ms": p.time_ms,
                "size": len(p.data),
                "sha256": hashlib.sha256(p.data).hexdigest(),
                "bytes": p.data.hex(),
            }
        )
        for p in report.trace
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def _print_report(report: RunReport) -> None:
    outcome = report.outcome
    if report.ok:
        click.echo(
            f"PASE-RUNS-OK transcript={report.transcript_hash.hex()} mode={report.mode} "
            f"seed={report.config.seed if report.config.seed is not None else 'os'}"
        )
    else:
        click.echo(f"PASE-FAILED mode={report.mode}", err=True)
        for line in describe_failure(outcome):
            click.echo(f"  {line}", err=True)
        if report.error:
            click.echo(f"  {report.error}", err=True)
    click.echo(
        f"  handshake: {outcome.rounds} rounds, {outcome.virtual_ms} ms clock time, "
        f"{len(report.trace)} datagrams"
    )
    for role, counters in report.seams.items():
        c = counters
        click.echo(
            f"  seams {role}: transport send={c.transport_sends} ({c.transport_send_bytes} B) "
            f"receive={c.transport_receives} ({c.transport_receive_bytes} B) "
            f"empty={c.transport_empty_receives}; clock reads={c.clock_reads}; "
            f"entropy calls={c.entropy_calls} ({c.entropy_bytes} B)"
        )
    for line in outcome.secure_probe:
        click.echo(f"  secure session: {line}")
    if report.transport_stats:
        click.echo("  transport component: " + _kv(report.transport_stats))
    if report.fuel:
        click.echo("  fuel used: " + _kv(report.fuel))
    click.echo(
        "  timings: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in report.timings.items())
    )


def _kv(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _progress(message: str) -> None:
    click.echo(message, err=True)


def main() -> None:
    """Entry point of the ``matter-harness`` script."""
    cli()
