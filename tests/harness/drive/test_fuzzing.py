"""Fuzz campaigns (claim E2): the captured steps, the outcome classifier, shards, planted
bugs that must fail the campaign, the saved regressions, the ``fuzz`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from matter_core import pase_messages

from harness.cli import cli
from harness.drive.fuzz_cases import (
    FuzzError,
    capture_handshake,
    generate_case,
    parse_shard,
    shard_indices,
)
from harness.drive.fuzz_targets import NativeTarget, classify
from harness.drive.fuzzing import (
    REGRESSIONS_DIR,
    make_target,
    ordered_cases,
    replay_regression,
    run_campaign,
)
from harness.drive.roles import Failure, RoleError, RoleStatus
from harness.evidence.ledger import read_records
from harness.evidence.verifiers.fuzzing import fuzz_evidence
from harness.runtime import DeadlineExceeded, GuestTrap, Runtime

slow = pytest.mark.slow


def _status(state: str = "expect-pake1", drops: int = 0, failure: str | None = None) -> RoleStatus:
    return RoleStatus(
        role="commissionee",
        state=state,
        established=False,
        local_session_id=1,
        peer_session_id=2,
        transcript_hash=b"",
        next_deadline_ms=None,
        failure=None if failure is None else Failure(failure, "why", 1, 2),
        datagrams_sent=0,
        datagrams_received=0,
        dropped=(("exchange", drops),) if drops else (),
    )


def test_capture_has_a_step_per_message_and_every_prefix_replays() -> None:
    capture = capture_handshake()
    names = [step.name for step in capture.steps]
    assert names == [
        "commissionee/pbkdf-param-request",
        "commissionee/pase-pake1",
        "commissionee/pase-pake3",
        "commissioner/pbkdf-param-response",
        "commissioner/pase-pake2",
        "commissioner/status-report",
    ]
    target = NativeTarget(capture)
    for index in range(len(capture.steps)):
        status = target.restart(index)  # raises FuzzError if the replay differs
        assert status.failure is None and not status.established


@pytest.mark.parametrize(
    ("before", "after", "error", "seconds", "expected"),
    [
        (_status(), _status("expect-pake3"), None, 0.01, ("progressed", None)),
        (_status(), _status(drops=1), None, 0.01, ("dropped", None)),
        (_status(), _status(), None, 0.01, ("absorbed", None)),
        (_status(), _status("failed", failure="decode"), None, 0.01, ("rejected", "decode")),
        (_status(), _status("failed", failure="internal"), None, 0.01, ("untyped", "internal")),
        (_status(), None, RoleError("x", "crypto", "bad point"), 0.01, ("rejected", "crypto")),
        (_status(), None, RoleError("x", "internal", "KeyError: 3"), 0.01, ("untyped", "internal")),
        (_status(), None, KeyError(3), 0.01, ("untyped", "KeyError")),
        (_status(), None, GuestTrap("boom", cause="guest-panic"), 0.01, ("trap", "guest-panic")),
        (_status(), None, DeadlineExceeded("late"), 0.01, ("hang", None)),
        (_status(), _status(drops=1), None, 1.5, ("hang", None)),
    ],
)
def test_classifier(
    before: RoleStatus,
    after: RoleStatus | None,
    error: BaseException | None,
    seconds: float,
    expected: tuple[str, str | None],
) -> None:
    outcome, kind, _detail = classify(before, after, error, seconds)
    assert (outcome, kind) == expected


def test_shards_are_disjoint_cover_the_campaign_and_cases_are_deterministic() -> None:
    shards = [set(shard_indices(103, (i, 4))) for i in range(1, 5)]
    assert set().union(*shards) == set(range(103))
    assert sum(len(s) for s in shards) == 103
    capture = capture_handshake()
    assert [generate_case(5, i, capture) for i in range(50)] == [
        generate_case(5, i, capture) for i in range(50)
    ]
    assert [generate_case(5, i, capture) for i in range(50)] != [
        generate_case(6, i, capture) for i in range(50)
    ]


@pytest.mark.parametrize("text", ["0/4", "5/4", "1", "a/b", "2/0", "-1/3", ""])
def test_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(FuzzError):
        parse_shard(text)


def test_native_campaign_is_clean_and_counts_every_case(tmp_path: Path) -> None:
    capture = capture_handshake()
    result = run_campaign(NativeTarget(capture), 200, 11, (2, 3), regressions=tmp_path)
    assert result.cases == len(shard_indices(200, (2, 3)))
    assert sum(result.outcomes.values()) == result.cases
    assert result.ok, result.summary()
    assert not list(tmp_path.rglob("*.bin"))
    assert {"dropped", "rejected:decode"} <= set(result.outcomes)


def test_a_shard_runs_its_own_cases_grouped_by_step() -> None:
    capture = capture_handshake()
    cases = ordered_cases(capture, 300, 11, (2, 3))
    assert sorted(index for index, _, _ in cases) == list(shard_indices(300, (2, 3)))
    assert all(generate_case(11, index, capture) == (step, d) for index, step, d in cases)
    assert [(step, index) for index, step, _ in cases] == sorted(
        (step, index) for index, step, _ in cases
    )
    assert cases == ordered_cases(capture, 300, 11, (2, 3))


def test_a_role_is_restarted_only_when_a_case_moved_or_failed_its_session() -> None:
    capture = capture_handshake()
    target = NativeTarget(capture)
    result = run_campaign(target, 300, 11, regressions=None)
    kept = result.outcomes["dropped"] + result.outcomes["absorbed"]
    steps = {step for _, step, _ in ordered_cases(capture, 300, 11)}
    # One start per step, then one after each case that left the step (at most).
    assert result.restarts <= len(steps) + result.cases - kept


def _raise_plain(cls: Any, payload: bytes) -> Any:
    raise RuntimeError("planted decoder bug")


def test_planted_untyped_exception_fails_the_campaign_and_is_saved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pase_messages.Pake1, "decode", classmethod(_raise_plain))
    capture = capture_handshake()
    result = run_campaign(NativeTarget(capture), 120, 3, regressions=tmp_path)
    assert not result.ok
    assert result.outcomes["untyped"] > 0
    saved = sorted((tmp_path / "native").glob("*.bin"))
    assert saved and len(result.saved) == len(saved)
    observed = replay_regression(saved[0], NativeTarget(capture))
    assert observed.outcome == "untyped"
    evidence = fuzz_evidence([result], 3)
    assert evidence.verdict.value == "fail"


def test_saved_regressions_replay_without_failing_natively() -> None:
    capture = capture_handshake()
    target = NativeTarget(capture)
    for path in sorted(REGRESSIONS_DIR.rglob("*.bin")):
        assert replay_regression(path, target).outcome not in ("trap", "untyped", "hang"), path


@slow
def test_component_campaign_agrees_with_native(
    shared_runtime: Runtime, core_component: Any, tmp_path: Path
) -> None:
    capture = capture_handshake()
    subject = make_target("component", capture, shared_runtime, core_component)
    result = run_campaign(
        subject, 40, 9, regressions=tmp_path, reference=make_target("native", capture)
    )
    assert result.ok, result.summary()
    assert result.instances == 1
    for path in sorted((REGRESSIONS_DIR / "component").glob("*.bin")):
        assert replay_regression(path, subject).outcome not in ("trap", "untyped", "hang")


@slow
def test_a_native_core_that_disagrees_is_a_divergence(
    shared_runtime: Runtime, core_component: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reference (native) core decodes every Pake3 as garbage; the component's own
    # copy of the core is untouched, so the two must disagree on some Pake3 case.
    def refuse(cls: Any, payload: bytes) -> Any:
        from matter_core.errors import DecodeError

        raise DecodeError("planted: refuse every Pake3")

    capture = capture_handshake()
    subject = make_target("component", capture, shared_runtime, core_component)
    reference = make_target("native", capture)
    monkeypatch.setattr(pase_messages.Pake3, "decode", classmethod(refuse))
    result = run_campaign(subject, 240, 9, regressions=tmp_path, reference=reference)
    assert result.divergences > 0 and not result.ok
    assert list((tmp_path / "component").glob("*.bin"))


def _fuzz(*args: str) -> Any:
    return CliRunner().invoke(cli, ["fuzz", *args])


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "native", "--shard", "3/2"],
        ["--target", "native", "--shard", "x"],
        ["--target", "bogus"],
        ["--target", "component", "--engine", "atheris"],
        ["--target", "native", "--engine", "nope"],
    ],
)
def test_cli_usage_errors_exit_2(args: list[str], tmp_path: Path) -> None:
    result = _fuzz(*args, "--ledger", str(tmp_path / "l.jsonl"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_cli_native_shard_writes_its_own_e2_record(tmp_path: Path) -> None:
    ledger = tmp_path / "shard.jsonl"
    result = _fuzz(
        "--target",
        "native",
        "--engine",
        "mutational",
        "--cases",
        "60",
        "--seed",
        "4",
        "--shard",
        "1/2",
        "--ledger",
        str(ledger),
        "--regressions",
        str(tmp_path / "reg"),
    )
    assert result.exit_code == 0, result.output
    (record,) = read_records(ledger)
    assert (record.claim, record.verdict) == ("E2", "pass")
    native = record.figures["targets"]["native"]
    assert native["cases"] == 30 and native["shard"] == "1/2"
