"""Claim E3: the byte-level comparison, and the verdict failing when the rebuild differs
in what it computes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest

from harness.evidence.verifiers import reproducibility
from harness.evidence.verifiers.base import Verdict
from harness.evidence.verifiers.runs import KNOWN_GOOD_TRANSCRIPTS
from harness.wasm_binary import COMPONENT_PREAMBLE, custom_section, encode_section

T = TypeVar("T")

A = encode_section(1, b"module a")
B = encode_section(1, b"module b, longer")
C = custom_section("name", b"x" * 10)


def test_identical_binaries() -> None:
    data = COMPONENT_PREAMBLE + A + B
    diff = reproducibility.section_difference(data, data)
    assert diff["byte_identical"] and not diff["reordered"]
    assert (diff["differing_sections"], diff["differing_bytes"]) == (0, 0)


def test_reordered_sections_are_not_counted_as_different() -> None:
    diff = reproducibility.section_difference(
        COMPONENT_PREAMBLE + A + B + C, COMPONENT_PREAMBLE + B + A + C
    )
    assert not diff["byte_identical"] and diff["reordered"]
    assert diff["differing_sections"] == 0


def test_a_changed_section_is_counted_on_both_sides() -> None:
    changed = encode_section(1, b"module a!")
    diff = reproducibility.section_difference(
        COMPONENT_PREAMBLE + A + B, COMPONENT_PREAMBLE + changed + B
    )
    assert diff["differing_sections"] == 2
    assert diff["differing_bytes"] == len(b"module a") + len(b"module a!")


@dataclass
class _Report:
    transcript_hash: bytes
    ok: bool = True
    error: str | None = None


@dataclass
class _Vector:
    name: str
    passed: bool
    detail: str = ""


class _Chain:
    def load_component(self, *args: Any, **kwargs: Any) -> object:
        return object()


@dataclass
class _Context:
    original: Path
    build_dir: Path
    seed: int = 7
    runtime: Any = None
    supply_chain: Any = None

    def component(self, name: str) -> Path:
        return self.original

    def run_config(self) -> object:
        return object()

    def report(self, mode: str) -> _Report:
        return _Report(bytes.fromhex(KNOWN_GOOD_TRANSCRIPTS[7]))

    def inputs(self, *names: str) -> dict[str, str]:
        return {}

    def early_result(self, name: str, otherwise: Callable[[], T]) -> T:
        return otherwise()


def _e3(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    rebuilt_hash: bytes,
    vectors: list[_Vector],
) -> Any:
    original = tmp_path / "core.wasm"
    original.write_bytes(COMPONENT_PREAMBLE + A + B)

    def rebuild(directory: Path, **_options: Any) -> dict[str, Any]:
        path = directory / "core.wasm"
        path.write_bytes(COMPONENT_PREAMBLE + B + A)
        return {"core": SimpleNamespace(path=path)}

    monkeypatch.setattr(reproducibility, "build_all", rebuild)
    monkeypatch.setattr(reproducibility, "run_component", lambda *a, **k: _Report(rebuilt_hash))
    monkeypatch.setattr(reproducibility, "instantiate_conformance", lambda *a: (None, None))
    monkeypatch.setattr(reproducibility, "load_vectors", lambda: [])
    monkeypatch.setattr(reproducibility, "run_conformance", lambda *a: vectors)
    ctx = _Context(original, tmp_path, supply_chain=_Chain())
    return reproducibility.verify_rebuild(ctx, {})  # type: ignore[arg-type]


GOOD = bytes.fromhex(KNOWN_GOOD_TRANSCRIPTS[7])


def test_e3_passes_when_the_rebuild_computes_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evidence = _e3(monkeypatch, tmp_path, GOOD, [_Vector("v", True)])
    assert evidence.verdict is Verdict.PASS, evidence.message
    assert evidence.figures["bytes"]["reordered"] is True


def test_e3_fails_when_the_rebuild_gives_another_transcript(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evidence = _e3(monkeypatch, tmp_path, bytes(32), [_Vector("v", True)])
    assert evidence.verdict is Verdict.FAIL and "transcripts differ" in evidence.message


def test_e3_fails_when_a_vector_fails_in_the_rebuild(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    evidence = _e3(monkeypatch, tmp_path, GOOD, [_Vector("v", True), _Vector("w", False)])
    assert evidence.verdict is Verdict.FAIL and "1 of 2 vectors" in evidence.message


def test_e3_fails_when_no_vector_ran(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    evidence = _e3(monkeypatch, tmp_path, GOOD, [])
    assert evidence.verdict is Verdict.FAIL


def test_the_rebuild_directory_is_removed_once_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _e3(monkeypatch, tmp_path, GOOD, [_Vector("v", True)])
    assert not list(tmp_path.glob("rebuild-*"))
