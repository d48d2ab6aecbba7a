"""Claim S2: the core's imports satisfy its capability policy, and components importing
WASI filesystem or sockets are refused by name."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.project import PROJECT_ROOT, display_path
from harness.runtime import wat2wasm
from harness.supply import (
    CORE_ROLE,
    Policy,
    PolicyViolation,
    RiskClass,
    audit,
    enforce,
    load_policy,
)
from harness.wit import SEAMS

#: Purpose-built components the S2 check must see refused: each imports the three seams
#: (so its only fault is the WASI import) plus the WASI interfaces named here.
PROBES: dict[str, tuple[str, ...]] = {
    "wasi-filesystem-probe": ("wasi:filesystem/types@0.2.0", "wasi:filesystem/preopens@0.2.0"),
    "wasi-sockets-probe": ("wasi:sockets/tcp@0.2.0",),
}
PROBE_SEAMS = SEAMS


def probe_component(imports: tuple[str, ...]) -> bytes:
    """A minimal valid component importing each name in ``imports`` as an empty instance."""
    body = "\n".join(f'  (import "{name}" (instance))' for name in imports)
    return wat2wasm(f"(component\n{body}\n)")


def verify_capability_policy(
    core_path: Path, policy_path: Path | str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """Claim S2: the core's imports satisfy its policy, and the check can fail.

    Returns ``(verdict, message, figures)`` with verdict ``pass`` or ``fail``. Passing
    needs all of: the core role grants only seams; the core passes :func:`enforce`; and
    each probe component (the seams plus a WASI filesystem or socket import) is refused
    under the core role, with exactly its WASI imports named in the refusal.
    """
    policy = load_policy(policy_path)
    rules = policy.role(CORE_ROLE)
    problems: list[str] = []
    wide = [g.text for g in rules.allow if g.risk is not RiskClass.SEAM]
    if wide:
        problems.append(f"the core role grants more than seams: {', '.join(wide)}")
    started = time.perf_counter()
    report = audit(core_path, CORE_ROLE, policy)
    audit_ms = (time.perf_counter() - started) * 1000
    if not report.allowed:
        problems.append(str(PolicyViolation(report)))
    probes = []
    started = time.perf_counter()
    for name, wasi_imports in PROBES.items():
        outcome = _run_probe(name, wasi_imports, policy)
        probes.append(outcome)
        if not outcome["refused"]:
            problems.append(f"{name} (importing {', '.join(wasi_imports)}) was not refused")
        elif outcome["offending"] != list(wasi_imports) or not outcome["named"]:
            problems.append(
                f"{name} was refused naming {outcome['offending']}, "
                f"not exactly {list(wasi_imports)}"
            )
    probes_ms = (time.perf_counter() - started) * 1000
    figures: dict[str, Any] = {
        "policy": {"path": display_path(policy.source), "sha256": policy.sha256},
        "role": CORE_ROLE,
        "grants": [g.text for g in rules.allow],
        "core": {
            "sha256": report.sha256,
            "imports": [item.as_dict() for item in report.imports],
            "notes": list(report.notes),
            "verdict": report.verdict,
        },
        "probes": probes,
        "timings_ms": {"audit_core": round(audit_ms, 3), "probes": round(probes_ms, 3)},
    }
    if problems:
        return "fail", "; ".join(problems), figures
    imported = ", ".join(f"{i.name} ({i.risk})" for i in report.imports)
    refused = ", ".join(p["name"] for p in probes)
    return (
        "pass",
        f"the core's imports satisfy the core policy ({imported}); {refused} refused by name",
        figures,
    )


def _run_probe(name: str, wasi_imports: tuple[str, ...], policy: Policy) -> dict[str, Any]:
    imports = PROBE_SEAMS + wasi_imports
    outcome: dict[str, Any] = {"name": name, "imports": list(imports), "refused": False}
    try:
        enforce(probe_component(imports), CORE_ROLE, policy, label=name)
    except PolicyViolation as exc:
        outcome["refused"] = True
        outcome["offending"] = list(exc.offending)
        outcome["named"] = all(wasi in exc.message for wasi in wasi_imports)
        outcome["message"] = exc.message
    return outcome


@verifier("capability-policy")
def verify_policy(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S2: the core's imports satisfy its capability policy (and WASI probes are refused)."""
    policy = params.get("policy")
    verdict, message, figures = verify_capability_policy(
        ctx.component("core"), PROJECT_ROOT / policy if isinstance(policy, str) else None
    )
    figures.setdefault("headline", message)
    inputs = ctx.inputs("core")
    inputs["policy"] = str(figures["policy"]["sha256"])
    return Evidence(Verdict(verdict), message, figures, inputs)
