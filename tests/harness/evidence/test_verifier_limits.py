"""Claim S3's verifier: every runaway stopped by its limit, handshakes before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness.evidence.verifiers.limits as s3
from harness.evidence.verifiers.limits import handshake_passes, verify_resource_limits
from harness.runtime.engine import Runtime
from harness.runtime.limits import WASM_PAGE, Limits
from harness.runtime.runaway import (
    CHECK_DEADLINE_MS,
    KINDS,
)
from harness.wit import ROLES


@pytest.mark.slow
def test_verify_resource_limits_passes_and_records_figures(
    shared_runtime: Runtime, core_path: Path
) -> None:
    verdict, message, figures = verify_resource_limits(shared_runtime, core_path, 7)
    assert verdict == "pass", message
    assert figures["limits_default"] == Limits().as_dict()
    for when in ("before", "after"):
        handshake = figures[f"handshake_{when}"]
        assert handshake["ok"] is True
        assert all(0 < handshake["fuel"][role] < (Limits().fuel or 0) for role in ROLES)
    assert (
        figures["handshake_before"]["transcript_hash"]
        == (figures["handshake_after"]["transcript_hash"])
    )
    assert figures["fuel_margin"] >= 2 and figures["memory_margin"] >= 2
    for kind in KINDS:
        runaway = figures["runaways"][kind]
        assert runaway["stopped"] is True and runaway["error"] == runaway["expected"], kind
    assert figures["runaways"]["deadline"]["limits"]["deadline_ms"] == CHECK_DEADLINE_MS
    assert figures["runaways"]["fuel"]["fuel_used"] == Limits().fuel
    # The peak is exact: a handshake passes with that memory limit and not a page less.
    peak = figures["handshake_peak_memory_bytes"]
    assert peak % WASM_PAGE == 0
    assert handshake_passes(shared_runtime, core_path, 7, Limits(memory_bytes=peak))
    assert not handshake_passes(shared_runtime, core_path, 7, Limits(memory_bytes=peak - WASM_PAGE))


@pytest.mark.slow
def test_verify_resource_limits_fails_when_a_limit_does_not_stop_its_runaway(
    shared_runtime: Runtime, core_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the memory limit off, the allocating guest is stopped by fuel instead.
    monkeypatch.setattr(
        s3, "runaway_limits", lambda kind, base=None: Limits(fuel=3000, memory_bytes=None)
    )
    verdict, message, figures = verify_resource_limits(
        shared_runtime, core_path, 7, kinds=("memory",)
    )
    assert verdict == "fail"
    assert "memory runaway: expected MemoryLimitExceeded, got OutOfFuel" in message
    assert figures["runaways"]["memory"]["stopped"] is False
