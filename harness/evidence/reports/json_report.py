"""JSON report: a machine-readable summary of one gate run.

Stable keys (``report_schema`` is bumped on any incompatible change): the ledger's
verification, the gate outcome, per-claim verdicts with their evidence record and
traceability, what is owed, verdict changes, and the environment.
"""

from __future__ import annotations

import json
from typing import Any

from harness.evidence.reports.model import ClaimRow, EvidenceReport

REPORT_SCHEMA = 1


def _claim(row: ClaimRow, trusted: bool) -> dict[str, Any]:
    record = row.record
    return {
        "id": row.claim_id,
        "title": row.title,
        "statement": row.statement,
        "verifier": row.verifier,
        "gates_ci": row.gates_ci,
        "in_traceability": row.known,
        "verdict": row.verdict,
        "key_figure": row.key_figure,
        "reason": record.reason if record else None,
        "message": record.message if record else None,
        "duration_s": record.duration_s if record else None,
        "record_seq": record.seq if record else None,
        "record_hash": record.hash if record else None,
        "record_trusted": trusted,
        "transcript_hash": record.transcript_hash if record else None,
        "figures": record.figures if record else None,
        "requirements": [rid for rid, _ in row.requirements],
        "architecture": [eid for eid, _ in row.elements],
    }


def to_data(report: EvidenceReport) -> dict[str, Any]:
    """Return the report as plain JSON data."""
    return {
        "report_schema": REPORT_SCHEMA,
        "generated_at": report.generated_at,
        "run_id": report.run_id,
        "ledger": report.verification.to_dict(),
        "ledger_warning": report.ledger_banner(),
        "gate_ok": report.gate_ok,
        "summary": {
            "claims": len(report.rows),
            "gated": report.gated_total,
            "gated_passing": report.gated_passing,
            "verdicts": report.counts,
            "started_at": report.started_at,
            "total_duration_s": report.total_duration_s,
        },
        "claims": [_claim(row, report.trusted(row.record)) for row in report.rows],
        "owed": [
            {"claim": o.claim_id, "gates_ci": o.gates_ci, "verdict": o.verdict, "reason": o.reason}
            for o in report.owed
        ],
        "changes": None
        if report.changes is None
        else {
            "previous_run_id": report.previous_run_id,
            "claims": [
                {"claim": c.claim_id, "before": c.before, "after": c.after} for c in report.changes
            ],
        },
        "environment": {
            "tools": report.tools,
            "git_commits": report.git_commits,
            "inputs": report.inputs,
        },
    }


def render(report: EvidenceReport) -> str:
    """Render the report as indented JSON with sorted keys."""
    return json.dumps(to_data(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
