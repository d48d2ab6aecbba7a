"""Evidence reuse (``gate --reuse``): a repeated record only where every input is unchanged.

The gate runs over a small traceability directory with counting verifiers, so each test
sees whether a claim was verified again or repeated from an earlier run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import gate as gate_module
from harness.evidence.context import GateContext
from harness.evidence.gate import GateResult, run_gate
from harness.evidence.ledger import Record, read_records, verify_ledger
from harness.evidence.reuse import REUSE_INPUT, source_digest, source_files
from harness.evidence.verifiers.base import Evidence, Verifier
from harness.runtime import Limits
from tests.harness.evidence.test_gate import claim, trace_dir

CALLS: Counter[str] = Counter()


def counted(verdict: str) -> Verifier:
    def verify(_ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
        CALLS[verdict] += 1
        return Evidence(verdict, f"{verdict} on purpose", {"count": CALLS[verdict]})

    return verify


REGISTRY: dict[str, Verifier] = {
    "passing": counted("pass"),
    "failing": counted("fail"),
    "seam-coverage": counted("fail"),
}


class _NoCoverage:
    def stop(self) -> None:
        pass


@pytest.fixture(autouse=True)
def _fresh_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    # Real seam coverage reloads the seam modules in this process (other tests'
    # references to their classes would go stale); these tests need only the setting.
    monkeypatch.setattr(gate_module, "start_seam_coverage", _NoCoverage)


def gate(tmp_path: Path, directory: Path, **options: Any) -> GateResult:
    settings: dict[str, Any] = {"measure_coverage": False, "reuse": True, **options}
    return run_gate(
        ledger_path=tmp_path / "ledger.jsonl",
        build_dir=tmp_path / "build",
        traceability_dir=directory,
        registry=REGISTRY,
        **settings,
    )


def run_records(result: GateResult) -> list[Record]:
    return [r for r in read_records(result.ledger) if r.run_id == result.run_id]


def test_a_passing_claim_with_unchanged_inputs_is_repeated_naming_its_run(
    tmp_path: Path,
) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    first = gate(tmp_path, directory)
    second = gate(tmp_path, directory)
    assert CALLS["pass"] == 1
    assert second.exit_code == 0
    [original] = run_records(first)
    [repeated] = run_records(second)
    assert repeated.verdict == "pass"
    assert repeated.figures["reused"]["run_id"] == first.run_id
    assert repeated.figures["reused"]["record"] == original.hash
    assert f"[reused: verified by run {first.run_id}" in repeated.message
    assert repeated.inputs[REUSE_INPUT] == original.inputs[REUSE_INPUT]
    assert "reused the evidence of 1 claim(s)" in second.summary
    assert verify_ledger(second.ledger).ok


def test_a_record_repeated_twice_still_names_the_run_that_verified_it(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    first = gate(tmp_path, directory)
    gate(tmp_path, directory)
    third = gate(tmp_path, directory)
    [repeated] = run_records(third)
    assert CALLS["pass"] == 1
    assert repeated.figures["reused"]["run_id"] == first.run_id
    assert repeated.message.count("[reused:") == 1


def test_without_reuse_every_claim_is_verified_again(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    gate(tmp_path, directory, reuse=False)
    second = gate(tmp_path, directory, reuse=False)
    assert CALLS["pass"] == 2
    [record] = run_records(second)
    assert "reused" not in record.figures and REUSE_INPUT in record.inputs


def test_a_failed_claim_always_runs_again(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "failing"), claim("A2", "passing"))
    gate(tmp_path, directory)
    second = gate(tmp_path, directory)
    assert CALLS["fail"] == 2 and CALLS["pass"] == 1
    assert second.exit_code == 1


@pytest.mark.parametrize(
    "change",
    [{"seed": 8}, {"limits": Limits(fuel=123_456_789)}, {"measure_coverage": True}],
    ids=["seed", "limits", "coverage"],
)
def test_a_changed_run_setting_verifies_again(tmp_path: Path, change: dict[str, Any]) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    gate(tmp_path, directory)
    gate(tmp_path, directory, **change)
    assert CALLS["pass"] == 2


def test_changed_claim_parameters_verify_again(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "passing"))
    gate(tmp_path, directory)
    data = directory / "data.yaml"
    data.write_text(data.read_text().replace("gates-ci: true", "gates-ci: true\n      cases: 5"))
    gate(tmp_path, directory)
    assert CALLS["pass"] == 2


def test_a_coverage_claim_that_must_run_again_makes_every_claim_run_again(
    tmp_path: Path,
) -> None:
    """Seam coverage measures the whole run: repeating the others would starve it."""
    directory = trace_dir(tmp_path, claim("A1", "passing"), claim("C6", "seam-coverage"))
    gate(tmp_path, directory, measure_coverage=True)
    gate(tmp_path, directory, measure_coverage=True)
    assert CALLS["pass"] == 2 and CALLS["fail"] == 2


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_source_digest_changes_with_any_edit_addition_or_rename(tmp_path: Path) -> None:
    write(tmp_path, "harness/a.py", "x = 1\n")
    write(tmp_path, "tests/test_a.py", "def test(): pass\n")
    base = source_digest(tmp_path)
    write(tmp_path, "harness/a.py", "x = 2\n")
    edited = source_digest(tmp_path)
    write(tmp_path, "wit/more.wit", "package a:b;\n")
    added = source_digest(tmp_path)
    (tmp_path / "wit/more.wit").rename(tmp_path / "wit/other.wit")
    renamed = source_digest(tmp_path)
    assert len({base, edited, added, renamed}) == 4


def test_installed_generated_and_hidden_files_are_not_sources(tmp_path: Path) -> None:
    write(tmp_path, "components/core/app.py", "x = 1\n")
    base = source_digest(tmp_path)
    write(tmp_path, "components/mjs-core/node_modules/pkg/index.js", "1")
    write(tmp_path, "harness/__pycache__/a.cpython-311.pyc", "1")
    write(tmp_path, "tests/.hypothesis/examples/x", "1")
    write(tmp_path, "components/build/out.wasm", "1")
    write(tmp_path, "README.md", "docs are not evidence inputs")
    assert source_digest(tmp_path) == base
    assert [p.relative_to(tmp_path).as_posix() for p in source_files(tmp_path)] == [
        "components/core/app.py"
    ]


def test_a_failure_of_a_claim_that_does_not_gate_is_repeated(tmp_path: Path) -> None:
    directory = trace_dir(tmp_path, claim("A1", "failing", gated=False), claim("A2", "passing"))
    gate(tmp_path, directory)
    second = gate(tmp_path, directory)
    assert CALLS["fail"] == 1 and CALLS["pass"] == 1
    assert second.exit_code == 0
    [record] = [r for r in run_records(second) if r.claim == "A1"]
    assert record.verdict == "fail" and "reused" in record.figures
