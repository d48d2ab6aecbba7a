"""``fuzz``: a fuzz campaign (claim E2) on one target, one shard, with its ledger record."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import announce_ledger, build_dir_option, ledger_option, progress


@click.command()
@click.option(
    "--target",
    required=True,
    help="native (the core package), component (the core component, differential against "
    "native) or composed (the composed graph, differential against native).",
)
@click.option(
    "--cases",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Cases in the whole campaign (all shards together).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the case generator.")
@click.option(
    "--shard",
    default="1/1",
    show_default=True,
    help="Run shard I of N (1 <= I <= N): disjoint, deterministic case indices.",
)
@click.option(
    "--engine",
    default="auto",
    show_default=True,
    help="native only: atheris (coverage-guided), mutational (seeded), or auto "
    "(atheris when installed).",
)
@ledger_option("Ledger this shard's E2 record is appended to.")
@click.option(
    "--regressions",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where failing inputs are saved (default: tests/fuzz-regressions).",
)
@build_dir_option
def fuzz(
    target: str,
    cases: int,
    seed: int,
    shard: str,
    engine: str,
    ledger: Path,
    regressions: Path | None,
    build_dir: Path,
) -> None:
    """Fuzz one target; exit 1 on any trap, untyped exception, hang or divergence.

    Exit 2 for a bad --target, --shard or --engine.
    """
    from harness.drive import (
        FUZZ_TARGETS,
        REGRESSIONS_DIR,
        FuzzError,
        capture_handshake,
        make_target,
        parse_shard,
        pick_engine,
        run_atheris,
        run_campaign,
    )
    from harness.evidence import GateContext, fuzz_evidence, record_evidence, utc_now_iso

    started = time.perf_counter()
    started_at = utc_now_iso()
    if target not in FUZZ_TARGETS:
        raise FuzzError(f"unknown target {target!r}; one of {', '.join(FUZZ_TARGETS)}")
    shard_of = parse_shard(shard)
    chosen = pick_engine(target, engine)
    announce_ledger(ledger, "appending to")
    saved_to = regressions or REGRESSIONS_DIR
    if chosen == "atheris":
        result = run_atheris(cases, seed, shard_of, regressions=saved_to)
    else:
        capture = capture_handshake()
        runtime = component = None
        if target != "native":
            ctx = GateContext(build_dir, seed)
            runtime = ctx.runtime
            component = ctx.load("core" if target == "component" else "composed")
        subject = make_target(target, capture, runtime, component)
        reference = make_target("native", capture) if target != "native" else None
        result = run_campaign(
            subject,
            cases,
            seed,
            shard_of,
            regressions=saved_to,
            reference=reference,
            progress=progress,
        )
    command = f"matter-harness fuzz --target {target} --cases {cases} --seed {seed} --shard {shard}"
    record = record_evidence(
        ledger,
        "E2",
        fuzz_evidence([result], seed),
        started_at=started_at,
        started=started,
        command=command,
    )
    click.echo(result.summary())
    for failure in result.failures:
        click.echo(
            f"  case {failure['case']} step {failure['step']}: {failure['outcome']}: "
            f"{failure['detail']}"
        )
    for path in result.saved:
        click.echo(f"  saved {path}")
    click.echo(f"E2 {record.verdict}: record {record.record_hash[:12]} appended to {ledger}")
    if not result.ok:
        sys.exit(EXIT_FAILED)
