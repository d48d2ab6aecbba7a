"""The guest glue's coverage probe: it passes on the project's app.py, and fails on a glue
that lets an exception escape an export (which would trap the component)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.evidence.guest_glue import APP, measure_guest_glue
from harness.project import DEFAULT_BUILD_DIR

pytestmark = pytest.mark.slow


def test_the_glue_is_covered_and_every_exercise_passes() -> None:
    measured = measure_guest_glue(DEFAULT_BUILD_DIR)
    assert measured.problems == []
    assert measured.percent >= 90
    assert "a seeded handshake through the glue establishes both roles" in measured.exercises
    assert "the vectors pass through the glue" in measured.exercises


def test_a_glue_that_lets_an_exception_escape_fails_its_exercise(tmp_path: Path) -> None:
    text = APP.read_text()
    guard = "    except BaseException as exc:\n        raise Err(_error_value(exc)) from None"
    assert guard in text
    broken = tmp_path / "app.py"
    broken.write_text(
        text.replace(
            guard,
            "    except matter_core.errors.CoreError as exc:\n"
            "        raise Err(_error_value(exc)) from None",
        )
    )
    measured = measure_guest_glue(DEFAULT_BUILD_DIR, app=broken)
    assert "a non-core exception in an export becomes an internal error value" in (
        measured.problems
    )
