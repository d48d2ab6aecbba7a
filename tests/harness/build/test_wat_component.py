"""Components written in component-model text: assembly, the cache key, build errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.build.componentize import BuildError, build_component, input_key, is_current
from harness.build.specs import LOOPBACK, TextComponentSpec
from harness.build.wat_component import (
    TextComponentError,
    compile_text_component,
    component_text,
)
from harness.wasm_binary import COMPONENT_PREAMBLE

MODULE = """;; a core module
(module $echo
  (func (export "answer") (result i32) i32.const 42))
"""
COMPONENT = """(component
  ;; @echo-module
  (core instance $i (instantiate $echo))
  (func $answer (result u32) (canon lift (core func $i "answer")))
  (export "answer" (func $answer)))
"""


def spec(tmp_path: Path, component: str = COMPONENT, module: str = MODULE) -> TextComponentSpec:
    (tmp_path / "echo.wat").write_text(module)
    (tmp_path / "component.wat").write_text(component)
    return TextComponentSpec(
        name="echo", world="none", text=tmp_path / "component.wat", modules=(tmp_path / "echo.wat",)
    )


def test_the_module_goes_where_its_marker_stands(tmp_path: Path) -> None:
    text = component_text(spec(tmp_path))
    assert "(core module $echo" in text and "@echo-module" not in text
    assert compile_text_component(spec(tmp_path)).startswith(COMPONENT_PREAMBLE)


@pytest.mark.parametrize(
    ("component", "module", "message"),
    [
        (COMPONENT.replace(";; @echo-module", ""), MODULE, "with one line ';; @echo-module'"),
        (COMPONENT, MODULE.replace("$echo", ""), "does not define a named (module $name"),
        (COMPONENT.replace("u32", "u33"), MODULE, "component.wat: invalid WebAssembly text"),
    ],
)
def test_broken_sources_are_named(
    tmp_path: Path, component: str, module: str, message: str
) -> None:
    with pytest.raises(TextComponentError, match=message.replace("(", r"\(").replace("$", r"\$")):
        compile_text_component(spec(tmp_path, component, module))


def test_a_missing_source_is_a_build_error(tmp_path: Path) -> None:
    broken = spec(tmp_path)
    broken.modules[0].unlink()
    with pytest.raises(BuildError, match="cannot build 'echo': cannot read"):
        build_component(broken, tmp_path / "build")
    assert not (tmp_path / "build" / "echo.wasm").exists()


def test_the_key_covers_every_text_and_the_build_is_cached(tmp_path: Path) -> None:
    first = spec(tmp_path)
    key = input_key(first)
    built = build_component(first, tmp_path / "build")
    assert not built.cached and is_current(first, built.path)
    assert build_component(first, tmp_path / "build").cached
    (tmp_path / "echo.wat").write_text(MODULE.replace("42", "43"))
    assert input_key(first) != key and not is_current(first, built.path)
    assert not build_component(first, tmp_path / "build").cached


def test_the_loopback_is_a_text_component_of_a_few_kilobytes() -> None:
    assert isinstance(LOOPBACK, TextComponentSpec) and LOOPBACK.world == "loopback"
    assert len(compile_text_component(LOOPBACK)) < 32_000
