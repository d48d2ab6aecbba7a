"""``gate``, ``report``, ``evidence`` and ``trace``: claims, evidence and reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import (
    GraphPath,
    announce,
    announce_ledger,
    build_dir_option,
    ledger_option,
    limit_options,
    progress,
    settings,
    trust_options,
)

if TYPE_CHECKING:
    from harness.runtime import Limits


def node_files(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, Path]:
    """``--component NODE=PATH`` values as a mapping (a node named twice is an error)."""
    found: dict[str, Path] = {}
    for value in values:
        node, sep, path = value.partition("=")
        if not sep or not node or not path:
            raise click.BadParameter(f"{value!r} is not NODE=PATH, e.g. core=/tmp/other-core.wasm")
        if node in found:
            raise click.BadParameter(f"node {node!r} is given twice")
        found[node] = Path(path)
    return found


@click.command()
@ledger_option("Append-only evidence ledger (JSON lines, hash-chained) the gate appends to.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the seeded runs.")
@click.option(
    "--min",
    "min_claims",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Fail when fewer claims than this were verified (an empty run never passes).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report of this run here.",
)
@click.option("--no-coverage", is_flag=True, help="Do not measure seam coverage (C6 is skipped).")
@click.option(
    "--claim",
    "only",
    multiple=True,
    metavar="ID",
    help="Run only this claim (repeatable), e.g. --claim C8 --claim C9; the gate then "
    "passes on those alone. Default: every claim.",
)
@click.option(
    "--graph",
    type=GraphPath(),
    default=None,
    help="The graph to gate (a graph file; its [roles] say which export plays which "
    "part) [default: components/graphs/pase-loopback.toml with the components this "
    "project builds].",
)
@click.option(
    "--component",
    "components",
    multiple=True,
    metavar="NODE=PATH",
    callback=node_files,
    help="Replace the file of the graph's node NODE (repeatable), e.g. "
    "--component core=/tmp/other-core.wasm. A file that is not one of this project's "
    "build outputs is never built: it must exist.",
)
@click.option(
    "--require-signed",
    is_flag=True,
    help="Refuse (exit 1) a component from outside the project unless a key in the "
    "trust store signs it. Without it such a component is recorded as unsigned (or "
    "signed by an untrusted key) and run; S1 is then not applicable.",
)
@click.option(
    "--reuse",
    is_flag=True,
    help="Repeat the passing evidence of an earlier gate run in this ledger for every "
    "claim whose inputs (sources, component digests, graph, seed, limits, trust, tool "
    "versions) are unchanged, instead of verifying it again; the record names the run "
    "that verified it. Off by default: it trusts whoever can write the ledger.",
)
@limit_options
@build_dir_option
@trust_options
def gate(
    ledger: Path,
    seed: int,
    min_claims: int,
    report_file: Path | None,
    no_coverage: bool,
    only: tuple[str, ...],
    graph: Path | None,
    components: dict[str, Path],
    require_signed: bool,
    reuse: bool,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
    limits: Limits,
) -> None:
    """Run every claim's verifier, record evidence, exit non-zero if a gated claim fails.

    Exit 0: every gated claim passed in this run. 1: a gated claim failed or errored, or
    fewer than --min claims were verified. 2: usage or environment error.

    Without --signing-key the gate signs what it builds with a key generated for this run
    and trusts only that key; with one, it uses that key and the trust store.

    Any graph (--graph, --component): every claim that applies to the graph runs against
    the components it names; one that needs something the graph lacks (a transport-faults
    role for C9, transport-stats for C3's counters, a core built from this project for
    E1/E2/E3) is recorded not-applicable with the reason, and does not fail the gate.
    Claims about one core file run once per distinct core file of a heterogeneous
    graph. Components from outside the project are checked against the trust store
    before anything is compiled: signed by a trusted key, signed by an untrusted key, or
    unsigned, recorded in the evidence and accepted (then endorsed by the gate's run key,
    so a change during the run is still refused), unless --require-signed; a component
    changed after a trusted key signed it is always refused.

    The limit options apply to every instance of the gate's handshake runs (a larger
    core may need more, e.g. the matter.js core: --memory-mb 128 --memory-budget-mb 512);
    S3 checks the default limits whatever they are set to here.

    --reuse (a warm run on your machine): a claim whose inputs are unchanged since an
    earlier gate run in the same ledger passed it is recorded again from that run, not
    verified again; the report says which run verified it. Failures always run again.
    """
    from harness.evidence import REGISTRY, load_artifacts, load_claims, render_ledger, run_gate
    from harness.evidence import select_claims as claims_named
    from harness.project import DEFAULT_GRAPH
    from harness.supply import SupplyChain

    claims_named(load_claims(None, REGISTRY), only)  # an unknown --claim fails before a build
    announce_ledger(ledger, "appending to")
    chain = SupplyChain.for_gate(settings(trust_mode, trust_store, signing_key), build_dir)
    announce(chain)
    result = run_gate(
        supply_chain=chain,
        ledger_path=ledger,
        build_dir=build_dir,
        seed=seed,
        min_claims=min_claims,
        measure_coverage=not no_coverage,
        only=only,
        graph=graph if graph is not None else DEFAULT_GRAPH,
        components=components,
        require_signed=require_signed,
        progress=progress,
        limits=limits,
        reuse=reuse,
    )
    markdown = render_ledger("md", ledger, load_artifacts(None), run_id=result.run_id)
    click.echo(markdown)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(markdown)
    click.echo(result.summary)
    sys.exit(result.exit_code)


@click.command()
@ledger_option("The evidence ledger to render a gate run of.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json", "junit", "rivet", "rivet-json"]),
    default="md",
    show_default=True,
    help="Markdown, one self-contained HTML page, JSON, JUnit XML, or rivet results "
    "(YAML or JSON).",
)
@click.option("--run-id", default=None, help="Which gate run (default: the latest).")
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A previous ledger: show what changed since its latest run.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of standard output.",
)
def report(
    ledger: Path, fmt: str, run_id: str | None, previous: Path | None, output: Path | None
) -> None:
    """Render the evidence of one gate run as md, html, json, junit or rivet results."""
    from harness.evidence import load_artifacts, render_ledger

    announce_ledger(ledger, "reading")
    text = render_ledger(fmt, ledger, load_artifacts(None), run_id=run_id, previous_ledger=previous)
    if output is None:
        click.echo(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@click.group()
def evidence() -> None:
    """Work with evidence ledgers."""


@evidence.command("verify")
@click.argument("ledger", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--require",
    "required",
    multiple=True,
    metavar="CLAIM",
    help="Also require passing evidence for CLAIM (repeatable): at least one record, and "
    "every record of it a pass (e.g. every shard of a merged campaign).",
)
def evidence_verify(ledger: Path, required: tuple[str, ...]) -> None:
    """Check LEDGER's hash chain, record schema and merged records' provenance."""
    from harness.evidence import check_provenance, read_records, verify_ledger

    announce_ledger(ledger, "reading")
    result = verify_ledger(ledger)
    click.echo(result.describe())
    if not result.ok:
        sys.exit(EXIT_FAILED)
    records = read_records(ledger)
    problems = [f"provenance: {p}" for p in check_provenance(records)]
    for claim in required:
        verdicts = [r.verdict for r in records if r.claim.upper() == claim.upper()]
        passed = sum(v == "pass" for v in verdicts)
        click.echo(f"{claim}: {passed} of {len(verdicts)} record(s) pass")
        if not verdicts or passed != len(verdicts):
            problems.append(
                f"{claim}: no passing evidence"
                if not verdicts
                else f"{claim}: {len(verdicts) - passed} record(s) do not pass"
            )
    for problem in problems:
        click.echo(problem)
    sys.exit(EXIT_FAILED if problems else 0)


@evidence.command("merge")
@click.argument("ledgers", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The merged ledger (created, or extended if it already holds a valid chain).",
)
def evidence_merge(ledgers: tuple[Path, ...], out: Path) -> None:
    """Check every LEDGER's chain, then append their records to OUT with provenance.

    For shards of a campaign run on several machines: each record keeps its source
    ledger, sequence number and hash in figures.merged_from, so `evidence verify OUT`
    can check it against its source.
    """
    from harness.evidence import merge_ledgers

    announce_ledger(out, "appending to")
    click.echo(merge_ledgers(list(ledgers), out).describe())


@click.group()
def trace() -> None:
    """Work with the traceability data in traceability/."""


@trace.command("validate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Traceability directory [default: the project's traceability/].",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
    help="Exit 1 when a finding of this severity or worse is reported.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Plain text, or one JSON object.",
)
def trace_validate_command(directory: Path | None, fail_on: str, fmt: str) -> None:
    """Check links, link types, coverage of requirements, verifiers, ids and statuses."""
    from harness.evidence import REGISTRY, trace_validate

    code, text = trace_validate(directory, REGISTRY.keys(), fail_on=fail_on, fmt=fmt)
    click.echo(text)
    sys.exit(code)
