"""JUnit XML report: one testcase per claim, for CI systems that display test results.

``fail`` becomes ``<failure>``, ``error`` becomes ``<error>``, ``skip`` becomes
``<skipped>``. A claim with no record in the run is a ``<failure>`` of type
``missing-evidence`` when it gates CI (the gate fails on it) and ``<skipped>`` when it
does not. The ledger's integrity is a suite property, and a failed check is also written
to the suite's ``<system-err>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.evidence.reports.model import (
    MISSING,
    NOT_APPLICABLE,
    ClaimRow,
    EvidenceReport,
    xml_safe,
)

SUITE_NAME = "matter-verified-core-harness gate"


def _testcase(parent: ET.Element, row: ClaimRow, run_id: str | None) -> None:
    record = row.record
    case = ET.SubElement(
        parent,
        "testcase",
        {
            "classname": f"claims.{row.verifier or 'unregistered'}",
            "name": xml_safe(f"{row.claim_id}: {row.title}"),
            "time": f"{record.duration_s:.3f}" if record else "0.000",
        },
    )
    detail = xml_safe(record.message) if record else ""
    summary = xml_safe(row.why or f"verdict {row.verdict}")
    if row.verdict == "fail":
        ET.SubElement(case, "failure", {"type": "fail", "message": summary}).text = detail
    elif row.verdict == "error":
        ET.SubElement(case, "error", {"type": "error", "message": summary}).text = detail
    elif row.verdict == "skip":
        ET.SubElement(case, "skipped", {"message": summary})
    elif row.verdict == NOT_APPLICABLE:
        ET.SubElement(case, "skipped", {"message": f"not applicable: {summary}"})
    elif row.verdict == MISSING:
        message = f"no evidence record for {row.claim_id} in run {run_id}"
        if row.gates_ci:
            ET.SubElement(case, "failure", {"type": "missing-evidence", "message": message})
        else:
            ET.SubElement(case, "skipped", {"message": message})
    if record is not None:
        ET.SubElement(case, "system-out").text = xml_safe(
            f"evidence record {record.seq} hash {record.hash}\n"
            f"verifier {record.verifier}: {record.command}\n"
            f"key figure: {row.key_figure}"
        )


def render(report: EvidenceReport) -> str:
    """Render the report as a JUnit XML document (``testsuites`` root)."""
    counts = report.counts
    missing = [r for r in report.rows if r.verdict == MISSING]
    failures = counts["fail"] + sum(1 for r in missing if r.gates_ci)
    skipped = counts["skip"] + counts[NOT_APPLICABLE] + sum(1 for r in missing if not r.gates_ci)
    totals = {
        "tests": str(len(report.rows)),
        "failures": str(failures),
        "errors": str(counts["error"]),
        "skipped": str(skipped),
        "time": f"{report.total_duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": SUITE_NAME, **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": SUITE_NAME, "timestamp": report.started_at or report.generated_at, **totals},
    )
    properties = ET.SubElement(suite, "properties")
    v = report.verification
    integrity = "ok" if v.ok else f"FAILED at record {v.first_bad} ({v.check}): {v.reason}"
    entries = [
        ("run_id", report.run_id or ""),
        ("ledger.path", report.ledger_path),
        ("ledger.integrity", integrity),
        ("ledger.head", v.head or ""),
        ("gate", "pass" if report.gate_ok else "fail"),
        ("git_commit", ", ".join(report.git_commits)),
    ] + [(f"tool.{name}", version) for name, version in report.tools.items()]
    for name, value in entries:
        ET.SubElement(properties, "property", {"name": name, "value": xml_safe(value)})
    for row in report.rows:
        _testcase(suite, row, report.run_id)
    banner = report.ledger_banner()
    if banner:
        ET.SubElement(suite, "system-err").text = xml_safe(banner)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
