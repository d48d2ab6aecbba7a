"""The evidence ledger: append-only, hash-chained JSON lines.

Each gate step writes one record per claim. A record is one line: the canonical JSON
(sorted keys, no whitespace, UTF-8, no NaN) of a mapping with these keys:

=============== ===================================================================
schema          record schema version (:data:`SCHEMA_VERSION`)
seq             0 for the first record, then +1 per record
run_id          one gate run; every record the run writes carries it
claim           the claim id (``C1``, ``S3`` ...)
verifier        the registered check that produced the verdict
verdict         ``pass`` / ``fail`` / ``error`` / ``skip`` (a skip needs a ``reason``)
reason          one line saying why (text or null)
message         detail (text, may be empty)
started_at      ISO 8601 UTC, ending in ``Z``
duration_s      seconds, a non-negative number
command         the command or function that ran
inputs          artifact path or name -> SHA-256 hex of every input artifact
tools           tool name -> version (text or null)
git_commit      text or null
seed            integer, text or null
transcript_hash hex text or null
figures         free-form measured figures; ``figures["trace"]``, if present, is a list of
                ``{t_ms, direction, opcode, size}`` datagrams (drawn by the HTML report)
prev            ``hash`` of the previous record; 64 zeros for the first
hash            SHA-256 hex of the canonical JSON of the record without ``hash``
=============== ===================================================================

Integrity rule (decided here, relied on by :func:`verify_ledger`): a line must be
byte-for-byte the canonical form of the record it parses to. The writer only writes
canonical lines, so a line that parses to the same values but is spelled differently
(added whitespace, reordered keys, ``1.50`` for ``1.5``, an escaped letter) is an edit
and is reported. Together with the hash chain this makes every single-byte change of a
ledger detectable, at the record that holds the changed byte.

What a chain cannot show on its own is whole records removed from the *end*; pass an
``expected_head`` (a hash published elsewhere, e.g. in a CI log or report) to catch it.

Crash safety: a record is written with one ``os.write`` of the full line to a file
opened ``O_APPEND``, then fsync'd. An interrupted write leaves a line without its newline
(a torn tail); it is not part of the chain. The next writer moves those bytes to
``<ledger>.torn`` (never dropping them) before it appends. A ``<ledger>.lock`` file held
with ``fcntl.flock`` keeps a second writer out; the file stays on disk (holding the last
writer's pid), since the lock is the flock, not the file's existence.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import (
    LedgerCorruptError,
    LedgerLockedError,
    LedgerReadError,
    LedgerRecordError,
    LedgerWriteError,
)
from harness.evidence.ledger_schema import (
    COMPUTED_KEYS,
    OPTIONAL_DEFAULTS,
    RECORD_KEYS,
    SCHEMA_VERSION,
    ZERO_HASH,
    canonical_json,
    record_hash,
    schema_problem,
    utc_now_iso,
)

# ---------------------------------------------------------------------------- record


@dataclass(frozen=True)
class Record:
    """One evidence record, as stored in the ledger (see the module docstring)."""

    schema: int
    seq: int
    run_id: str
    claim: str
    verifier: str
    verdict: str
    reason: str | None
    message: str
    started_at: str
    duration_s: float
    command: str
    inputs: dict[str, str]
    tools: dict[str, str | None]
    git_commit: str | None
    seed: int | str | None
    transcript_hash: str | None
    figures: dict[str, Any]
    prev: str
    hash: str

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Record:
        """Build a record from a parsed line; raise ``ValueError`` on a bad shape."""
        problem = schema_problem(body)
        if problem:
            raise ValueError(problem)
        return cls(**{k: body[k] for k in RECORD_KEYS})

    def to_dict(self) -> dict[str, Any]:
        """Return the record as the mapping that is hashed and stored."""
        return {k: getattr(self, k) for k in RECORD_KEYS}

    def to_line(self) -> bytes:
        """Return the exact bytes of this record's ledger line, newline included."""
        return canonical_json(self.to_dict()) + b"\n"

    @property
    def short_hash(self) -> str:
        """Return the first 12 hex digits of the record hash, for tables."""
        return self.hash[:12]

    @property
    def trace(self) -> list[dict[str, Any]]:
        """Return ``figures["trace"]`` (the datagrams of a handshake), or an empty list."""
        value = self.figures.get("trace")
        return list(value) if isinstance(value, list) else []


# ---------------------------------------------------------------------- verification


@dataclass(frozen=True)
class LedgerVerification:
    """The outcome of :func:`verify_ledger`.

    ``records`` counts complete lines; ``first_bad`` is the 0-based index of the first
    record that fails (``None`` when ``ok``); ``check`` names the failed step (``torn-tail``,
    ``json``, ``canonical``, ``schema``, ``hash``, ``seq``, ``prev``, ``head``) and
    ``reason`` explains it; ``head`` is the hash of the last record of the valid prefix.
    """

    path: str
    ok: bool
    records: int
    first_bad: int | None = None
    check: str | None = None
    reason: str | None = None
    head: str | None = None

    def describe(self) -> str:
        """Return a one-line summary fit for a banner or a log."""
        if self.ok:
            return f"ledger {self.path}: {self.records} records, chain intact (head {self.head})"
        return f"ledger {self.path}: record {self.first_bad} fails {self.check}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """Return the verification as a JSON-ready mapping."""
        return {
            "path": self.path,
            "ok": self.ok,
            "records": self.records,
            "first_bad": self.first_bad,
            "check": self.check,
            "reason": self.reason,
            "head": self.head,
        }


def _corrupt(verification: LedgerVerification) -> LedgerCorruptError:
    return LedgerCorruptError(
        verification.describe(), first_bad=verification.first_bad, check=verification.check
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LedgerReadError(f"cannot read ledger {path}: {exc.strerror or exc}") from exc


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """Split ledger bytes into complete lines and the torn tail (possibly empty)."""
    parts = data.split(b"\n")
    return parts[:-1], parts[-1]


def _check_line(line: bytes, index: int, prev_hash: str) -> tuple[str, str] | dict[str, Any]:
    """Check one complete line; return the parsed body, or ``(check, reason)``."""
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return "json", f"not a JSON line: {exc}"
    if not isinstance(body, dict):
        return "json", "not a JSON object"
    try:
        canonical = canonical_json(body)
    except ValueError:
        return "canonical", "holds a non-finite number"
    if canonical != line:
        return "canonical", "not in canonical form (the line was edited after writing)"
    problem = schema_problem(body)
    if problem:
        return "schema", problem
    if record_hash(body) != body["hash"]:
        return "hash", "hash does not match the record's content (a field was edited)"
    if body["seq"] != index:
        return "seq", (
            f"seq {body['seq']} where {index} was expected (a record was dropped or reordered)"
        )
    if body["prev"] != prev_hash:
        return "prev", "prev does not match the previous record's hash (the chain is broken)"
    return dict(body)


def verify_ledger(path: Path | str, *, expected_head: str | None = None) -> LedgerVerification:
    """Verify a ledger file and report the first bad record.

    Steps per line, in order: complete line, JSON object, canonical form, schema, hash,
    seq continuity, prev chain. A missing file raises :class:`LedgerReadError`; an empty
    file is a valid ledger of no records. With ``expected_head``, the ledger must contain
    a record with that hash (records removed from the end are otherwise invisible).
    """
    ledger = Path(path)
    return verify_ledger_bytes(_read_bytes(ledger), label=str(ledger), expected_head=expected_head)


def verify_ledger_bytes(
    data: bytes, *, label: str = "<bytes>", expected_head: str | None = None
) -> LedgerVerification:
    """Verify ledger content already in memory; as :func:`verify_ledger`, named ``label``."""
    lines, torn = _split(data)
    count = len(lines)
    prev = ZERO_HASH
    head: str | None = None
    for index, line in enumerate(lines):
        result = _check_line(line, index, prev)
        if isinstance(result, tuple):
            check, reason = result
            return LedgerVerification(label, False, count, index, check, reason, head)
        prev = head = result["hash"]
    if torn:
        reason = f"truncated mid-line: {len(torn)} bytes after the last newline (a torn write)"
        return LedgerVerification(label, False, count, count, "torn-tail", reason, head)
    if expected_head is not None:
        hashes = {json.loads(line)["hash"] for line in lines}
        if expected_head not in hashes:
            reason = f"no record has the expected head {expected_head[:12]}... (records removed?)"
            return LedgerVerification(label, False, count, count, "head", reason, head)
    return LedgerVerification(label, True, count, head=head)


# --------------------------------------------------------------------------- reading


def read_records(path: Path | str, *, strict: bool = False) -> list[Record]:
    """Return the records of a ledger, in file order.

    Lenient by default: lines that do not parse as records are skipped, so a report can
    still show what a damaged ledger holds (next to :func:`verify_ledger`'s verdict).
    With ``strict``, any verification failure raises :class:`LedgerCorruptError`.
    """
    ledger = Path(path)
    if strict:
        verification = verify_ledger(ledger)
        if not verification.ok:
            raise _corrupt(verification)
    lines, _ = _split(_read_bytes(ledger))
    records: list[Record] = []
    for line in lines:
        try:
            body = json.loads(line.decode("utf-8"))
            if isinstance(body, dict):
                records.append(Record.from_dict(body))
        except (UnicodeDecodeError, ValueError, TypeError):
            continue
    return records


def run_ids(records: Iterable[Record]) -> list[str]:
    """Return the run ids in order of their first record."""
    return list(dict.fromkeys(r.run_id for r in records))


def records_of_run(records: Iterable[Record], run_id: str) -> list[Record]:
    """Return the records of one gate run, in ledger order."""
    return [r for r in records if r.run_id == run_id]


def latest_run_id(records: Sequence[Record]) -> str | None:
    """Return the run id of the last record, or ``None`` for an empty ledger."""
    return records[-1].run_id if records else None


def latest_run(records: Sequence[Record]) -> list[Record]:
    """Return the records of the run that wrote the last record."""
    run_id = latest_run_id(records)
    return [] if run_id is None else records_of_run(records, run_id)


# --------------------------------------------------------------------------- writing


def _fsync_directory(directory: Path) -> None:
    # A new file's directory entry is only durable once the directory is synced.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all_once(path: Path, data: bytes) -> None:
    """Append ``data`` with a single write and fsync it."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise LedgerWriteError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_directory(path.parent)


class EvidenceLedger:
    """An append-only, hash-chained evidence ledger at ``path``.

    Opening only looks: ``torn_tail`` reports the bytes of an interrupted write found at
    the end. The first :meth:`append` takes the writer lock (held until :meth:`close`),
    moves a torn tail to ``<ledger>.torn``, verifies the existing chain and refuses to
    extend a broken one. Use it as a context manager so the lock is released.
    """

    def __init__(self, path: Path | str, *, lock_timeout: float = 0.0) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.torn_path = self.path.with_name(self.path.name + ".torn")
        self.lock_timeout = lock_timeout
        self._lock_fd: int | None = None
        self._next_seq = 0
        self._head = ZERO_HASH
        self.torn_tail = 0
        if self.path.exists():
            _, torn = _split(_read_bytes(self.path))
            self.torn_tail = len(torn)

    def __enter__(self) -> EvidenceLedger:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        """True while this object holds the writer lock."""
        return self._lock_fd is not None

    def open(self) -> None:
        """Take the writer lock, recover a torn tail and verify the chain (idempotent)."""
        if self._lock_fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._acquire_lock()
        try:
            self._recover_torn_tail()
            verification = verify_ledger(self.path) if self.path.exists() else None
            if verification is not None and not verification.ok:
                raise _corrupt(verification)
            if verification is not None and verification.head is not None:
                self._next_seq = verification.records
                self._head = verification.head
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the writer lock."""
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = None

    def _acquire_lock(self) -> int:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                    os.close(fd)
                    raise LedgerLockedError(
                        f"ledger {self.path} is locked by another writer"
                        + (f" (pid {holder})" if holder else "")
                        + f"; lock file {self.lock_path}"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return fd

    def _recover_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = _read_bytes(self.path)
        _, torn = _split(data)
        if not torn:
            self.torn_tail = 0
            return
        # Keep the torn bytes first, then cut them: a crash in between leaves them in both
        # places (a duplicate in .torn), never in neither.
        _write_all_once(self.torn_path, torn + b"\n")
        good_length = len(data) - len(torn)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.ftruncate(fd, good_length)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.torn_tail = 0

    def append(self, fields: Mapping[str, Any]) -> Record:
        """Append one record built from ``fields`` and return it.

        ``fields`` holds the record keys except ``schema``, ``seq``, ``prev`` and ``hash``
        (computed here); keys in :data:`OPTIONAL_DEFAULTS` may be omitted and
        ``started_at`` defaults to now. Raises :class:`LedgerRecordError` for fields
        that do not make a valid record.
        """
        self.open()
        body = self._build(fields)
        record = Record.from_dict(body)
        _write_all_once(self.path, record.to_line())
        self._next_seq += 1
        self._head = record.hash
        return record

    def _build(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        reserved = sorted(COMPUTED_KEYS & set(fields))
        if reserved:
            raise LedgerRecordError(f"the ledger computes {', '.join(reserved)}; do not pass them")
        unknown = sorted(set(fields) - set(RECORD_KEYS))
        if unknown:
            raise LedgerRecordError(f"unknown record field(s): {', '.join(unknown)}")
        merged: dict[str, Any] = {**OPTIONAL_DEFAULTS, "started_at": utc_now_iso(), **fields}
        merged.update(schema=SCHEMA_VERSION, seq=self._next_seq, prev=self._head)
        try:
            # A JSON round trip normalises tuples to lists and rejects what JSON cannot
            # hold, so the returned record equals what a reader will parse.
            body: dict[str, Any] = json.loads(canonical_json(merged))
        except (TypeError, ValueError) as exc:
            raise LedgerRecordError(f"record fields are not JSON data: {exc}") from exc
        body["hash"] = record_hash(body)
        problem = schema_problem(body)
        if problem:
            raise LedgerRecordError(f"invalid record for claim {fields.get('claim')!r}: {problem}")
        return body

    def records(self) -> list[Record]:
        """Return every record in the ledger (lenient read; see :func:`read_records`)."""
        return read_records(self.path) if self.path.exists() else []
