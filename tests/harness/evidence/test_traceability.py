"""Tests for harness.traceability: loading, every validation rule, the CLI entry, views."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import HarnessError, TraceabilityDataError
from harness.evidence import traceability
from harness.evidence.trace_rules import trace_validate, validate
from harness.evidence.traceability import (
    ARTIFACT_TYPES,
    DEFAULT_DIRECTORY,
    LINK_MATRIX,
    LINK_TYPES,
    Artifact,
    Severity,
    claims,
    load_artifacts,
    trace_claim,
)
from harness.evidence.verifiers.base import REGISTRY

#: The verifiers the gate has registered: the names the project's claims may use.
PROJECT_VERIFIERS = frozenset(REGISTRY)
#: Claims the project has beyond the ten-claim fixture, and their verifiers.
LATER_CLAIMS = {
    "C8": "off-path-robustness",
    "C9": "lossy-link",
    "C10": "cross-runtime-determinism",
    "E3": "functional-reproducibility",
    "E2": "fuzz-campaigns",
    "E1": "mutation-score",
}
#: The ten verifier names of the full claim model (C1-C7, S1-S3).
TEN_VERIFIERS = traceability.PROJECT_VERIFIERS - set(LATER_CLAIMS.values())
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "traceability"
TEN_CLAIMS = FIXTURES / "ten-claims"
VERIFIERS = {"demo-check"}

#: Fixture directory (named after its rule) -> the severity that rule reports.
RULE_FIXTURES = {
    "broken-link": Severity.ERROR,
    "link-type-mismatch": Severity.ERROR,
    "unverified-requirement": Severity.WARNING,
    "claim-without-verifier": Severity.ERROR,
    "unknown-verifier": Severity.ERROR,
    "duplicate-id": Severity.ERROR,
    "bad-status": Severity.ERROR,
    "missing-field": Severity.ERROR,
    "unknown-link-type": Severity.ERROR,
    "invalid-field": Severity.ERROR,
    "unknown-artifact-type": Severity.ERROR,
    "orphan-claim": Severity.WARNING,
}

UNREADABLE_FIXTURES = ["malformed-yaml", "not-artifacts", "duplicate-key", "item-not-mapping"]


def _artifact(**raw: object) -> Artifact:
    return Artifact.from_mapping(raw, source="inline")


# --------------------------------------------------------------------------- project


def test_ten_claim_model_validates_clean() -> None:
    assert validate(load_artifacts(TEN_CLAIMS), TEN_VERIFIERS) == []


def test_ten_claim_model_claims_and_parameters() -> None:
    model = claims(load_artifacts(TEN_CLAIMS))
    by_id = {c.id: c for c in model}
    assert list(by_id) == ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "S1", "S2", "S3"]
    assert {c.verifier for c in model} == TEN_VERIFIERS
    assert all(c.gates_ci for c in model)
    assert by_id["C6"].parameters["coverage-threshold"] == 90
    assert by_id["S3"].parameters["limits"] == ["fuel", "memory", "table", "deadline"]
    assert all(c.statement for c in model)


def test_project_traceability_validates_clean() -> None:
    assert validate(load_artifacts(), PROJECT_VERIFIERS) == []


def test_project_claims_are_the_ten_claim_model_with_registered_verifiers() -> None:
    reference = {c.id: c.verifier for c in claims(load_artifacts(TEN_CLAIMS))}
    live = {c.id: c.verifier for c in claims(load_artifacts())}
    assert live == {**reference, **LATER_CLAIMS}
    assert set(live.values()) == PROJECT_VERIFIERS


def test_project_data_uses_every_artifact_type() -> None:
    types = {a.type for a in load_artifacts(DEFAULT_DIRECTORY)}
    assert types == set(ARTIFACT_TYPES)


def test_trace_claim_on_project_data() -> None:
    trace = trace_claim(load_artifacts(), "C3")
    assert [r.id for r in trace.requirements] == ["REQ-4", "REQ-1", "REQ-8"]
    element_ids = {e.id for e in trace.elements}
    assert {"ARCH-COMPOSER", "ARCH-LOOPBACK", "ARCH-CORE", "ARCH-LEDGER"} <= element_ids
    assert "ARCH-TRUST" not in element_ids


def test_trace_claim_rejects_non_claims() -> None:
    artifacts = load_artifacts()
    with pytest.raises(KeyError):
        trace_claim(artifacts, "REQ-1")
    with pytest.raises(KeyError):
        trace_claim(artifacts, "C99")


def test_validation_fails_without_the_verifier_registry() -> None:
    findings = validate(load_artifacts(TEN_CLAIMS), TEN_VERIFIERS - {"seam-coverage"})
    errors = [(d.rule, d.artifact_id) for d in findings if d.severity is Severity.ERROR]
    assert errors == [("unknown-verifier", "C6")]


# ------------------------------------------------------------------------ rule fixtures


def test_good_fixture_is_clean_and_uses_every_link_type() -> None:
    artifacts = load_artifacts(FIXTURES / "good")
    assert validate(artifacts, VERIFIERS) == []
    used = {link.type for a in artifacts for link in a.links}
    assert used == set(LINK_TYPES)


@pytest.mark.parametrize("rule", sorted(RULE_FIXTURES))
def test_each_rule_fixture_reports_exactly_its_rule(rule: str) -> None:
    findings = validate(load_artifacts(FIXTURES / rule), VERIFIERS)
    assert [(d.rule, d.severity) for d in findings] == [(rule, RULE_FIXTURES[rule])]
    assert findings[0].artifact_id is not None
    assert findings[0].source is not None and "artifacts.yaml" in findings[0].source


def test_every_documented_rule_has_a_fixture() -> None:
    doc = traceability.__doc__ or ""
    table = doc.split("Validation rules")[1].split("Unreadable data")[0]
    documented = {
        line.split()[0]
        for line in table.splitlines()
        if line and not line[0].isspace() and not line.startswith(("=", "rule"))
    }
    assert documented == set(RULE_FIXTURES)


@pytest.mark.parametrize("name", UNREADABLE_FIXTURES)
def test_unreadable_data_raises_a_typed_error(name: str) -> None:
    with pytest.raises(TraceabilityDataError) as info:
        load_artifacts(FIXTURES / name)
    assert isinstance(info.value, HarnessError)
    assert "artifacts.yaml" in info.value.explain()


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(TraceabilityDataError, match="line 6, column 5: found duplicate key"):
        load_artifacts(FIXTURES / "duplicate-key")


def test_missing_and_empty_directories_are_unreadable(tmp_path: Path) -> None:
    with pytest.raises(TraceabilityDataError, match="not a directory"):
        load_artifacts(tmp_path / "absent")
    with pytest.raises(TraceabilityDataError, match=r"no \.yaml files"):
        load_artifacts(tmp_path)


def test_empty_yaml_file_has_no_artifacts(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    (tmp_path / "none.yml").write_text("artifacts:\n")
    assert load_artifacts(tmp_path) == []


# ------------------------------------------------------------------- rule specifics


def test_link_matrix_rejects_a_claim_verifying_an_element() -> None:
    artifacts = [
        _artifact(id="R", type="requirement", title="r", status="approved"),
        _artifact(
            id="E",
            type="architecture-element",
            title="e",
            status="approved",
            links=[{"type": "satisfies", "target": "R"}],
        ),
        _artifact(
            id="C",
            type="verification-claim",
            title="c",
            status="approved",
            description="d",
            fields={"verifier": "demo-check", "gates-ci": True},
            links=[{"type": "verifies", "target": "R"}, {"type": "verifies", "target": "E"}],
        ),
    ]
    findings = validate(artifacts, VERIFIERS)
    assert [d.rule for d in findings] == ["link-type-mismatch"]
    assert "must target requirement" in findings[0].message


def test_matrix_covers_only_known_types() -> None:
    for (source, link), targets in LINK_MATRIX.items():
        assert source in ARTIFACT_TYPES and link in LINK_TYPES
        assert targets <= set(ARTIFACT_TYPES)


def test_obsolete_claims_do_not_verify() -> None:
    artifacts = [
        _artifact(id="R", type="requirement", title="r", status="approved"),
        _artifact(
            id="C",
            type="verification-claim",
            title="c",
            status="obsolete",
            description="d",
            fields={"verifier": "demo-check", "gates-ci": False},
            links=[{"type": "verifies", "target": "R"}],
        ),
    ]
    assert [d.rule for d in validate(artifacts, VERIFIERS)] == ["unverified-requirement"]
    assert claims(artifacts) == []
    assert [c.id for c in claims(artifacts, include_obsolete=True)] == ["C"]


def test_shape_errors_are_findings_not_crashes() -> None:
    artifacts = [
        _artifact(id="bad id", type="requirement", title=7, status="approved", links="nope"),
        _artifact(id="X", type="requirement", title="t", status="approved", links=[{"to": "Y"}]),
        _artifact(
            id="C",
            type="verification-claim",
            title="c",
            status="approved",
            fields={"verifier": 3},
        ),
    ]
    rules = [(d.rule, d.artifact_id) for d in validate(artifacts, VERIFIERS)]
    assert ("invalid-field", "bad id") in rules  # whitespace in the id, title not text
    assert ("invalid-field", "X") in rules  # a link without type/target
    assert ("missing-field", "C") in rules  # description and gates-ci
    assert ("invalid-field", "C") in rules  # verifier not text
    assert all(d.severity is not Severity.INFO for d in validate(artifacts, VERIFIERS))


def test_findings_are_sorted_worst_first() -> None:
    artifacts = [
        *load_artifacts(FIXTURES / "good"),
        _artifact(id="Z", type="requirement", title="unverified", status="approved"),
        _artifact(id="A", type="requirement", title="bad status", status="nope"),
    ]
    findings = validate(artifacts, VERIFIERS)
    ranks = [d.severity.rank for d in findings]
    assert ranks == sorted(ranks, reverse=True)
    assert findings[0].rule == "bad-status"


# -------------------------------------------------------------------- trace_validate


def test_trace_validate_exit_codes() -> None:
    assert trace_validate(FIXTURES / "good", VERIFIERS)[0] == 0
    assert trace_validate(FIXTURES / "broken-link", VERIFIERS)[0] == 1
    # A warning fails only when asked to.
    assert trace_validate(FIXTURES / "orphan-claim", VERIFIERS)[0] == 0
    assert trace_validate(FIXTURES / "orphan-claim", VERIFIERS, fail_on="warning")[0] == 1
    assert trace_validate(FIXTURES / "orphan-claim", VERIFIERS, fail_on="info")[0] == 1
    assert trace_validate(FIXTURES / "malformed-yaml", VERIFIERS)[0] == 2


def test_trace_validate_text_output() -> None:
    code, text = trace_validate(FIXTURES / "unknown-verifier", VERIFIERS)
    assert code == 1
    assert "error[unknown-verifier] CL-B" in text
    assert text.endswith("1 error, 0 warnings, 0 infos")
    code, text = trace_validate(None, PROJECT_VERIFIERS)
    assert code == 0 and text.endswith("(clean)")


def test_trace_validate_json_output() -> None:
    code, text = trace_validate(FIXTURES / "bad-status", VERIFIERS, fmt="json")
    payload = json.loads(text)
    assert code == payload["exit_code"] == 1
    assert payload["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert payload["diagnostics"][0]["rule"] == "bad-status"
    assert payload["diagnostics"][0]["artifact"] == "ARCH-C"
    code, text = trace_validate(FIXTURES / "not-artifacts", VERIFIERS, fmt="json")
    assert code == 2 and "artifacts" in json.loads(text)["error"]


def test_trace_validate_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="fail_on"):
        trace_validate(FIXTURES / "good", VERIFIERS, fail_on="fatal")
    with pytest.raises(ValueError, match="fmt"):
        trace_validate(FIXTURES / "good", VERIFIERS, fmt="xml")
