"""The gate's decisions, with verifiers injected: it must be able to fail.

These tests run :func:`harness.gate.run_gate` over small traceability directories and a
registry of purpose-built verifiers (pass, fail, raise), so they are fast and show that
every way a claim can go wrong turns into the right exit code and evidence record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness import progress
from harness.evidence.context import GateContext
from harness.evidence.gate import GateUsageError, run_gate
from harness.evidence.ledger import read_records, verify_ledger
from harness.evidence.verifiers.base import Evidence, Verifier

REQUIREMENT = """\
  - id: REQ-1
    type: requirement
    title: The thing works
    status: approved
    description: It must work.
"""


def claim(claim_id: str, verifier: str | None, *, gated: bool = True) -> str:
    """One verification claim in the project's YAML layout."""
    fields = f"      gates-ci: {'true' if gated else 'false'}\n"
    if verifier is not None:
        fields = f"      verifier: {verifier}\n" + fields
    return (
        f"  - id: {claim_id}\n"
        "    type: verification-claim\n"
        f"    title: Claim {claim_id}\n"
        "    status: approved\n"
        f"    description: Claim {claim_id} holds.\n"
        "    fields:\n"
        f"{fields}"
        "    links:\n"
        "      - type: verifies\n"
        "        target: REQ-1\n"
    )


def trace_dir(tmp_path: Path, *claims: str) -> Path:
    """A traceability directory with one requirement and the given claims."""
    directory = tmp_path / "traceability"
    directory.mkdir()
    (directory / "data.yaml").write_text("artifacts:\n" + REQUIREMENT + "".join(claims))
    return directory


def passing(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    return Evidence("pass", "fine", {"count": 3})


def failing(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    return Evidence("fail", "broken on purpose", {"count": 0})


def raising(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    raise RuntimeError("the verifier itself crashed")


def skipping(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    return Evidence("skip", "nothing to do here")


REGISTRY: dict[str, Verifier] = {
    "passing": passing,
    "failing": failing,
    "raising": raising,
    "skipping": skipping,
}


def gate(
    tmp_path: Path, directory: Path, *, min_claims: int = 1, only: tuple[str, ...] = ()
) -> Any:
    return run_gate(
        ledger_path=tmp_path / "ledger.jsonl",
        build_dir=tmp_path / "build",
        traceability_dir=directory,
        measure_coverage=False,
        registry=REGISTRY,
        min_claims=min_claims,
        only=only,
    )


def test_claim_selection_runs_only_the_named_claims(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "failing"), claim("A2", "passing"))
    result = gate(tmp_path, directory, only=("a2",))
    assert result.exit_code == 0
    assert [o.claim for o in result.outcomes] == ["A2"]
    assert "1 of 1 claims (selected of 2) verified" in result.summary
    assert [r.claim for r in read_records(result.ledger)] == ["A2"]


def test_selecting_an_unknown_claim_is_a_usage_error(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    with pytest.raises(GateUsageError, match=r"no claim Z9 .* the claims are A1"):
        gate(tmp_path, directory, only=("Z9",))


def test_all_gated_claims_passing_exits_0(tmp_path: Path) -> None:
    result = gate(tmp_path, trace_dir(tmp_path, claim("A1", "passing"), claim("A2", "passing")))
    assert result.exit_code == 0
    assert "GATE-PASSED" in result.summary
    assert [o.verdict for o in result.outcomes] == ["pass", "pass"]
    assert verify_ledger(result.ledger).ok


def test_a_failing_gated_claim_exits_1_and_is_named(tmp_path: Path) -> None:
    result = gate(tmp_path, trace_dir(tmp_path, claim("A1", "passing"), claim("A2", "failing")))
    assert result.exit_code == 1
    assert "GATE-FAILED" in result.summary and "A2" in result.summary
    records = read_records(result.ledger)
    assert [(r.claim, r.verdict) for r in records] == [("A1", "pass"), ("A2", "fail")]


def test_a_raising_verifier_is_an_error_record_not_a_crash(tmp_path: Path) -> None:
    result = gate(tmp_path, trace_dir(tmp_path, claim("A1", "raising"), claim("A2", "passing")))
    assert result.exit_code == 1
    records = read_records(result.ledger)
    assert records[0].verdict == "error"
    assert "the verifier itself crashed" in records[0].message
    assert "traceback" in records[0].figures
    assert records[1].verdict == "pass"  # the gate went on after the crash


def test_a_failing_claim_that_does_not_gate_does_not_fail_the_gate(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"), claim("A2", "failing", gated=False))
    result = gate(tmp_path, directory)
    assert result.exit_code == 0


def test_min_rejects_a_run_with_too_few_verified_claims(tmp_path: Path) -> None:
    result = gate(tmp_path, trace_dir(tmp_path, claim("A1", "passing")), min_claims=2)
    assert result.exit_code == 1
    assert "--min requires 2" in result.summary


def test_an_empty_run_never_passes(tmp_path: Path) -> None:
    # Only a skipped, non-gated claim: nothing is verified, so the default --min 1 fails.
    directory = trace_dir(tmp_path, claim("A1", "skipping", gated=False))
    result = gate(tmp_path, directory)
    assert result.exit_code == 1
    record = read_records(result.ledger)[0]
    assert record.verdict == "skip" and record.reason


def test_a_claim_without_a_verifier_stops_the_gate_before_it_runs(tmp_path: Path) -> None:
    with pytest.raises(GateUsageError, match=r"no-verifier|verifier"):
        gate(tmp_path, trace_dir(tmp_path, claim("A1", None)))
    assert not (tmp_path / "ledger.jsonl").exists()


def test_a_claim_naming_an_unknown_verifier_stops_the_gate(tmp_path: Path) -> None:
    with pytest.raises(GateUsageError, match="unknown"):
        gate(tmp_path, trace_dir(tmp_path, claim("A1", "not-registered")))


def test_unreadable_traceability_data_is_a_usage_error(tmp_path: Path) -> None:
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "data.yaml").write_text("artifacts: [unclosed\n")
    with pytest.raises(GateUsageError):
        gate(tmp_path, directory)


def test_each_run_extends_the_same_chain(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    first = gate(tmp_path, directory)
    second = gate(tmp_path, directory)
    assert first.run_id != second.run_id
    records = read_records(second.ledger)
    assert [r.seq for r in records] == [0, 1]
    assert records[1].prev == records[0].hash
    assert verify_ledger(second.ledger).ok


def malformed(_ctx: GateContext, _params: Mapping[str, Any]) -> Evidence:
    # What a broken core once made S3 return: a transcript hash that is not hex.
    return Evidence("pass", "looks fine", transcript_hash="NOT-A-HASH")


def test_a_verifier_returning_a_malformed_record_is_an_error_not_a_crash(
    tmp_path: Path,
) -> None:
    registry = {**REGISTRY, "malformed": malformed}
    result = run_gate(
        ledger_path=tmp_path / "ledger.jsonl",
        build_dir=tmp_path / "build",
        traceability_dir=trace_dir(tmp_path, claim("A1", "malformed"), claim("A2", "passing")),
        measure_coverage=False,
        registry=registry,
    )
    assert result.exit_code == 1
    assert [(o.claim, o.verdict) for o in result.outcomes] == [("A1", "error"), ("A2", "pass")]
    assert "evidence the ledger refuses" in result.outcomes[0].message
    assert "transcript_hash" in result.outcomes[0].message
    records = read_records(result.ledger)
    assert records[0].verdict == "error" and verify_ledger(result.ledger).ok


def test_each_claim_prints_a_progress_line_with_its_time_and_verdict(tmp_path: Path) -> None:
    lines: list[str] = []
    progress.configure(True, lines.append)
    try:
        gate(tmp_path, trace_dir(tmp_path, claim("A1", "passing"), claim("A2", "failing")))
    finally:
        progress.configure(False)
    assert lines[0] == "A1: passing ..."
    assert re.fullmatch(r"A1: passing: \d+\.\d+ s \(pass\)", lines[1])
    assert lines[2] == "A2: failing ..."
    assert re.fullmatch(r"A2: failing: \d+\.\d+ s \(fail\)", lines[3])
