"""Claim S1: every component the gate runs verifies against the trust store, and
tampered or unsigned copies of the core are refused."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.evidence.context import GateContext
from harness.evidence.verifiers.attacks import run_attack_drills
from harness.evidence.verifiers.base import Evidence, Verdict, verifier
from harness.supply import ComponentRejected, SupplyChain, TrustMode, VerifiedComponent, layout
from harness.wit import COMMISSIONER

#: Where the S1 verifier flips a byte of the core: fractions of the signed content.
TAMPER_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tamper_positions(data: bytes) -> list[int]:
    """Byte offsets spread over the signed content of ``data`` (never the signature)."""
    found = layout(data)
    first = found.content[0].content_start if found.content else found.content_start
    last = len(data) - 1
    return sorted({min(last, int(first + (last - first) * p)) for p in TAMPER_POINTS})


def flip_byte(data: bytes, position: int) -> bytes:
    """``data`` with the byte at ``position`` inverted."""
    changed = bytearray(data)
    changed[position] ^= 0xFF
    return bytes(changed)


@verifier("signature-verification")
def verify_signatures(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S1: every component the gate runs verifies against the trust store; tampering fails.

    The core, the loopback and the composed graph must verify in strict mode (with the
    gate's run key unless a signing key is configured), the composed graph must nest
    exactly the verified files, copies of the core with one byte flipped (at several
    places), with its signature damaged, or with no signature must all be refused, and
    so must every attack drill of :mod:`harness.evidence.verifiers.attacks`.
    """
    chain = ctx.supply_chain
    try:
        paths = {c.node: ctx.component(c.node) for c in ctx.subject.components}
        paths["composed"] = ctx.composed()
    except ComponentRejected as exc:
        return Evidence(Verdict.FAIL, exc.message, {"trust_source": chain.trust_source()})
    figures: dict[str, Any] = {
        "mode": chain.mode.value,
        "trust_source": chain.trust_source(),
        "run_key_id": chain.run_key.public_key.fingerprint if chain.run_key else None,
        "components": {},
        "refused": [],
    }
    inputs = ctx.inputs("core", "loopback", "composed")
    if chain.mode is not TrustMode.STRICT:
        return Evidence(
            Verdict.FAIL,
            f"trust mode is {chain.mode.value}: components are not verified against the "
            "trust store",
            figures,
            inputs,
        )
    problems: list[str] = []
    verified = _verify_each(chain, paths, figures, problems)
    if not problems:
        problems += _check_graph(ctx, chain, paths, verified, figures)
    core = ctx.subject.core(COMMISSIONER).node
    if core in verified:
        problems += _refusals(chain, verified[core], paths[core], figures["refused"])
    drills = run_attack_drills()
    figures["attacks"] = [drill.as_dict() for drill in drills]
    problems += [f"attack not refused: {d.case}: {d.detail}" for d in drills if not d.refused]
    figures["loads"] = [v.to_dict() for v in chain.verifications]
    figures["components_verified"] = len(figures["components"])
    if problems:
        return Evidence(Verdict.FAIL, "; ".join(problems), figures, inputs)
    return Evidence(
        Verdict.PASS,
        f"{len(verified)} components verified (strict, trusting {chain.trust_source()}); "
        f"{len(figures['refused'])} tampered or unsigned copies of the core refused; "
        f"{len(drills)} attacks by a writer of build/ refused",
        figures,
        inputs,
    )


def _verify_each(
    chain: SupplyChain, paths: dict[str, Path], figures: dict[str, Any], problems: list[str]
) -> dict[str, VerifiedComponent]:
    """Load and verify every component the gate runs, recording each in ``figures``."""
    verified: dict[str, VerifiedComponent] = {}
    for name, path in paths.items():
        try:
            verified[name] = chain.load_verified(path)
        except ComponentRejected as exc:
            problems.append(f"{name}: {exc.message}")
            continue
        figures["components"][name] = {
            "path": str(path),
            "sha256": verified[name].sha256,
            "content_sha256": verified[name].verification.content_sha256,
            "key_id": verified[name].verification.key_id,
            "signer": verified[name].verification.signer,
            "signature": verified[name].verification.signature,
        }
    return verified


def _check_graph(
    ctx: GateContext,
    chain: SupplyChain,
    paths: dict[str, Path],
    verified: dict[str, VerifiedComponent],
    figures: dict[str, Any],
) -> list[str]:
    """The composed graph must nest exactly the verified node files."""
    try:
        nodes = {c.node: verified[c.node] for c in ctx.subject.components}
        composed = verified["composed"]
        chain.check_composition(composed.content, nodes, name=composed.path)
    except (KeyError, ComponentRejected) as exc:
        return [f"composition: {exc}"]
    figures["composition_nodes"] = {n: v.sha256 for n, v in nodes.items()}
    return []


def _refusals(
    chain: SupplyChain, core: VerifiedComponent, path: Path, out: list[dict[str, Any]]
) -> list[str]:
    detached = chain.detached_signature(path)
    cases: list[tuple[str, bytes, bytes | None]] = [
        (f"byte {pos} flipped", flip_byte(core.data, pos), detached)
        for pos in tamper_positions(core.data)
    ]
    if detached is not None:
        cases.append(("run key signature damaged", core.data, flip_byte(detached, -1)))
        # The build signature alone holds, but its key is not trusted in this run.
        cases.append(("run key signature missing", core.data, None))
    else:
        section = layout(core.data).signature_section
        if section is not None:
            cases.append(("signature damaged", flip_byte(core.data, section.end - 1), None))
    cases.append(("signature removed", core.content, None))
    problems = []
    for label, data, signature in cases:
        try:
            chain.verify_data(data, name=f"{path.name} ({label})", detached=signature)
        except ComponentRejected as exc:
            out.append({"case": label, "error": type(exc.cause).__name__, "message": exc.message})
            continue
        problems.append(f"a copy of the core with its {label} was accepted")
    return problems
