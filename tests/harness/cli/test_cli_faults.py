"""``run --faults`` and ``peer --faults``: the option, its errors, and repeatable output."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner, Result

from harness.build.componentize import BuildResult
from harness.cli.app import cli
from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS
from harness.project import DEFAULT_GRAPH
from tests.harness.drive.test_faulted_runs import FAULTED_SEED_7

slow = pytest.mark.slow
OK_LINE = re.compile(r"^PASE-RUNS-OK transcript=([0-9a-f]{64}) mode=(\w+) seed=(\S+)$", re.M)
FAULTS_LINE = re.compile(
    r"^  faults \((?P<plan>[^)]*)\): dropped=(\d+) corrupted=(\d+) duplicated=(\d+) "
    r"reordered=(\d+) delayed=(\d+) injected=(\d+)$",
    re.M,
)
ISSUE = "drop=0.3,duplicate=0.1,reorder=0.1"


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _summary(result: Result) -> tuple[str, str]:
    """The transcript hash and the faults line of a successful run."""
    assert result.exit_code == 0, result.output
    ok, faults = OK_LINE.search(result.stdout), FAULTS_LINE.search(result.stdout)
    assert ok is not None and faults is not None, result.output
    return ok.group(1), faults.group(0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("loss=0.1", "unknown fault 'loss'"),
        ("drop=2", "fault rate drop=2 is outside 0..1"),
        ("drop=x", "is not a number"),
        ("drop=0.1,drop=0.2", "given twice"),
        ("delay=-1", "not a whole number of ms"),
    ],
)
@pytest.mark.parametrize("command", ["run", "peer"])
def test_a_bad_plan_exits_2_without_traceback(command: str, spec: str, message: str) -> None:
    extra = ["--native"] if command == "run" else ["--native", "--role", "commissioner"]
    result = _invoke(command, *extra, "--faults", spec)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Invalid value for '--faults'" in result.output
    assert message in result.output


@pytest.mark.parametrize("command", ["run", "peer"])
def test_the_help_describes_the_option(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    assert "--faults SPEC" in result.output and "drop=0.3" in result.output


def test_run_native_with_the_issue_faults_prints_the_same_hash_twice() -> None:
    first = _summary(_invoke("run", "--native", "--seed", "7", "--faults", ISSUE))
    again = _summary(_invoke("run", "--native", "--seed", "7", "--faults", ISSUE))
    assert first == again
    assert first[0] == FAULTED_SEED_7 != KNOWN_GOOD_TRANSCRIPTS[7]
    assert first[1].startswith(f"  faults ({ISSUE}): dropped=")


def test_run_without_faults_prints_no_faults_line() -> None:
    result = _invoke("run", "--native", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert FAULTS_LINE.search(result.stdout) is None


def test_a_failed_faulted_run_exits_1_with_its_counts() -> None:
    result = _invoke("run", "--native", "--seed", "7", "--faults", "drop=1")
    assert result.exit_code == 1
    assert "PASE-FAILED mode=native" in result.output
    match = FAULTS_LINE.search(result.stdout)
    assert match is not None and match.group("plan") == "drop=1.0"


@slow
@pytest.mark.usefixtures("built_components", "isolated_trust")
def test_run_graph_with_the_issue_faults_prints_the_same_hash_twice() -> None:
    graph = str(DEFAULT_GRAPH)
    first = _summary(_invoke("run", "--seed", "7", "--faults", ISSUE, "--graph", graph))
    again = _summary(_invoke("run", "--seed", "7", "--faults", ISSUE, "--graph", graph))
    native = _summary(_invoke("run", "--native", "--seed", "7", "--faults", ISSUE))
    assert first == again == native


@slow
def test_run_component_with_faults_matches_native(built_components: dict[str, BuildResult]) -> None:
    spec = "drop=0.2,duplicate=0.2,delay=40"
    component = _summary(_invoke("run", "--seed", "3", "--faults", spec))
    native = _summary(_invoke("run", "--native", "--seed", "3", "--faults", spec))
    assert component == native
