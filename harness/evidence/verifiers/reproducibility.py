"""Claim E3: a rebuilt core computes what the core under test computes.

componentize-py's output is not byte-reproducible (bytecodealliance/componentize-py
issue 247: build-time randomness, clocks and allocator state end up in the pre-initialized
snapshot, and the WASI stub adapters come out in map order). A checksum comparison of two
builds therefore proves nothing either way. This claim rebuilds the core from the same
sources, then shows the rebuilt component is *functionally* the same: the seeded
handshake gives the same transcript (and the published one) and the conformance vectors
grade the same. The byte-level difference is measured and recorded as it is: the
top-level sections of both components compared as multisets of digests (so a reordering
is told apart from a change), and the bytes of the sections that really differ.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.build import build_all
from harness.drive import instantiate_conformance, load_vectors, run_component, run_conformance
from harness.evidence.context import GateContext
from harness.evidence.verifiers.base import Evidence, Verdict, head_start, verifier
from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS
from harness.runtime import Runtime
from harness.wasm_binary import parse_sections


def section_difference(first: bytes, second: bytes) -> dict[str, Any]:
    """How two component binaries differ, section by section.

    Sections are compared as multisets of (id, SHA-256): ``reordered`` says the same
    sections appear in another order; ``differing_sections`` and ``differing_bytes``
    count the sections (and their payload bytes, both sides) found in only one binary.
    """
    a, b = parse_sections(first), parse_sections(second)

    def key(section: Any) -> tuple[int, str]:
        return section.id, hashlib.sha256(section.payload).hexdigest()

    count_a, count_b = Counter(map(key, a)), Counter(map(key, b))
    only_a, only_b = count_a - count_b, count_b - count_a
    sizes = {key(s): s.size for s in (*a, *b)}
    identical = not only_a and not only_b
    return {
        "byte_identical": first == second,
        "sizes": [len(first), len(second)],
        "sections": [len(a), len(b)],
        "reordered": identical and [key(s) for s in a] != [key(s) for s in b],
        "differing_sections": sum(only_a.values()) + sum(only_b.values()),
        "differing_bytes": sum(sizes[k] * n for k, n in (only_a + only_b).items()),
    }


@dataclass(frozen=True)
class Rebuild:
    """The core built again, in a directory of its own (removed once it is checked)."""

    directory: Path
    path: Path
    seconds: float


def _rebuild(ctx: GateContext) -> Rebuild:
    ctx.build_dir.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="rebuild-", dir=ctx.build_dir))
    started = time.perf_counter()
    try:
        result = build_all(directory, names=["core"], force=True, supply_chain=ctx.supply_chain)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Rebuild(directory, result["core"].path, time.perf_counter() - started)


@head_start("functional-reproducibility")
def start_rebuild(ctx: GateContext, params: Mapping[str, Any]) -> Rebuild:
    """E3's rebuild (componentize-py, in its own process), begun when the gate starts,
    then its compilation into the gate's compiled-artifact cache by an engine of this
    thread's own (the claim's later load is then a cache hit; the cache is keyed by the
    bytes' digest, and the claim still verifies the signature before it loads them)."""
    rebuild = _rebuild(ctx)
    compiler = Runtime(ctx.build_dir / "cache")
    try:
        compiler.load(rebuild.path)
    finally:
        compiler.close()
    return rebuild


@verifier("functional-reproducibility")
def verify_rebuild(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """E3: a second build of the core from the same sources computes the same outputs."""
    original = ctx.component("core")
    config = ctx.run_config()
    rebuild = ctx.early_result("functional-reproducibility", lambda: _rebuild(ctx))
    rebuilt, seconds = rebuild.path, rebuild.seconds
    try:
        difference = section_difference(original.read_bytes(), rebuilt.read_bytes())
        first = ctx.report("component")
        second = run_component(config, ctx.runtime, rebuilt, supply_chain=ctx.supply_chain)
        component = ctx.supply_chain.load_component(ctx.runtime, rebuilt, role="core")
        target, _seams = instantiate_conformance(ctx.runtime, component)
        vectors = run_conformance(target, load_vectors())
    finally:
        shutil.rmtree(rebuild.directory, ignore_errors=True)
    failed = [f"{r.name}: {r.detail}" for r in vectors if not r.passed]
    hashes = {"original": first.transcript_hash.hex(), "rebuilt": second.transcript_hash.hex()}
    known_good = KNOWN_GOOD_TRANSCRIPTS.get(ctx.seed)
    figures: dict[str, Any] = {
        "headline": (
            "rebuild computes the same; "
            f"{difference['differing_sections']} of {difference['sections'][0]} sections differ "
            f"({difference['differing_bytes']} bytes)"
        ),
        "rebuild_seconds": round(seconds, 1),
        "transcript_hashes": hashes,
        "known_good": known_good,
        "vectors": {"run": len(vectors), "failed": failed},
        "bytes": difference,
    }
    problems = []
    if not second.ok:
        problems.append(f"the rebuilt core's handshake failed: {second.error or 'not established'}")
    if hashes["original"] != hashes["rebuilt"]:
        problems.append(f"transcripts differ: {hashes}")
    elif known_good is not None and hashes["rebuilt"] != known_good:
        problems.append(f"the rebuilt core's transcript is not the known-good {known_good}")
    if not vectors or failed:
        problems.append(f"{len(failed)} of {len(vectors)} vectors fail in the rebuilt core")
    inputs = ctx.inputs("core")
    thash = hashes["rebuilt"] or None
    if problems:
        figures["headline"] = problems[0]
        return Evidence(Verdict.FAIL, "; ".join(problems), figures, inputs, ctx.seed, thash)
    identical = "byte-identical" if difference["byte_identical"] else "not byte-identical"
    return Evidence(
        Verdict.PASS,
        f"a rebuild of the core ({identical}: {difference['differing_sections']} sections, "
        f"{difference['differing_bytes']} bytes differ) gives the same transcript and passes "
        f"all {len(vectors)} vectors",
        figures,
        inputs,
        ctx.seed,
        thash,
    )
