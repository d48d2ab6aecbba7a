"""Claims C8 and C9: the handshake on a hostile and on a lossy network.

**C8, off-path robustness.** An off-path adversary (:mod:`harness.seams.strays`) injects
malformed, unaddressed and replayed datagrams into the link, to both roles, in every
round of the handshake. To give each handshake step many of them, the link delays every
real datagram by a few milliseconds of virtual time (the ``delay`` link fault, which
changes no byte), and the adversary injects a burst to each role in every round while the
real message is in flight. It watches each role's state so that it replays only a
datagram the receiver has already handled, and it counts what it injected per role and per
state (the "steps"). Replays are limited to each side's *first* message (PBKDFParamRequest,
PBKDFParamResponse): every later message's counter depends on how many acknowledgements
went out before it, and a replayed duplicate is re-acknowledged (MRP requires it), so a
copy of a later message taken from another run would carry a counter the receiver has not
seen: a new, well-formed message on its exchange, which is the peer speaking, not a stray
(the core fails on it, as connectedhomeip's PASE session does). For the same reason the
transcript is not the unfaulted one (the re-acknowledgements move later counters); it must
be the same in the component and the graph. The claim holds when both handshakes complete
with one transcript, every step of each role received at least ``strays-per-step`` strays,
and the cores' message layers dropped them (their drop counts by reason are recorded).

**C9, loss.** Across the composed graph, the transport component drops, duplicates and
reorders datagrams at seeded rates (``faults``); for each of ``seeds`` seeds the handshake
completes, and a second run of the same seed gives the same transcript and the same
fault counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from matter_core.message import SecureChannelOpcode, UnsecuredMessage
from matter_core.mrp import MRP_MAX_TRANSMISSIONS

from harness.drive import (
    Injector,
    RoleStatus,
    RunConfig,
    RunReport,
)
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.runtime import Limits
from harness.seams import Delivered, FaultPlan, StrayGenerator, parse_fault_plan
from harness.wit import COMMISSIONEE, COMMISSIONER

#: Strays injected to each role per round: under the core's 64 datagrams per poll, so
#: the receiver's queue stays bounded and a real datagram is never stuck behind a flood.
BURST = 48
#: The first message each role receives: the only one replayed (see the module docstring),
#: once the role has left the first of its :data:`STATES`.
FIRST_OPCODE = {
    COMMISSIONEE: SecureChannelOpcode.PBKDF_PARAM_REQUEST,
    COMMISSIONER: SecureChannelOpcode.PBKDF_PARAM_RESPONSE,
}
#: The states each role waits in during the handshake: the steps strays are counted for.
STATES = {
    COMMISSIONEE: ("EXPECT_PBKDF_PARAM_REQUEST", "EXPECT_PAKE1", "EXPECT_PAKE3"),
    COMMISSIONER: ("EXPECT_PBKDF_PARAM_RESPONSE", "EXPECT_PAKE2", "EXPECT_STATUS_REPORT"),
}


class StrayAdversary:
    """A link adversary that injects a burst of strays to each role every round.

    Watches each role's state (:class:`~harness.drive.driver.WatchingAdversary`) to
    replay only what the receiver has handled, and counts the strays per role and state.
    """

    def __init__(self, seed: int, reference: list[Delivered], burst: int = BURST) -> None:
        self.generator = StrayGenerator(seed, reference)
        self.burst = burst
        # What each role may be sent as a replay once it left its first state.
        self._replayable = {
            role: [d for d in reference if d.to == role and _opcode(d.data) == first]
            for role, first in FIRST_OPCODE.items()
        }
        self.state = {COMMISSIONER: STATES[COMMISSIONER][0], COMMISSIONEE: STATES[COMMISSIONEE][0]}
        self.per_step: dict[str, dict[str, int]] = {role: {} for role in STATES}
        self.injected = 0

    def __call__(self, round_: int, inject: Injector) -> None:
        for role in (COMMISSIONER, COMMISSIONEE):
            state = self.state[role]
            if state not in STATES[role]:
                continue  # established or failed: the handshake steps are over
            for stray in self.generator.batch(role, self.burst, self._handled(role, state)):
                inject(role, stray.data)
            steps = self.per_step[role]
            steps[state] = steps.get(state, 0) + self.burst
            self.injected += self.burst

    def observe(self, round_: int, commissioner: RoleStatus, commissionee: RoleStatus) -> None:
        self.state[COMMISSIONER] = commissioner.state
        self.state[COMMISSIONEE] = commissionee.state

    def _handled(self, role: str, state: str) -> list[Delivered]:
        return [] if STATES[role].index(state) == 0 else self._replayable[role]


def _opcode(data: bytes) -> int | None:
    try:
        return UnsecuredMessage.decode(data).protocol.opcode
    except Exception:
        return None


def reference_datagrams(report: RunReport) -> list[Delivered]:
    """The datagrams of an unfaulted run, each with the role it was delivered to."""
    return [Delivered(p.direction.split("->", 1)[1], p.data) for p in report.trace]


def _stray_run(
    run: Callable[..., RunReport], config: RunConfig, adversary: StrayAdversary
) -> dict[str, Any]:
    started = time.perf_counter()
    report = run(config, adversary=adversary)
    outcome = report.outcome
    steps = {
        role: {state: adversary.per_step[role].get(state, 0) for state in STATES[role]}
        for role in STATES
    }
    return {
        "ok": report.ok,
        "error": report.error,
        "transcript_hash": report.transcript_hash.hex(),
        "strays_injected": adversary.injected,
        "strays_per_step": steps,
        "fewest_per_step": min(min(s.values()) for s in steps.values()),
        "dropped": {
            COMMISSIONER: dict(outcome.commissioner.dropped),
            COMMISSIONEE: dict(outcome.commissionee.dropped),
        },
        "failures": [
            f"{s.role}: {s.failure.kind}: {s.failure.message}"
            for s in (outcome.commissioner, outcome.commissionee)
            if s.failure is not None
        ],
        "rounds": outcome.rounds,
        "seconds": round(time.perf_counter() - started, 3),
    }


@verifier("off-path-robustness")
def verify_off_path(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C8: strays interleaved at every step stop nothing, in the component and the graph."""
    runs: dict[str, Callable[..., RunReport]] = {"component": ctx.run_component}
    # Strays reach the graph through its link-faults role; without one, that half of the
    # claim cannot be checked on this graph.
    missing_faults = ctx.roles.transport_faults is None
    if not missing_faults:
        runs["composed"] = ctx.run_composed
    evidence = off_path_evidence(
        runs,
        ctx.report("component"),
        ctx.run_config,
        ctx.seed,
        int(params.get("strays-per-step", 1000)),
        ctx.inputs("core", "loopback", "composed"),
    )
    if missing_faults and evidence.verdict is Verdict.PASS:
        total = sum(run["strays_injected"] for run in evidence.figures["runs"].values())
        reason = (
            "the graph surfaces no transport-faults role, so strays cannot be injected "
            f"across it (the core component run completed under {total} strays)"
        )
        return Evidence(
            Verdict.NOT_APPLICABLE,
            reason,
            evidence.figures,
            evidence.inputs,
            ctx.seed,
            reason=reason,
        )
    return evidence


def off_path_evidence(
    runs: Mapping[str, Callable[..., RunReport]],
    reference: RunReport,
    run_config: Callable[..., RunConfig],
    seed: int,
    per_step: int,
    inputs: dict[str, str],
) -> Evidence:
    """C8's check on the placements ``runs`` (name to ``run(config, adversary=...)``),
    whichever core files they hold: every run must complete under the strays, with at
    least ``per_step`` strays per step and role, and all runs with one transcript.

    ``reference`` is an unfaulted run of the same cores on the host loopback: its
    datagrams are the templates of the strays and replays.
    """
    templates = reference_datagrams(reference)
    # Each real datagram spends `delay` rounds in flight, each round brings BURST strays.
    delay = math.ceil(per_step / BURST) + 1
    config = run_config(faults=FaultPlan(delay_ms=delay))
    results = {
        name: _stray_run(run, config, StrayAdversary(seed, templates)) for name, run in runs.items()
    }
    problems = []
    for name, result in results.items():
        if not result["ok"]:
            why = "; ".join(result["failures"]) or result["error"] or "did not establish"
            problems.append(f"{name}: the handshake did not complete under strays: {why}")
        if result["fewest_per_step"] < per_step:
            problems.append(
                f"{name}: a step received only {result['fewest_per_step']} strays "
                f"(fewer than {per_step})"
            )
    transcripts = {r["transcript_hash"] for r in results.values()}
    if not problems and len(transcripts) != 1:
        problems.append(f"the component and the graph disagree on the transcript: {transcripts}")
    total = sum(r["strays_injected"] for r in results.values())
    figures: dict[str, Any] = {
        "headline": f"{total} strays, {per_step}+ per step: both completed"
        if not problems
        else problems[0],
        "strays_per_step_required": per_step,
        "link_delay_ms": delay,
        "burst": BURST,
        "runs": results,
    }
    if problems:
        return Evidence(Verdict.FAIL, "; ".join(problems), figures, inputs, seed)
    return Evidence(
        Verdict.PASS,
        f"{total} malformed, unaddressed and replayed datagrams, at least {per_step} per "
        f"step and role, in {' and '.join(runs)}: every handshake completed, with one "
        "transcript",
        figures,
        inputs,
        seed,
        transcripts.pop(),
    )


def _lossy_run(run: Callable[[RunConfig], RunReport], config: RunConfig) -> dict[str, Any]:
    report = run(config)
    outcome = report.outcome
    return {
        "ok": report.ok,
        "transcript_hash": report.transcript_hash.hex(),
        "faults": report.faults.as_dict() if report.faults is not None else {},
        "drops_by_direction": [
            sum(1 for e in report.fault_log if e.kind == "dropped" and e.direction == d)
            for d in (0, 1)
        ],
        "virtual_ms": outcome.virtual_ms,
        "retransmissions": outcome.commissioner.retransmissions
        + outcome.commissionee.retransmissions,
        "exhausted": [
            s.role
            for s in (outcome.commissioner, outcome.commissionee)
            if s.failure is not None and EXHAUSTED in s.failure.message
        ],
        "failures": [
            f"{s.role}: {s.failure.kind}: {s.failure.message}"
            for s in (outcome.commissioner, outcome.commissionee)
            if s.failure is not None
        ],
    }


#: How the core says MRP gave up on a message (matter_core.pase_session).
EXHAUSTED = "no acknowledgement after"


def _explained_by_loss(run: dict[str, Any]) -> bool:
    """A failed run that MRP could not have saved: a role gave up on a message after
    every transmission, and at least that many datagrams were dropped its way."""
    directions = {COMMISSIONER: 0, COMMISSIONEE: 1}
    return bool(run["exhausted"]) and all(
        run["drops_by_direction"][directions[role]] >= MRP_MAX_TRANSMISSIONS
        for role in run["exhausted"]
    )


@verifier("lossy-link")
def verify_lossy_link(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C9: the composed handshake completes under seeded loss for K seeds, each twice.

    Seeds are tried from ``first-seed`` until ``seeds`` of them completed, at most
    ``max-seeds``. A seed that fails counts against the claim unless the loss explains
    it: one role gave up on a message after all MRP_MAX_TRANSMISSIONS transmissions and
    at least that many datagrams were dropped its way (no MRP implementation survives
    that; such seeds are recorded, never hidden). Any other failure fails the claim.
    """
    return lossy_link_evidence(
        ctx.run_composed,
        params,
        ctx.limits,
        ctx.inputs("core", "loopback", "composed"),
    )


def lossy_link_evidence(
    run: Callable[[RunConfig], RunReport],
    params: Mapping[str, Any],
    limits: Limits,
    inputs: dict[str, str],
) -> Evidence:
    """C9's check on the composed graph ``run`` runs (whichever core files it nests),
    with C9's parameters ``params`` (``faults``, ``seeds``, ``max-seeds``, ``first-seed``)."""
    plan = parse_fault_plan(str(params.get("faults", "drop=0.3,duplicate=0.1,reorder=0.1")))
    wanted = int(params.get("seeds", 20))
    max_seeds = int(params.get("max-seeds", wanted + 4))
    first_seed = int(params.get("first-seed", 1))
    per_seed: dict[str, Any] = {}
    problems: list[str] = []
    lost: list[int] = []
    completed = 0
    for seed in range(first_seed, first_seed + max_seeds):
        if completed == wanted:
            break
        config = RunConfig(seed=seed, limits=limits, faults=plan)
        first, second = _lossy_run(run, config), _lossy_run(run, config)
        per_seed[str(seed)] = first
        if (first["transcript_hash"], first["faults"], first["failures"]) != (
            second["transcript_hash"],
            second["faults"],
            second["failures"],
        ):
            problems.append(f"seed {seed}: a second run gave another outcome or fault counts")
        elif first["ok"]:
            completed += 1
        elif _explained_by_loss(first):
            lost.append(seed)
        else:
            problems.append(f"seed {seed}: {'; '.join(first['failures']) or 'not established'}")
    applied = sum(sum(r["faults"].values()) for r in per_seed.values())
    if completed < wanted:
        problems.append(f"only {completed} of {wanted} seeds completed in {len(per_seed)} tried")
    if applied == 0:
        problems.append("no fault was applied: the link did not fault anything")
    figures: dict[str, Any] = {
        "headline": f"{completed} of {len(per_seed)} seeds completed"
        + (f"; lost to exhausted retransmissions: {lost}" if lost else ""),
        "plan": plan.text(),
        "completed": completed,
        "lost_to_exhausted_retransmissions": lost,
        "seeds": per_seed,
    }
    if problems:
        return Evidence(Verdict.FAIL, "; ".join(problems), figures, inputs)
    note = (
        f"; seed(s) {lost} failed cleanly when one message lost all "
        f"{MRP_MAX_TRANSMISSIONS} transmissions (MRP gives up, as specified)"
        if lost
        else ""
    )
    return Evidence(
        Verdict.PASS,
        f"under {plan.text()} the composed handshake completed for {completed} seeds, each "
        f"reproduced byte for byte by a second run ({applied} faults applied){note}",
        figures,
        inputs,
    )
