"""Tests for harness.drive.params: PASE parameters checked by the core's own rules."""

from __future__ import annotations

import pytest
from matter_core.pase import EXCLUDED_PASSCODES, MAX_PASSCODE

from harness.cli.exits import exit_code_for
from harness.drive import DEFAULT_SALT, RunConfig
from harness.drive.params import check_passcode, check_pbkdf_params, check_run_config
from harness.errors import RunConfigError


@pytest.mark.parametrize("passcode", [1, 20202021, MAX_PASSCODE])
def test_valid_passcodes_pass(passcode: int) -> None:
    check_passcode(passcode)


@pytest.mark.parametrize(
    "passcode", [0, -1, MAX_PASSCODE + 1, 99999999, *sorted(EXCLUDED_PASSCODES)]
)
def test_invalid_and_trivial_passcodes_are_refused_citing_the_specification(
    passcode: int,
) -> None:
    with pytest.raises(RunConfigError) as info:
        check_passcode(passcode)
    assert f"passcode {passcode} is not a valid Matter setup passcode" in info.value.message
    assert "section 5.1.7.1" in info.value.message
    assert exit_code_for(info.value) == 2


@pytest.mark.parametrize(
    ("salt", "iterations", "words"),
    [
        (b"\x00", 1000, "PBKDF salt is 1 byte long; Matter allows 16..32 bytes"),
        (bytes(33), 1000, "PBKDF salt is 33 bytes long"),
        (bytes(16), 999, "PBKDF iterations 999 outside 1000..100000"),
        (bytes(32), 100_001, "PBKDF iterations 100001 outside 1000..100000"),
    ],
)
def test_pbkdf_parameters_outside_matters_limits_are_refused(
    salt: bytes, iterations: int, words: str
) -> None:
    with pytest.raises(RunConfigError, match=words):
        check_pbkdf_params(salt, iterations)


def test_limits_are_inclusive() -> None:
    for salt in (bytes(16), bytes(32)):
        for iterations in (1000, 100_000):
            check_pbkdf_params(salt, iterations)


def test_a_run_config_is_checked_whole() -> None:
    check_run_config(RunConfig())
    with pytest.raises(RunConfigError, match="passcode"):
        check_run_config(RunConfig(passcode=12345678))
    with pytest.raises(RunConfigError, match="salt"):
        check_run_config(RunConfig(salt=DEFAULT_SALT[:4]))
    with pytest.raises(RunConfigError, match="iterations"):
        check_run_config(RunConfig(iterations=10))
