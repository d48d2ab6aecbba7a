"""Claim E1: every ``matter_core`` module kills at least 97 % of its non-equivalent mutants.

The gate runs a seeded sample of the mutants (``sample`` and ``seed`` from the claim's
fields, sized to finish in a few minutes on a 2-core runner); ``matter-harness
mutation`` runs the full campaign (``just mutation``) and records its evidence for E1 the
same way. Either way the score per module is in the record's figures, with the
surviving mutants by name, so a failure says which test is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.evidence.context import GateContext
from harness.evidence.mutation import THRESHOLD, Equivalent, load_equivalents
from harness.evidence.mutation_run import Campaign, run_campaign
from harness.evidence.verifiers.base import Evidence, Verdict, head_start, verifier

#: Survivors listed per module in the record (the rest are counted).
SURVIVORS_SHOWN = 25


def campaign_evidence(
    campaign: Campaign, equivalents: Sequence[Equivalent], threshold: float = THRESHOLD
) -> Evidence:
    """E1's verdict on ``campaign``: every module at ``threshold`` or above, nothing stale.

    An equivalent-mutants entry that names a mutant the tool no longer generates fails
    the claim too: the reviewed list has to follow the code.
    """
    scores = campaign.scores(equivalents)
    stale = campaign.stale(equivalents)
    below = {m: s for m, s in scores.items() if not s.passes(threshold)}
    per_module = {m: s.as_dict() for m, s in sorted(scores.items())}
    killed = sum(s.killed for s in scores.values())
    counted = sum(s.counted for s in scores.values())
    figures: dict[str, Any] = {
        "threshold": threshold,
        "campaign": campaign.describe(),
        "equivalents_listed": len(equivalents),
        "modules": per_module,
        "total": {"killed": killed, "counted": counted},
        "survivors": {
            m: s.survivors[:SURVIVORS_SHOWN] for m, s in sorted(scores.items()) if s.survivors
        },
        "stale_equivalents": stale,
    }
    kind = "full campaign" if campaign.sample is None else f"sample of {campaign.sample}"
    if campaign.modules:
        kind += " of " + ", ".join(campaign.modules)
    if campaign.shard.count > 1:
        kind += f", shard {campaign.shard}"
    problems = [
        f"{m}: {'unchecked mutants' if s.unchecked else f'{100 * (s.score or 0):.1f} %'}"
        for m, s in sorted(below.items())
    ]
    if stale:
        problems.append(f"{len(stale)} listed equivalent mutant(s) no longer generated")
    if not campaign.selected:
        problems.append("no mutant was tried")
    if problems:
        message = f"below {100 * threshold:.0f} % ({kind}): " + "; ".join(problems)
        figures["headline"] = message
        return Evidence(Verdict.FAIL, message, figures, seed=campaign.seed)
    message = (
        f"every module kills >= {100 * threshold:.0f} % of its non-equivalent mutants "
        f"({kind}: {killed} of {counted} killed, {len(scores)} modules)"
    )
    figures["headline"] = message
    return Evidence(Verdict.PASS, message, figures, seed=campaign.seed)


def _campaign(ctx: GateContext, params: Mapping[str, Any], children: int | None) -> Campaign:
    sample = params.get("sample")
    return run_campaign(
        workdir=ctx.build_dir / "mutation",
        cache=ctx.build_dir / "mutation-cache",
        sample=None if sample is None else int(sample),
        seed=int(params.get("seed", ctx.seed)),
        children=children,
    )


@head_start("mutation-score")
def start_mutation_score(ctx: GateContext, params: Mapping[str, Any]) -> Campaign:
    """E1's campaign, begun when the gate starts: it needs nothing of the other claims.
    It leaves one CPU to the claims running meanwhile."""
    return _campaign(ctx, params, max(1, (os.cpu_count() or 1) - 1))


@verifier("mutation-score")
def verify_mutation_score(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """E1: a seeded sample of ``matter_core``'s mutants, scored per module."""
    campaign = ctx.early_result("mutation-score", lambda: _campaign(ctx, params, None))
    threshold = float(params.get("threshold", THRESHOLD))
    return campaign_evidence(campaign, load_equivalents(), threshold)
