"""The test suite's own safety nets: a hanging test fails, property tests are stable in CI."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

PROJECT = Path(__file__).resolve().parents[2]


def test_every_test_has_a_timeout() -> None:
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["pytest"]
    assert int(config["ini_options"]["timeout"]) > 0


def test_a_hanging_test_fails_instead_of_hanging(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(
        "import time\n\ndef test_hang() -> None:\n    time.sleep(60)\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 1, done.stdout
    assert "Timeout" in done.stdout + done.stderr


def test_the_ci_profile_is_derandomized_with_no_load_dependent_checks() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None
    assert HealthCheck.too_slow in ci.suppress_health_check
    if os.environ.get("HYPOTHESIS_PROFILE") == "ci" or os.environ.get("CI"):
        assert settings.default is not None and settings.default.derandomize


def test_the_mutation_profile_is_ci_without_shrinking() -> None:
    ci, mutation = settings.get_profile("ci"), settings.get_profile("mutation")
    assert mutation.derandomize and mutation.deadline is None
    assert mutation.max_examples == ci.max_examples
    assert HealthCheck.too_slow in mutation.suppress_health_check
    assert Phase.shrink not in mutation.phases and Phase.explain not in mutation.phases
    assert Phase.generate in mutation.phases and Phase.explicit in mutation.phases
