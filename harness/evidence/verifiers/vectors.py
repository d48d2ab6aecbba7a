"""Claim C7: the SPAKE2+, PBKDF2 and Apple-recording vectors computed in the component,
graded on the host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.drive import instantiate_conformance, load_vectors, run_conformance
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.runtime import Component, Limits, Runtime


@verifier("vectors-in-component")
def verify_vectors(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """C7: the SPAKE2+ and PASE vectors pass inside the component."""
    return vectors_evidence(ctx.runtime, ctx.load("core"), ctx.inputs("core"), ctx.limits)


def vectors_evidence(
    runtime: Runtime,
    component: Component,
    inputs: dict[str, str],
    limits: Limits | None = None,
) -> Evidence:
    """C7's check of one compiled core component (any implementation of the core world):
    every vector computed by its ``conformance`` export, graded on the host."""
    target, _seams = instantiate_conformance(runtime, component, limits)
    results = run_conformance(target, load_vectors())
    failed = [r for r in results if not r.passed]
    figures = {
        "headline": f"{len(results) - len(failed)} of {len(results)} vectors",
        "vectors": len(results),
        "failed": [f"{r.name}: {r.detail}" for r in failed],
    }
    if not results:
        return Evidence(Verdict.FAIL, "no vectors were run", figures, inputs)
    if failed:
        return Evidence(
            Verdict.FAIL, f"{len(failed)} of {len(results)} vectors failed", figures, inputs
        )
    return Evidence(
        Verdict.PASS, f"all {len(results)} vectors pass in the component", figures, inputs
    )
