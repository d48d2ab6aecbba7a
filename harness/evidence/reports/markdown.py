"""Markdown report: for CI step summaries and pull-request comments.

Short on purpose: the gate's outcome, the claim table, what is still owed, and what
changed since the previous run. Text from records is escaped so a message cannot break
the table or inject markup.
"""

from __future__ import annotations

import html

from harness.evidence.reports.model import (
    MISSING,
    NOT_APPLICABLE,
    EvidenceReport,
    one_line,
    verdict_label,
)

MARKERS: dict[str, str] = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "error": "💥 error",
    "skip": "⏭️ skip",
    NOT_APPLICABLE: "➖ not applicable",
    MISSING: "⚪ no evidence",
}

KEY_FIGURE_LIMIT = 400
"""Characters of a key figure in a table cell (the sentences are far shorter)."""


def marker(verdict: str) -> str:
    """Return the verdict with its emoji marker (any other verdict in words)."""
    return MARKERS.get(verdict) or cell(verdict_label(verdict))


def cell(text: str, limit: int = 160) -> str:
    """Make text safe for one Markdown table cell: one line, HTML-escaped, pipes escaped."""
    return html.escape(one_line(text, limit), quote=False).replace("|", "\\|")


def render(report: EvidenceReport) -> str:
    """Render the report as GitHub-flavoured Markdown."""
    out: list[str] = []
    banner = report.ledger_banner()
    if banner:
        out += [f"> [!CAUTION]\n> ⚠️ **{cell(banner, 400)}**", ""]
    run = f"`{cell(report.run_id)}`" if report.run_id else "(no records)"
    out += [f"## Verification evidence — run {run}", ""]
    gate = "✅ **Gate: PASS**" if report.gate_ok else "❌ **Gate: FAIL**"
    ledger = (
        f"ledger intact ({report.verification.records} records, head "
        f"`{(report.verification.head or '-')[:12]}`)"
        if report.ledger_ok
        else "ledger **failed verification**"
    )
    out += [
        f"{gate} — {cell(report.summary(), 400)} · {ledger}",
        "",
        "| Claim | Statement | Verdict | Key figure | Evidence |",
        "|---|---|---|---|---|",
    ]
    for row in report.rows:
        name = row.claim_id + ("" if row.gates_ci else " (not gated)")
        evidence = f"`{row.record.short_hash}`" if row.record else "—"
        if not report.trusted(row.record):
            evidence += " ⚠️ untrusted"
        out.append(
            f"| **{cell(name)}** | {cell(row.title)} | {marker(row.verdict)} "
            f"| {cell(row.key_figure, KEY_FIGURE_LIMIT)} | {evidence} |"
        )
    out += ["", "### Owed", ""]
    if report.owed:
        for item in report.owed:
            gated = "gated" if item.gates_ci else "not gated"
            out.append(
                f"- **{cell(item.claim_id)}** ({gated}): {marker(item.verdict)} — "
                f"{cell(item.reason, 400)}"
            )
    else:
        out.append("Nothing owed: every gated claim has passing evidence.")
    if report.not_applicable:
        out += ["", "### Not applicable to this graph", ""]
        for row in report.not_applicable:
            gated = "gated" if row.gates_ci else "not gated"
            out.append(f"- **{cell(row.claim_id)}** ({gated}): {cell(row.why, 400)}")
    if report.changes is not None:
        since = f"`{cell(report.previous_run_id)}`" if report.previous_run_id else "(none)"
        out += ["", f"### Changed since run {since}", ""]
        if report.changes:
            out += ["| Claim | Before | After |", "|---|---|---|"]
            for change in report.changes:
                out.append(
                    f"| {cell(change.claim_id)} | {marker(change.before)} "
                    f"| {marker(change.after)} |"
                )
        else:
            out.append("No verdict changed.")
    commits = ", ".join(f"`{cell(c[:12])}`" for c in report.git_commits) or "unknown"
    out += ["", f"<sub>commit {commits} · generated {cell(report.generated_at)}</sub>", ""]
    return "\n".join(out)
