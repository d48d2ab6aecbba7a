"""Tests for harness.ledger: records, the chain, crash-safe appends and verification."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import (
    HarnessError,
    LedgerCorruptError,
    LedgerLockedError,
    LedgerReadError,
    LedgerRecordError,
    LedgerWriteError,
)
from harness.evidence.ledger import (
    EvidenceLedger,
    Record,
    latest_run,
    latest_run_id,
    read_records,
    records_of_run,
    run_ids,
    verify_ledger,
    verify_ledger_bytes,
)
from harness.evidence.ledger_schema import (
    ZERO_HASH,
    canonical_json,
    new_run_id,
    record_hash,
    sha256_file,
    utc_now_iso,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ledger"

TRACE = [
    {
        "t_ms": 0,
        "direction": "commissioner->commissionee",
        "opcode": "PBKDFParamRequest",
        "size": 90,
    },
    {
        "t_ms": 2,
        "direction": "commissionee->commissioner",
        "opcode": "PBKDFParamResponse",
        "size": 129,
    },
]


def fields(
    claim: str = "C1", verdict: str = "pass", run_id: str = "run-a", **extra: Any
) -> dict[str, Any]:
    """Return valid record fields for ``append``."""
    base: dict[str, Any] = {
        "run_id": run_id,
        "claim": claim,
        "verifier": "demo-check",
        "verdict": verdict,
        "started_at": "2025-01-15T10:00:00.000000Z",
        "duration_s": 0.5,
        "command": "harness.verifiers.demo",
        "inputs": {"build/core.wasm": hashlib.sha256(b"core").hexdigest()},
        "tools": {"python": "3.11.7", "wasmtime": "50.0.1"},
        "seed": 7,
        "transcript_hash": hashlib.sha256(b"transcript").hexdigest(),
        "figures": {"trace": TRACE, "count": 2},
    }
    base.update(extra)
    return base


def write_ledger(path: Path, count: int) -> list[Record]:
    """Append ``count`` records (two runs) and release the lock."""
    with EvidenceLedger(path) as ledger:
        return [
            ledger.append(fields(claim=f"C{i}", run_id="run-a" if i < count // 2 else "run-b"))
            for i in range(count)
        ]


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def rewrite(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


# ------------------------------------------------------------------ append and verify


def test_append_builds_a_chain(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = write_ledger(path, 5)
    assert [r.seq for r in records] == [0, 1, 2, 3, 4]
    assert records[0].prev == ZERO_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev == before.hash
    for record in records:
        assert record.hash == record_hash(record.to_dict())
        assert record.schema == 1
    result = verify_ledger(path)
    assert result.ok and result.records == 5 and result.head == records[-1].hash
    assert result.first_bad is None and "chain intact" in result.describe()


def test_lines_are_canonical_json(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = write_ledger(path, 2)
    for line, record in zip(lines_of(path), records, strict=True):
        assert line == canonical_json(json.loads(line))
        assert line + b"\n" == record.to_line()
        assert b" " not in line.replace(b"demo-check", b"")  # no whitespace between tokens


def test_records_read_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = write_ledger(path, 4)
    assert read_records(path) == records
    assert read_records(path, strict=True) == records
    assert EvidenceLedger(path).records() == records


def test_optional_fields_get_defaults(tmp_path: Path) -> None:
    minimal = {
        "run_id": "r",
        "claim": "C1",
        "verifier": "v",
        "verdict": "pass",
        "duration_s": 0,
        "command": "cmd",
    }
    with EvidenceLedger(tmp_path / "l.jsonl") as ledger:
        record = ledger.append(minimal)
    assert record.reason is None and record.message == "" and record.figures == {}
    assert record.git_commit is None and record.seed is None and record.inputs == {}
    assert record.started_at.endswith("Z")


def test_tuples_are_normalised_to_lists(tmp_path: Path) -> None:
    with EvidenceLedger(tmp_path / "l.jsonl") as ledger:
        record = ledger.append(fields(figures={"pair": (1, 2)}))
    assert record.figures["pair"] == [1, 2]
    assert read_records(tmp_path / "l.jsonl") == [record]


def test_continues_an_existing_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    first = write_ledger(path, 3)
    with EvidenceLedger(path) as ledger:
        record = ledger.append(fields(claim="C9", run_id="run-c"))
    assert record.seq == 3 and record.prev == first[-1].hash
    assert verify_ledger(path).ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "maybe"}, "verdict must be one of"),
        ({"verdict": "skip"}, "a skip needs a reason"),
        ({"verdict": "skip", "reason": "  "}, "a skip needs a reason"),
        ({"duration_s": -1}, "duration_s"),
        ({"duration_s": float("nan")}, "not JSON data"),
        ({"started_at": "2025-01-15 10:00:00"}, "started_at"),
        ({"started_at": "2025-13-45T10:00:00Z"}, "not an ISO 8601 time"),
        ({"inputs": {"core.wasm": "abc"}}, "SHA-256"),
        ({"tools": {"python": 3.11}}, "tools"),
        ({"transcript_hash": "XYZ"}, "transcript_hash"),
        ({"seed": 1.5}, "seed"),
        ({"claim": ""}, "claim"),
        (
            {"figures": {"trace": [{"t_ms": 0, "direction": "up", "opcode": "x", "size": 1}]}},
            "direction",
        ),
        ({"figures": {"trace": [{"t_ms": -1, "direction": "commissioner->commissionee"}]}}, "t_ms"),
        ({"figures": {"bad": {1, 2}}}, "not JSON data"),
        ({"seq": 5}, "computes seq"),
        ({"hash": "0" * 64}, "computes hash"),
        ({"colour": "blue"}, "unknown record field"),
    ],
)
def test_invalid_fields_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "ledger.jsonl"
    with EvidenceLedger(path) as ledger, pytest.raises(LedgerRecordError, match=message):
        ledger.append(fields(**change))
    assert not path.exists() or path.read_bytes() == b""


def test_skip_with_reason_is_accepted(tmp_path: Path) -> None:
    with EvidenceLedger(tmp_path / "l.jsonl") as ledger:
        record = ledger.append(fields(verdict="skip", reason="componentize-py missing"))
    assert record.verdict == "skip" and record.reason == "componentize-py missing"


# ------------------------------------------------------------------------ tampering


def test_edited_field_is_detected_at_its_record(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 5)
    lines = lines_of(path)
    body = json.loads(lines[2])
    body["verdict"] = "fail"
    lines[2] = canonical_json(body)
    rewrite(path, lines)
    result = verify_ledger(path)
    assert not result.ok and (result.first_bad, result.check) == (2, "hash")
    assert result.records == 5


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 5)
    lines = lines_of(path)
    body = json.loads(lines[2])
    body["figures"] = {"count": 999}
    body["hash"] = record_hash(body)
    lines[2] = canonical_json(body)
    rewrite(path, lines)
    result = verify_ledger(path)
    assert (result.ok, result.first_bad, result.check) == (False, 3, "prev")


def test_dropped_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 5)
    lines = lines_of(path)
    del lines[2]
    rewrite(path, lines)
    result = verify_ledger(path)
    assert (result.ok, result.first_bad, result.check) == (False, 2, "seq")
    assert "dropped or reordered" in (result.reason or "")


def test_reordered_records_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 5)
    lines = lines_of(path)
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(path, lines)
    result = verify_ledger(path)
    assert (result.ok, result.first_bad, result.check) == (False, 1, "seq")


def test_truncation_mid_line_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 4)
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last_start + 40])
    result = verify_ledger(path)
    assert (result.ok, result.first_bad, result.check) == (False, 3, "torn-tail")
    assert result.records == 3 and "40 bytes" in (result.reason or "")


def test_non_canonical_whitespace_is_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 3)
    lines = lines_of(path)
    lines[1] = lines[1].replace(b'"claim":', b'"claim": ', 1)
    rewrite(path, lines)
    result = verify_ledger(path)
    assert (result.first_bad, result.check) == (1, "canonical")


def test_blank_line_and_garbage_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 3)
    lines = lines_of(path)
    rewrite(path, [*lines[:1], b"", *lines[1:]])
    assert (verify_ledger(path).first_bad, verify_ledger(path).check) == (1, "json")
    rewrite(path, [*lines[:2], b"[1, 2]"])
    assert (verify_ledger(path).first_bad, verify_ledger(path).check) == (2, "json")


def test_schema_violation_with_valid_hash_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 2)
    lines = lines_of(path)
    body = json.loads(lines[1])
    body["verdict"] = "skip"
    body["reason"] = None
    body["hash"] = record_hash(body)
    lines[1] = canonical_json(body)
    rewrite(path, lines)
    result = verify_ledger(path)
    assert (result.first_bad, result.check) == (1, "schema")
    assert "skip needs a reason" in (result.reason or "")


def test_expected_head_catches_records_removed_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = write_ledger(path, 4)
    rewrite(path, lines_of(path)[:-1])
    assert verify_ledger(path).ok  # a chain alone cannot see a shortened tail
    result = verify_ledger(path, expected_head=records[-1].hash)
    assert (result.ok, result.first_bad, result.check) == (False, 3, "head")
    assert verify_ledger(path, expected_head=records[1].hash).ok


def test_missing_and_empty_ledgers(tmp_path: Path) -> None:
    with pytest.raises(LedgerReadError):
        verify_ledger(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = verify_ledger(empty)
    assert result.ok and result.records == 0 and result.head is None


def test_strict_read_refuses_a_tampered_ledger() -> None:
    with pytest.raises(LedgerCorruptError) as info:
        read_records(FIXTURES / "tampered.jsonl", strict=True)
    assert info.value.first_bad == 12 and info.value.check == "hash"
    assert isinstance(info.value, HarnessError)
    # Lenient reading still returns every parsable record for the report.
    assert len(read_records(FIXTURES / "tampered.jsonl")) == 19


def test_fixtures_are_as_documented() -> None:
    assert verify_ledger(FIXTURES / "two-runs.jsonl").ok
    result = verify_ledger(FIXTURES / "tampered.jsonl")
    assert (result.ok, result.first_bad, result.check) == (False, 12, "hash")


# ------------------------------------------------------------ single-byte edits (property)


def _valid_ledger_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.jsonl"
        write_ledger(path, 4)
        return path.read_bytes()


VALID = _valid_ledger_bytes()


def first_changed_line(edited: bytes) -> int:
    """Return the index of the first line (with its newline) where ``edited`` differs from VALID."""
    old, new = _lines(VALID), _lines(edited)
    changed = (i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b)
    return next(changed, min(len(old), len(new)))


def _lines(data: bytes) -> list[bytes]:
    return re.findall(rb"[^\n]*\n|[^\n]+$", data)


@settings(max_examples=400, deadline=None)
@given(position=st.integers(0, len(VALID) - 1), value=st.integers(0, 255))
def test_any_single_byte_edit_is_detected_at_its_record(position: int, value: int) -> None:
    # Decision (see harness.ledger): lines must be canonical, so even edits that parse to
    # equal JSON (whitespace, escapes, number spelling) are detected, not tolerated.
    if VALID[position] == value:
        value = (value + 1) % 256
    edited = VALID[:position] + bytes([value]) + VALID[position + 1 :]
    result = verify_ledger_bytes(edited)
    assert not result.ok
    assert result.first_bad == first_changed_line(edited)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(VALID) - 1))
def test_any_deleted_byte_is_detected(position: int) -> None:
    edited = VALID[:position] + VALID[position + 1 :]
    result = verify_ledger_bytes(edited)
    assert not result.ok
    assert result.first_bad == first_changed_line(edited)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(VALID)), value=st.sampled_from(b' \t\r\n0,"\\{'))
def test_any_inserted_byte_is_detected(position: int, value: int) -> None:
    # Whitespace between tokens parses to equal JSON: only the canonical-form rule sees it.
    edited = VALID[:position] + bytes([value]) + VALID[position:]
    result = verify_ledger_bytes(edited)
    assert not result.ok
    assert result.first_bad == first_changed_line(edited)


_json_leaf: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    messages=st.lists(st.text(max_size=40), min_size=1, max_size=3),
    figures=st.dictionaries(st.text(min_size=1, max_size=8), _json, max_size=4),
)
def test_arbitrary_values_round_trip_and_verify(
    messages: list[str], figures: dict[str, Any]
) -> None:
    figures.pop("trace", None)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ledger.jsonl"
        with EvidenceLedger(path) as ledger:
            written = [ledger.append(fields(message=m, figures=figures)) for m in messages]
        assert verify_ledger(path).ok
        assert read_records(path) == written


# ------------------------------------------------------------------ crash safety, lock


def test_torn_tail_is_moved_aside_and_the_chain_continues(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    records = write_ledger(path, 3)
    torn = b'{"claim":"C7","command":"inter'
    with open(path, "ab") as handle:
        handle.write(torn)
    assert verify_ledger(path).check == "torn-tail"
    ledger = EvidenceLedger(path)
    assert ledger.torn_tail == len(torn)
    with ledger:
        record = ledger.append(fields(claim="C8"))
    assert record.seq == 3 and record.prev == records[-1].hash
    assert ledger.torn_tail == 0
    assert verify_ledger(path).ok and verify_ledger(path).records == 4
    assert (tmp_path / "ledger.jsonl.torn").read_bytes() == torn + b"\n"


def test_short_write_leaves_a_recoverable_torn_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 2)
    real_write = os.write

    def half_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[: len(data) // 2])

    with EvidenceLedger(path) as ledger:
        monkeypatch.setattr(os, "write", half_write)
        with pytest.raises(LedgerWriteError, match="short write"):
            ledger.append(fields(claim="C2"))
        monkeypatch.setattr(os, "write", real_write)
    assert verify_ledger(path).check == "torn-tail"
    with EvidenceLedger(path) as ledger:
        record = ledger.append(fields(claim="C2"))
    assert record.seq == 2
    assert verify_ledger(path).ok
    assert (tmp_path / "ledger.jsonl.torn").stat().st_size > 0


def test_a_second_writer_is_locked_out(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    first = EvidenceLedger(path)
    second = EvidenceLedger(path)
    with first:
        first.append(fields())
        with pytest.raises(LedgerLockedError, match=f"pid {os.getpid()}"):
            second.append(fields(claim="C2"))
        assert not second.is_open
    record = second.append(fields(claim="C2"))
    second.close()
    assert record.seq == 1 and verify_ledger(path).ok


def test_a_broken_chain_is_not_extended(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, 3)
    lines = lines_of(path)
    del lines[1]
    rewrite(path, lines)
    before = path.read_bytes()
    with pytest.raises(LedgerCorruptError) as info:
        EvidenceLedger(path).append(fields(claim="C4"))
    assert info.value.first_bad == 1 and info.value.check == "seq"
    assert path.read_bytes() == before
    # The failed open released the lock: another writer can take it.
    other = EvidenceLedger(path)
    with pytest.raises(LedgerCorruptError):
        other.open()
    assert not other.is_open


# ---------------------------------------------------------------------------- helpers


def test_run_selection_helpers() -> None:
    records = read_records(FIXTURES / "two-runs.jsonl")
    assert run_ids(records) == ["run-1", "run-2"]
    assert latest_run_id(records) == "run-2"
    assert [r.claim for r in latest_run(records)][:3] == ["C1", "C2", "C3"]
    assert len(records_of_run(records, "run-1")) == 9
    assert latest_run_id([]) is None and latest_run([]) == []


def test_small_helpers(tmp_path: Path) -> None:
    assert utc_now_iso().endswith("Z")
    first, second = new_run_id(), new_run_id()
    assert first != second and first[:8].isdigit()
    artifact = tmp_path / "core.wasm"
    artifact.write_bytes(b"\0asm")
    assert sha256_file(artifact) == hashlib.sha256(b"\0asm").hexdigest()
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        Record.from_dict({"schema": 1})
