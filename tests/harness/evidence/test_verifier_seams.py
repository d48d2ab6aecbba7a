"""Claim C6's verifier: the seam exercises pass on the real seams and fail on broken ones,
and coverage of the seam glue is measured across the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import coverage
import pytest

from harness.evidence.verifiers import SEAM_MODULES, exercise_seams, start_seam_coverage
from harness.evidence.verifiers.base import Verdict
from harness.evidence.verifiers.seams import verify_seam_coverage
from harness.seams.clock import VirtualClock
from harness.seams.loopback import LoopbackLink


def test_the_seam_exercises_find_nothing_wrong_with_the_seams() -> None:
    assert exercise_seams() == []


def test_a_clock_that_goes_backwards_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def lenient(self: VirtualClock, ms: int) -> None:
        self._now += ms  # accepts a negative step: the clock is no longer monotonic

    monkeypatch.setattr(VirtualClock, "advance", lenient)
    assert "virtual clock went backwards" in exercise_seams()


def test_a_loopback_without_a_queue_limit_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = LoopbackLink.deliver

    def unbounded(self: LoopbackLink, sender: str, receiver: str, datagram: bytes) -> bool:
        self.queue_limit = 1 << 30
        return real(self, sender, receiver, datagram)

    monkeypatch.setattr(LoopbackLink, "deliver", unbounded)
    assert "full queue accepted a datagram" in exercise_seams()


@dataclass
class _Context:
    coverage: Any


def test_no_coverage_is_a_skip_with_a_reason() -> None:
    evidence = verify_seam_coverage(_Context(None), {})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.SKIP and evidence.reason


def test_coverage_is_measured_over_the_seam_modules_and_gated() -> None:
    cov = start_seam_coverage()
    assert isinstance(cov, coverage.Coverage)
    evidence = verify_seam_coverage(_Context(cov), {"coverage-threshold": 90})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.PASS, evidence.message
    assert evidence.figures["branch_coverage_percent"] >= 90
    assert len(evidence.figures["modules"]) == len(SEAM_MODULES) == 5
    cov = start_seam_coverage()
    strict = verify_seam_coverage(_Context(cov), {"coverage-threshold": 100.5})  # type: ignore[arg-type]
    assert strict.verdict is Verdict.FAIL and "below" in strict.message
