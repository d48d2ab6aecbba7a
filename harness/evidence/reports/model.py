"""The report model: one gate run's evidence joined with the traceability data.

Every renderer draws from an :class:`EvidenceReport`, built once by :func:`build_report`
from a ledger file (the records of one run, by default the latest) and the artifacts.
The ledger is always verified first; a failed verification travels with the report so
that every format can say so at the top.

Conventions for ``figures`` that the reports understand (all optional; any other
figure is shown as-is where figures are listed):

- ``headline``: short text used as the claim's key figure in tables;
- ``trace``: the datagrams of a handshake (drawn as a sequence diagram in HTML);
- ``seams`` or ``seam_crossings``: mapping of role to its seam counters (counter name ->
  count), or one flat mapping of counter name to count;
- ``timings_ms``: mapping of phase name to milliseconds.

The key figure is a short sentence: a formatter for the verifier's figures if it has
one, else the ``headline``, else the number of datagrams in the trace (if any) and the
scalar figures as ``name: value``, two at most, else the start of the transcript hash
(see :mod:`harness.evidence.reports.figures`).

Claims are listed in id order everywhere (:func:`claim_sort_key`): C1..C10 by number,
then E1.., then S1..; evidence for a claim the traceability data does not know comes
last. Any verdict string is shown; :data:`VERDICT_LABELS` names the known ones.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ReportError
from harness.evidence.ledger import (
    LedgerVerification,
    Record,
    latest_run_id,
    read_records,
    records_of_run,
    run_ids,
    verify_ledger,
)
from harness.evidence.ledger_schema import utc_now_iso
from harness.evidence.reports.figures import KeyFigure, key_figure_of
from harness.evidence.reports.figures import format_value as format_value
from harness.evidence.traceability import (
    ARCHITECTURE_ELEMENT,
    REQUIREMENT,
    Artifact,
    claims,
    trace_claim,
)

MISSING = "missing"
"""The verdict shown for a claim with no record in the run."""

NOT_APPLICABLE = "not-applicable"
"""The verdict of a claim that needs something the gated graph lacks (never a pass; not
owed: reported apart, with its reason)."""

VERDICT_ORDER: tuple[str, ...] = ("pass", "fail", "error", "skip", NOT_APPLICABLE, MISSING)

VERDICT_LABELS: dict[str, str] = {
    "pass": "pass",
    "fail": "fail",
    "error": "error",
    "skip": "skip",
    NOT_APPLICABLE: "not applicable",
    MISSING: "no evidence",
}

NOT_OWED: frozenset[str] = frozenset({"pass", NOT_APPLICABLE})
"""Verdicts under which a claim owes nothing (gated or not)."""

_CLAIM_ID = re.compile(r"([A-Za-z]+)(\d+)(.*)")


def verdict_label(verdict: str) -> str:
    """A verdict in words: the known ones by :data:`VERDICT_LABELS`, any other as it is
    written with its dashes and underscores as spaces."""
    return VERDICT_LABELS.get(verdict) or verdict.replace("-", " ").replace("_", " ")


def claim_sort_key(claim_id: str) -> tuple[str, int, str]:
    """The order claims are listed in: by letter prefix, then by number (C2 before C10),
    so C1..C10, E1..E3, S1..S3; an id without a number sorts after those of its letters."""
    match = _CLAIM_ID.fullmatch(claim_id)
    if match is None:
        return (claim_id.upper(), 1 << 30, claim_id)
    return (match[1].upper(), int(match[2]), match[3])


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_safe(text: str) -> str:
    """Replace characters XML 1.0 cannot carry (control codes, surrogates) with U+FFFD."""
    return _XML_INVALID.sub("\ufffd", text)


def one_line(text: str, limit: int = 160) -> str:
    """Collapse whitespace to single spaces and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def key_figure(record: Record | None) -> str:
    """Return the short sentence a table shows for a record (see the module docstring)."""
    return key_figure_of(record).text


@dataclass(frozen=True)
class ClaimRow:
    """One claim of the report: its traceability data and the run's evidence for it."""

    claim_id: str
    title: str
    statement: str
    verifier: str | None
    gates_ci: bool
    verdict: str
    record: Record | None
    requirements: tuple[tuple[str, str], ...] = ()
    elements: tuple[tuple[str, str], ...] = ()
    known: bool = True

    @property
    def key_figure(self) -> str:
        """Return the key figure of the claim's evidence record."""
        return key_figure(self.record)

    @property
    def figure(self) -> KeyFigure:
        """Return the key figure with the figures its sentence leaves out."""
        return key_figure_of(self.record)

    @property
    def why(self) -> str:
        """Return the record's reason, else its message, else an empty string (whole,
        whitespace collapsed: a renderer wraps it or folds it, never cuts it)."""
        if self.record is None:
            return ""
        return " ".join((self.record.reason or self.record.message or "").split())


@dataclass(frozen=True)
class OwedItem:
    """A claim that still owes evidence: gated without a pass, or non-gated and not passing."""

    claim_id: str
    gates_ci: bool
    verdict: str
    reason: str


@dataclass(frozen=True)
class VerdictChange:
    """A claim whose verdict differs between the previous run and this one."""

    claim_id: str
    before: str
    after: str


@dataclass(frozen=True)
class RequirementTrace:
    """A requirement with the elements that realise it and the claims that verify it."""

    requirement_id: str
    title: str
    elements: tuple[tuple[str, str], ...]
    claim_ids: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceReport:
    """Everything a renderer needs about one gate run (see :func:`build_report`)."""

    ledger_path: str
    verification: LedgerVerification
    run_id: str | None
    rows: tuple[ClaimRow, ...]
    owed: tuple[OwedItem, ...]
    requirements: tuple[RequirementTrace, ...]
    records: tuple[Record, ...]
    generated_at: str
    changes: tuple[VerdictChange, ...] | None = None
    previous_run_id: str | None = None
    untrusted: frozenset[str] = frozenset()

    def trusted(self, record: Record | None) -> bool:
        """True when ``record`` lies in the verified prefix of the ledger.

        Records from the first bad line on cannot be trusted: the chain no longer vouches
        for them. ``None`` (no record) is trivially trusted.
        """
        return record is None or record.hash not in self.untrusted

    @property
    def ledger_ok(self) -> bool:
        """True when the ledger verified intact."""
        return self.verification.ok

    @property
    def gate_ok(self) -> bool:
        """True when the ledger is intact and no gated claim owes evidence."""
        return self.ledger_ok and not any(item.gates_ci for item in self.owed)

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of claims per verdict: every verdict of :data:`VERDICT_ORDER`,
        then any other verdict the run recorded, in order of appearance."""
        verdicts = dict.fromkeys([*VERDICT_ORDER, *(row.verdict for row in self.rows)])
        return {v: sum(1 for row in self.rows if row.verdict == v) for v in verdicts}

    def summary(self) -> str:
        """The gate's outcome in one sentence, without repeating itself: the gated claims
        passing (and what the others got), then the claims that do not gate."""
        gated = [row.verdict for row in self.rows if row.gates_ci]
        others = [row.verdict for row in self.rows if not row.gates_ci]
        text = f"{self.gated_passing} of {self.gated_total} gated claims pass"
        rest = _breakdown(v for v in gated if v != "pass")
        if rest:
            text += f" ({rest})"
        if others:
            text += f"; not gating: {_breakdown(others)}"
        return text

    @property
    def not_applicable(self) -> tuple[ClaimRow, ...]:
        """The claims recorded as not applicable to the gated graph, with their reasons."""
        return tuple(row for row in self.rows if row.verdict == NOT_APPLICABLE)

    @property
    def gated_total(self) -> int:
        """Return the number of gated claims."""
        return sum(1 for row in self.rows if row.gates_ci)

    @property
    def gated_passing(self) -> int:
        """Return the number of gated claims with a passing verdict."""
        return sum(1 for row in self.rows if row.gates_ci and row.verdict == "pass")

    @property
    def started_at(self) -> str | None:
        """Return the earliest start time of the run's records."""
        return min((r.started_at for r in self.records), default=None)

    @property
    def total_duration_s(self) -> float:
        """Return the sum of the run's record durations in seconds."""
        return float(sum(r.duration_s for r in self.records))

    @property
    def tools(self) -> dict[str, str]:
        """Return each tool's version(s) across the run; differing versions are joined."""
        seen: dict[str, list[str]] = {}
        for record in self.records:
            for name, version in record.tools.items():
                text = version if version is not None else "unknown"
                versions = seen.setdefault(name, [])
                if text not in versions:
                    versions.append(text)
        return {name: " / ".join(seen[name]) for name in sorted(seen)}

    @property
    def git_commits(self) -> list[str]:
        """Return the distinct git commits the run's records name, in order."""
        return list(dict.fromkeys(r.git_commit for r in self.records if r.git_commit))

    @property
    def inputs(self) -> dict[str, str]:
        """Return every input artifact of the run with its SHA-256 (last record wins)."""
        merged: dict[str, str] = {}
        for record in self.records:
            merged.update(record.inputs)
        return dict(sorted(merged.items()))

    @property
    def traced_records(self) -> list[Record]:
        """Return the run's records that carry a handshake trace."""
        return [r for r in self.records if r.trace]

    def ledger_banner(self) -> str | None:
        """Return the integrity warning every format prints first, or ``None`` if intact."""
        if self.ledger_ok:
            return None
        v = self.verification
        return (
            f"LEDGER INTEGRITY CHECK FAILED: record {v.first_bad} fails {v.check}: {v.reason}. "
            "The evidence below cannot be trusted."
        )


def _breakdown(verdicts: Iterable[str]) -> str:
    counted: dict[str, int] = {}
    for verdict in verdicts:
        counted[verdict] = counted.get(verdict, 0) + 1
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    ranked = sorted(counted.items(), key=lambda item: order.get(item[0], len(order)))
    return ", ".join(f"{n} {verdict_label(v)}" for v, n in ranked)


def _pairs(artifacts: Iterable[Artifact]) -> tuple[tuple[str, str], ...]:
    return tuple((a.id, a.title) for a in artifacts)


def _pick_run(records: Sequence[Record], run_id: str | None, ledger: str) -> str | None:
    if run_id is None:
        return latest_run_id(records)
    if run_id not in run_ids(records):
        raise ReportError(f"run {run_id!r} has no records in {ledger}")
    return run_id


def _last_per_claim(records: Iterable[Record]) -> dict[str, Record]:
    # A claim recorded twice in one run (a retried step) is judged by its last record:
    # that is the verdict the gate acted on.
    latest: dict[str, Record] = {}
    for record in records:
        latest[record.claim] = record
    return latest


def _owed(rows: Iterable[ClaimRow]) -> tuple[OwedItem, ...]:
    owed: list[OwedItem] = []
    for row in rows:
        if not row.known or row.verdict in NOT_OWED:
            continue
        if not row.gates_ci and row.verdict == MISSING:
            continue
        if row.verdict == MISSING:
            reason = "no evidence record in this run"
        else:
            reason = row.why or f"verdict {row.verdict}"
        owed.append(OwedItem(row.claim_id, row.gates_ci, row.verdict, reason))
    return tuple(owed)


def _changes(
    previous: Mapping[str, Record], current: Mapping[str, Record], claim_ids: Sequence[str]
) -> tuple[VerdictChange, ...]:
    ordered = list(dict.fromkeys([*claim_ids, *current, *previous]))
    out = []
    for claim_id in ordered:
        before = previous[claim_id].verdict if claim_id in previous else MISSING
        after = current[claim_id].verdict if claim_id in current else MISSING
        if before != after:
            out.append(VerdictChange(claim_id, before, after))
    return tuple(out)


def _previous_run(
    previous_ledger: Path, ledger: Path, current_run: str | None
) -> tuple[str | None, list[Record]]:
    records = read_records(previous_ledger)
    ids = run_ids(records)
    if os.path.realpath(previous_ledger) == os.path.realpath(ledger) and current_run in ids:
        # Same file: "previous" means the run before the one being reported.
        position = ids.index(current_run)
        ids = ids[:position]
    if not ids:
        return None, []
    return ids[-1], records_of_run(records, ids[-1])


def build_report(
    ledger_path: Path | str,
    artifacts: Sequence[Artifact],
    *,
    run_id: str | None = None,
    previous_ledger: Path | str | None = None,
    generated_at: str | None = None,
) -> EvidenceReport:
    """Join one run of a ledger with the traceability data.

    ``run_id`` picks the run (default: the run of the last record). ``previous_ledger``,
    if given, adds the verdict changes against its latest run (or, when it is the same
    file, against the run before ``run_id``). Raises ``LedgerReadError`` for a missing
    ledger and :class:`ReportError` for an unknown run.
    """
    ledger = Path(ledger_path)
    verification = verify_ledger(ledger)
    all_records = read_records(ledger)
    chosen = _pick_run(all_records, run_id, str(ledger))
    run_records = records_of_run(all_records, chosen) if chosen is not None else []
    per_claim = _last_per_claim(run_records)
    # Lines before the first bad one all parsed, so they are the first entries read.
    verified = len(all_records) if verification.ok else verification.first_bad or 0
    verified_hashes = {r.hash for r in all_records[:verified]}
    untrusted = frozenset(r.hash for r in run_records if r.hash not in verified_hashes)

    rows: list[ClaimRow] = []
    for claim in sorted(claims(artifacts), key=lambda c: claim_sort_key(c.id)):
        trace = trace_claim(artifacts, claim.id)
        record = per_claim.get(claim.id)
        rows.append(
            ClaimRow(
                claim_id=claim.id,
                title=claim.title,
                statement=claim.statement,
                verifier=claim.verifier,
                gates_ci=claim.gates_ci,
                verdict=record.verdict if record else MISSING,
                record=record,
                requirements=_pairs(trace.requirements),
                elements=_pairs(trace.elements),
            )
        )
    known_ids = {row.claim_id for row in rows}
    for claim_id, record in sorted(per_claim.items(), key=lambda item: claim_sort_key(item[0])):
        if claim_id not in known_ids:
            rows.append(
                ClaimRow(
                    claim_id=claim_id,
                    title="(not in the traceability data)",
                    statement="",
                    verifier=record.verifier,
                    gates_ci=False,
                    verdict=record.verdict,
                    record=record,
                    known=False,
                )
            )

    changes: tuple[VerdictChange, ...] | None = None
    previous_run_id: str | None = None
    if previous_ledger is not None:
        previous_run_id, previous_records = _previous_run(Path(previous_ledger), ledger, chosen)
        changes = _changes(
            _last_per_claim(previous_records), per_claim, [row.claim_id for row in rows]
        )

    return EvidenceReport(
        ledger_path=str(ledger),
        verification=verification,
        run_id=chosen,
        rows=tuple(rows),
        owed=_owed(rows),
        requirements=_requirement_traces(artifacts),
        records=tuple(sorted(run_records, key=lambda r: (claim_sort_key(r.claim), r.seq))),
        generated_at=generated_at or utc_now_iso(),
        changes=changes,
        previous_run_id=previous_run_id,
        untrusted=untrusted,
    )


def _requirement_traces(artifacts: Sequence[Artifact]) -> tuple[RequirementTrace, ...]:
    live = [a for a in artifacts if a.live]
    out = []
    for requirement in (a for a in live if a.type == REQUIREMENT):
        elements = tuple(
            (a.id, a.title)
            for a in live
            if a.type == ARCHITECTURE_ELEMENT
            and requirement.id in a.targets("satisfies") + a.targets("allocated-from")
        )
        claim_ids = tuple(
            sorted(
                (c.id for c in claims(live) if requirement.id in _verifies(live, c.id)),
                key=claim_sort_key,
            )
        )
        out.append(RequirementTrace(requirement.id, requirement.title, elements, claim_ids))
    return tuple(out)


def _verifies(artifacts: Sequence[Artifact], claim_id: str) -> tuple[str, ...]:
    for artifact in artifacts:
        if artifact.id == claim_id:
            return artifact.targets("verifies")
    return ()
