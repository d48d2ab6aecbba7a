"""The global --progress option: step lines with elapsed times on stderr, shown when
asked for (or on a terminal), absent otherwise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from harness import progress
from harness.cli.app import cli
from tests.harness.wasm_samples import component

COMPILE_DONE = re.compile(
    r"^compile (?P<path>\S+): \d+(\.\d+)? s \((cold compile of [\d.]+ MB|"
    r"compiled-artifact cache hit)\)$",
    re.M,
)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.wasm"
    path.write_bytes(component())
    return path


def _inspect(*options: str, sample: Path) -> Result:
    result = CliRunner().invoke(cli, [*options, "inspect", str(sample)])
    assert result.exit_code == 0, result.output
    return result


def test_progress_lines_name_the_step_and_its_time(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    result = _inspect("--progress", sample=sample)
    assert f"compile {sample} ...\n" in result.stderr
    done = COMPILE_DONE.search(result.stderr)
    assert done is not None and done["path"] == str(sample), result.stderr
    assert "compile" not in result.stdout.replace(str(sample), "")
    # The reporter is left quiet for whatever runs next in this process.
    assert not progress.enabled()


def test_no_progress_lines_without_a_terminal_unless_asked(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(progress.PROGRESS_ENV, raising=False)
    result = _inspect(sample=sample)  # CliRunner's stderr is not a terminal
    assert "compile" not in result.stderr


def test_the_environment_variable_turns_progress_on_and_the_flag_off(
    sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(progress.PROGRESS_ENV, "1")
    assert COMPILE_DONE.search(_inspect(sample=sample).stderr) is not None
    assert "compile" not in _inspect("--no-progress", sample=sample).stderr
