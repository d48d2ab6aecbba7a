"""Seeded link faults in whole runs: native, one component per role, the composed graph.

What is pinned: a faulted seeded run repeats byte for byte (transcript, trace with its
times, fault counts and log); host and graph make the same decisions; an empty plan
changes nothing; the runs the current core survives (drop, duplicate, delay) finish.
No transcript hash literal is pinned: compare runs with each other or with the gate's
known-good value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build.componentize import BuildResult
from harness.build.compositions import ComposedArtifact, compose_cached
from harness.drive.composed import GraphLink, run_composed
from harness.drive.config import RunConfig
from harness.drive.driver import Injector, drive_handshake
from harness.drive.placements import RunReport, Seams, handshake_params, run_component, run_native
from harness.drive.roles import NativeRole
from harness.errors import ComposedRunError, RunConfigError
from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS
from harness.project import DEFAULT_BUILD_DIR, DEFAULT_GRAPH
from harness.runtime import Limits, record
from harness.runtime.engine import Runtime
from harness.seams import (
    CountingClock,
    FaultCounts,
    FaultEvent,
    FaultPlan,
    SeamCounters,
    SeededEntropy,
    VirtualClock,
    parse_fault_plan,
)
from harness.wit import COMMISSIONEE, COMMISSIONER, TRANSPORT_FAULTS_EXPORT

slow = pytest.mark.slow
ISSUE_PLAN = parse_fault_plan("drop=0.3,duplicate=0.1,reorder=0.1")
MIXED_PLAN = parse_fault_plan("drop=0.2,duplicate=0.2,reorder=0.2,corrupt=0.05,delay=40")

#: The transcript `run --seed 7 --faults drop=0.3,duplicate=0.1,reorder=0.1` prints (README).
FAULTED_SEED_7 = "56c0c3d699a6d55941e3932a81dc226a12cddc610137b27947faebc01bdb9c3c"


def _fingerprint(report: RunReport) -> tuple[object, ...]:
    """Everything a faulted run must repeat exactly (wall time excluded)."""
    outcome = report.outcome
    return (
        report.ok,
        outcome.transcript_hash,
        outcome.commissioner.state,
        outcome.commissionee.state,
        outcome.rounds,
        outcome.virtual_ms,
        [(p.direction, p.time_ms, p.data) for p in report.trace],
        report.faults,
        report.fault_log,
        {role: c.as_dict() for role, c in report.seams.items()},
    )


# --------------------------------------------------------------------------- native


def test_the_issue_example_repeats_byte_for_byte() -> None:
    first = run_native(RunConfig(seed=7, faults=ISSUE_PLAN))
    again = run_native(RunConfig(seed=7, faults=ISSUE_PLAN))
    assert first.ok, first.error
    assert _fingerprint(first) == _fingerprint(again)
    assert first.faults is not None and first.faults.dropped > 0
    # Lost datagrams were retransmitted, and each retransmission drew its MRP jitter from
    # the run's one entropy stream: a different handshake than the unfaulted one, the one
    # the README publishes for this command.
    assert first.transcript_hash.hex() == FAULTED_SEED_7
    assert first.transcript_hash.hex() != KNOWN_GOOD_TRANSCRIPTS[7]
    assert first.outcome.commissioner.retransmissions > 0
    assert len(first.trace) > len(run_native(RunConfig(seed=7)).trace)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_fault_setting_repeats(seed: int) -> None:
    for plan in (MIXED_PLAN, parse_fault_plan("corrupt=0.3"), parse_fault_plan("reorder=0.5")):
        first = run_native(RunConfig(seed=seed, faults=plan))
        again = run_native(RunConfig(seed=seed, faults=plan))
        assert _fingerprint(first) == _fingerprint(again), plan
        faults = first.faults
        assert faults is not None
        assert sum(faults.as_dict().values()) == len(first.fault_log)


def test_an_empty_plan_changes_nothing() -> None:
    plain = run_native(RunConfig(seed=7))
    empty = run_native(RunConfig(seed=7, faults=parse_fault_plan("")))
    assert plain.faults is None and plain.fault_log == []
    assert empty.faults == FaultCounts() and empty.fault_log == []
    assert _fingerprint(plain)[:-3] == _fingerprint(empty)[:-3]
    assert plain.seams["commissioner"] == empty.seams["commissioner"]
    assert plain.seams["commissionee"] == empty.seams["commissionee"]


def test_the_seed_chooses_the_faults() -> None:
    logs = {seed: run_native(RunConfig(seed=seed, faults=ISSUE_PLAN)).fault_log for seed in (7, 8)}
    assert logs[7] != logs[8]


@pytest.mark.parametrize(
    "spec", ["drop=0.3", "drop=0.5", "duplicate=0.3", "duplicate=1", "drop=0.2,duplicate=0.2"]
)
@pytest.mark.parametrize("seed", [7, 11])
def test_drop_and_duplicate_are_survived(spec: str, seed: int) -> None:
    report = run_native(RunConfig(seed=seed, faults=parse_fault_plan(spec)))
    assert report.ok, report.error
    again = run_native(RunConfig(seed=seed, faults=parse_fault_plan(spec)))
    assert report.transcript_hash == again.transcript_hash != b""
    assert report.faults is not None
    assert report.faults.dropped + report.faults.duplicated > 0


def test_delay_is_virtual_time() -> None:
    plain = run_native(RunConfig(seed=7))
    delayed = run_native(RunConfig(seed=7, faults=parse_fault_plan("delay=40")))
    assert delayed.ok, delayed.error
    assert delayed.transcript_hash == plain.transcript_hash
    # Each handshake datagram waited 40 ms on the link (the two probes run on a calm link).
    handshake = len(plain.trace) - 2
    assert len(delayed.trace) == len(plain.trace)
    assert delayed.faults is not None and delayed.faults.delayed == handshake
    # PASE is six messages in strict turn (Matter Core Specification 1.0, section 4.13.1):
    # PBKDFParamRequest, PBKDFParamResponse, Pake1, Pake2, Pake3, StatusReport.
    assert delayed.outcome.virtual_ms >= 40 * 6 > plain.outcome.virtual_ms
    releases = [e.detail - e.at_ms for e in delayed.fault_log]
    assert releases == [40] * len(releases)


def test_a_link_that_loses_everything_fails_the_run_cleanly() -> None:
    report = run_native(RunConfig(seed=7, faults=parse_fault_plan("drop=1")))
    assert not report.ok and not report.outcome.established
    assert report.outcome.commissioner.failure is not None
    assert report.outcome.secure_probe == []
    assert report.faults is not None and report.faults.dropped == len(report.trace)
    again = run_native(RunConfig(seed=7, faults=parse_fault_plan("drop=1")))
    assert _fingerprint(report) == _fingerprint(again)


# --------------------------------------------------------------------------- adversary


def test_the_adversary_injects_through_the_link_and_is_counted() -> None:
    calls: list[int] = []

    def adversary(step: int, inject: Injector) -> None:
        calls.append(step)
        if step == 1:
            inject(COMMISSIONER, b"\x00" * 8)

    first = run_native(RunConfig(seed=7), adversary=adversary)
    assert calls == list(range(1, first.outcome.rounds + 1))
    assert first.faults is not None and first.faults.injected == 1
    assert [(e.kind, e.index, e.direction, e.detail) for e in first.fault_log] == [
        ("injected", 0, 1, 8)
    ]
    assert all(p.data != b"\x00" * 8 for p in first.trace)
    again = run_native(RunConfig(seed=7), adversary=adversary)
    assert _fingerprint(first) == _fingerprint(again)


def test_an_adversary_that_never_injects_changes_nothing() -> None:
    plain = run_native(RunConfig(seed=7))
    watched = run_native(RunConfig(seed=7), adversary=lambda _step, _inject: None)
    assert _fingerprint(plain)[:-3] == _fingerprint(watched)[:-3]
    assert watched.faults == FaultCounts()


def test_the_driver_needs_a_link_for_an_adversary() -> None:
    config = RunConfig(seed=7)
    seams = Seams(config)
    from matter_core.endpoint import CoreEndpoint

    roles = [
        NativeRole(r, CoreEndpoint(seams.transports[r], seams.clocks[r], seams.entropy[r]))
        for r in (COMMISSIONER, COMMISSIONEE)
    ]
    with pytest.raises(ValueError, match="needs the link"):
        drive_handshake(
            roles[0],
            roles[1],
            seams.clock,
            handshake_params(config),
            adversary=lambda _s, _i: None,
        )


# --------------------------------------------------------------------------- components


@pytest.fixture(scope="module")
def composed(built_components: dict[str, BuildResult], shared_runtime: Runtime) -> ComposedArtifact:
    """The PASE graph, composed (or found composed) once for the module."""
    return compose_cached(DEFAULT_GRAPH, shared_runtime, DEFAULT_BUILD_DIR)


def _composed(runtime: Runtime, artifact: ComposedArtifact, config: RunConfig) -> RunReport:
    return run_composed(config, runtime, artifact.path, verified=artifact.verified)


@slow
@pytest.mark.parametrize("plan", [ISSUE_PLAN, MIXED_PLAN], ids=["issue", "mixed"])
def test_native_component_and_graph_fault_alike(
    shared_runtime: Runtime,
    core_path: Path,
    composed: ComposedArtifact,
    plan: FaultPlan,
) -> None:
    config = RunConfig(seed=7, faults=plan)
    native = run_native(config)
    component = run_component(config, shared_runtime, core_path)
    graph = _composed(shared_runtime, composed, config)
    again = _composed(shared_runtime, composed, config)
    assert native.ok and component.ok and graph.ok
    assert native.transcript_hash == component.transcript_hash == graph.transcript_hash
    assert native.faults == component.faults == graph.faults == again.faults
    assert native.fault_log == component.fault_log == graph.fault_log == again.fault_log
    assert native.outcome.virtual_ms == graph.outcome.virtual_ms == again.outcome.virtual_ms
    # The graph's traffic digest covers what the cores sent, as the host trace does.
    assert graph.traffic_digest == native.trace_digest == again.traffic_digest
    stats = graph.transport_stats
    sent = stats["commissioner->commissionee packets"] + stats["commissionee->commissioner packets"]
    assert sent == len(native.trace)


@slow
def test_an_unfaulted_graph_run_never_reads_the_clock_for_the_link(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    plain = _composed(shared_runtime, composed, RunConfig(seed=7))
    native = run_native(RunConfig(seed=7))
    assert plain.faults is None
    native_reads = sum(c.clock_reads for c in native.seams.values())
    assert plain.seams["graph"].clock_reads == native_reads


@slow
def test_the_adversary_injects_inside_the_graph(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    def adversary(step: int, inject: Injector) -> None:
        if step == 2:
            inject(COMMISSIONER, b"\x00" * 8)

    config = RunConfig(seed=7)
    native = run_native(config, adversary=adversary)
    graph = run_composed(config, shared_runtime, composed.path, adversary=adversary)
    assert graph.faults is not None and graph.faults.injected == 1
    assert graph.fault_log == native.fault_log
    assert graph.outcome.commissioner.state == native.outcome.commissioner.state
    assert graph.transcript_hash == native.transcript_hash


@slow
def test_the_graph_refuses_the_index_based_fault(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    with pytest.raises(RunConfigError, match="use link faults"):
        _composed(shared_runtime, composed, RunConfig(seed=7, fault="corrupt"))


@slow
def test_the_graph_link_refuses_what_it_cannot_apply(
    shared_runtime: Runtime, composed: ComposedArtifact
) -> None:
    clock = VirtualClock()
    assert composed.verified is not None
    component = shared_runtime.load_bytes(composed.verified.content)
    guest = shared_runtime.instantiate_with_seams(
        component,
        Limits(),
        "graph",
        clock=CountingClock(clock, SeamCounters()),
        entropy=SeededEntropy(1),
    )

    def configure(**rates: float) -> object:
        plan = {"drop": 0.0, "corrupt": 0.0, "duplicate": 0.0, "reorder": 0.0, "delay_ms": 0}
        return guest.call(TRANSPORT_FAULTS_EXPORT, "configure", record(**(plan | rates)), b"s")

    # Unconfigured: no injection, all counters zero, nothing held.
    assert guest.call(TRANSPORT_FAULTS_EXPORT, "inject", True, b"x") is False
    assert guest.call(TRANSPORT_FAULTS_EXPORT, "next-release-ms") is None
    assert configure(drop=2.0) == "fault rate drop=2.0 is outside 0..1"
    assert configure(reorder=float("nan")) == "fault rate reorder=nan is outside 0..1"
    assert configure(delay_ms=3_600_001) == "fault delay=3600001 ms is outside 0..3600000"
    link = GraphLink(guest, FaultPlan(delay_ms=3), b"seed")
    clock.advance_to(10)
    link.inject(COMMISSIONEE, b"hello")
    assert link.counts().injected == 1 and link.next_release_ms() == 10
    assert link.log() == [FaultEvent(0, 0, 10, "injected", 5)]
    with pytest.raises(ComposedRunError, match="already configured"):
        GraphLink(guest, FaultPlan(), b"seed")
    assert guest.dead is None
