"""Head starts: a claim's long, self-contained campaign begins when the gate starts and
runs while the other claims do; the claim collects it when its turn comes."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import gate as gate_module
from harness.evidence.context import GateContext
from harness.evidence.gate import GateResult, run_gate
from harness.evidence.ledger import read_records
from harness.evidence.verifiers.base import Evidence, Verifier
from tests.harness.evidence.test_gate import claim, trace_dir

STARTED = threading.Event()


def campaign(_ctx: GateContext, params: Mapping[str, Any]) -> str:
    STARTED.set()
    return f"campaign with {params}"


def broken_campaign(_ctx: GateContext, _params: Mapping[str, Any]) -> str:
    raise RuntimeError("the campaign itself crashed")


def collecting(ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    found = ctx.early_result("collecting", lambda: "ran in the claim's turn")
    return Evidence("pass", found)


def waiting(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    # Runs before the head-started claim whatever the ids: its campaign is under way.
    return Evidence("pass", f"campaign begun: {STARTED.wait(timeout=30)}")


def other(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    return Evidence("pass", "fine")


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    STARTED.clear()
    monkeypatch.setitem(gate_module.REGISTRY, "collecting", collecting)
    monkeypatch.setitem(gate_module.REGISTRY, "other", other)
    monkeypatch.setitem(gate_module.REGISTRY, "waiting", waiting)
    monkeypatch.setitem(gate_module.HEAD_STARTS, "collecting", campaign)


def gate(
    tmp_path: Path, registry: Mapping[str, Verifier] | None = None, second: str = "other"
) -> GateResult:
    directory = trace_dir(tmp_path, claim("A1", "collecting"), claim("B1", second))
    return run_gate(
        ledger_path=tmp_path / "ledger.jsonl",
        build_dir=tmp_path / "build",
        traceability_dir=directory,
        measure_coverage=False,
        registry=registry if registry is not None else gate_module.REGISTRY,
    )


def test_the_campaign_runs_while_the_other_claims_do_and_its_claim_goes_last(
    tmp_path: Path,
) -> None:
    result = gate(tmp_path, second="waiting")
    records = read_records(result.ledger)
    assert [r.claim for r in records] == ["B1", "A1"]
    assert records[0].message == "campaign begun: True"
    assert records[1].message.startswith("campaign with")
    assert result.exit_code == 0


def test_a_crashing_campaign_is_its_claims_error_record_and_the_gate_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(gate_module.HEAD_STARTS, "collecting", broken_campaign)
    result = gate(tmp_path)
    by_claim = {r.claim: r for r in read_records(result.ledger)}
    assert by_claim["A1"].verdict == "error"
    assert "the campaign itself crashed" in by_claim["A1"].message
    assert by_claim["B1"].verdict == "pass"
    assert result.exit_code == 1


def test_a_verifier_other_than_the_registered_one_gets_no_head_start(tmp_path: Path) -> None:
    registry = {**gate_module.REGISTRY, "collecting": lambda ctx, p: collecting(ctx, p)}
    result = gate(tmp_path, registry)
    by_claim = {r.claim: r for r in read_records(result.ledger)}
    assert by_claim["A1"].message == "ran in the claim's turn"
    assert not STARTED.is_set()
