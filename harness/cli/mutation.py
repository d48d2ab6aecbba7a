"""``mutation``: mutation testing of ``matter_core`` with mutmut, scored per module (E1)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import announce_ledger, ledger_option, progress


@click.command()
@click.option("--sample", type=int, default=None, help="Try this many mutants, drawn with --seed.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the --sample draw.")
@click.option("--shard", default="1/1", show_default=True, help="Run shard I of N (I/N).")
@click.option(
    "--module",
    "modules",
    multiple=True,
    help="Only this matter_core module (repeatable; default: every module).",
)
@ledger_option(
    "Append the E1 record to this evidence ledger (default: record nothing).", default=None
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The staged workspace (default: build/mutation; emptied first).",
)
@click.option("--jobs", type=int, default=None, help="Mutants tried at once (default: CPUs).")
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Reuse the mutants and stats of unchanged sources and tests (build/mutation-cache).",
)
def mutation(
    sample: int | None,
    seed: int,
    shard: str,
    modules: tuple[str, ...],
    ledger: Path | None,
    workdir: Path | None,
    jobs: int | None,
    cache: bool,
) -> None:
    """Mutate matter_core, print the score per module, record E1.

    Exit 0 when every module kills at least 97 % of its non-equivalent mutants (those
    listed in tests/core/equivalent-mutants.toml are subtracted), 1 when one does not.
    """
    from harness.evidence import (
        DEFAULT_MUTATION_CACHE,
        DEFAULT_MUTATION_WORKDIR,
        Shard,
        campaign_evidence,
        format_mutation_table,
        load_equivalents,
        record_evidence,
        run_campaign,
        utc_now_iso,
    )

    equivalents = load_equivalents()
    if ledger is not None:
        announce_ledger(ledger, "appending to")
    started_at, started = utc_now_iso(), time.perf_counter()
    campaign = run_campaign(
        workdir=workdir or DEFAULT_MUTATION_WORKDIR,
        modules=modules,
        sample=sample,
        seed=seed,
        shard=Shard.parse(shard),
        children=jobs,
        progress=progress,
        cache=DEFAULT_MUTATION_CACHE if cache else None,
    )
    click.echo(format_mutation_table(campaign.scores(equivalents)))
    evidence = campaign_evidence(campaign, equivalents)
    for name in campaign.stale(equivalents):
        click.echo(f"stale equivalent-mutants entry: {name}")
    click.echo(f"E1: {evidence.verdict.upper()} - {evidence.message}")
    if ledger is not None:
        outcome = record_evidence(
            ledger,
            "E1",
            evidence,
            started_at=started_at,
            started=started,
            command="matter-harness mutation " + " ".join(sys.argv[2:]),
        )
        click.echo(f"recorded in {ledger} ({outcome.record_hash[:12]})")
    if evidence.verdict != "pass":
        sys.exit(EXIT_FAILED)
