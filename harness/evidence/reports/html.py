"""HTML report: one self-contained, well-formed file (inline CSS, no scripts, no assets).

Sections: the integrity banner (if the ledger failed verification), the gate summary,
the claim table, what is owed, verdict changes, the traceability chain
(requirement -> architecture -> claim -> evidence), each recorded handshake drawn as an
SVG sequence diagram of the datagrams crossing the seam, seam crossing counts, timings,
and the environment (tools, git commit, input artifact hashes).

Made to be read in a browser window from 1280 px wide down: every table fits its column
(long words and digests wrap) inside a box that scrolls on its own if it ever cannot,
nothing is cut, and long text folds into ``<details>`` that open on a click. A test
drives Chromium to check it (tests/harness/evidence/test_report_browser.py).

All text passes through :func:`esc` (HTML-escaped, XML-safe), and the document is also
well-formed XML, so it can be checked with an XML parser.
"""

from __future__ import annotations

import html as _html
import re
from typing import Any

from harness.evidence.ledger import Record
from harness.evidence.ledger_schema import DIRECTIONS
from harness.evidence.reports.figures import KeyFigure, format_value, humanize
from harness.evidence.reports.model import (
    EvidenceReport,
    verdict_label,
    xml_safe,
)

MAX_DIAGRAM_MESSAGES = 200
"""Datagrams drawn per diagram; a longer trace is cut with a note saying how many remain."""

COLOURS = {"forward": "#2f5fa8", "back": "#2d7a3e"}
"""Arrow colours: commissioner -> commissionee, and the way back."""

WHY_FOLD = 200
"""A reason or message longer than this many characters folds into ``<details>``."""

CSS = """
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1180px;
       color: #1d2330; padding: 0 1em; overflow-wrap: anywhere; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em;
       border-bottom: 1px solid #d8dde6; padding-bottom: .2em; }
.table-box { max-width: 100%; overflow-x: auto; margin: .5em 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d8dde6; padding: .3em .5em; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #f2f4f8; }
td.keep, th.keep { white-space: nowrap; overflow-wrap: normal; }
td.keep .hash { word-break: normal; }
code, .hash { font-family: ui-monospace, monospace; font-size: .9em;
              overflow-wrap: anywhere; word-break: break-all; }
.small { color: #5a6372; font-size: .9em; }
details > summary { cursor: pointer; color: #2f5fa8; }
details[open] > summary { margin-bottom: .2em; }
table.facts { width: auto; max-width: 100%; margin-top: .3em; font-size: .92em; }
table.facts th { font-weight: 500; background: #f7f8fb; }
.badge { display: inline-block; padding: .05em .5em; border-radius: .8em;
         font-weight: 600; font-size: .85em; background: #e8ebf0; color: #444c58;
         max-width: 100%; }
.v-pass { background: #d7f5dd; color: #135e24; }
.v-fail { background: #fde0e0; color: #8a1414; }
.v-error { background: #fbe3c7; color: #7a3b00; }
.v-skip, .v-missing { background: #e8ebf0; color: #444c58; }
.v-not-applicable { background: #e3ecfa; color: #24477a; }
.banner { background: #8a1414; color: #fff; padding: .8em 1em; border-radius: .3em;
          font-weight: 600; }
.gate-pass { color: #135e24; } .gate-fail { color: #8a1414; }
.bar { background: #4a78c2; height: .8em; display: inline-block; max-width: 100%; }
svg { max-width: 100%; height: auto; border: 1px solid #d8dde6; background: #fcfdff; }
"""


def esc(value: Any) -> str:
    """Escape any value for HTML text or attribute use (quotes included)."""
    return _html.escape(xml_safe(str(value)), quote=True)


def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict's badge (any verdict string gives a valid class)."""
    return "v-" + (re.sub(r"[^a-z0-9-]+", "-", verdict.lower()).strip("-") or "unknown")


def badge(verdict: str) -> str:
    """Return a coloured verdict badge (a verdict without a colour of its own is grey)."""
    return f'<span class="badge {verdict_class(verdict)}">{esc(verdict_label(verdict))}</span>'


def _table(
    headers: list[str],
    rows: list[list[str]],
    *,
    css: str = "",
    row_class: str = "",
    keep: tuple[int, ...] = (),
) -> str:
    """A table with a header row, in a box that scrolls sideways if it must (it fits).

    The columns numbered in ``keep`` hold short values that never wrap (ids, times)."""
    cls = ["" if i not in keep else ' class="keep"' for i in range(len(headers))]
    head = "".join(f"<th{cls[i]}>{esc(h)}</th>" for i, h in enumerate(headers))
    tr = f'<tr class="{row_class}">' if row_class else "<tr>"
    body = "".join(
        tr + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    table = f'<table class="{css}">' if css else "<table>"
    return (
        f'<div class="table-box">{table}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _facts(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="facts"><tbody>{rows}</tbody></table>'


def folded(text: str, limit: int = WHY_FOLD) -> str:
    """``text`` whole if short; else its opening words as a summary that opens, on a
    click, onto the whole text (nothing is ever cut off for good)."""
    if len(text) <= limit:
        return esc(text)
    opening = text[: limit // 2].rsplit(" ", 1)[0] or text[: limit // 2]
    return f"<details><summary>{esc(opening)} …</summary>{esc(text)}</details>"


def key_figure_cell(figure: KeyFigure) -> str:
    """The key figure's sentence, and the figures it leaves out behind a click."""
    if not figure.details:
        return esc(figure.text) or "—"
    return (
        f'{esc(figure.text)}<details class="small"><summary>figures</summary>'
        f"{_facts(figure.details)}</details>"
    )


def sequence_diagram(record: Record, index: int = 0) -> str:
    """Draw ``record``'s handshake trace as an SVG sequence diagram.

    Two lifelines (commissioner left, commissionee right); one arrow per datagram in the
    direction it crossed the seam, labelled with its opcode and size, with its time on
    the left. ``index`` keeps element ids unique when a page holds several diagrams.
    """
    trace = record.trace
    shown = trace[:MAX_DIAGRAM_MESSAGES]
    left, right, top, step = 190, 590, 64, 40
    width = 720
    height = top + step * len(shown) + (50 if len(trace) > len(shown) else 30)
    marker = f"arrow-{index}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="seq-title-{index}">',
        f'<title id="seq-title-{index}">PASE datagrams of claim {esc(record.claim)} '
        f"(record {record.seq})</title>",
        "<defs>"
        + "".join(
            f'<marker id="{marker}-{key}" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
            "</marker>"
            for key, colour in COLOURS.items()
        )
        + "</defs>",
    ]
    for x, name in ((left, "commissioner"), (right, "commissionee")):
        parts.append(
            f'<rect x="{x - 70}" y="10" width="140" height="30" rx="4" fill="#f2f4f8" '
            f'stroke="#5a6372"/><text x="{x}" y="30" text-anchor="middle" '
            f'font-size="14" font-family="sans-serif">{name}</text>'
            f'<line x1="{x}" y1="40" x2="{x}" y2="{height - 10}" stroke="#5a6372" '
            'stroke-dasharray="4 4"/>'
        )
    for i, datagram in enumerate(shown):
        y = top + step * i + 16
        forward = datagram["direction"] == DIRECTIONS[0]
        x1, x2 = (left, right) if forward else (right, left)
        key = "forward" if forward else "back"
        colour = COLOURS[key]
        label = f"{datagram['opcode']} ({datagram['size']} B)"
        parts.append(
            f'<g class="datagram"><text x="10" y="{y + 4}" font-size="12" '
            f'font-family="monospace" fill="#5a6372">{esc(datagram["t_ms"])} ms</text>'
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2" marker-end="url(#{marker}-{key})"/>'
            f'<text x="{(left + right) // 2}" y="{y - 6}" text-anchor="middle" '
            f'font-size="13" font-family="sans-serif" fill="{colour}">{esc(label)}</text></g>'
        )
    if len(trace) > len(shown):
        y = top + step * len(shown) + 16
        parts.append(
            f'<text x="{(left + right) // 2}" y="{y}" text-anchor="middle" font-size="12" '
            f'font-family="sans-serif">… {len(trace) - len(shown)} more datagrams not drawn'
            "</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _claims_section(report: EvidenceReport) -> str:
    rows = []
    for row in report.rows:
        record = row.record
        evidence = (
            f'<span class="hash" title="{esc(record.hash)}">{esc(record.short_hash)}</span>'
            if record
            else "—"
        )
        if not report.trusted(record):
            evidence += '<br/><span class="badge v-fail">untrusted</span>'
        why = f'<div class="small why">{folded(row.why)}</div>' if row.why else ""
        statement = " ".join(row.statement.split())
        title = esc(row.title) + (
            f'<details class="small"><summary>statement</summary>{esc(statement)}</details>'
            if statement
            else ""
        )
        rows.append(
            [
                f"<strong>{esc(row.claim_id)}</strong>",
                title,
                "yes" if row.gates_ci else "no",
                badge(row.verdict) + why,
                key_figure_cell(row.figure),
                f"{record.duration_s:.2f} s" if record else "—",
                evidence,
            ]
        )
    headers = ["Claim", "Title", "Gates CI", "Verdict", "Key figure", "Duration", "Evidence"]
    table = _table(headers, rows, css="claims", row_class="claim", keep=(0, 2, 5, 6))
    return "<h2>Claims</h2>" + table


def _not_applicable_section(report: EvidenceReport) -> str:
    if not report.not_applicable:
        return ""
    items = "".join(
        f"<li><strong>{esc(row.claim_id)}</strong> "
        f"({'gated' if row.gates_ci else 'not gated'}): {badge(row.verdict)} {esc(row.why)}</li>"
        for row in report.not_applicable
    )
    return (
        "<h2>Not applicable to this graph</h2><p>These claims need something the gated "
        f"graph lacks; they are not proven for it, and do not fail the gate.</p><ul>{items}</ul>"
    )


def _owed_section(report: EvidenceReport) -> str:
    if not report.owed:
        return "<h2>Owed</h2><p>Nothing owed: every gated claim has passing evidence.</p>"
    items = "".join(
        f"<li><strong>{esc(o.claim_id)}</strong> ({'gated' if o.gates_ci else 'not gated'}): "
        f"{badge(o.verdict)} {folded(o.reason, 400)}</li>"
        for o in report.owed
    )
    return f"<h2>Owed</h2><ul>{items}</ul>"


def _changes_section(report: EvidenceReport) -> str:
    if report.changes is None:
        return ""
    heading = f"<h2>Changed since run {esc(report.previous_run_id or '(none)')}</h2>"
    if not report.changes:
        return heading + "<p>No verdict changed.</p>"
    rows = [[esc(c.claim_id), badge(c.before), badge(c.after)] for c in report.changes]
    return heading + _table(["Claim", "Before", "After"], rows)


def _traceability_section(report: EvidenceReport) -> str:
    by_claim = {row.claim_id: row for row in report.rows}
    rows = []
    for req in report.requirements:
        elements = (
            "<br/>".join(f"<code>{esc(eid)}</code> {esc(title)}" for eid, title in req.elements)
            or "—"
        )
        chains = []
        for claim_id in req.claim_ids:
            row = by_claim.get(claim_id)
            if row is None:
                continue
            evidence = (
                f'<span class="hash" title="{esc(row.record.hash)}">'
                f"{esc(row.record.short_hash)}</span>"
                if row.record
                else "no record"
            )
            chains.append(f"<strong>{esc(claim_id)}</strong> {badge(row.verdict)} → {evidence}")
        rows.append(
            [
                f"<strong>{esc(req.requirement_id)}</strong> {esc(req.title)}",
                elements,
                "<br/>".join(chains) or "<em>no claim verifies this requirement</em>",
            ]
        )
    headers = ["Requirement", "Architecture (satisfies / allocated)", "Claim → evidence"]
    return "<h2>Traceability</h2>" + _table(headers, rows)


def _handshake_section(report: EvidenceReport) -> str:
    traced = report.traced_records
    if not traced:
        return "<h2>Handshake</h2><p>No record of this run carries a datagram trace.</p>"
    out = ["<h2>Handshake across the seam</h2>"]
    for index, record in enumerate(traced):
        out.append(
            f"<h3>{esc(record.claim)} — {len(record.trace)} datagrams "
            f'<span class="small">(record {record.seq}, '
            f'<span class="hash">{esc(record.short_hash)}</span>)</span></h3>'
        )
        out.append(sequence_diagram(record, index))
    return "".join(out)


def seam_rows(record: Record) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(role, counters)`` rows from a record's ``seams`` / ``seam_crossings`` figures.

    Either figure may map each role to its counters (the harness's per-role
    ``SeamCounters``) or be one flat mapping of counter to count, shown as role ``all``.
    """
    rows: list[tuple[str, dict[str, Any]]] = []
    for key in ("seams", "seam_crossings"):
        value = record.figures.get(key)
        if not isinstance(value, dict):
            continue
        flat = {name: v for name, v in value.items() if not isinstance(v, dict)}
        rows += [(str(role), c) for role, c in value.items() if isinstance(c, dict)]
        if flat:
            rows.append(("all", flat))
    return rows


SEAM_GROUPS = ("transport", "clock", "entropy")
"""Counter name prefixes shown as a column each; any other counter goes under Other."""


def seam_cells(counts: dict[str, Any]) -> dict[str, str]:
    """A role's counters grouped for the seam table: ``{"Transport": "sends 4, send bytes
    377, …", …, "Other": …}``, each counter named in words, in name order."""
    cells: dict[str, list[str]] = {}
    for name in sorted(counts):
        group, _, rest = name.partition(".") if "." in name else name.partition("_")
        key = group if group in SEAM_GROUPS and rest else "other"
        label = humanize(rest if key != "other" else name)
        cells.setdefault(key, []).append(f"{label} {format_value(counts[name])}")
    return {group: ", ".join(items) for group, items in cells.items()}


def _seams_section(report: EvidenceReport) -> str:
    counted = [(r, role, counts) for r in report.records for role, counts in seam_rows(r)]
    if not counted:
        return "<h2>Seam crossings</h2><p>No record of this run counts seam crossings.</p>"
    cells = [(r, role, seam_cells(counts)) for r, role, counts in counted]
    groups = [g for g in (*SEAM_GROUPS, "other") if any(g in c for _, _, c in cells)]
    rows = [
        [esc(r.claim), esc(role)] + [esc(c.get(g, "—")) for g in groups] for r, role, c in cells
    ]
    headers = ["Claim", "Role", *(g.capitalize() for g in groups)]
    keep = (0,)
    note = (
        '<p class="small">Calls across each host seam, per role: datagrams sent and '
        "received through the transport (an empty receive found no datagram waiting), "
        "clock reads, entropy calls and bytes.</p>"
    )
    return "<h2>Seam crossings</h2>" + note + _table(headers, rows, keep=keep)


def _timings_section(report: EvidenceReport) -> str:
    if not report.records:
        return ""
    longest = max((r.duration_s for r in report.records), default=0.0) or 1.0
    rows = []
    for record in report.records:
        width = max(1, round(240 * record.duration_s / longest))
        phases = record.figures.get("timings_ms")
        detail = (
            ", ".join(
                f"{esc(humanize(k))} {esc(format_value(v))} ms" for k, v in sorted(phases.items())
            )
            if isinstance(phases, dict)
            else ""
        )
        rows.append(
            [
                esc(record.claim),
                f"{record.duration_s:.2f} s",
                f'<span class="bar" style="width: {width}px"></span>',
                detail,
            ]
        )
    total = f"<p>Total {report.total_duration_s:.2f} s over {len(report.records)} records.</p>"
    headers = ["Claim", "Duration", "Against the longest", "Phases"]
    return "<h2>Timings</h2>" + _table(headers, rows, keep=(0, 1)) + total


def _environment_section(report: EvidenceReport) -> str:
    v = report.verification
    facts = [
        ["Run", f"<code>{esc(report.run_id or '-')}</code>"],
        ["Started", esc(report.started_at or "-")],
        ["Git commit", "<br/>".join(f"<code>{esc(c)}</code>" for c in report.git_commits) or "-"],
        ["Ledger", f"<code>{esc(report.ledger_path)}</code>"],
        ["Ledger check", esc(v.describe())],
        ["Generated", esc(report.generated_at)],
    ]
    facts += [[f"Tool: {esc(name)}", esc(version)] for name, version in report.tools.items()]
    inputs = [
        [f"<code>{esc(name)}</code>", f'<span class="hash">{esc(digest)}</span>']
        for name, digest in report.inputs.items()
    ]
    out = "<h2>Environment</h2>" + _table(["Fact", "Value"], facts)
    if inputs:
        out += "<h3>Input artifacts</h3>" + _table(["Artifact", "SHA-256"], inputs)
    return out


def render(report: EvidenceReport) -> str:
    """Render the report as one self-contained HTML document."""
    banner = report.ledger_banner()
    gate_class = "gate-pass" if report.gate_ok else "gate-fail"
    gate = "PASS" if report.gate_ok else "FAIL"
    summary = (
        f'<p class="{gate_class} summary"><strong>Gate: {gate}</strong> — '
        f"{esc(report.summary())}</p>"
    )
    body = [
        f'<div class="banner" role="alert">⚠ {esc(banner)}</div>' if banner else "",
        f"<h1>Verification evidence — run <code>{esc(report.run_id or '(none)')}</code></h1>",
        summary,
        _claims_section(report),
        _owed_section(report),
        _not_applicable_section(report),
        _changes_section(report),
        _traceability_section(report),
        _handshake_section(report),
        _seams_section(report),
        _timings_section(report),
        _environment_section(report),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>Verification evidence {esc(report.run_id or '')}</title>"
        f"<style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
