"""``spike``: run a WASI command component (a ``wasmtime run`` spike) under the capability
policy and the resource limits, and record what it did as evidence."""

from __future__ import annotations

import hashlib
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import (
    ComponentPath,
    announce_ledger,
    build_dir_option,
    ledger_option,
    limit_options,
    progress,
)
from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.evidence import ExpectedText, SpikeSubject
    from harness.runtime import CommandOutcome, Limits


@click.command()
@click.argument("component", type=ComponentPath())
@click.option(
    "--expect",
    metavar="TEXT",
    default=None,
    help="Text a line of the command's stdout must hold for the spike to pass (e.g. PASE-RUNS-OK).",
)
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="ARG",
    help="An argument for the command (repeat for more); the command sees the file's name "
    "as its program name, then these.",
)
@ledger_option("Ledger the SPIKE record is appended to.")
@build_dir_option
@limit_options
def spike(
    component: Path,
    expect: str | None,
    arguments: tuple[str, ...],
    ledger: Path,
    build_dir: Path,
    limits: Limits,
) -> None:
    """Run COMPONENT, a command component (it exports wasi:cli/run), as `wasmtime run`
    would, with less authority: only stdout and stderr (captured and printed back),
    clocks, random and the exit status are granted; there is no environment, no
    preopened directory, an empty stdin, and sockets reach no address.

    The command's stdout and stderr are printed as they were written; the harness's own
    lines go to stderr. A SPIKE record (exit status, output digests and sizes, whether
    --expect appeared, the component's digest, the limits and what the run used, what
    each WASI import was given) is appended to the ledger. Exit 0 when the command exits
    0 and prints --expect (if given); 1 when it fails, misses the text or is stopped by a
    limit; 2 when COMPONENT is not a command component (the message names what is
    missing, or every import outside the wasi:cli/command world).
    """
    from harness.evidence import (
        SPIKE_CLAIM_ID,
        SpikeSubject,
        find_expected,
        record_evidence,
        spike_claim,
        spike_evidence,
        utc_now_iso,
    )
    from harness.runtime import Runtime, command_shape, run_command

    announce_ledger(ledger, "appending to")
    started = time.perf_counter()
    started_at = utc_now_iso()
    if expect is not None and not expect.strip():
        raise click.BadParameter("must not be empty", param_hint="--expect")
    try:
        data = component.read_bytes()
    except OSError as exc:
        raise HarnessError(f"cannot read component {component}: {exc.strerror or exc}") from exc
    shape = command_shape(data, name=str(component))
    subject = SpikeSubject(str(component), hashlib.sha256(data).hexdigest(), len(data))
    args = (component.name, *arguments)
    runtime = Runtime(build_dir / "cache")
    try:
        before = runtime.cache_hits
        compile_started = time.perf_counter()
        progress(f"loading {component} ({len(data) / 1e6:.1f} MB) ...")
        compiled = runtime.load_bytes(data, name=str(component))
        if runtime.cache_hits == before:
            progress(f"  compiled in {time.perf_counter() - compile_started:.1f} s (now cached)")
        outcome = run_command(runtime, compiled, shape, limits, args, label=str(component))
    finally:
        runtime.close()
    _echo_bytes(outcome.stdout.data, err=False)
    _echo_bytes(outcome.stderr.data, err=True)
    expected = (
        find_expected(outcome.stdout.data, expect, searched_all=not outcome.stdout.truncated)
        if expect is not None
        else None
    )
    evidence = spike_evidence(outcome, subject, limits, args, expected)
    command = shlex.join(
        ["matter-harness", "spike", str(component)]
        + (["--expect", expect] if expect is not None else [])
        + [part for arg in arguments for part in ("--arg", arg)]
    )
    record = record_evidence(
        ledger,
        SPIKE_CLAIM_ID,
        evidence,
        started_at=started_at,
        started=started,
        command=command,
        claim=spike_claim(),
    )
    for line in _summary(outcome, subject, limits, expected):
        progress(line)
    progress(
        f"{SPIKE_CLAIM_ID} {record.verdict}: record {record.record_hash[:12]} appended to {ledger}"
    )
    if evidence.verdict.value == "pass":
        progress(f"SPIKE-PASSED: {evidence.message}")
    else:
        progress(f"SPIKE-FAILED: {evidence.message}")
        sys.exit(EXIT_FAILED)


def _echo_bytes(data: bytes, *, err: bool) -> None:
    if not data:
        return
    text = sys.stderr if err else sys.stdout
    text.flush()
    stream = text.buffer
    stream.write(data)
    if not data.endswith(b"\n"):
        stream.write(b"\n")
    stream.flush()


def _summary(
    outcome: CommandOutcome,
    subject: SpikeSubject,
    limits: Limits,
    expected: ExpectedText | None,
) -> list[str]:
    """The harness's account of the run (stderr)."""
    if outcome.exit_code is not None:
        ended = f"exit {outcome.exit_code}"
    else:
        ended = f"stopped by {outcome.limit or 'a trap'}: {outcome.stop_message}"
    fuel = f"{outcome.fuel_consumed:,}" + (f" of {limits.fuel:,}" if limits.fuel else "")
    lines = [
        f"spike {subject.path} (sha256 {subject.sha256}): {ended} "
        f"in {outcome.seconds:.2f} s, fuel used {fuel}",
    ]
    for name, capture in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        kept = " (printed in part)" if capture.truncated else ""
        lines.append(f"  {name}: {capture.size} bytes, sha256 {capture.sha256}{kept}")
    if expected is not None:
        found = f"found: {expected.line}" if expected.line is not None else "NOT found"
        lines.append(f"  expected {expected.text!r}: {found}")
    asked = []
    for name, entry in outcome.capabilities.items():
        for function, served in entry.get("requests", {}).items():
            asked.append(f"{name}#{function} x{served['calls']} -> {served['answered']}")
    lines.append("  capabilities asked for: " + ("; ".join(asked) if asked else "none"))
    return lines
