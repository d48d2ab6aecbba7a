"""Claim C10: cross-runtime determinism, wasmtime against V8 (jco).

The seeded handshake runs under both runtimes on the same verified bytes; the transcript
hash, the seam crossings and the packet trace must agree, and equal the pinned known-good
transcript. The conformance vectors (C7) are computed on V8 too and must grade the same.
A missing or unusable Node/jco is a failed claim with its reason, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.build import JsRuntimeError, TranspileError
from harness.drive import (
    JcoTarget,
    RunReport,
    instantiate_conformance,
    load_vectors,
    open_conformance,
    run_conformance,
    run_jco,
)
from harness.errors import HarnessError
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS


def _ms(report: RunReport, key: str) -> float:
    return round(report.timings.get(key, 0.0) * 1000, 3)


def _compare(label: str, wasmtime: RunReport, v8: RunReport, known: str | None) -> list[str]:
    """What differs between the two runs of ``label`` (empty when they agree)."""
    problems = []
    if not v8.ok:
        problems.append(f"{label}: the run on V8 failed: {v8.error or 'not established'}")
    if not wasmtime.ok:
        problems.append(
            f"{label}: the run on wasmtime failed: {wasmtime.error or 'not established'}"
        )
    ours, theirs = v8.transcript_hash.hex(), wasmtime.transcript_hash.hex()
    if ours != theirs:
        problems.append(f"{label}: transcript on V8 {ours or '(none)'} != on wasmtime {theirs}")
    if known is not None and ours != known:
        problems.append(f"{label}: transcript on V8 {ours or '(none)'} != known-good {known}")
    mine = {role: c.as_dict() for role, c in v8.seams.items()}
    other = {role: c.as_dict() for role, c in wasmtime.seams.items()}
    if mine != other:
        problems.append(f"{label}: seam crossings differ: V8 {mine}, wasmtime {other}")
    if wasmtime.trace and v8.trace_digest != wasmtime.trace_digest:
        problems.append(f"{label}: the host loopback carried different datagrams")
    if v8.transport_stats != wasmtime.transport_stats:
        problems.append(f"{label}: transport component counters differ")
    layers = {
        name: [s.message_layer() for s in (run.outcome.commissioner, run.outcome.commissionee)]
        for name, run in (("V8", v8), ("wasmtime", wasmtime))
    }
    if layers["V8"] != layers["wasmtime"]:
        problems.append(f"{label}: message-layer counters (drops, acks, retransmissions) differ")
    return problems


def _vectors(ctx: GateContext) -> tuple[dict[str, Any], list[str]]:
    vectors = load_vectors()
    target, _seams = instantiate_conformance(ctx.runtime, ctx.load("core"), ctx.limits)
    on_wasmtime = run_conformance(target, vectors)
    v8, host = open_conformance(ctx.component("core"), ctx.supply_chain, ctx.build_dir)
    with host:
        on_v8 = run_conformance(v8, vectors)
    grades_v8 = {r.name: r.passed for r in on_v8}
    grades_wasmtime = {r.name: r.passed for r in on_wasmtime}
    problems = [f"vector {r.name} on V8: {r.detail}" for r in on_v8 if not r.passed]
    if grades_v8 != grades_wasmtime:
        problems.append(f"vectors grade differently: V8 {grades_v8}, wasmtime {grades_wasmtime}")
    if not on_v8:
        problems.append("no vectors were run on V8")
    figures = {
        "v8": f"{sum(grades_v8.values())} of {len(grades_v8)}",
        "wasmtime": f"{sum(grades_wasmtime.values())} of {len(grades_wasmtime)}",
    }
    return figures, problems


@verifier("cross-runtime-determinism")
def verify_cross_runtime(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C10: the seeded transcript under V8 equals the one under wasmtime and the pinned
    value, for the core component and (when ``require-composed``) the composed graph; the
    C7 vectors computed under V8 grade the same."""
    require_composed = bool(params.get("require-composed", True))
    # The known-good hash is the project's core's; a core from elsewhere is compared
    # between the runtimes only.
    project = ctx.subject.project_cores_only() is None
    known = KNOWN_GOOD_TRANSCRIPTS.get(ctx.seed) if project else None
    inputs = ctx.inputs("core", "loopback", "composed")
    figures: dict[str, Any] = {"known_good": known, "findings": []}
    problems: list[str] = []
    try:
        component = ctx.report("component")
        core_v8 = run_jco(
            ctx.run_config(),
            JcoTarget(ctx.component("core"), False),
            ctx.supply_chain,
            ctx.build_dir,
        )
        problems += _compare("core component", component, core_v8, known)
        figures["transcript_hashes"] = {
            "core on wasmtime": component.transcript_hash.hex(),
            "core on V8": core_v8.transcript_hash.hex(),
        }
        figures["handshake_ms"] = {
            "core on wasmtime": _ms(component, "handshake"),
            "core on V8": _ms(core_v8, "handshake"),
        }
        figures["instantiate_ms"] = {
            "core on wasmtime": _ms(component, "instantiate"),
            "core on V8": _ms(core_v8, "instantiate"),
        }
        composed = ctx.report("composed")
        figures["transcript_hashes"]["composed on wasmtime"] = composed.transcript_hash.hex()
        figures["handshake_ms"]["composed on wasmtime"] = _ms(composed, "handshake")
        try:
            graph_v8 = run_jco(
                ctx.run_config(),
                JcoTarget(ctx.composed(), True, ctx.roles),
                ctx.supply_chain,
                ctx.build_dir,
            )
        except TranspileError as exc:
            figures["findings"].append(f"composed graph: {exc.message}")
            figures["transcript_hashes"]["composed on V8"] = None
            if require_composed:
                problems.append(f"composed graph: {exc.message}")
        else:
            problems += _compare("composed graph", composed, graph_v8, known)
            figures["transcript_hashes"]["composed on V8"] = graph_v8.transcript_hash.hex()
            figures["handshake_ms"]["composed on V8"] = _ms(graph_v8, "handshake")
        figures["vectors"], vector_problems = _vectors(ctx)
        problems += vector_problems
    except JsRuntimeError as exc:
        figures["headline"] = "V8 (jco) unavailable"
        reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
        return Evidence(Verdict.FAIL, f"cannot run on V8: {reason}", figures, inputs, ctx.seed)
    except HarnessError as exc:
        figures["headline"] = "a run failed"
        return Evidence(Verdict.FAIL, f"a run failed: {exc.message}", figures, inputs, ctx.seed)
    ms = figures["handshake_ms"]
    figures["headline"] = (
        f"handshake {ms['core on wasmtime']:.0f} ms wasmtime / {ms['core on V8']:.0f} ms V8"
    )
    if problems:
        return Evidence(Verdict.FAIL, "; ".join(problems), figures, inputs, ctx.seed)
    covered = "the core component and the composed graph"
    if figures["transcript_hashes"].get("composed on V8") is None:
        covered = "the core component (the composed graph cannot be transpiled: finding recorded)"
    return Evidence(
        Verdict.PASS,
        f"V8 and wasmtime agree on {covered}: transcript"
        + (", the known-good one" if known is not None else "")
        + f", seam crossings, datagrams; vectors {figures['vectors']['v8']} on both",
        figures,
        inputs,
        ctx.seed,
        figures["transcript_hashes"]["core on V8"],
    )
