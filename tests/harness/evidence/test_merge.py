"""Merging shard ledgers: every chain checked first, provenance kept and checkable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.errors import LedgerCorruptError, LedgerError
from harness.evidence.ledger import EvidenceLedger, read_records, verify_ledger
from harness.evidence.ledger_schema import canonical_json, record_hash
from harness.evidence.merge import PROVENANCE_KEY, check_provenance, merge_ledgers
from tests.harness.evidence.test_ledger import fields


def shard(path: Path, run_id: str, claims: list[str]) -> Path:
    with EvidenceLedger(path) as ledger:
        for claim in claims:
            ledger.append(fields(claim=claim, run_id=run_id, figures={"shard": run_id}))
    return path


@pytest.fixture
def shards(tmp_path: Path) -> list[Path]:
    return [
        shard(tmp_path / "shard-1.jsonl", "run-1", ["E1", "E2"]),
        shard(tmp_path / "shard-2.jsonl", "run-2", ["E1", "E2", "E3"]),
    ]


def test_merge_appends_every_record_in_order_with_provenance(
    tmp_path: Path, shards: list[Path]
) -> None:
    out = tmp_path / "merged.jsonl"
    result = merge_ledgers(shards, out)
    assert result.appended == 5
    assert verify_ledger(out).ok
    merged = read_records(out)
    sources = [r for path in shards for r in read_records(path)]
    assert [(r.run_id, r.claim) for r in merged] == [(r.run_id, r.claim) for r in sources]
    for record, source in zip(merged, sources, strict=True):
        hop = record.figures[PROVENANCE_KEY][-1]
        assert (hop["seq"], hop["prev"], hop["hash"]) == (source.seq, source.prev, source.hash)
        assert record.figures["shard"] == source.figures["shard"]
    assert check_provenance(merged) == []
    assert result.head == merged[-1].hash


def test_a_broken_source_stops_the_merge_and_nothing_is_written(
    tmp_path: Path, shards: list[Path]
) -> None:
    lines = shards[1].read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"verdict":"pass"', b'"verdict":"fail"')
    shards[1].write_bytes(b"".join(lines))
    out = tmp_path / "merged.jsonl"
    with pytest.raises(LedgerCorruptError, match=r"shard-2\.jsonl: record 1 fails"):
        merge_ledgers(shards, out)
    assert not out.exists()


def test_a_source_given_twice_is_refused(tmp_path: Path, shards: list[Path]) -> None:
    with pytest.raises(LedgerError, match="given twice"):
        merge_ledgers([shards[0], shards[0]], tmp_path / "merged.jsonl")


def test_the_output_cannot_be_a_source(shards: list[Path]) -> None:
    with pytest.raises(LedgerError, match="both a source and the output"):
        merge_ledgers(shards, shards[0])


def test_a_shard_already_merged_is_refused(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "merged.jsonl"
    merge_ledgers(shards[:1], out)
    merge_ledgers(shards[1:], out)  # another shard extends the merged chain
    with pytest.raises(LedgerError, match="already in"):
        merge_ledgers(shards[:1], out)
    assert len(read_records(out)) == 5 and verify_ledger(out).ok


def test_merging_a_merged_ledger_stacks_the_hops(tmp_path: Path, shards: list[Path]) -> None:
    first = tmp_path / "first.jsonl"
    merge_ledgers(shards, first)
    second = tmp_path / "second.jsonl"
    merge_ledgers([first], second)
    records = read_records(second)
    assert all(len(r.figures[PROVENANCE_KEY]) == 2 for r in records)
    assert check_provenance(records) == []


def _rewrite_chain(path: Path, edit: dict[str, Any]) -> None:
    """Edit the first record's figures and re-hash the whole chain (a careful forger)."""
    bodies = [json.loads(line) for line in path.read_bytes().splitlines()]
    bodies[0]["figures"].update(edit)
    prev = "0" * 64
    out = b""
    for body in bodies:
        body["prev"] = prev
        body["hash"] = record_hash(body)
        prev = body["hash"]
        out += canonical_json(body) + b"\n"
    path.write_bytes(out)


def test_provenance_catches_a_forged_chain(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "merged.jsonl"
    merge_ledgers(shards, out)
    _rewrite_chain(out, {"shard": "forged"})
    assert verify_ledger(out).ok  # the chain alone cannot tell
    problems = check_provenance(read_records(out))
    assert len(problems) == 1 and "record 0 (E1)" in problems[0]


def test_cli_merge_and_verify(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "merged.jsonl"
    runner = CliRunner()
    merged = runner.invoke(cli, ["evidence", "merge", *map(str, shards), "-o", str(out)])
    assert merged.exit_code == 0, merged.output
    assert "merged 5 records from 2 ledger(s)" in merged.output
    verified = runner.invoke(cli, ["evidence", "verify", str(out)])
    assert verified.exit_code == 0 and "chain intact" in verified.output
    _rewrite_chain(out, {"shard": "forged"})
    forged = runner.invoke(cli, ["evidence", "verify", str(out)])
    assert forged.exit_code == 1 and "provenance: record 0" in forged.output


def test_cli_merge_of_a_missing_ledger_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["evidence", "merge", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "cannot read ledger" in result.output
    assert "Traceback" not in result.output


def test_cli_merge_of_a_broken_ledger_is_a_failed_check(tmp_path: Path, shards: list[Path]) -> None:
    shards[0].write_bytes(shards[0].read_bytes().replace(b'"E2"', b'"E9"'))
    out = tmp_path / "merged.jsonl"
    result = CliRunner().invoke(cli, ["evidence", "merge", *map(str, shards), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "not merged" in result.output and "shard-1.jsonl" in result.output
    assert not out.exists()


def test_cli_verify_requires_passing_evidence_per_claim(tmp_path: Path, shards: list[Path]) -> None:
    out = tmp_path / "merged.jsonl"
    merge_ledgers(shards, out)
    runner = CliRunner()
    ok = runner.invoke(cli, ["evidence", "verify", str(out), "--require", "E1"])
    assert ok.exit_code == 0 and "E1: 2 of 2 record(s) pass" in ok.output
    missing = runner.invoke(cli, ["evidence", "verify", str(out), "--require", "E7"])
    assert missing.exit_code == 1 and "E7: no passing evidence" in missing.output
    failing = tmp_path / "failing.jsonl"
    with EvidenceLedger(failing) as ledger:
        ledger.append(fields(claim="E2", verdict="pass", run_id="a"))
        ledger.append(fields(claim="E2", verdict="fail", run_id="b"))
    bad = runner.invoke(cli, ["evidence", "verify", str(failing), "--require", "E2"])
    assert bad.exit_code == 1 and "E2: 1 record(s) do not pass" in bad.output
