"""Claim C6's verifier: the seam exercises pass on the real seams and fail on broken ones,
and coverage of the seam glue is measured across the run."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from harness.evidence.verifiers import exercise_seams
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


#: Runs in a separate process: measuring re-executes the seam modules (so that their
#: definitions count), which would leave this test session with two copies of each class.
_COVERAGE_PROBE = """
import json, sys
from dataclasses import dataclass
from typing import Any
from harness.evidence.verifiers import SEAM_MODULES, start_seam_coverage
from harness.evidence.verifiers.seams import verify_seam_coverage
from harness.project import DEFAULT_BUILD_DIR

@dataclass(frozen=True)
class Core:
    built: Any = "core"

@dataclass(frozen=True)
class Subject:
    cores: Any = (Core(),)

@dataclass
class Context:
    coverage: Any
    build_dir: Any = DEFAULT_BUILD_DIR
    subject: Any = Subject()

out = {}
for threshold, guest in ((90, 90), (100.5, 90), (90, 100.5)):
    params = {"coverage-threshold": threshold, "guest-coverage-threshold": guest}
    evidence = verify_seam_coverage(Context(start_seam_coverage()), params)
    out[f"{threshold}/{guest}"] = {
        "verdict": evidence.verdict.value,
        "message": evidence.message,
        "percent": evidence.figures["branch_coverage_percent"],
        "modules": len(evidence.figures["modules"]),
        "guest": evidence.figures["guest_glue"].get("branch_coverage_percent"),
    }
out["seam_modules"] = len(SEAM_MODULES)
print(json.dumps(out))
"""


def test_coverage_is_measured_over_the_seam_modules_and_gated() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COVERAGE_PROBE], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    passing = result["90/90"]
    assert passing["verdict"] == "pass", passing["message"]
    assert passing["percent"] >= 90 and passing["guest"] >= 90
    assert passing["modules"] == result["seam_modules"] == 6
    host = result["100.5/90"]
    assert host["verdict"] == "fail" and "seam coverage" in host["message"]
    guest = result["90/100.5"]
    assert guest["verdict"] == "fail" and "guest glue" in guest["message"]
