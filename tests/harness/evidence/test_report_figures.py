"""Tests for harness.evidence.reports.figures: one sentence per verifier's figures, and
the readable fallback for everything else."""

from __future__ import annotations

from typing import Any

import pytest

from harness.evidence.ledger import Record
from harness.evidence.reports.figures import (
    FORMATTERS,
    format_value,
    humanize,
    key_figure_of,
    readable,
)

HASH = "0" * 64


def record(verifier: str, figures: dict[str, Any], **extra: Any) -> Record:
    body: dict[str, Any] = {
        "schema": 1,
        "seq": 0,
        "prev": HASH,
        "hash": HASH,
        "run_id": "r",
        "claim": "X1",
        "verifier": verifier,
        "verdict": "pass",
        "reason": None,
        "message": "",
        "started_at": "2026-01-01T00:00:00Z",
        "duration_s": 1.0,
        "command": "c",
        "inputs": {},
        "tools": {},
        "git_commit": None,
        "seed": None,
        "transcript_hash": None,
        "figures": figures,
        **extra,
    }
    return Record.from_dict(body)


def test_signatures_in_a_sentence() -> None:
    figures = {
        "components_verified": 3,
        "mode": "strict",
        "refused": [{"case": "byte 1 flipped"}] * 8,
        "attacks": [{"case": "a", "refused": True}] * 4 + [{"case": "b", "refused": False}],
        "run_key_id": "8b52806299a2dce3e66cee90",
    }
    figure = key_figure_of(record("signature-verification", figures))
    assert figure.text == (
        "3 components verified (strict mode); 8 tampered or unsigned copies refused; "
        "4 of 5 attacks on build/ refused"
    )
    assert ("run key id", "8b52806299a2dce3e66cee90") in figure.details


def test_policy_limits_mutation_and_fuzzing_in_a_sentence() -> None:
    allowed = {"allowed": True}
    policy = {
        "role": "core",
        "core": {"imports": [allowed, allowed, {"allowed": False}]},
        "probes": [{"refused": True}, {"refused": True}],
        "headline": "a long headline " * 10,
    }
    figure = key_figure_of(record("capability-policy", policy))
    assert figure.text == "2 of 3 imports allowed by the core policy; 2 of 2 WASI probes refused"
    assert figure.details[0] == ("Headline", " ".join(policy["headline"].split()))

    limits = {
        "runaways": {"fuel": {"stopped": True}, "memory": {"stopped": False}},
        "fuel_margin": 96.9,
    }
    assert key_figure_of(record("resource-limits", limits)).text == (
        "1 of 2 runaways stopped by their limits; the default limits allow 96.9× a handshake's fuel"
    )

    mutation = {
        "threshold": 0.97,
        "total": {"killed": 36, "counted": 40},
        "modules": {"a.py": {"score": 1.0}, "b.py": {"score": 0.9}, "c.py": {"score": None}},
    }
    assert key_figure_of(record("mutation-score", mutation)).text == (
        "36 of 40 mutants killed (90.0 %); 2 of 3 modules below 97 %"
    )

    fuzz = {
        "targets": {"native": {"cases": 1500, "failed": 0}, "composed": {"cases": 60, "failed": 2}}
    }
    assert key_figure_of(record("fuzz-campaigns", fuzz)).text == (
        "1560 cases (native 1500, composed 60); 2 failing"
    )


@pytest.mark.parametrize("verifier", sorted(FORMATTERS))
def test_a_formatter_given_other_figures_falls_back(verifier: str) -> None:
    odd = {"headline": "what the verifier said", "mode": 3, "total": "x", "runaways": []}
    assert key_figure_of(record(verifier, odd)).text == "what the verifier said"
    assert key_figure_of(record(verifier, {"count": 2})).text == "count: 2"


def test_without_headline_or_formatter_the_scalars_read_as_words() -> None:
    figure = key_figure_of(
        record("other", {"components_verified": 3, "mode": "strict", "size_bytes": 10, "x": [1]})
    )
    assert figure.text == "components verified: 3, mode: strict"
    assert figure.details == (("size (bytes)", "10"),)
    with_trace = record(
        "other",
        {
            "trace": [
                {"t_ms": 0, "direction": "commissioner->commissionee", "opcode": "A", "size": 1}
            ]
        },
    )
    assert key_figure_of(with_trace).text == "1 datagrams"
    assert key_figure_of(record("other", {}, transcript_hash="ab" * 32)).text == (
        "transcript abababababab"
    )
    assert key_figure_of(None).text == ""


def test_names_and_values_for_people() -> None:
    assert humanize("components_verified") == "components verified"
    assert humanize("handshake_ms") == "handshake (ms)"
    assert humanize("branch_coverage_pct") == "branch coverage (%)"
    assert humanize("memory-budget") == "memory budget"
    assert humanize("_ms") == "ms"  # never empty
    assert [format_value(v) for v in (True, 14217.3, 104.28, 3, None)] == [
        "yes",
        "14217",
        "104.3",
        "3",
        "—",
    ]
    assert readable({"total": {"killed": 3, "counted": 4}, "headline": "h", "trace": []}) == [
        ("total", "killed 3, counted 4")
    ]


def test_a_repeated_record_says_which_run_verified_it() -> None:
    figures = {"headline": "3 imports: clock, entropy, transport"}
    fresh = key_figure_of(record("core-component-imports", figures))
    reused = key_figure_of(
        record("core-component-imports", {**figures, "reused": {"run_id": "R1", "record": HASH}})
    )
    assert "reused" not in fresh.text
    assert reused.text == f"{fresh.text} (reused from run R1)"
