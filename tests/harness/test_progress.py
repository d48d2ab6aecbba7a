"""Tests for harness.progress: when the lines are shown, and what a step prints."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from harness import progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    progress.configure(True, seen.append)
    yield seen
    progress.configure(False)


def test_the_flag_wins_over_the_environment_and_the_terminal() -> None:
    on = {progress.PROGRESS_ENV: "1"}
    assert progress.wanted(False, on, _Terminal()) is False
    assert progress.wanted(True, {}, io.StringIO()) is True


def test_the_environment_decides_when_no_flag_is_given() -> None:
    assert progress.wanted(None, {progress.PROGRESS_ENV: "1"}, io.StringIO()) is True
    assert progress.wanted(None, {progress.PROGRESS_ENV: "yes"}, io.StringIO()) is True
    assert progress.wanted(None, {progress.PROGRESS_ENV: "0"}, _Terminal()) is False
    # A value that means neither falls through to the terminal check.
    assert progress.wanted(None, {progress.PROGRESS_ENV: "maybe"}, _Terminal()) is True


def test_quiet_unless_stderr_is_a_terminal() -> None:
    assert progress.wanted(None, {}, _Terminal()) is True
    assert progress.wanted(None, {}, io.StringIO()) is False
    closed = io.StringIO()
    closed.close()
    assert progress.wanted(None, {}, closed) is False


def test_a_step_prints_its_start_and_its_end_with_the_elapsed_time(lines: list[str]) -> None:
    with progress.step("compile build/core.wasm") as step:
        step.detail = "cold compile of 18.7 MB"
    assert lines[0] == "compile build/core.wasm ..."
    assert lines[1].startswith("compile build/core.wasm: ")
    assert lines[1].endswith(" s (cold compile of 18.7 MB)")
    assert len(lines) == 2


def test_a_failing_step_says_so_and_the_error_goes_on(lines: list[str]) -> None:
    with pytest.raises(ValueError, match="boom"), progress.step("compose graph.toml"):
        raise ValueError("boom")
    assert lines[-1].startswith("compose graph.toml: failed after ")


def test_nothing_is_printed_when_progress_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    progress.configure(False)
    assert not progress.enabled()
    with progress.step("build core (componentize-py)"):
        progress.note("a note")
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_the_default_sink_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    progress.configure(True)
    try:
        progress.note("transpile core (jco 1.0)")
    finally:
        progress.configure(False)
    captured = capsys.readouterr()
    assert captured.err == "transpile core (jco 1.0)\n" and captured.out == ""


def test_elapsed_times_read_naturally() -> None:
    assert progress.seconds(0.4213) == "0.42 s"
    assert progress.seconds(12.44) == "12.4 s"
    assert progress.seconds(133.2) == "2 min 13 s"
