"""Tests for ``matter-harness spike``: exit codes, printed output and the SPIKE record."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from command_samples import (
    CORE_MODULE,
    FAILS,
    FOREIGN_IMPORT,
    LIBRARY,
    RUNAWAY,
    SUCCEEDS,
    WANTS_MORE,
)

from harness.cli.app import cli
from harness.evidence import read_records, verify_ledger

slow = pytest.mark.slow


def _spike(tmp_path: Path, component: Path, *args: str, cache: bool = False) -> Result:
    """Run the command; ``cache``: compile through build/cache (the 19 MB PASE spike is
    compiled once, not per test) instead of a cache of the test's own."""
    ledger = tmp_path / "ledger.jsonl"
    build_dir = [] if cache else ["--build-dir", str(tmp_path)]
    return CliRunner().invoke(
        cli, ["spike", str(component), "--ledger", str(ledger), *build_dir, *args]
    )


def _written(tmp_path: Path, data: bytes, name: str = "cmd.wasm") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _record(tmp_path: Path) -> dict[str, Any]:
    ledger = tmp_path / "ledger.jsonl"
    assert verify_ledger(ledger).ok
    records = read_records(ledger)
    assert len(records) == 1
    record = records[0].to_dict()
    assert record["claim"] == "SPIKE"
    assert record["verifier"] == "spike-command"
    return record


def _clean(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) or code == 0


# --------------------------------------------------------------------------- bad input: 2


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"not a component\n", "is not a WebAssembly component"),
        (CORE_MODULE, "is not a WebAssembly component: it is a core WebAssembly module"),
        (LIBRARY, "is not a command component: it does not export wasi:cli/run@0.2.x"),
        (SUCCEEDS.replace(b"wasi:cli/run@0.2.0", b"wasi:cli/run@0.3.0"), "wasi:cli/run@0.2.x"),
    ],
)
def test_what_is_not_a_command_is_a_usage_error(tmp_path: Path, data: bytes, says: str) -> None:
    result = _spike(tmp_path, _written(tmp_path, data))
    _clean(result, 2)
    assert says in result.output
    assert not (tmp_path / "ledger.jsonl").exists()


def test_an_import_outside_the_command_world_is_named(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, WANTS_MORE))
    _clean(result, 2)
    assert FOREIGN_IMPORT in result.output
    assert "outside the wasi:cli/command world" in result.output


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _spike(tmp_path, tmp_path / "nowhere.wasm")
    _clean(result, 2)
    assert "cannot read component" in result.output


def test_an_empty_expect_is_a_usage_error(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, SUCCEEDS), "--expect", " ")
    _clean(result, 2)
    assert "--expect" in result.output


# --------------------------------------------------------------------------- WAT commands


def test_a_command_that_exits_0_passes_and_is_recorded(tmp_path: Path) -> None:
    path = _written(tmp_path, SUCCEEDS)
    result = _spike(tmp_path, path)
    _clean(result, 0)
    assert "SPIKE-PASSED" in result.stderr
    record = _record(tmp_path)
    assert record["verdict"] == "pass"
    figures = record["figures"]
    assert figures["exit_code"] == 0
    assert figures["stopped"] is None
    assert figures["expected"] is None
    digest = hashlib.sha256(SUCCEEDS).hexdigest()
    assert figures["component"] == {"path": str(path), "sha256": digest, "size": len(SUCCEEDS)}
    assert record["inputs"] == {str(path): digest}
    assert figures["stdout"] == {
        "sha256": hashlib.sha256(b"").hexdigest(),
        "size": 0,
        "truncated": False,
    }
    assert figures["limits"]["fuel"] == 20_000_000_000
    assert figures["arguments"] == ["cmd.wasm"]
    assert record["command"] == f"matter-harness spike {path}"


def test_a_command_that_fails_exits_1(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, FAILS), "--arg", "x y")
    _clean(result, 1)
    assert "SPIKE-FAILED: the command exited with status 1" in result.stderr
    record = _record(tmp_path)
    assert record["verdict"] == "fail"
    assert record["figures"]["exit_code"] == 1
    assert record["figures"]["arguments"] == ["cmd.wasm", "x y"]
    assert record["command"].endswith("--arg 'x y'")


def test_expected_text_never_printed_exits_1(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, SUCCEEDS), "--expect", "PASE-RUNS-OK")
    _clean(result, 1)
    assert "never printed 'PASE-RUNS-OK'" in result.stderr
    expected = _record(tmp_path)["figures"]["expected"]
    assert expected == {
        "text": "PASE-RUNS-OK",
        "found": False,
        "line": None,
        "searched_all_output": True,
    }


def test_a_runaway_command_is_stopped_and_the_reason_recorded(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, RUNAWAY), "--fuel", "5000000")
    _clean(result, 1)
    assert "stopped by fuel" in result.stderr
    record = _record(tmp_path)
    assert record["verdict"] == "fail"
    figures = record["figures"]
    assert figures["exit_code"] is None
    assert figures["stopped"]["cause"] == "out-of-fuel"
    assert figures["stopped"]["limit"] == "fuel"
    assert figures["consumed"]["fuel"] == 5_000_000
    assert figures["consumed"]["fuel_is_lower_bound"] is False
    assert figures["limits"]["fuel"] == 5_000_000


def test_a_runaway_command_is_stopped_by_the_deadline(tmp_path: Path) -> None:
    result = _spike(tmp_path, _written(tmp_path, RUNAWAY), "--fuel", "0", "--deadline-ms", "100")
    _clean(result, 1)
    figures = _record(tmp_path)["figures"]
    assert figures["stopped"]["cause"] == "deadline-exceeded"
    assert figures["limits"]["deadline_ms"] == 100
    assert figures["limits"]["fuel"] is None
    assert figures["consumed"]["fuel_is_lower_bound"] is True


# --------------------------------------------------------------------------- the PASE spike


@slow
def test_the_pase_spike_prints_pase_runs_ok(tmp_path: Path, spike_path: Path) -> None:
    result = _spike(tmp_path, spike_path, "--expect", "PASE-RUNS-OK", cache=True)
    _clean(result, 0)
    assert result.stdout.startswith("PASE-RUNS-OK transcript=")
    assert "SPIKE-PASSED: the command exited 0 and printed 'PASE-RUNS-OK'" in result.stderr
    figures = _record(tmp_path)["figures"]
    assert figures["expected"]["found"] is True
    assert figures["expected"]["line"] == result.stdout.strip()
    assert figures["stdout"]["sha256"] == hashlib.sha256(result.stdout.encode()).hexdigest()
    assert figures["consumed"]["fuel"] > 10_000_000


@slow
def test_the_probe_gets_nothing_and_the_evidence_says_so(tmp_path: Path, spike_path: Path) -> None:
    result = _spike(tmp_path, spike_path, "--arg", "probe", "--expect", "PROBE-DONE", cache=True)
    _clean(result, 0)
    assert "environment: 0 variables []" in result.stdout
    assert "read /etc/passwd: denied (FileNotFoundError" in result.stdout
    capabilities = {
        k.split("@")[0]: v for k, v in _record(tmp_path)["figures"]["capabilities"].items()
    }
    requests = capabilities["wasi:cli/environment"]["requests"]
    assert requests["get-environment"] == {"calls": 1, "answered": "no variables"}
    assert capabilities["wasi:filesystem/preopens"]["requests"]["get-directories"]["calls"] >= 1
    assert capabilities["wasi:sockets/tcp"]["given"] == "denied: every address refused"
    assert "wasi:filesystem/preopens" in result.stderr  # the summary names what was asked


@slow
def test_the_spike_exiting_nonzero_exits_1(tmp_path: Path, spike_path: Path) -> None:
    result = _spike(tmp_path, spike_path, "--arg", "exit", "--arg", "3", cache=True)
    _clean(result, 1)
    assert result.stdout == "exiting with status 3\n"
    assert _record(tmp_path)["figures"]["exit_code"] == 1


@slow
def test_the_spike_in_a_runaway_loop_is_stopped(tmp_path: Path, spike_path: Path) -> None:
    result = _spike(
        tmp_path, spike_path, "--arg", "loop", "--fuel", "0", "--deadline-ms", "300", cache=True
    )
    _clean(result, 1)
    assert "stopped by deadline" in result.stderr
    record = _record(tmp_path)
    assert record["verdict"] == "fail"
    assert record["figures"]["stopped"]["cause"] == "deadline-exceeded"
    assert record["message"].startswith("stopped: ")
