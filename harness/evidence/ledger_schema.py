"""The evidence ledger's record schema and canonical form (see :mod:`harness.evidence.ledger`)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import secrets
from collections.abc import Mapping
from typing import Any

from harness.project import file_sha256

SCHEMA_VERSION = 1
ZERO_HASH = "0" * 64
VERDICTS: tuple[str, ...] = ("pass", "fail", "error", "skip", "not-applicable")
"""``not-applicable``: the claim needs something the gated graph lacks (its reason says
what); it never counts as a pass, and a gated claim that is not applicable does not
fail the gate."""
DIRECTIONS: tuple[str, ...] = ("commissioner->commissionee", "commissionee->commissioner")

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")

#: Keys the ledger computes; a caller of :meth:`EvidenceLedger.append` must not pass them.
COMPUTED_KEYS = frozenset({"schema", "seq", "prev", "hash"})

#: Keys a caller may omit, with the value recorded when omitted.
OPTIONAL_DEFAULTS: Mapping[str, Any] = {
    "reason": None,
    "message": "",
    "inputs": {},
    "tools": {},
    "git_commit": None,
    "seed": None,
    "transcript_hash": None,
    "figures": {},
}

RECORD_KEYS: tuple[str, ...] = (
    "schema",
    "seq",
    "run_id",
    "claim",
    "verifier",
    "verdict",
    "reason",
    "message",
    "started_at",
    "duration_s",
    "command",
    "inputs",
    "tools",
    "git_commit",
    "seed",
    "transcript_hash",
    "figures",
    "prev",
    "hash",
)


# --------------------------------------------------------------------- canonical form


def canonical_json(value: Any) -> bytes:
    """Return the canonical JSON bytes: sorted keys, no whitespace, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def record_hash(body: Mapping[str, Any]) -> str:
    """Return the SHA-256 hex of the canonical JSON of ``body`` without its ``hash`` key."""
    content = {k: v for k, v in body.items() if k != "hash"}
    return hashlib.sha256(canonical_json(content)).hexdigest()


sha256_file = file_sha256
"""The SHA-256 hex of a file's bytes (for a record's ``inputs``)."""


def utc_now_iso() -> str:
    """Return the current UTC time as ISO 8601 with microseconds and a ``Z`` suffix."""
    now = _dt.datetime.now(_dt.UTC)
    return now.isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """Return a fresh run id: the UTC start time plus 32 random bits."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


# ---------------------------------------------------------------------------- schema


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def schema_problem(body: Mapping[str, Any]) -> str | None:
    """Return what is wrong with a record's shape, or ``None`` when the shape is valid.

    Checks keys, types, verdict values, the skip reason, timestamps, hex digests and the
    shape of ``figures["trace"]``; not the chain (see :func:`verify_ledger`).
    """
    missing = [k for k in RECORD_KEYS if k not in body]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    extra = sorted(set(body) - set(RECORD_KEYS))
    if extra:
        return f"unexpected field(s): {', '.join(extra)}"
    if body["schema"] != SCHEMA_VERSION or not _is_int(body["schema"]):
        return f"schema must be {SCHEMA_VERSION}, not {body['schema']!r}"
    if not _is_int(body["seq"]) or body["seq"] < 0:
        return "seq must be a non-negative integer"
    for name in ("run_id", "claim", "verifier", "command"):
        if not isinstance(body[name], str) or not body[name]:
            return f"{name} must be non-empty text"
    if body["verdict"] not in VERDICTS:
        return f"verdict must be one of {', '.join(VERDICTS)}, not {body['verdict']!r}"
    if body["reason"] is not None and not isinstance(body["reason"], str):
        return "reason must be text or null"
    if body["verdict"] in ("skip", "not-applicable") and not (body["reason"] or "").strip():
        return (
            "a skip needs a reason"
            if body["verdict"] == "skip"
            else "a not-applicable verdict needs a reason"
        )
    if not isinstance(body["message"], str):
        return "message must be text"
    problem = _timestamp_problem(body["started_at"])
    if problem:
        return problem
    if not _is_number(body["duration_s"]) or body["duration_s"] < 0:
        return "duration_s must be a non-negative number"
    inputs = body["inputs"]
    if not isinstance(inputs, dict) or not all(
        isinstance(v, str) and _HEX64.fullmatch(v) for v in inputs.values()
    ):
        return "inputs must map names to SHA-256 hex digests"
    tools = body["tools"]
    if not isinstance(tools, dict) or not all(
        v is None or isinstance(v, str) for v in tools.values()
    ):
        return "tools must map names to version text or null"
    if body["git_commit"] is not None and not isinstance(body["git_commit"], str):
        return "git_commit must be text or null"
    seed = body["seed"]
    if not (seed is None or isinstance(seed, str) or _is_int(seed)):
        return "seed must be an integer, text or null"
    digest = body["transcript_hash"]
    if digest is not None and not (isinstance(digest, str) and _HEX.fullmatch(digest)):
        return "transcript_hash must be lowercase hex or null"
    if not isinstance(body["figures"], dict):
        return "figures must be a mapping"
    if "trace" in body["figures"]:
        problem = trace_problem(body["figures"]["trace"])
        if problem:
            return f"figures.trace: {problem}"
    for name in ("prev", "hash"):
        if not isinstance(body[name], str) or not _HEX64.fullmatch(body[name]):
            return f"{name} must be a SHA-256 hex digest"
    return None


def _timestamp_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.endswith("Z") or "T" not in value:
        return "started_at must be ISO 8601 UTC ending in 'Z'"
    try:
        _dt.datetime.fromisoformat(value[:-1] + "+00:00")
    except ValueError:
        return f"started_at {value!r} is not an ISO 8601 time"
    return None


def trace_problem(trace: Any) -> str | None:
    """Return what is wrong with a ``figures["trace"]`` list, or ``None``."""
    if not isinstance(trace, list):
        return "must be a list"
    for index, item in enumerate(trace):
        if not isinstance(item, dict):
            return f"[{index}] must be a mapping"
        if not _is_int(item.get("t_ms")) or item["t_ms"] < 0:
            return f"[{index}].t_ms must be a non-negative integer"
        if item.get("direction") not in DIRECTIONS:
            return f"[{index}].direction must be one of {', '.join(DIRECTIONS)}"
        if not isinstance(item.get("opcode"), str) or not item["opcode"]:
            return f"[{index}].opcode must be non-empty text"
        if not _is_int(item.get("size")) or item["size"] < 0:
            return f"[{index}].size must be a non-negative integer"
    return None
