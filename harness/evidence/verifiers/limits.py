"""Claim S3: each resource limit stops a runaway guest with its typed error, and the
host survives: a handshake in the same process passes before and after, with the same
transcript. Also measures what a real handshake uses (fuel, peak memory)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.drive import RunConfig, RunReport, run_component
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.runtime import (
    CHECK_DEADLINE_MS,
    KINDS,
    WASM_PAGE,
    GuestTrap,
    Limits,
    Runtime,
    RuntimeLoadError,
    run_runaway,
    runaway_limits,
)
from harness.supply import SupplyChain
from harness.wit import ROLES


def handshake_passes(
    runtime: Runtime,
    core_path: Path,
    seed: int,
    limits: Limits,
    *,
    supply_chain: SupplyChain | None = None,
) -> bool:
    """A component handshake (and session probe) passes under ``limits``."""
    config = RunConfig(seed=seed, limits=limits)
    try:
        return run_component(config, runtime, core_path, supply_chain=supply_chain).ok
    except (GuestTrap, RuntimeLoadError):
        return False


def smallest_memory_limit(
    runtime: Runtime,
    core_path: Path,
    seed: int,
    ceiling: int | None = None,
    *,
    supply_chain: SupplyChain | None = None,
) -> int | None:
    """The smallest memory limit, in whole pages, under which a handshake passes.

    That is the handshake's peak linear memory (of the largest memory: the limit applies
    to each), since linear memory never shrinks. Bisection between one page and
    ``ceiling`` (default: the default limit); None if it does not pass even there.
    """
    top = (ceiling if ceiling is not None else Limits().memory_bytes or 0) // WASM_PAGE

    def passes(pages: int) -> bool:
        limits = Limits(memory_bytes=pages * WASM_PAGE)
        return handshake_passes(runtime, core_path, seed, limits, supply_chain=supply_chain)

    if top < 1 or not passes(top):
        return None
    low, high = 1, top
    while low < high:
        middle = (low + high) // 2
        if passes(middle):
            high = middle
        else:
            low = middle + 1
    return low * WASM_PAGE


@dataclass
class _Check:
    """The S3 check's findings, gathered step by step."""

    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def verify_resource_limits(
    runtime: Runtime,
    core_path: Path,
    seed: int,
    kinds: tuple[str, ...] = KINDS,
    *,
    supply_chain: SupplyChain | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """S3: each runaway is stopped by its limit with its typed error, and the host
    survives: a handshake in the same process passes before and after, with the same
    transcript. Returns (verdict ``pass``/``fail``, message, figures). ``supply_chain``
    verifies the core (default: the configured trust and its directory's build key)."""
    check = _Check()
    defaults = Limits()
    check.figures["limits_default"] = defaults.as_dict()
    before = _handshake(runtime, core_path, seed, check, "before", supply_chain)
    peak = smallest_memory_limit(runtime, core_path, seed, supply_chain=supply_chain)
    check.figures["handshake_peak_memory_bytes"] = peak
    if peak is None:
        check.problems.append("no memory limit up to the default lets a handshake pass")
    elif defaults.memory_bytes is not None:
        check.figures["memory_margin"] = round(defaults.memory_bytes / peak, 2)
    if before is not None and before.fuel and defaults.fuel is not None:
        check.figures["fuel_margin"] = round(defaults.fuel / max(before.fuel.values()), 1)
    runaways: dict[str, Any] = {}
    for kind in kinds:
        base = replace(defaults, deadline_ms=CHECK_DEADLINE_MS) if kind == "deadline" else None
        outcome = run_runaway(runtime, kind, runaway_limits(kind, base))
        runaways[kind] = outcome.figures()
        if not outcome.stopped:
            got = type(outcome.error).__name__ if outcome.error is not None else "no error"
            check.problems.append(
                f"{kind} runaway: expected {outcome.expected.__name__}, got {got}"
                + ("" if outcome.error is None else f" ({outcome.error})")
            )
    check.figures["runaways"] = runaways
    after = _handshake(runtime, core_path, seed, check, "after", supply_chain)
    if before is not None and after is not None and before.transcript_hash != after.transcript_hash:
        check.problems.append("the handshake after the runaways has a different transcript")
    if check.problems:
        return "fail", "; ".join(check.problems), check.figures
    stopped = ", ".join(f"{k}: {runaways[k]['error']}" for k in kinds)
    return (
        "pass",
        f"every runaway stopped with its typed error ({stopped}); "
        "handshakes before and after pass in the same process",
        check.figures,
    )


def _handshake(
    runtime: Runtime,
    core_path: Path,
    seed: int,
    check: _Check,
    when: str,
    supply_chain: SupplyChain | None,
) -> RunReport | None:
    """One handshake under the default limits, its figures recorded under ``when``."""
    try:
        report = run_component(RunConfig(seed=seed), runtime, core_path, supply_chain=supply_chain)
    except GuestTrap as exc:
        check.problems.append(f"handshake {when} the runaways trapped: {exc}")
        return None
    check.figures[f"handshake_{when}"] = {
        "ok": report.ok,
        "fuel": {role: report.fuel.get(role) for role in ROLES},
        "seconds": round(report.timings.get("handshake", 0.0), 4),
        "transcript_hash": report.transcript_hash.hex(),
    }
    if not report.ok:
        check.problems.append(
            f"handshake {when} the runaways failed: {report.error or 'no session'}"
        )
        return None
    return report


@verifier("resource-limits")
def verify_limits(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S3: each limit stops a runaway guest with its typed error; the host survives."""
    verdict, message, figures = verify_resource_limits(
        ctx.runtime, ctx.component("core"), ctx.seed, kinds=KINDS, supply_chain=ctx.supply_chain
    )
    figures.setdefault("headline", message)
    before = figures.get("handshake_before", {})
    thash = before.get("transcript_hash") if isinstance(before, dict) else None
    return Evidence(Verdict(verdict), message, figures, ctx.inputs("core"), ctx.seed, thash)
