"""Claims C1-C5's verifiers, where they can be shown failing without building anything.

C4 pins the seeded transcript to a known-good value, so a core that changed the
handshake's bytes the same way everywhere no longer passes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.drive import placements
from harness.drive.config import RunConfig
from harness.drive.placements import run_native
from harness.evidence.verifiers import runs
from harness.evidence.verifiers.base import Verdict
from harness.seams.counters import SeamCounters

PROJECT = Path(__file__).resolve().parents[3]


def test_the_known_good_transcript_is_the_published_one_and_the_core_produces_it() -> None:
    readme = (PROJECT / "README.md").read_text()
    for seed, digest in runs.KNOWN_GOOD_TRANSCRIPTS.items():
        assert f"transcript={digest}" in readme
        assert run_native(RunConfig(seed=seed)).transcript_hash.hex() == digest


@dataclass
class _Report:
    transcript_hash: bytes
    seams: dict[str, SeamCounters] = field(
        default_factory=lambda: {
            "commissioner": SeamCounters(clock_reads=5, entropy_calls=8),
            "commissionee": SeamCounters(clock_reads=5, entropy_calls=6),
        }
    )


class _ProjectSubject:
    """A gated graph whose cores are all the project's own build."""

    def project_cores_only(self) -> str | None:
        return None


class _ForeignSubject:
    """A gated graph whose core comes from elsewhere."""

    def project_cores_only(self) -> str | None:
        return "the graph's core 'core' (/tmp/x.wasm) is not built from this project's sources"


@dataclass
class _Context:
    """What C4 needs of a gate context, every run giving ``digest``."""

    digest: bytes
    seed: int = 7
    runtime: Any = None
    supply_chain: Any = None
    subject: Any = field(default_factory=_ProjectSubject)

    def report(self, mode: str) -> _Report:
        return _Report(self.digest)

    def run_component(self, config: RunConfig, **options: Any) -> Any:
        return _Report(self.digest)

    def run_config(self) -> RunConfig:
        return RunConfig(seed=self.seed)

    def component(self, name: str) -> Path:
        return Path(name)

    def inputs(self, *names: str) -> dict[str, str]:
        return {}


def _c4(monkeypatch: pytest.MonkeyPatch, digest: bytes, seed: int = 7) -> Any:
    return runs.verify_determinism(_Context(digest, seed), {})  # type: ignore[arg-type]


def test_c4_on_a_foreign_core_compares_its_runs_but_not_the_native_core() -> None:
    # Another core may draw entropy in another order: its transcript is its own, so
    # neither the project's native run nor the known-good hash apply; agreement does.
    context = _Context(bytes(32), subject=_ForeignSubject())
    evidence = runs.verify_determinism(context, {})  # type: ignore[arg-type]
    assert evidence.verdict is Verdict.PASS, evidence.message
    assert "native" not in evidence.figures["transcript_hashes"]
    assert evidence.figures["known_good"] is None
    assert "not built from this project" in evidence.figures["not_compared"]


def test_c4_passes_on_the_known_good_transcript(monkeypatch: pytest.MonkeyPatch) -> None:
    evidence = _c4(monkeypatch, bytes.fromhex(runs.KNOWN_GOOD_TRANSCRIPTS[7]))
    assert evidence.verdict is Verdict.PASS and "the known-good one" in evidence.message


def test_c4_fails_when_every_run_agrees_on_another_transcript(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A planted protocol bug (say, other direction bytes in the transcript framing)
    # changes the transcript the same way natively, in the component and composed.
    evidence = _c4(monkeypatch, bytes(32))
    assert evidence.verdict is Verdict.FAIL
    assert "known-good transcript for seed 7" in evidence.message


def test_c4_without_a_known_good_value_checks_agreement_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evidence = _c4(monkeypatch, bytes(32), seed=8)
    assert evidence.verdict is Verdict.PASS and "no known-good value" in evidence.message


@dataclass
class _NegativeContext(_Context):
    """What C5 needs of a gate context: run configs with changes."""

    def run_config(self, **changes: Any) -> RunConfig:  # type: ignore[override]
        return RunConfig(seed=self.seed, **changes)

    def run_component(self, config: RunConfig, **options: Any) -> Any:
        # The real negative runs, natively (the core's code is the same in the component).
        return run_native(config)


def _c5(monkeypatch: pytest.MonkeyPatch) -> Any:
    return runs.verify_negative_paths(_NegativeContext(b""), {})  # type: ignore[arg-type]


def test_c5_passes_when_each_negative_run_fails_as_expected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evidence = _c5(monkeypatch)
    assert evidence.verdict is Verdict.PASS, evidence.message
    kinds = {
        name: (case["commissioner"]["kind"], case["commissionee"]["kind"])
        for name, case in evidence.figures["cases"].items()
    }
    assert kinds == {
        "wrong-passcode": ("confirmation-failed", "peer-status"),
        "corrupted-datagram": ("peer-status", "crypto"),
        "truncated-message": ("peer-status", "decode"),
    }


def test_c5_fails_when_the_fault_misses_pake1(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: with the standalone ack the commissioner sends before its PBKDF2, its
    # second datagram is that ack, not Pake1; a fault aimed there left the handshake
    # established (or was no fault at all), and C5 must say so.
    monkeypatch.setattr(placements, "FAULT_SEND", 1)
    evidence = _c5(monkeypatch)
    assert evidence.verdict is Verdict.FAIL
    assert "corrupted-datagram: both roles must fail" in evidence.message
    assert "truncated-message: both roles must fail" in evidence.message


def test_the_trace_figure_names_each_message_as_the_trace_lines_do() -> None:
    from harness.evidence.ledger_schema import trace_problem
    from harness.seams import message_type

    report = run_native(RunConfig(seed=7))
    figure = runs.trace_figure(report)
    assert trace_problem(figure) is None
    assert [item["opcode"] for item in figure] == [message_type(p.data) for p in report.trace]
    names = [item["opcode"] for item in figure]
    assert names[:2] == ["PBKDFParamRequest", "PBKDFParamResponse"]
    assert {"Pake1", "Pake2", "Pake3", "StatusReport", "StandaloneAck", "Secured"} <= set(names)
