"""Evidence reports rendered from the ledger and the traceability data.

Build the model once, render it in any format by name::

    report = build_report("evidence/ledger.jsonl", load_artifacts())
    text = render("md", report)

Formats (:data:`FORMATS`): ``md`` (CI summaries, PR comments), ``html`` (one
self-contained page with the handshake diagram), ``json`` (machine-readable), ``junit``
(JUnit XML, one testcase per claim), ``rivet`` (rivet results YAML) and ``rivet-json``
(the same as JSON). If the ledger fails verification, every format says so first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from harness.errors import ReportError
from harness.evidence.reports import html, json_report, junit, markdown, rivet
from harness.evidence.reports.model import EvidenceReport, build_report
from harness.evidence.traceability import Artifact

_RENDERERS: dict[str, Callable[[EvidenceReport], str]] = {
    "md": markdown.render,
    "html": html.render,
    "json": json_report.render,
    "junit": junit.render,
    "rivet": rivet.render_yaml,
    "rivet-json": rivet.render_json,
}

FORMATS: tuple[str, ...] = tuple(_RENDERERS)

#: The file suffix each format is conventionally written with.
SUFFIXES: dict[str, str] = {
    "md": ".md",
    "html": ".html",
    "json": ".json",
    "junit": ".xml",
    "rivet": ".yaml",
    "rivet-json": ".json",
}


def render(fmt: str, report: EvidenceReport) -> str:
    """Render ``report`` in the format named ``fmt``; raise :class:`ReportError` if unknown."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ReportError(
            f"unknown report format {fmt!r}", hint=f"choose one of {', '.join(FORMATS)}"
        )
    return renderer(report)


def render_ledger(
    fmt: str,
    ledger_path: Path | str,
    artifacts: Sequence[Artifact],
    *,
    run_id: str | None = None,
    previous_ledger: Path | str | None = None,
) -> str:
    """Build the report of one run of ``ledger_path`` and render it (a shortcut for the CLI)."""
    report = build_report(ledger_path, artifacts, run_id=run_id, previous_ledger=previous_ledger)
    return render(fmt, report)


__all__ = ["FORMATS", "SUFFIXES", "EvidenceReport", "build_report", "render", "render_ledger"]
