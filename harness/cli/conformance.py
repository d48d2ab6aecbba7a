"""``conformance``: the contract suite of the core world, run on another core component."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import (
    announce,
    announce_ledger,
    build_dir_option,
    limit_options,
    progress,
    settings,
    trust_options,
)
from harness.project import EVIDENCE_DIR, display_path

if TYPE_CHECKING:
    from harness.runtime import Limits

#: Apart from the project's ledger: a candidate's records are never the project's evidence.
DEFAULT_CONFORMANCE_LEDGER = EVIDENCE_DIR / "conformance.jsonl"
#: The report format of each ``--report`` suffix (Markdown for any other).
REPORT_FORMATS = {".md": "md", ".html": "html", ".json": "json", ".xml": "junit"}


@click.command()
@click.argument("candidate", type=click.Path(path_type=Path))
@click.option(
    "--role",
    type=click.Choice(["commissioner", "commissionee", "both"]),
    default="both",
    show_default=True,
    help="The role(s) the candidate claims: only the checks of that role run.",
)
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_CONFORMANCE_LEDGER,
    show_default=f"<project>/{display_path(DEFAULT_CONFORMANCE_LEDGER)}",
    help="Evidence ledger the checks are appended to (one record per check, one run id); "
    "kept apart from the project's ledger.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report of this run here (.md, .html, .json, or .xml for JUnit).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the seeded runs.")
@limit_options
@build_dir_option
@trust_options
def conformance(
    candidate: Path,
    role: str,
    ledger: Path,
    report_file: Path | None,
    seed: int,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
    limits: Limits,
) -> None:
    """Check that CANDIDATE implements the core world (wit/pase.wit) like the project's core.

    The checks (traceability/conformance/contract.yaml): it imports exactly the three
    seams; its conformance export computes the SPAKE2+ and PASE vectors; PASE completes
    with the project's reference core (build/core.wasm, built if missing) inside a
    composed heterogeneous graph, the candidate in each role, and the secure session
    carries a message both ways; the negative paths (C5), off-path strays (C8) and loss
    (C9) with the candidate in each role.

    Exit 0: every applicable check passed. 1: a check failed (or the candidate's
    signature was refused). 2: bad input (not a component, the wrong world, missing
    exports, a trap at instantiation) or a broken environment.

    The limits apply to every instance of both cores: a larger candidate may need more
    (e.g. the matter.js core: --memory-mb 128 --fuel 0).
    """
    from harness.evidence import ConformanceSuite, check_names, contract_artifacts, render_ledger
    from harness.runtime import Runtime
    from harness.supply import SupplyChain

    announce_ledger(ledger, "appending to")
    started = time.perf_counter()
    chain = SupplyChain.local(settings(trust_mode, trust_store, signing_key), build_dir)
    runtime = Runtime(build_dir / "cache")
    try:
        suite = ConformanceSuite(
            candidate,
            build_dir=build_dir,
            supply_chain=chain,
            runtime=runtime,
            seed=seed,
            limits=limits,
            progress=progress,
        )
        checked = suite.prepare()
        announce(chain)
        progress(
            f"candidate {checked.path}: sha256 {checked.sha256}, {checked.size} bytes, "
            f"core world; role: {role} ({time.perf_counter() - started:.1f} s)"
        )
        command = f"matter-harness conformance {candidate} --role {role} --seed {seed}"
        result = suite.run(role, ledger, command=command)
    finally:
        runtime.close()
    artifacts = contract_artifacts(role=role)
    markdown = render_ledger("md", ledger, artifacts, run_id=result.run_id)
    click.echo(markdown)
    if report_file is not None:
        fmt = REPORT_FORMATS.get(report_file.suffix.lower(), "md")
        text = render_ledger(fmt, ledger, artifacts, run_id=result.run_id)
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(text)
        progress(f"wrote the {fmt} report to {report_file}")
    total = len(result.outcomes)
    seconds = time.perf_counter() - started
    if result.passed:
        click.echo(
            f"CONFORMANCE-PASSED: {total} of {total} checks (role {role}, run {result.run_id}, "
            f"{seconds:.1f} s)"
        )
        return
    click.echo(
        f"CONFORMANCE-FAILED: {len(result.failed)} of {total} checks did not pass: "
        f"{check_names(result.failed)} (run {result.run_id}, {seconds:.1f} s)"
    )
    sys.exit(EXIT_FAILED)
