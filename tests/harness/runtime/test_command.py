"""Tests for harness.runtime.command: command components under the capability policy."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime.component as wc
from command_samples import (
    CORE_MODULE,
    FAILS,
    FOREIGN_IMPORT,
    LIBRARY,
    RUN_EXPORT,
    RUNAWAY,
    SUCCEEDS,
    WANTS_MORE,
    command,
)

from harness.runtime import Limits, Runtime
from harness.runtime.command import (
    COMMAND_WORLD,
    CommandOutcome,
    NotACommand,
    OutputCapture,
    command_shape,
    run_command,
)

slow = pytest.mark.slow


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    runtime = Runtime(None)
    yield runtime
    runtime.close()


def _run(runtime: Runtime, data: bytes, limits: Limits | None = None) -> CommandOutcome:
    shape = command_shape(data)
    return run_command(runtime, runtime.load_bytes(data), shape, limits or Limits(), ["cmd"])


# --------------------------------------------------------------------------- the shape


def test_command_shape_finds_the_run_export_and_the_imports() -> None:
    shape = command_shape(SUCCEEDS)
    assert shape.run_export == RUN_EXPORT
    assert shape.imports == ()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"hello, not wasm\n", "is not a WebAssembly component: bad magic"),
        (b"", "is not a WebAssembly component"),
        (CORE_MODULE, "is a core WebAssembly module, not a component"),
        (LIBRARY, "does not export wasi:cli/run@0.2.x (it exports example:lib/api@1.0.0)"),
        (
            WANTS_MORE,
            f"outside the wasi:cli/command world, which a spike run does not "
            f"provide: {FOREIGN_IMPORT}",
        ),
    ],
)
def test_command_shape_refuses_what_is_not_a_command(data: bytes, says: str) -> None:
    with pytest.raises(NotACommand) as caught:
        command_shape(data, name="x.wasm")
    assert says in str(caught.value)
    assert str(caught.value).startswith("x.wasm ")


def test_a_wasi_import_of_another_release_is_outside_the_world() -> None:
    for release, linked in (("0.2.0", True), ("0.2.9", True), ("0.3.0", False), ("", False)):
        name = "wasi:cli/stdout" + (f"@{release}" if release else "")
        data = command("i32.const 0", imports=f'(import "{name}" (instance))')
        if linked:
            assert command_shape(data).imports == (name,)
        else:
            with pytest.raises(NotACommand, match=name):
                command_shape(data)


def test_every_command_world_interface_says_what_it_is_given() -> None:
    kinds = {text.split(":")[0] for text in COMMAND_WORLD.values()}
    assert kinds <= {"granted", "empty", "none", "unreachable", "denied"}
    assert all(name.startswith("wasi:") for name in COMMAND_WORLD)
    for name in ("wasi:cli/stdout", "wasi:clocks/monotonic-clock", "wasi:random/random"):
        assert COMMAND_WORLD[name].startswith("granted")
    for name in ("wasi:cli/environment", "wasi:filesystem/preopens", "wasi:cli/stdin"):
        assert COMMAND_WORLD[name].startswith("empty")
    assert COMMAND_WORLD["wasi:sockets/tcp"].startswith("denied")


# --------------------------------------------------------------------------- output capture


def test_output_capture_keeps_a_prefix_and_digests_everything() -> None:
    capture = OutputCapture(kept=4)
    capture.write(b"abc")
    capture.write(b"defg")
    assert capture.data == b"abcd"
    assert capture.size == 7
    assert capture.truncated
    assert capture.sha256 == hashlib.sha256(b"abcdefg").hexdigest()
    assert capture.as_dict() == {"sha256": capture.sha256, "size": 7, "truncated": True}
    assert not OutputCapture().truncated


# --------------------------------------------------------------------------- runs (WAT)


def test_ok_from_run_is_exit_status_0(runtime: Runtime) -> None:
    outcome = _run(runtime, SUCCEEDS)
    assert outcome.ok
    assert (outcome.exit_code, outcome.stopped) == (0, None)
    assert outcome.stdout.size == outcome.stderr.size == 0
    assert outcome.capabilities == {}


def test_err_from_run_is_exit_status_1(runtime: Runtime) -> None:
    outcome = _run(runtime, FAILS)
    assert not outcome.ok
    assert (outcome.exit_code, outcome.stopped) == (1, None)


def test_a_runaway_command_is_stopped_by_fuel(runtime: Runtime) -> None:
    outcome = _run(runtime, RUNAWAY, Limits(fuel=1_000_000))
    assert outcome.exit_code is None
    assert (outcome.stopped, outcome.limit) == ("out-of-fuel", "fuel")
    assert outcome.fuel_consumed == 1_000_000
    assert "out-of-fuel" in (outcome.stop_message or "")


def test_a_runaway_command_is_stopped_by_the_deadline(runtime: Runtime) -> None:
    outcome = _run(runtime, RUNAWAY, Limits(fuel=None, deadline_ms=100))
    assert outcome.exit_code is None
    assert (outcome.stopped, outcome.limit) == ("deadline-exceeded", "deadline")


# --------------------------------------------------------------------------- the spike (slow)


def _spike(
    runtime: Runtime, component: wc.Component, data: bytes, *args: str, limits: Limits | None = None
) -> CommandOutcome:
    shape = command_shape(data)
    return run_command(runtime, component, shape, limits or Limits(), ["spike.wasm", *args])


@slow
def test_the_spike_runs_pase_and_prints_pase_runs_ok(
    shared_runtime: Runtime, spike_component: wc.Component, spike_path: Path
) -> None:
    outcome = _spike(shared_runtime, spike_component, spike_path.read_bytes())
    assert outcome.exit_code == 0, outcome.stderr.data
    assert outcome.stdout.data.startswith(b"PASE-RUNS-OK transcript=")
    assert outcome.stdout.sha256 == hashlib.sha256(outcome.stdout.data).hexdigest()
    assert outcome.fuel_consumed > 10_000_000  # two PASE roles' PBKDF2 and P-256 work
    environment = next(k for k in outcome.capabilities if k.startswith("wasi:cli/environment@"))
    assert outcome.capabilities[environment]["requests"]["get-arguments"]["calls"] >= 1


@slow
def test_the_spike_probe_finds_no_ambient_authority(
    shared_runtime: Runtime, spike_component: wc.Component, spike_path: Path
) -> None:
    outcome = _spike(shared_runtime, spike_component, spike_path.read_bytes(), "probe")
    assert outcome.exit_code == 0, outcome.stderr.data
    lines = dict(
        line.split(": ", 1) for line in outcome.stdout.data.decode().splitlines() if ": " in line
    )
    assert lines["arguments"] == "['spike.wasm', 'probe']"
    assert lines["environment"] == "0 variables []"
    for probe in ("listdir /", "read /etc/passwd", "write spike.txt"):
        assert lines[probe].startswith("denied (FileNotFoundError"), lines[probe]
    assert lines["stdin"] == "'read 0 bytes'"
    assert lines["connect 127.0.0.1:9"].startswith("denied (PermissionError"), lines
    assert lines["resolve localhost"].startswith("denied ("), lines["resolve localhost"]
    assert lines["random"] == "16 bytes"
    assert outcome.stdout.data.endswith(b"PROBE-DONE\n")
    by_interface = {k.split("@")[0]: v for k, v in outcome.capabilities.items()}
    environment = by_interface["wasi:cli/environment"]["requests"]
    assert environment["get-environment"] == {"calls": 1, "answered": "no variables"}
    preopens = by_interface["wasi:filesystem/preopens"]["requests"]
    assert preopens["get-directories"]["calls"] >= 1
    assert preopens["get-directories"]["answered"] == "no directories"
    assert by_interface["wasi:sockets/tcp"]["given"].startswith("denied")


@slow
def test_the_spike_exit_status_and_err(
    shared_runtime: Runtime, spike_component: wc.Component, spike_path: Path
) -> None:
    data = spike_path.read_bytes()
    exited = _spike(shared_runtime, spike_component, data, "exit", "3")
    assert exited.exit_code == 1  # wasi:cli/exit 0.2 carries only success or failure
    assert exited.stdout.data == b"exiting with status 3\n"
    failed = _spike(shared_runtime, spike_component, data, "fail")
    assert failed.exit_code == 1
    assert failed.stderr.data == b"failing by returning err\n"
    zero = _spike(shared_runtime, spike_component, data, "exit", "0")
    assert zero.exit_code == 0
