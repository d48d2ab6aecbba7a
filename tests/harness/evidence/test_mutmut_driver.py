"""The mutmut driver: trampolines rebound only where that computes the same, its messages,
and a whole (tiny) campaign through it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mutmut.configuration import reset_config
from mutmut.mutation.file_mutation import mutate_file_contents

from harness.evidence.mutation_run import DRIVER
from harness.evidence.mutmut_driver import (
    bypass_trampolines,
    recv_message,
    send_message,
    trampoline_target,
)

DEMO = """
def double(x):
    return x * 2

def quad(x):
    return double(double(x))

class Box:
    def __init__(self, v):
        self.v = v
    def grown(self):
        return quad(self.v) + 1
    @classmethod
    def of(cls, v):
        return cls(v + 1)
    def items(self):
        yield self.v
        yield double(self.v)
"""


@pytest.fixture
def mutmut_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """mutmut reads its settings from the working directory the first time it needs them."""
    (tmp_path / "pyproject.toml").write_text('[tool.mutmut]\nsource_paths = ["demo"]\n')
    monkeypatch.chdir(tmp_path)
    reset_config()
    yield
    reset_config()


@pytest.fixture
def demo(mutmut_settings: None) -> tuple[Callable[[], ModuleType], list[str]]:
    """A factory of fresh trampolined ``demo`` modules, and the names of their mutants."""
    mutated = mutate_file_contents("demo.py", DEMO)

    def load() -> ModuleType:
        module = ModuleType("demo")
        exec(compile(mutated.code, "demo.py", "exec"), module.__dict__)
        return module

    return load, [f"demo.{name}" for name in mutated.mutant_names]


def _outcomes(module: Any) -> list[object]:
    results: list[object] = []
    for call in (
        lambda: module.quad(5),
        lambda: module.Box(3).grown(),
        lambda: list(module.Box(2).items()),
        lambda: module.Box.of(1).v,
    ):
        try:
            results.append(call())
        except Exception as exc:  # a mutant may raise; which exception is the outcome
            results.append(type(exc))
    return results


def test_trampolines_are_recognised_with_their_module_and_original(demo: Any) -> None:
    load, _ = demo
    module = load()
    target = trampoline_target(module.double)
    assert target is not None
    name, mutants, original = target
    assert name == "demo"
    assert "x_double__mutmut_1" in mutants
    assert original.__name__ == "x_double__mutmut_orig"
    assert trampoline_target(vars(module.Box)["grown"]) is not None


def test_class_methods_and_anything_else_are_left_alone(demo: Any) -> None:
    load, _ = demo
    module = load()
    assert trampoline_target(vars(module.Box)["of"]) is None
    for value in (len, lambda: 0, 3, module.x_double__mutmut_orig, module.Box):
        assert trampoline_target(value) is None


def test_only_the_trampoline_holding_the_mutant_stays(demo: Any) -> None:
    load, _ = demo
    module = load()
    rebound = bypass_trampolines("demo.x_double__mutmut_1", [module])
    assert trampoline_target(module.double) is not None
    assert module.quad.__name__ == "x_quad__mutmut_orig"
    assert vars(module.Box)["grown"].__name__ == "xǁBoxǁgrown__mutmut_orig"
    assert vars(module.Box)["items"].__name__ == "xǁBoxǁitems__mutmut_orig"
    assert trampoline_target(vars(module.Box)["of"]) is None
    # quad, __init__, grown, items: double stays, the class method is not a rebinding.
    assert rebound == 4


def test_a_bypassed_module_computes_what_the_trampolines_compute_for_every_mutant(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load, mutants = demo
    assert len(mutants) > 5
    monkeypatch.setenv("MUTANT_UNDER_TEST", "")
    unmutated = _outcomes(load())
    differ = set()
    for mutant in mutants:
        monkeypatch.setenv("MUTANT_UNDER_TEST", mutant)
        reference, bypassed = load(), load()
        bypass_trampolines(mutant, [bypassed])
        assert _outcomes(bypassed) == _outcomes(reference), mutant
        if _outcomes(reference) != unmutated:
            differ.add(mutant)
    # The mutants do change what the module computes: the comparison is not vacuous.
    assert len(differ) >= len(mutants) // 2


def test_messages_cross_a_pipe_whole() -> None:
    read, write = os.pipe()
    payload = ("matter_core.tlv.x_f__mutmut_1", ["tests/core/test_tlv.py::t[é]"] * 500, 30, 15.0)
    send_message(write, payload)
    send_message(write, None)
    os.close(write)
    try:
        assert recv_message(read) == payload
        assert recv_message(read) is None
        with pytest.raises(EOFError):
            recv_message(read)
    finally:
        os.close(read)


_PACKAGE = """\
def scale(value, factor):
    return value * factor + 1


def cap(value, high):
    if value > high:
        return high
    return value


def untested(value):
    return value + 1


def countdown(n):
    while n > 0:
        n -= 1
    return n
"""

_TESTS = """\
from demo import cap, countdown, scale


def test_scale():
    assert scale(3, 4) == 13


def test_cap():
    assert cap(5, 10) == 5
    assert cap(12, 10) == 10


def test_countdown():
    assert countdown(3) == 0
"""


def test_a_campaign_through_the_driver_kills_what_the_tests_catch(tmp_path: Path) -> None:
    """mutmut's own loop with the driver's runner, on a package of two functions."""
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "__init__.py").write_text(_PACKAGE)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_demo.py").write_text(_TESTS)
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent("""\
            [tool.pytest.ini_options]
            addopts = "-p no:cacheprovider"
            [tool.mutmut]
            source_paths = ["demo"]
            pytest_add_cli_args_test_selection = ["tests"]
            use_git_change_detection = false
            timeout_multiplier = 1.0
            """)
    )
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    for step in (["generate", "1"], ["run", "2"]):
        done = subprocess.run(
            [sys.executable, str(DRIVER), *step],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    meta = json.loads((tmp_path / "mutants" / "demo" / "__init__.py.meta").read_text())
    codes: dict[str, int] = meta["exit_code_by_key"]
    of = {f: {k: v for k, v in codes.items() if f".x_{f}__" in k} for f in ("scale", "cap")}
    untested = {k: v for k, v in codes.items() if ".x_untested__" in k}
    assert of["scale"] and of["cap"] and untested
    # No test reaches ``untested``: mutmut's "no tests" (33), never tried.
    assert set(untested.values()) == {33}
    # test_scale fails on every mutant of scale (exit 1: a test failed).
    assert set(of["scale"].values()) == {1}
    # cap's one mutant, ``value >= high``, computes the same on 5 and 12: it survives (0).
    assert of["cap"] == {"demo.x_cap__mutmut_1": 0}
    # ``n += 1`` never ends: a timeout (36 from the test's CPU budget, or -24, SIGXCPU,
    # from mutmut's limit for the whole mutant), which kills the mutant.
    hanging = [k for k, v in codes.items() if ".x_countdown__" in k and v in (36, -24)]
    assert hanging, codes


def test_the_driver_refuses_a_bad_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DRIVER), "frobnicate"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "usage" in done.stderr
