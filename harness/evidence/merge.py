"""Merging evidence ledgers written on several machines (shards) into one, with provenance.

A campaign split into shards writes one ledger per shard. :func:`merge_ledgers` checks
every source ledger's hash chain first (a broken one stops the merge, naming the ledger
and the record), then appends each source record, in the order given, to the output
ledger's own chain. Nothing of a source record is lost: ``seq``, ``prev`` and ``hash``
are the output chain's, and the source's are kept in ``figures["merged_from"]``, a list
with one hop per merge::

    {"ledger": "shard-1.jsonl", "ledger_head": "<source head>", "seq": 3,
     "prev": "<source prev>", "hash": "<source hash>"}

so the source record can be rebuilt exactly and its hash checked again
(:func:`check_provenance`). A source whose head is already recorded in the output is
refused (merging the same shard twice would count its claims twice).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import LedgerError, LedgerMergeRefused
from harness.evidence.ledger import (
    EvidenceLedger,
    Record,
    read_records,
    verify_ledger,
)
from harness.evidence.ledger_schema import COMPUTED_KEYS, record_hash

#: The ``figures`` key that holds a merged record's provenance hops.
PROVENANCE_KEY = "merged_from"


@dataclass(frozen=True)
class MergedSource:
    """One source ledger of a merge: where it was, its head and how many records."""

    path: Path
    head: str | None
    records: int


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_ledgers` did."""

    out: Path
    sources: tuple[MergedSource, ...]
    appended: int
    head: str | None

    def describe(self) -> str:
        """One line per source and a total, for the command line."""
        lines = [
            f"  {s.path}: {s.records} records (head {(s.head or '-')[:12]})" for s in self.sources
        ]
        lines.append(
            f"merged {self.appended} records from {len(self.sources)} ledger(s) into "
            f"{self.out} (head {(self.head or '-')[:12]})"
        )
        return "\n".join(lines)


def merge_ledgers(sources: Sequence[Path], out: Path) -> MergeResult:
    """Append every record of ``sources`` to ``out`` (created if missing) with provenance.

    Raises :class:`LedgerError` subclasses: a source that cannot be read or whose chain
    is broken, no source, ``out`` among the sources, a source given twice or already
    merged into ``out``. Nothing is written unless every source verifies.
    """
    if not sources:
        raise LedgerError("nothing to merge: name at least one ledger")
    resolved_out = out.resolve()
    checked: list[tuple[MergedSource, list[Record]]] = []
    heads: dict[str, Path] = {}
    for path in sources:
        if path.resolve() == resolved_out:
            raise LedgerError(f"{path} is both a source and the output; merge into a new file")
        verification = verify_ledger(path)
        if not verification.ok:
            raise LedgerMergeRefused(
                f"not merged: {verification.describe()}",
                first_bad=verification.first_bad,
                check=verification.check,
            )
        head = verification.head
        if head is not None and head in heads:
            raise LedgerError(f"{path} has the same records as {heads[head]}: given twice?")
        if head is not None:
            heads[head] = path
        checked.append((MergedSource(path, head, verification.records), read_records(path)))
    with EvidenceLedger(out) as ledger:
        already = _merged_heads(ledger.records())
        for source, _ in checked:
            if source.head is not None and source.head in already:
                raise LedgerError(f"{source.path} (head {source.head[:12]}) is already in {out}")
        appended = 0
        last: Record | None = None
        for source, records in checked:
            for record in records:
                last = ledger.append(_with_hop(record, source))
                appended += 1
    head = last.hash if last is not None else verify_ledger(out).head
    return MergeResult(out, tuple(s for s, _ in checked), appended, head)


def _with_hop(record: Record, source: MergedSource) -> dict[str, Any]:
    """The fields to append for ``record``, its source identity kept as a new hop."""
    body = record.to_dict()
    fields = {k: copy.deepcopy(v) for k, v in body.items() if k not in COMPUTED_KEYS}
    hops = list(fields["figures"].get(PROVENANCE_KEY, []))
    hops.append(
        {
            "ledger": str(source.path),
            "ledger_head": source.head,
            "seq": record.seq,
            "prev": record.prev,
            "hash": record.hash,
        }
    )
    fields["figures"] = {**fields["figures"], PROVENANCE_KEY: hops}
    return fields


def _merged_heads(records: Sequence[Record]) -> set[str]:
    heads = set()
    for record in records:
        for hop in record.figures.get(PROVENANCE_KEY, []):
            if isinstance(hop, dict) and isinstance(hop.get("ledger_head"), str):
                heads.add(hop["ledger_head"])
    return heads


def source_record(record: Record) -> dict[str, Any] | None:
    """The record as its source ledger held it (one hop back), or None if not merged."""
    hops = record.figures.get(PROVENANCE_KEY)
    if not isinstance(hops, list) or not hops or not isinstance(hops[-1], dict):
        return None
    hop = hops[-1]
    body = copy.deepcopy(record.to_dict())
    figures = dict(body["figures"])
    if len(hops) > 1:
        figures[PROVENANCE_KEY] = hops[:-1]
    else:
        del figures[PROVENANCE_KEY]
    body.update(figures=figures, seq=hop.get("seq"), prev=hop.get("prev"), hash=hop.get("hash"))
    return body


def check_provenance(records: Sequence[Record]) -> list[str]:
    """Problems with the provenance of merged records (empty when every hop checks out).

    Each merged record, rebuilt as its source held it, must hash to the source hash it
    names: a figure edited during or after the merge shows up here even though the
    output chain itself is intact.
    """
    problems = []
    for record in records:
        body = source_record(record)
        if body is None:
            continue
        try:
            expected = record_hash(body)
        except (TypeError, ValueError):
            problems.append(f"record {record.seq}: its provenance does not rebuild a record")
            continue
        if expected != body["hash"]:
            problems.append(
                f"record {record.seq} ({record.claim}): does not match source record "
                f"{body['seq']} of {record.figures[PROVENANCE_KEY][-1].get('ledger')}"
            )
    return problems
