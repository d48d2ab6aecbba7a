"""The second, independent core (mjs-core, from matter.js) against the project's core.

``components/mjs-core`` is a component for the ``core`` world built from matter.js's
SPAKE2+, TLV schemas and message codec with componentize-js (:mod:`harness.build.mjs`).
These tests build it, check that it imports exactly the three seams, run PASE with it in
each role against the project's core component, and run the conformance vectors (C7)
through it. They need Node.js and npm (and the npm registry on the first build): without
Node they are skipped, with the reason.

The component is 41 MB and its memory starts at 37 MiB, above the default per-memory
limit, and its interpreted JavaScript is slow (a PBKDF2 of 1000 iterations takes seconds):
it runs with :data:`MJS_LIMITS`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build.compositions import compose_cached
from harness.build.jco import JsRuntimeError, NpmInstallError, find_node
from harness.build.mjs import build_mjs_core
from harness.drive.composed import run_composed
from harness.drive.config import RunConfig
from harness.drive.conformance import (
    all_passed,
    instantiate_conformance,
    load_vectors,
    run_conformance,
)
from harness.drive.placements import run_component, run_native
from harness.errors import RunConfigError
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime import Limits, describe_component
from harness.runtime.engine import Runtime
from harness.supply import SupplyChain
from harness.wit import CONFORMANCE, SESSION_CONTROL

try:
    find_node()
except JsRuntimeError as exc:
    pytest.skip(f"mjs-core needs Node.js: {exc}", allow_module_level=True)

pytestmark = pytest.mark.slow

#: Limits the mjs-core instances run with: memory starts at 593 pages (37 MiB), so 128 MiB
#: per memory; no fuel limit (the commissioner's interpreted PBKDF2 alone burns about 18 G,
#: near the default 20 G); five minutes a call (a loaded machine).
MJS_LIMITS = Limits(
    fuel=None,
    memory_bytes=128 * 1024 * 1024,
    memory_budget_bytes=512 * 1024 * 1024,
    deadline_ms=300_000,
    table_elements=None,
    instances=None,
)
SEAMS = {
    "matter:pase/transport@0.1.0",
    "matter:pase/clock@0.1.0",
    "matter:pase/entropy@0.1.0",
}


@pytest.fixture(scope="module")
def mjs_core_path() -> Path:
    """mjs-core, built (or found current) once for the module."""
    try:
        return build_mjs_core(DEFAULT_BUILD_DIR).path
    except NpmInstallError as exc:
        pytest.skip(f"mjs-core's npm dependencies cannot be installed: {exc}")


def test_imports_exactly_the_three_seams(mjs_core_path: Path) -> None:
    info = describe_component(mjs_core_path)
    assert set(info["imports"]) == SEAMS, "no WASI, nothing but the seams"
    assert {SESSION_CONTROL, CONFORMANCE} <= set(info["exports"])


@pytest.mark.parametrize("role", ["commissioner", "commissionee"])
def test_pase_against_our_core(
    role: str, mjs_core_path: Path, core_path: Path, shared_runtime: Runtime
) -> None:
    """PASE completes with mjs-core in ``role`` and our core in the other, and the secure
    session carries a message each way."""
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    config = RunConfig(seed=7, limits=MJS_LIMITS)
    report = run_component(
        config, shared_runtime, core_path, supply_chain=chain, role_cores={role: mjs_core_path}
    )
    outcome = report.outcome
    assert report.ok, (report.error, outcome.commissioner.failure, outcome.commissionee.failure)
    assert outcome.established
    assert len(outcome.secure_probe) == 2
    kinds = {label: [event.kind for event in events] for label, events in outcome.events.items()}
    assert kinds[role][0] == "established"
    # Both cores draw the seam's entropy in the same order, and matter.js's TLV encoder
    # writes what ours writes: from one seed, the handshake is byte for byte the one
    # our core has with itself (any difference on the wire would change this hash).
    assert outcome.transcript_hash == run_native(RunConfig(seed=7)).outcome.transcript_hash


def test_wrong_passcode_fails_on_both_sides(
    mjs_core_path: Path, core_path: Path, shared_runtime: Runtime
) -> None:
    """Our commissioner against mjs-core holding another passcode's verifier: mjs-core's
    cB does not verify, our core says so and reports it; mjs-core takes the report."""
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    config = RunConfig(seed=7, limits=MJS_LIMITS, wrong_passcode=True)
    report = run_component(
        config,
        shared_runtime,
        core_path,
        supply_chain=chain,
        role_cores={"commissionee": mjs_core_path},
    )
    outcome = report.outcome
    assert not outcome.established
    commissioner, commissionee = outcome.commissioner.failure, outcome.commissionee.failure
    assert commissioner is not None and commissioner.kind == "confirmation-failed"
    assert commissionee is not None and commissionee.kind == "peer-status"


def test_conformance_vectors(mjs_core_path: Path, shared_runtime: Runtime) -> None:
    """mjs-core computes every C7 vector (SPAKE2+ draft-01 with identities, PBKDF2, the
    Apple recording's keys and AES-CCM), graded on the host."""
    component = SupplyChain.local(None, DEFAULT_BUILD_DIR).load_component(
        shared_runtime, mjs_core_path, role="core"
    )
    target, _seams = instantiate_conformance(shared_runtime, component, MJS_LIMITS)
    results = run_conformance(target, load_vectors())
    assert all_passed(results), [(r.name, r.detail) for r in results if not r.passed]
    assert len(results) == 10


def test_pase_in_a_heterogeneous_composed_graph(
    mjs_core_path: Path,
    core_path: Path,
    loopback_path: Path,
    shared_runtime: Runtime,
    tmp_path: Path,
) -> None:
    """Our core as commissioner and mjs-core as commissionee, composed with the loopback
    into one component (the shape of components/graphs/pase-loopback.toml): PASE
    completes inside the graph with the same transcript as our core with itself."""
    graph = (Path(__file__).parents[3] / "components/graphs/pase-loopback.toml").read_text()
    nodes = f"""[nodes.core]
path = "{core_path.resolve()}"

[nodes.mjs]
path = "{mjs_core_path.resolve()}"

[nodes.loopback]
path = "{loopback_path.resolve()}"
"""
    start, end = graph.index("[nodes.core]"), graph.index("[instances.commissioner]")
    graph = graph[:start] + nodes + "\n" + graph[end:]
    graph = graph.replace(
        '[instances.commissionee]\nnode = "core"', '[instances.commissionee]\nnode = "mjs"'
    )
    assert 'node = "mjs"' in graph
    graph_path = tmp_path / "pase-mjs-commissionee.toml"
    graph_path.write_text(graph, encoding="utf-8")
    chain = SupplyChain.local(None, DEFAULT_BUILD_DIR)
    composed = compose_cached(graph_path, shared_runtime, DEFAULT_BUILD_DIR, supply_chain=chain)
    report = run_composed(
        RunConfig(seed=7, limits=MJS_LIMITS),
        shared_runtime,
        composed.path,
        supply_chain=chain,
        verified=composed.verified,
    )
    assert report.ok, (report.error, report.outcome.commissionee.failure)
    assert len(report.outcome.secure_probe) == 2
    assert report.outcome.transcript_hash == run_native(RunConfig(seed=7)).outcome.transcript_hash


def test_role_cores_names_known_roles_only(core_path: Path, shared_runtime: Runtime) -> None:
    with pytest.raises(RunConfigError, match=r"unknown role\(s\) \['device'\]"):
        run_component(
            RunConfig(seed=7), shared_runtime, core_path, role_cores={"device": core_path}
        )
