"""The conformance suite of the core world (harness.evidence.contract) and its command.

Fast: the contract data, the role filter, and every bad-input refusal of
:func:`inspect_candidate` on small hand-written components. Slow: ``matter-harness
conformance`` on the project's core (exit 0, one record per check under one run id), on a
core with a planted protocol bug (exit 1, naming the failed checks), and on bad input
(exit 2, naming what is wrong).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from broken_cores import build_broken_core
from click.testing import CliRunner, Result
from wasm_samples import CLI_ENV, SEAMS, component

from harness.build.componentize import BuildResult
from harness.cli.app import cli
from harness.drive import RunConfig, RunReport, run_component, run_native
from harness.errors import RunConfigError
from harness.evidence.contract import (
    CHECKS,
    CONTRACT_DIR,
    ContractInputError,
    contract_artifacts,
    contract_checks,
    inspect_candidate,
)
from harness.evidence.gate import record_evidence
from harness.evidence.ledger import read_records, verify_ledger
from harness.evidence.ledger_schema import utc_now_iso
from harness.evidence.reports import build_report
from harness.evidence.trace_rules import validate
from harness.evidence.traceability import claims, load_artifacts
from harness.evidence.verifiers.base import Evidence, Verdict
from harness.runtime import ComponentInterface, Runtime, read_interface
from harness.wit import CONFORMANCE, SESSION_CONTROL

slow = pytest.mark.slow


def _core_like(session_control: list[str], conformance: list[str] | None, *imports: str) -> bytes:
    """A component importing ``imports`` and exporting the two core-world instances with
    the functions named (``conformance`` None: not exported)."""
    funcs = lambda names: " ".join(f'(export "{n}" (func $f))' for n in names)  # noqa: E731
    body = [f'(import "{n}" (instance (export "f" (func))))' for n in imports]
    body += [
        '(core module $m (func (export "f")))',
        "(core instance $i (instantiate $m))",
        '(func $f (canon lift (core func $i "f")))',
        f"(instance $sc {funcs(session_control)})",
        f'(export "{SESSION_CONTROL}" (instance $sc))',
    ]
    if conformance is not None:
        body += [f"(instance $cf {funcs(conformance)})", f'(export "{CONFORMANCE}" (instance $cf))']
    return bytes(wasmtime.wat2wasm("(component\n" + "\n".join(body) + "\n)"))


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime(None)


@pytest.fixture(scope="module")
def reference(runtime: Runtime) -> ComponentInterface:
    data = _core_like(["poll", "seal"], ["session-keys"], *SEAMS)
    return read_interface(data, engine=runtime.engine)


def _refusal(tmp_path: Path, runtime: Runtime, reference: ComponentInterface, data: bytes) -> str:
    path = tmp_path / "candidate.wasm"
    path.write_bytes(data)
    with pytest.raises(ContractInputError) as caught:
        inspect_candidate(path, runtime, reference)
    return caught.value.message


# --------------------------------------------------------------------------- the contract


def test_every_check_has_a_routine_and_mirrors_a_project_claim() -> None:
    project = {c.id for c in claims(load_artifacts(None))}
    checks = contract_checks("both")
    assert len(checks) == 12
    for check in checks:
        assert check.verifier in CHECKS, check.id
        assert check.parameters["mirrors"] in project, check.id
        assert check.gates_ci


def test_the_contract_is_valid_traceability_data() -> None:
    findings = validate(contract_artifacts(), CHECKS.keys())
    assert [str(f) for f in findings if f.severity.value == "error"] == []


@pytest.mark.parametrize("role", ["commissioner", "commissionee"])
def test_a_role_selects_its_checks_and_the_role_free_ones(role: str) -> None:
    checks = contract_checks(role)
    assert [c.id for c in checks][:2] == ["CT-imports", "CT-vectors"]
    assert len(checks) == 7
    assert all(c.parameters.get("role") in (None, role) for c in checks)
    assert {a.id for a in contract_artifacts(role=role) if a.id.startswith("CT-")} == {
        c.id for c in checks
    }


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ContractInputError, match="unknown role 'device'"):
        contract_checks("device", CONTRACT_DIR)


# --------------------------------------------------------------------------- bad input


def test_a_core_world_component_passes_the_input_checks(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    path = tmp_path / "ok.wasm"
    path.write_bytes(_core_like(["poll", "seal", "extra"], ["session-keys"], *SEAMS))
    assert inspect_candidate(path, runtime, reference).size == path.stat().st_size


def test_a_missing_file_and_a_directory_are_refused(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    with pytest.raises(ContractInputError, match="no such file"):
        inspect_candidate(tmp_path / "nothing.wasm", runtime, reference)
    with pytest.raises(ContractInputError, match="it is a directory"):
        inspect_candidate(tmp_path, runtime, reference)


def test_a_text_file_is_not_a_component(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    message = _refusal(tmp_path, runtime, reference, b"hello, I am a core\n")
    assert "is not a WebAssembly component" in message


def test_a_core_module_is_not_a_component(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    message = _refusal(tmp_path, runtime, reference, bytes(wasmtime.wat2wasm("(module)")))
    assert "is not a WebAssembly component: it is a core WebAssembly module" in message


def test_a_wasi_import_is_the_wrong_world(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    data = _core_like(["poll", "seal"], ["session-keys"], *SEAMS, CLI_ENV)
    message = _refusal(tmp_path, runtime, reference, data)
    assert "is not a component of the core world" in message
    assert f"imports {CLI_ENV} (ambient WASI authority)" in message


def test_a_missing_export_is_named(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    message = _refusal(tmp_path, runtime, reference, _core_like(["poll", "seal"], None, *SEAMS))
    assert f"does not export {CONFORMANCE}" in message
    assert SESSION_CONTROL not in message.split("does not export")[1].split("(")[0]


def test_a_missing_function_is_named(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    message = _refusal(tmp_path, runtime, reference, _core_like(["poll"], ["session-keys"], *SEAMS))
    assert f"{SESSION_CONTROL} lacks seal" in message


def test_a_missing_seam_import_is_left_to_the_imports_check(
    tmp_path: Path, runtime: Runtime, reference: ComponentInterface
) -> None:
    path = tmp_path / "two-seams.wasm"
    path.write_bytes(_core_like(["poll", "seal"], ["session-keys"], *SEAMS[:2]))
    inspect_candidate(path, runtime, reference)  # not bad input: CT-imports fails on it


# --------------------------------------------------------------------------- the command


def _conformance(*args: str) -> Result:
    return CliRunner().invoke(cli, ["conformance", *args])


def _assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "CT-imports" not in result.output  # refused before any check ran
    for fragment in fragments:
        assert fragment in result.output


@slow
def test_the_command_refuses_a_text_file(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a component\n")
    result = _conformance(str(text), "--ledger", str(tmp_path / "l.jsonl"))
    _assert_usage_error(result, "notes.txt is not a WebAssembly component")
    assert not (tmp_path / "l.jsonl").exists()


@slow
def test_the_command_refuses_a_wasi_command_component(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    command = tmp_path / "spike.wasm"
    command.write_bytes(component(CLI_ENV, "wasi:cli/stdout@0.2.0"))
    result = _conformance(str(command), "--ledger", str(tmp_path / "l.jsonl"))
    _assert_usage_error(
        result, "is not a component of the core world", f"imports {CLI_ENV} (ambient WASI"
    )


@slow
def test_the_command_refuses_a_component_missing_an_export(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    partial = tmp_path / "partial.wasm"
    partial.write_bytes(_core_like(["poll"], None, *SEAMS))
    result = _conformance(str(partial), "--ledger", str(tmp_path / "l.jsonl"))
    _assert_usage_error(result, f"does not export {CONFORMANCE}")


@slow
def test_the_project_core_conforms(
    built_components: dict[str, BuildResult], tmp_path: Path
) -> None:
    ledger, report = tmp_path / "conformance.jsonl", tmp_path / "report.json"
    result = _conformance(
        str(built_components["core"].path), "--ledger", str(ledger), "--report", str(report)
    )
    assert result.exit_code == 0, result.output
    assert "CONFORMANCE-PASSED: 12 of 12 checks" in result.stdout
    records = read_records(ledger)
    assert verify_ledger(ledger).ok
    assert sorted(r.claim for r in records) == sorted(c.id for c in contract_checks("both"))
    assert len({r.run_id for r in records}) == 1
    digest = built_components["core"].path.name
    assert all(r.verdict == "pass" and f"candidate:{digest}" in r.inputs for r in records)
    assert "PASS in" in result.stderr  # per-check progress with elapsed time
    assert json.loads(report.read_text())


@slow
def test_a_core_with_a_planted_bug_fails_naming_the_checks(
    built_components: dict[str, BuildResult], tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("broken")
    broken = build_broken_core("wrong-transcript-direction", out)
    ledger = out / "conformance.jsonl"
    result = _conformance(str(broken), "--role", "commissionee", "--ledger", str(ledger))
    assert result.exit_code == 1, result.output
    assert "CONFORMANCE-FAILED" in result.stdout
    failed = result.stdout.split("CONFORMANCE-FAILED", 1)[1]
    assert "CT-pase-commissionee (fail)" in failed
    verdicts = {r.claim: r.verdict for r in read_records(ledger)}
    assert verdicts["CT-imports"] == verdicts["CT-vectors"] == "pass"
    assert verdicts["CT-pase-commissionee"] == "fail"
    assert not any(claim.endswith("-commissioner") for claim in verdicts)


# --------------------------------------------------------------------------- recording


def test_checks_of_one_suite_share_a_run_id(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    for claim, verdict in (("CT-imports", Verdict.PASS), ("CT-vectors", Verdict.FAIL)):
        record_evidence(
            ledger,
            claim,
            Evidence(verdict, "m", inputs={"candidate:x.wasm": "00" * 32}),
            started_at=utc_now_iso(),
            started=time.perf_counter(),
            command="matter-harness conformance x.wasm",
            traceability_dir=CONTRACT_DIR,
            run_id="run-1",
        )
    records = read_records(ledger, strict=True)
    assert [(r.claim, r.verifier, r.run_id) for r in records] == [
        ("CT-imports", "contract-imports", "run-1"),
        ("CT-vectors", "contract-vectors", "run-1"),
    ]
    report = build_report(ledger, contract_artifacts())
    rows = {row.claim_id: row.verdict for row in report.rows}
    assert rows["CT-imports"] == "pass" and rows["CT-vectors"] == "fail"
    assert "C1" not in rows  # the project's claims are not part of a conformance report


def test_a_heterogeneous_run_refuses_an_unknown_role(tmp_path: Path) -> None:
    with pytest.raises(RunConfigError, match="unknown role"):
        run_component(
            RunConfig(seed=7),
            Runtime(None),
            tmp_path / "core.wasm",
            role_cores={"device": tmp_path},
        )


# --------------------------------------------------------------------------- check verdicts


class _Suite:
    """What the PASE and session checks read of a suite: its seeded graph run."""

    seed = 7

    def __init__(self, report: RunReport) -> None:
        self._report = report

    def report(self, mode: str, role: str) -> RunReport:
        assert mode == "graph"
        return self._report

    def inputs(self, role: str | None = None) -> dict[str, str]:
        return {"candidate:c.wasm": "00" * 32}


def _graph_run(**status: Any) -> RunReport:
    report = run_native(RunConfig(seed=7))
    report.transport_stats = {
        "commissioner->commissionee packets": 6,
        "commissionee->commissioner packets": 4,
    }
    if status:
        report.outcome.commissionee = replace(report.outcome.commissionee, **status)
    return report


def test_pase_and_session_pass_on_an_established_run() -> None:
    suite = _Suite(_graph_run())
    check = contract_checks("commissionee")[2]
    assert CHECKS["contract-pase"](suite, check, "commissionee").verdict is Verdict.PASS  # type: ignore[arg-type]
    assert CHECKS["contract-session"](suite, check, "commissionee").verdict is Verdict.PASS  # type: ignore[arg-type]


def test_pase_names_a_transcript_disagreement() -> None:
    suite = _Suite(_graph_run(transcript_hash=bytes(32)))
    check = contract_checks("commissionee")[2]
    pase = CHECKS["contract-pase"](suite, check, "commissionee")  # type: ignore[arg-type]
    assert pase.verdict is Verdict.FAIL
    assert "transcript hashes differ" in pase.message and "0000000000000000" in pase.message
    session = CHECKS["contract-session"](suite, check, "commissionee")  # type: ignore[arg-type]
    assert session.verdict is Verdict.FAIL and "no secure session" in session.message


def test_pase_fails_when_the_transport_component_counted_nothing() -> None:
    report = _graph_run()
    report.transport_stats = {}
    pase = CHECKS["contract-pase"](_Suite(report), contract_checks("both")[2], "commissionee")  # type: ignore[arg-type]
    assert pase.verdict is Verdict.FAIL and "counted 0 / 0 packets" in pase.message
