"""Claim E2: fuzz campaigns find no trap, untyped exception, hang or divergence.

The gate runs a small fixed budget on each target (:data:`GATE_BUDGET`, overridable by the
claim's parameters); ``matter-harness fuzz`` runs any budget, one shard at a time, and
writes the same evidence to its own ledger record (through the gate's recorder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.drive import (
    REGRESSIONS_DIR,
    CampaignResult,
    capture_handshake,
    make_target,
    pick_engine,
    run_atheris,
    run_campaign,
)
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier

CLAIM = "E2"
VERIFIER = "fuzz-campaigns"
#: Cases per target in the gate (a few seconds each on this machine).
GATE_BUDGET: dict[str, int] = {"native": 1500, "component": 150, "composed": 60}


def fuzz_evidence(results: Sequence[CampaignResult], seed: int) -> Evidence:
    """The E2 evidence of ``results``: fails on any failing case or an empty campaign."""
    figures: dict[str, Any] = {"targets": {r.target: r.figures() for r in results}}
    failed = [r for r in results if not r.ok]
    cases = sum(r.cases for r in results)
    lines = [r.summary() for r in results]
    if not results or failed:
        worst = failed[0] if failed else None
        headline = (
            f"{worst.target}: {worst.failed} failing of {worst.cases} cases"
            if worst is not None
            else "no campaign ran"
        )
        figures["headline"] = headline
        return Evidence(Verdict.FAIL, "; ".join(lines) or headline, figures, seed=seed)
    figures["headline"] = (
        f"{cases} cases, 0 traps/untyped/hangs/divergences ("
        + ", ".join(f"{r.target} {r.cases_per_second:.0f}/s" for r in results)
        + ")"
    )
    return Evidence(Verdict.PASS, "; ".join(lines), figures, seed=seed)


@verifier(VERIFIER)
def verify_fuzzing(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """E2: a fixed budget on each target; any trap, untyped, hang or divergence fails."""
    budget = {target: int(params.get(f"{target}-cases", n)) for target, n in GATE_BUDGET.items()}
    seed = int(params.get("seed", ctx.seed))
    regressions = Path(params.get("regressions", REGRESSIONS_DIR))
    capture = capture_handshake()
    results: list[CampaignResult] = []
    if budget["native"]:
        if pick_engine("native", str(params.get("engine", "auto"))) == "atheris":
            results.append(run_atheris(budget["native"], seed, regressions=regressions))
        else:
            native = make_target("native", capture)
            results.append(run_campaign(native, budget["native"], seed, regressions=regressions))
    for target in ("component", "composed"):
        if not budget[target]:
            continue
        subject = make_target(
            target, capture, ctx.runtime, ctx.load(_source(target)), ctx.limits, ctx.roles
        )
        reference = make_target("native", capture)
        results.append(
            run_campaign(
                subject, budget[target], seed, regressions=regressions, reference=reference
            )
        )
    evidence = fuzz_evidence(results, seed)
    names = [_source(t) for t in ("component", "composed") if budget[t]]
    evidence.inputs = ctx.inputs(*names) if names else {}
    return evidence


def _source(target: str) -> str:
    return "core" if target == "component" else "composed"
