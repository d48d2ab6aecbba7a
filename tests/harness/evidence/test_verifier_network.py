"""Claims C8 and C9, on the native core (the component and graph runs are replaced by
native runs with the same adversary and faults): they pass on the real core, and fail on a
core that dies on what it should drop, or never retransmits."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matter_core.pase_session as pase_session
import pytest
from matter_core.message import UnsecuredMessage
from matter_core.message_layer import Classified, DropReason, SessionView
from matter_core.message_layer import Verdict as LayerVerdict

from harness.build import GraphRoles
from harness.drive import RunConfig, RunReport, run_native
from harness.evidence.verifiers import network
from harness.evidence.verifiers.base import Verdict
from harness.runtime import Limits


@dataclass
class _Context:
    seed: int = 7
    limits: Limits = field(default_factory=Limits)
    roles: GraphRoles = field(default_factory=GraphRoles)
    runtime: Any = None
    supply_chain: Any = None
    reports: dict[str, RunReport] = field(default_factory=dict)

    def report(self, mode: str) -> RunReport:
        if mode not in self.reports:
            self.reports[mode] = run_native(RunConfig(seed=self.seed))
        return self.reports[mode]

    def run_config(self, **changes: Any) -> RunConfig:
        return RunConfig(seed=self.seed, limits=self.limits, **changes)

    def component(self, name: str) -> Path:
        return Path(name)

    def composed(self) -> Path:
        return Path("composed")

    def run_component(self, config: RunConfig, **options: Any) -> RunReport:
        return _native(config, **options)

    def run_composed(self, config: RunConfig, **options: Any) -> RunReport:
        return _native(config, **options)

    def inputs(self, *names: str) -> dict[str, str]:
        return {}


def _native(config: RunConfig, *args: Any, adversary: Any = None, **kwargs: Any) -> RunReport:
    return run_native(config, adversary=adversary)


@pytest.fixture
def native_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield


def test_c8_is_not_applicable_to_a_graph_without_link_faults(native_runs: None) -> None:
    # The core component half still runs (and could fail); the graph half cannot.
    context = _Context(roles=GraphRoles(transport_faults=None))
    evidence = network.verify_off_path(context, {"strays-per-step": 50})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.NOT_APPLICABLE, evidence.message
    assert "no transport-faults role" in (evidence.reason or "")
    assert set(evidence.figures["runs"]) == {"component"}


def test_c8_passes_when_the_core_drops_what_is_not_its_own(native_runs: None) -> None:
    evidence = network.verify_off_path(_Context(), {"strays-per-step": 300})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.PASS, evidence.message
    run = evidence.figures["runs"]["component"]
    assert run["fewest_per_step"] >= 300
    assert set(run["strays_per_step"]["commissionee"]) == set(network.STATES["commissionee"])
    dropped = run["dropped"]["commissionee"]
    assert dropped["unexpected-before-request"] > 0 and dropped["version"] > 0


def test_c8_fails_on_a_core_that_dies_on_a_stray(
    native_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The core before its message layer: a message on another exchange, with the wrong
    # initiator flag or another protocol reaches the state machine, which fails on it.
    real = pase_session.classify
    lax_reasons = {DropReason.EXCHANGE, DropReason.INITIATOR_FLAG, DropReason.PROTOCOL}

    def lax(datagram: bytes, view: SessionView) -> Classified:
        verdict = real(datagram, view)
        if verdict.reason not in lax_reasons or verdict.verdict is not LayerVerdict.DROP:
            return verdict
        message = UnsecuredMessage.decode(datagram)
        return Classified(
            LayerVerdict.DELIVER, None, message.header, message.protocol, message.payload
        )

    monkeypatch.setattr(pase_session, "classify", lax)
    evidence = network.verify_off_path(_Context(), {"strays-per-step": 300})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.FAIL
    assert "did not complete under strays" in evidence.message


C9 = {"faults": "drop=0.3,duplicate=0.1,reorder=0.1", "seeds": 4, "max-seeds": 5}


def test_c9_passes_under_seeded_loss(native_runs: None) -> None:
    evidence = network.verify_lossy_link(_Context(), C9)  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.PASS, evidence.message
    assert evidence.figures["completed"] == 4
    assert sum(sum(r["faults"].values()) for r in evidence.figures["seeds"].values()) > 0


def test_c9_records_a_seed_lost_to_exhausted_retransmissions(native_runs: None) -> None:
    # Seed 3 loses Pake1 and all four of its retransmissions (fault log), so MRP gives up.
    evidence = network.verify_lossy_link(_Context(), C9)  # type: ignore[arg-type]
    assert evidence.figures["lost_to_exhausted_retransmissions"] == [3]
    assert evidence.figures["seeds"]["3"]["drops_by_direction"][0] >= 5


def test_c9_fails_on_a_core_that_gives_up_after_one_transmission(
    native_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A core that never retransmits: one lost datagram ends the handshake, which the
    # loss (fewer than MRP_MAX_TRANSMISSIONS drops its way) does not explain.
    monkeypatch.setattr(pase_session.mrp, "MRP_MAX_TRANSMISSIONS", 1)
    evidence = network.verify_lossy_link(_Context(), C9)  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.FAIL
    assert "no acknowledgement after" in evidence.message


def test_c9_fails_when_a_seed_does_not_reproduce(
    native_runs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = network._lossy_run

    def flaky(run: Any, config: RunConfig) -> dict[str, Any]:
        result = real(run, config)
        calls.append(1)
        if len(calls) == 2:
            result = {**result, "transcript_hash": "00" * 32}
        return result

    monkeypatch.setattr(network, "_lossy_run", flaky)
    evidence = network.verify_lossy_link(_Context(), C9)  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.FAIL
    assert "seed 1: a second run gave another outcome" in evidence.message
