"""Tests for claim E1's arithmetic: selection, shards, equivalent mutants, scores, verdict.

None of these runs mutmut: the campaign's statuses are given, so each rule is checked on
exactly the input that exercises it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.evidence.gate import GateUsageError, record_evidence
from harness.evidence.ledger import read_records
from harness.evidence.ledger_schema import utc_now_iso
from harness.evidence.mutation import (
    EQUIVALENTS_PATH,
    THRESHOLD,
    Equivalent,
    MutationError,
    Shard,
    format_mutation_table,
    load_equivalents,
    module_of,
    parse_equivalents,
    score_modules,
    select_mutants,
    stale_equivalents,
    status_of,
)
from harness.evidence.mutation_run import Campaign, read_results
from harness.evidence.verifiers import REGISTRY, Verdict, campaign_evidence


def _names(module: str, count: int, function: str = "x_f") -> list[str]:
    return [f"matter_core.{module}.{function}__mutmut_{i}" for i in range(1, count + 1)]


MUTANTS = _names("tlv_writer", 40) + _names("mrp", 30) + _names("kdf", 30, "xǁHkdfǁexpand")


def _campaign(statuses: dict[str, str], generated: list[str] | None = None) -> Campaign:
    return Campaign(generated or sorted(statuses), sorted(statuses), statuses, 1.0)


# --- names and statuses ---


def test_module_of_reads_the_module_from_function_and_method_mutants() -> None:
    assert module_of("matter_core.tlv_writer.x__width__mutmut_3") == "tlv_writer"
    assert module_of("matter_core.kdf.xǁHkdfǁexpand__mutmut_12") == "kdf"


@pytest.mark.parametrize("name", ["tlv_writer.x_f__mutmut_1", "matter_core.tlv.x_f", ""])
def test_module_of_refuses_what_is_not_a_core_mutant_name(name: str) -> None:
    with pytest.raises(MutationError):
        module_of(name)


def test_statuses_follow_mutmuts_exit_codes() -> None:
    assert status_of(1) == "killed"
    assert status_of(0) == "survived"
    assert status_of(33) == "no tests"
    assert status_of(36) == "timeout"
    assert status_of(None) == "not checked"
    assert status_of(99) == "suspicious"


# --- selection ---


def test_the_same_seed_draws_the_same_sample() -> None:
    first = select_mutants(MUTANTS, sample=17, seed=7)
    assert first == select_mutants(list(reversed(MUTANTS)), sample=17, seed=7)
    assert len(first) == 17 and first == sorted(first)


def test_another_seed_draws_another_sample() -> None:
    assert select_mutants(MUTANTS, sample=17, seed=7) != select_mutants(MUTANTS, sample=17, seed=8)


def test_a_sample_larger_than_the_population_is_everything() -> None:
    assert select_mutants(MUTANTS, sample=10_000) == sorted(MUTANTS)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_are_disjoint_and_together_the_whole_selection(count: int) -> None:
    whole = select_mutants(MUTANTS, sample=50, seed=3)
    shards = [
        select_mutants(MUTANTS, sample=50, seed=3, shard=Shard(i, count))
        for i in range(1, count + 1)
    ]
    seen = [name for shard in shards for name in shard]
    assert len(seen) == len(set(seen)), "a mutant in two shards"
    assert sorted(seen) == whole


def test_modules_restrict_the_selection() -> None:
    picked = select_mutants(MUTANTS, modules=["mrp"])
    assert picked == sorted(_names("mrp", 30))
    with pytest.raises(MutationError, match="no mutants in module"):
        select_mutants(MUTANTS, modules=["nonesuch"])


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(MutationError):
        Shard.parse(text)


def test_a_sample_must_be_positive() -> None:
    with pytest.raises(MutationError):
        select_mutants(MUTANTS, sample=0)


# --- the equivalent-mutants file ---

GOOD = """
[[equivalent]]
module = "mrp"
mutant = "matter_core.mrp.x_f__mutmut_1"
reason = "the bound is never reached: the counter is reset first"
"""


def test_the_equivalents_parser_reads_module_mutant_and_reason() -> None:
    (entry,) = parse_equivalents(GOOD)
    assert entry == Equivalent("matter_core.mrp.x_f__mutmut_1", entry.reason)
    assert entry.module == "mrp"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            GOOD.replace('reason = "the bound is never reached: the counter is reset first"', ""),
            "reason",
        ),
        (GOOD.replace("the bound is never reached: the counter is reset first", "  "), "reason"),
        (
            GOOD.replace('"the bound', '"""the bound').replace('first"', 'first\nand more"""'),
            "one line",
        ),
        (GOOD.replace('module = "mrp"', 'module = "kdf"'), "module"),
        (GOOD + GOOD, "twice"),
        (GOOD.replace("reason =", "note = 1\nreason ="), "unknown keys"),
        ("[[equivalent]]\nreason = 'x'\n", "mutant"),
        ("equivalent = 3\n", "array"),
        ("[equivalent\n", "not TOML"),
        ("other = 1\n", "unknown top-level"),
    ],
)
def test_the_equivalents_parser_refuses_bad_entries(text: str, complaint: str) -> None:
    with pytest.raises(MutationError, match=complaint):
        parse_equivalents(text)


def test_the_projects_equivalents_file_parses() -> None:
    assert EQUIVALENTS_PATH.exists()
    for entry in load_equivalents():
        assert entry.reason


def test_an_absent_equivalents_file_lists_nothing(tmp_path: Path) -> None:
    assert load_equivalents(tmp_path / "none.toml") == []


def test_stale_equivalents_are_the_listed_mutants_no_longer_generated() -> None:
    listed = [
        Equivalent("matter_core.mrp.x_f__mutmut_1", "r"),
        Equivalent("matter_core.mrp.x_g__mutmut_1", "r"),
    ]
    assert stale_equivalents(listed, MUTANTS) == ["matter_core.mrp.x_g__mutmut_1"]


# --- scores ---


def test_scores_are_per_module_with_equivalents_subtracted() -> None:
    statuses = dict.fromkeys(_names("mrp", 10), "killed")
    statuses.update(dict.fromkeys(_names("kdf", 4), "survived"))
    statuses["matter_core.mrp.x_f__mutmut_9"] = "survived"
    statuses["matter_core.mrp.x_f__mutmut_10"] = "survived"
    equivalent = [Equivalent("matter_core.mrp.x_f__mutmut_10", "same result")]
    scores = score_modules(statuses, equivalent)
    assert scores["mrp"].tried == 10 and scores["mrp"].equivalent == 1
    assert scores["mrp"].killed == 8 and scores["mrp"].counted == 9
    assert scores["mrp"].score == pytest.approx(8 / 9)
    assert scores["mrp"].survivors == ["matter_core.mrp.x_f__mutmut_9"]
    assert scores["kdf"].score == 0.0


def test_timeouts_kill_and_untested_mutants_survive() -> None:
    statuses = {
        "matter_core.mrp.x_f__mutmut_1": "timeout",
        "matter_core.mrp.x_f__mutmut_2": "no tests",
    }
    score = score_modules(statuses)["mrp"]
    assert (score.killed, score.survivors) == (1, ["matter_core.mrp.x_f__mutmut_2"])


def test_an_unchecked_mutant_fails_its_module_whatever_the_score() -> None:
    statuses = dict.fromkeys(_names("mrp", 99), "killed")
    statuses["matter_core.mrp.x_f__mutmut_100"] = "not checked"
    score = score_modules(statuses)["mrp"]
    assert score.score == 1.0 and not score.passes()


def test_the_threshold_is_inclusive() -> None:
    statuses = dict.fromkeys(_names("mrp", 100), "killed")
    for i in (1, 2, 3):
        statuses[f"matter_core.mrp.x_f__mutmut_{i}"] = "survived"
    assert score_modules(statuses)["mrp"].passes(THRESHOLD)
    statuses["matter_core.mrp.x_f__mutmut_4"] = "survived"
    assert not score_modules(statuses)["mrp"].passes(THRESHOLD)


def test_the_table_shows_each_module_and_flags_those_below() -> None:
    statuses = dict.fromkeys(_names("mrp", 10), "killed") | dict.fromkeys(
        _names("kdf", 2), "survived"
    )
    table = format_mutation_table(score_modules(statuses))
    assert "mrp" in table and "100.00 %" in table
    assert "kdf" in table and "BELOW" in table
    assert "total" in table


def test_mutmut_results_are_read_from_its_meta_files(tmp_path: Path) -> None:
    meta = tmp_path / "mutants" / "matter_core"
    meta.mkdir(parents=True)
    codes = {"matter_core.mrp.x_f__mutmut_1": 1, "matter_core.mrp.x_f__mutmut_2": None}
    (meta / "mrp.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    assert read_results(tmp_path) == codes
    (meta / "kdf.py.meta").write_text("{")
    with pytest.raises(MutationError, match="unreadable"):
        read_results(tmp_path)


# --- the verdict ---


def test_every_module_at_the_threshold_passes_e1() -> None:
    evidence = campaign_evidence(_campaign(dict.fromkeys(MUTANTS, "killed")), [])
    assert evidence.verdict is Verdict.PASS
    assert evidence.figures["modules"]["mrp"]["score"] == 1.0


def test_a_survivor_below_the_threshold_fails_e1() -> None:
    statuses = dict.fromkeys(MUTANTS, "killed")
    statuses["matter_core.mrp.x_f__mutmut_1"] = "survived"  # mrp: 29 of 30, below 97 %
    evidence = campaign_evidence(_campaign(statuses), [])
    assert evidence.verdict is Verdict.FAIL
    assert "mrp" in evidence.message and "tlv_writer" not in evidence.message
    assert evidence.figures["survivors"] == {"mrp": ["matter_core.mrp.x_f__mutmut_1"]}


def test_the_same_survivor_listed_as_equivalent_passes_e1() -> None:
    statuses = dict.fromkeys(MUTANTS, "killed")
    statuses["matter_core.mrp.x_f__mutmut_1"] = "survived"
    listed = [Equivalent("matter_core.mrp.x_f__mutmut_1", "computes the same")]
    assert campaign_evidence(_campaign(statuses), listed).verdict is Verdict.PASS


def test_a_stale_equivalent_fails_e1() -> None:
    listed = [Equivalent("matter_core.mrp.x_gone__mutmut_1", "was equivalent")]
    evidence = campaign_evidence(_campaign(dict.fromkeys(MUTANTS, "killed")), listed)
    assert evidence.verdict is Verdict.FAIL and "no longer generated" in evidence.message


def test_a_campaign_that_tried_nothing_fails_e1() -> None:
    assert campaign_evidence(_campaign({}, MUTANTS), []).verdict is Verdict.FAIL


def test_e1_is_registered() -> None:
    assert "mutation-score" in REGISTRY


def test_e1_evidence_is_recorded_as_a_run_of_its_own(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    evidence = campaign_evidence(_campaign(dict.fromkeys(MUTANTS, "killed")), [])
    outcome = record_evidence(
        ledger,
        "E1",
        evidence,
        started_at=utc_now_iso(),
        started=time.perf_counter(),
        command="test",
    )
    (record,) = read_records(ledger, strict=True)
    assert outcome.claim == "E1" and record.verdict == "pass" and record.command == "test"
    assert record.claim == "E1" and record.verifier == "mutation-score"
    assert record.figures["modules"]["mrp"]["killed"] == 30


def test_the_cli_refuses_a_bad_shard_without_running_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["mutation", "--shard", "5/2", "--workdir", str(tmp_path / "w")]
    )
    assert result.exit_code == 2, result.output
    assert "shard" in result.output and not (tmp_path / "w").exists()


@pytest.mark.parametrize("option", [["--module", "nonesuch"], ["--sample", "0"]])
def test_the_cli_refuses_bad_options_before_generating_mutants(
    tmp_path: Path, option: list[str]
) -> None:
    result = CliRunner().invoke(cli, ["mutation", *option, "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "w").exists()


def test_recording_evidence_for_an_unknown_claim_is_refused(tmp_path: Path) -> None:
    evidence = campaign_evidence(_campaign(dict.fromkeys(MUTANTS, "killed")), [])
    with pytest.raises(GateUsageError, match="no claim Z9"):
        record_evidence(
            tmp_path / "l.jsonl", "Z9", evidence, started_at=utc_now_iso(), started=0.0, command="x"
        )
    assert not (tmp_path / "l.jsonl").exists()
