"""rivet results report: the run in the layout the rivet traceability tool loads.

::

    run: {id, timestamp, source, environment, commit, ledger-integrity, ledger-head}
    results:
      - {artifact: C1, status: pass, duration: "0.412s", message: ...}

Statuses are rivet's: ``pass``, ``fail``, ``error``, ``skip``, and ``blocked`` for a
claim with no evidence record in the run (it could not be judged). ``ledger-integrity``
is ``ok`` or starts with ``FAILED``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from harness.evidence.reports.model import MISSING, NOT_APPLICABLE, EvidenceReport, one_line


def to_data(report: EvidenceReport) -> dict[str, Any]:
    """Return the rivet run file as plain data."""
    v = report.verification
    environment = ", ".join(f"{name} {version}" for name, version in report.tools.items())
    run: dict[str, Any] = {
        "id": report.run_id or "",
        "timestamp": report.started_at or report.generated_at,
        "source": "matter-harness gate",
        "environment": environment or "unknown",
        "commit": ", ".join(report.git_commits) or None,
        "ledger-integrity": "ok"
        if v.ok
        else f"FAILED at record {v.first_bad} ({v.check}): {v.reason}",
        "ledger-head": v.head,
    }
    results: list[dict[str, Any]] = []
    for row in report.rows:
        entry: dict[str, Any] = {
            "artifact": row.claim_id,
            # rivet has no "not applicable": a skip whose message says so.
            "status": {MISSING: "blocked", NOT_APPLICABLE: "skip"}.get(row.verdict, row.verdict),
        }
        if row.record is not None:
            entry["duration"] = f"{row.record.duration_s:.3f}s"
            message = row.why
            if row.verdict == NOT_APPLICABLE:
                message = f"not applicable: {message}"
            if message:
                entry["message"] = one_line(message, 400)
        else:
            entry["message"] = f"no evidence record in run {report.run_id}"
        results.append(entry)
    return {"run": run, "results": results}


def render_yaml(report: EvidenceReport) -> str:
    """Render the rivet run file as YAML."""
    return yaml.safe_dump(to_data(report), sort_keys=False, allow_unicode=True, width=100)


def render_json(report: EvidenceReport) -> str:
    """Render the rivet run file as JSON."""
    return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"
