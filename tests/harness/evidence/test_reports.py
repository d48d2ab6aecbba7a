"""Tests for harness.reports: the model and every format, from fixture ledgers."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import LedgerReadError, ReportError
from harness.evidence.ledger import EvidenceLedger, Record, read_records
from harness.evidence.reports import FORMATS, SUFFIXES, render, render_ledger
from harness.evidence.reports.html import MAX_DIAGRAM_MESSAGES, seam_rows, sequence_diagram
from harness.evidence.reports.markdown import cell
from harness.evidence.reports.model import (
    MISSING,
    EvidenceReport,
    build_report,
    format_value,
    key_figure,
    xml_safe,
)
from harness.evidence.traceability import Artifact, load_artifacts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ledger"
GOOD = FIXTURES / "two-runs.jsonl"
TAMPERED = FIXTURES / "tampered.jsonl"
TEN_CLAIMS = FIXTURES.parent / "traceability" / "ten-claims"
SVG = "{http://www.w3.org/2000/svg}"
CLAIM_IDS = ["C1", "C2", "C3", "C4", "C5", "C6", "C7", "S1", "S2", "S3"]
NOW = "2025-01-15T11:00:00Z"


# The project's traceability data as it stood with the S1..S3 claims, frozen so the
# report tests do not change whenever a claim is added to or removed from the project.
TRACEABILITY = Path(__file__).resolve().parents[2] / "fixtures" / "reports" / "traceability"


@pytest.fixture(scope="module")
def artifacts() -> list[Artifact]:
    return load_artifacts(TRACEABILITY)


@pytest.fixture(scope="module")
def report(artifacts: list[Artifact]) -> EvidenceReport:
    return build_report(GOOD, artifacts, previous_ledger=GOOD, generated_at=NOW)


@pytest.fixture(scope="module")
def tampered(artifacts: list[Artifact]) -> EvidenceReport:
    return build_report(TAMPERED, artifacts, generated_at=NOW)


def _record(path: Path, claim: str, run_id: str, **extra: Any) -> Record:
    with EvidenceLedger(path) as ledger:
        return ledger.append(
            {
                "run_id": run_id,
                "claim": claim,
                "verifier": "demo",
                "verdict": "pass",
                "duration_s": 0.1,
                "command": "demo",
                **extra,
            }
        )


# ----------------------------------------------------------------------------- model


def test_model_joins_the_latest_run_with_the_claims(report: EvidenceReport) -> None:
    assert report.run_id == "run-2"
    assert [row.claim_id for row in report.rows] == CLAIM_IDS
    assert report.ledger_ok and report.ledger_banner() is None
    verdicts = {row.claim_id: row.verdict for row in report.rows}
    assert verdicts["C7"] == "error" and verdicts["C5"] == "pass"
    assert report.counts == {
        "pass": 9,
        "fail": 0,
        "error": 1,
        "skip": 0,
        "not-applicable": 0,
        MISSING: 0,
    }
    assert [(o.claim_id, o.gates_ci) for o in report.owed] == [("C7", True)]
    assert not report.gate_ok
    assert (report.gated_passing, report.gated_total) == (9, 10)
    c3 = report.rows[2]
    assert ("REQ-4", "Composition: the handshake runs across a composed component graph") in (
        c3.requirements
    )
    assert "ARCH-COMPOSER" in [eid for eid, _ in c3.elements]
    assert report.tools["wasmtime"] == "50.0.1"
    assert len(report.traced_records) == 2


def test_model_changes_against_the_previous_run(report: EvidenceReport) -> None:
    assert report.previous_run_id == "run-1"
    assert report.changes is not None
    changes = {c.claim_id: (c.before, c.after) for c in report.changes}
    assert changes == {
        "C5": ("fail", "pass"),
        "C6": ("skip", "pass"),
        "C7": ("pass", "error"),
        "S3": (MISSING, "pass"),
    }


def test_model_for_an_earlier_run(artifacts: list[Artifact]) -> None:
    earlier = build_report(GOOD, artifacts, run_id="run-1", generated_at=NOW)
    owed = {o.claim_id: o for o in earlier.owed}
    assert set(owed) == {"C5", "C6", "S3"}
    assert owed["S3"].verdict == MISSING and owed["S3"].reason == "no evidence record in this run"
    assert owed["C5"].reason == "wrong passcode accepted by the commissionee"
    assert earlier.changes is None


def test_model_against_a_separate_previous_ledger(
    tmp_path: Path, artifacts: list[Artifact]
) -> None:
    previous = tmp_path / "previous.jsonl"
    _record(previous, "C1", "old", verdict="fail", reason="extra import wasi:cli")
    result = build_report(GOOD, artifacts, previous_ledger=previous, generated_at=NOW)
    assert result.previous_run_id == "old"
    assert result.changes is not None
    changes = {c.claim_id: (c.before, c.after) for c in result.changes}
    assert changes["C1"] == ("fail", "pass")
    assert changes["C2"] == (MISSING, "pass")


def test_unknown_run_and_missing_ledger(tmp_path: Path, artifacts: list[Artifact]) -> None:
    with pytest.raises(ReportError, match="run-9"):
        build_report(GOOD, artifacts, run_id="run-9")
    with pytest.raises(LedgerReadError):
        build_report(tmp_path / "absent.jsonl", artifacts)


def test_evidence_for_an_unknown_claim_is_shown_not_owed(
    tmp_path: Path, artifacts: list[Artifact]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    _record(ledger, "C1", "r")
    _record(ledger, "X9", "r", verdict="fail", reason="boom")
    result = build_report(ledger, artifacts, generated_at=NOW)
    extra = result.rows[-1]
    assert (extra.claim_id, extra.known, extra.verdict) == ("X9", False, "fail")
    assert "X9" not in {o.claim_id for o in result.owed}
    assert len([o for o in result.owed if o.verdict == MISSING]) == 9


def test_last_record_of_a_claim_wins(tmp_path: Path, artifacts: list[Artifact]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    _record(ledger, "C1", "r", verdict="fail", reason="first try")
    second = _record(ledger, "C1", "r")
    result = build_report(ledger, artifacts, generated_at=NOW)
    assert result.rows[0].record == second


def test_seam_rows_accept_per_role_and_flat_counters() -> None:
    records = {r.claim: r for r in read_records(GOOD)[9:]}
    assert [role for role, _ in seam_rows(records["C2"])] == ["commissionee", "commissioner"]
    assert seam_rows(records["C3"])[0][0] == "all"
    nested = Record(
        **{**records["C3"].to_dict(), "figures": {"seam_crossings": {"graph": {"a": 1}}}}
    )
    assert seam_rows(nested) == [("graph", {"a": 1})]
    assert seam_rows(records["C1"]) == []


def test_format_value() -> None:
    assert [format_value(v) for v in (True, 14217.3, 104.28, 3)] == ["yes", "14217", "104.3", "3"]


def test_key_figure_conventions() -> None:
    records = {r.claim: r for r in read_records(GOOD)[9:]}
    assert key_figure(records["C1"]) == "imports: transport, clock, entropy"
    assert key_figure(records["C3"]) == "6 datagrams"
    assert key_figure(records["C4"]) == "runs=3, transcripts_equal=yes"
    assert key_figure(records["C6"]) == "branch_coverage_pct=93.4"
    assert key_figure(records["S1"]) == ""
    assert key_figure(None) == ""


def test_xml_safe_replaces_control_characters() -> None:
    assert xml_safe("ok\x00\x1bdone\n") == "ok\ufffd\ufffddone\n"


# ------------------------------------------------------------------------- dispatch


def test_every_format_renders_and_unknown_formats_are_refused(report: EvidenceReport) -> None:
    assert set(FORMATS) == set(SUFFIXES) == {"md", "html", "json", "junit", "rivet", "rivet-json"}
    for fmt in FORMATS:
        assert "C7" in render(fmt, report)
    with pytest.raises(ReportError, match="unknown report format 'pdf'"):
        render("pdf", report)


def test_render_ledger_shortcut(artifacts: list[Artifact]) -> None:
    text = render_ledger("json", GOOD, artifacts, run_id="run-1")
    assert json.loads(text)["run_id"] == "run-1"


def test_empty_ledger_renders_in_every_format(tmp_path: Path, artifacts: list[Artifact]) -> None:
    ledger = tmp_path / "empty.jsonl"
    ledger.write_bytes(b"")
    result = build_report(ledger, artifacts, generated_at=NOW)
    assert result.run_id is None and not result.gate_ok
    assert all(row.verdict == MISSING for row in result.rows)
    for fmt in FORMATS:
        assert render(fmt, result)


# --------------------------------------------------------------------------- markdown


def test_markdown_has_the_claim_table_owed_and_changes(report: EvidenceReport) -> None:
    text = render("md", report)
    assert "| Claim | Statement | Verdict | Key figure | Evidence |" in text
    for claim_id in CLAIM_IDS:
        assert f"| **{claim_id}** |" in text
    assert "❌ **Gate: FAIL** — 9/10 gated claims pass" in text
    assert "- **C7** (gated): 💥 error — verifier raised RuntimeError" in text
    assert "### Changed since run `run-1`" in text
    assert "| C5 | ❌ fail | ✅ pass |" in text
    assert f"`{report.rows[0].record.short_hash}`" in text  # type: ignore[union-attr]
    assert "[!CAUTION]" not in text


def test_markdown_cells_are_escaped() -> None:
    assert cell("a|b\nc <script>") == "a\\|b c &lt;script&gt;"


def test_markdown_nothing_owed(tmp_path: Path) -> None:
    claims_dir = tmp_path / "trace"
    claims_dir.mkdir()
    shutil.copy(FIXTURES.parent / "traceability" / "good" / "artifacts.yaml", claims_dir)
    ledger = tmp_path / "ledger.jsonl"
    _record(ledger, "CL-A", "r", figures={"headline": "all | good"})
    result = build_report(ledger, load_artifacts(claims_dir), generated_at=NOW)
    text = render("md", result)
    assert result.gate_ok
    assert "✅ **Gate: PASS**" in text and "Nothing owed" in text
    assert "all \\| good" in text


# ------------------------------------------------------------------------------- html


def test_html_is_well_formed_and_self_contained(report: EvidenceReport) -> None:
    text = render("html", report)
    root = ET.fromstring(text.split("\n", 1)[1])  # after the doctype line
    assert root.tag == "html"
    lowered = text.lower()
    assert "<script" not in lowered and "<link" not in lowered and "src=" not in lowered
    assert "http://" not in lowered.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in lowered
    for claim_id in CLAIM_IDS:
        assert f"<strong>{claim_id}</strong>" in text


def test_html_draws_the_handshake_as_svg(report: EvidenceReport) -> None:
    text = render("html", report)
    root = ET.fromstring(text.split("\n", 1)[1])
    diagrams = root.findall(f".//{SVG}svg")
    assert len(diagrams) == 2  # C2 and C3 carry a trace
    diagram = diagrams[0]
    labels = [t.text for t in diagram.iter(f"{SVG}text")]
    assert "commissioner" in labels and "commissionee" in labels
    assert "PBKDFParamRequest (90 B)" in labels and "StatusReport (34 B)" in labels
    assert len(diagram.findall(f".//{SVG}g")) == 6
    arrows = [line for line in diagram.iter(f"{SVG}line") if line.get("marker-end")]
    # Requests run left to right, responses right to left.
    assert float(arrows[0].get("x1", 0)) < float(arrows[0].get("x2", 0))
    assert float(arrows[1].get("x1", 0)) > float(arrows[1].get("x2", 0))
    marker_ids = {m.get("id") for m in root.iter(f"{SVG}marker")}
    assert len(marker_ids) == 4  # unique per diagram


def test_html_sections(report: EvidenceReport) -> None:
    text = render("html", report)
    for heading in (
        "Claims",
        "Owed",
        "Changed since run run-1",
        "Traceability",
        "Handshake across the seam",
        "Seam crossings",
        "Timings",
        "Environment",
    ):
        assert f"<h2>{heading}</h2>" in text
    assert "transport.send" in text and "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39" in text
    # Per-role counters (the gate's shape) and flat counters share one table.
    assert "<td>commissionee</td>" in text and "<td>all</td>" in text
    assert "transport_sends" in text
    assert "build/core.wasm" in text and "50.0.1" in text


def test_html_escapes_text(tmp_path: Path, artifacts: list[Artifact]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    hostile = '<img src=x onerror=alert(1)> & "quoted" \x07'
    _record(
        ledger,
        "C2",
        "r",
        verdict="fail",
        reason=hostile,
        figures={
            "headline": hostile,
            "trace": [
                {"t_ms": 0, "direction": "commissioner->commissionee", "opcode": "<x>", "size": 1}
            ],
            "seam_crossings": {"<b>": 1},
        },
    )
    text = render("html", build_report(ledger, artifacts, generated_at=NOW))
    assert "<img" not in text and "<x>" not in text and "<b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;" in text
    ET.fromstring(text.split("\n", 1)[1])  # still well-formed with a control character


def test_long_traces_are_cut_with_a_note() -> None:
    base = read_records(GOOD)[10]
    long_trace = [
        {"t_ms": i, "direction": "commissioner->commissionee", "opcode": "StandaloneAck", "size": 8}
        for i in range(MAX_DIAGRAM_MESSAGES + 5)
    ]
    record = Record(**{**base.to_dict(), "figures": {"trace": long_trace}})
    svg = ET.fromstring(sequence_diagram(record, 3))
    assert len(svg.findall(f"{SVG}g")) == MAX_DIAGRAM_MESSAGES
    assert any("5 more datagrams" in (t.text or "") for t in svg.iter(f"{SVG}text"))


# ------------------------------------------------------------------------------ junit


def test_junit_has_one_testcase_per_claim(report: EvidenceReport) -> None:
    root = ET.fromstring(render("junit", report))
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name", "").split(":")[0] for c in cases] == CLAIM_IDS
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("10", "1", "0")
    c7 = cases[6]
    error = c7.find("error")
    assert error is not None and error.get("message") == "verifier raised RuntimeError"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["ledger.integrity"] == "ok" and props["gate"] == "fail"
    assert suite.find("system-err") is None


def test_junit_failures_skips_and_missing(artifacts: list[Artifact]) -> None:
    earlier = build_report(GOOD, artifacts, run_id="run-1", generated_at=NOW)
    root = ET.fromstring(render("junit", earlier))
    cases = {c.get("name", "").split(":")[0]: c for c in root.iter("testcase")}
    assert cases["C5"].find("failure") is not None
    assert cases["C6"].find("skipped") is not None
    missing = cases["S3"].find("failure")
    assert missing is not None and missing.get("type") == "missing-evidence"
    suite = root.find("testsuite")
    assert suite is not None and (suite.get("failures"), suite.get("skipped")) == ("2", "1")


# ------------------------------------------------------------------------- json, rivet


def test_json_summary(report: EvidenceReport) -> None:
    data = json.loads(render("json", report))
    assert data["gate_ok"] is False and data["ledger"]["ok"] is True
    assert data["ledger_warning"] is None
    assert [c["id"] for c in data["claims"]] == CLAIM_IDS
    c3 = data["claims"][2]
    assert c3["requirements"] == ["REQ-4", "REQ-1", "REQ-8"]
    assert c3["record_hash"] == report.rows[2].record.hash  # type: ignore[union-attr]
    assert data["owed"] == [
        {
            "claim": "C7",
            "gates_ci": True,
            "verdict": "error",
            "reason": "verifier raised RuntimeError",
        }
    ]
    assert data["summary"]["verdicts"]["pass"] == 9
    assert {c["claim"] for c in data["changes"]["claims"]} == {"C5", "C6", "C7", "S3"}


def test_rivet_results_layout(report: EvidenceReport, artifacts: list[Artifact]) -> None:
    data = yaml.safe_load(render("rivet", report))
    assert set(data) == {"run", "results"}
    assert data["run"]["id"] == "run-2" and data["run"]["ledger-integrity"] == "ok"
    assert data["run"]["commit"] == "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39"
    assert [r["artifact"] for r in data["results"]] == CLAIM_IDS
    assert data["results"][6] == {
        "artifact": "C7",
        "status": "error",
        "duration": "3.250s",
        "message": "verifier raised RuntimeError",
    }
    assert json.loads(render("rivet-json", report)) == data
    earlier = yaml.safe_load(render("rivet", build_report(GOOD, artifacts, run_id="run-1")))
    assert earlier["results"][-1]["status"] == "blocked"


# --------------------------------------------------------------------- tampered ledger


def test_tampered_ledger_is_announced_first_in_every_format(tampered: EvidenceReport) -> None:
    assert not tampered.ledger_ok and not tampered.gate_ok
    banner = tampered.ledger_banner()
    assert banner is not None and "record 12 fails hash" in banner

    md = render("md", tampered)
    assert md.startswith("> [!CAUTION]") and "record 12 fails hash" in md.split("\n\n")[0]

    page = render("html", tampered)
    assert page.index('class="banner"') < page.index("<h1>")
    assert "record 12 fails hash" in page

    data = json.loads(render("json", tampered))
    assert data["ledger"]["ok"] is False and data["ledger"]["first_bad"] == 12
    assert "record 12" in data["ledger_warning"]

    root = ET.fromstring(render("junit", tampered))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["ledger.integrity"] or "").startswith("FAILED at record 12")
    system_err = root.find("./testsuite/system-err")
    assert system_err is not None and "record 12 fails hash" in (system_err.text or "")

    rivet = yaml.safe_load(render("rivet", tampered))
    assert rivet["run"]["ledger-integrity"].startswith("FAILED at record 12")


def test_records_after_the_break_are_marked_untrusted(tampered: EvidenceReport) -> None:
    trusted = {row.claim_id: tampered.trusted(row.record) for row in tampered.rows}
    # Records 9..11 (C1..C3 of run-2) precede the edited record 12 (C4).
    assert trusted["C1"] and trusted["C3"]
    assert not trusted["C4"] and not trusted["S3"]
    md_rows = [line for line in render("md", tampered).splitlines() if line.startswith("| **")]
    assert "untrusted" not in md_rows[0] and "untrusted" in md_rows[3]
    data = json.loads(render("json", tampered))
    assert [c["record_trusted"] for c in data["claims"]][2:4] == [True, False]
    assert render("html", tampered).count(">untrusted</span>") == 7
