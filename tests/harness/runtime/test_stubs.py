"""Tests for harness.runtime.stubs: code stubs keep a component's type, not its code."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmtime import Engine, FuncType, Module, wat2wasm

from harness import wasm_binary as wb
from harness.errors import WasmFormatError
from harness.runtime.stubs import code_stub, module_code_stub
from harness.runtime.types import describe_exports, describe_imports, try_compile

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "compose"

MODULE = """(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "g") i32 (i32.const 5))
  (table (export "t") 2 funcref)
  (elem (i32.const 0) $double)
  (data (i32.const 0) "data that the stub drops")
  (func $double (export "double") (param i32) (result i32)
    local.get 0 call $f local.get 0 i32.add)
  (func (export "seven") (result i64) i64.const 7)
  (start $init)
  (func $init))"""


def test_module_code_stub_keeps_imports_and_exports_and_drops_code() -> None:
    original = bytes(wat2wasm(MODULE))
    stub = module_code_stub(original)
    ids = [s.id for s in wb.parse_sections(stub)]
    assert 8 not in ids and 9 not in ids and 11 not in ids  # start, element, data
    assert b"data that the stub drops" not in stub
    engine = Engine()
    before, after = Module(engine, original), Module(engine, stub)
    assert [(i.module, i.name, _sig(i.type)) for i in after.imports] == [
        (i.module, i.name, _sig(i.type)) for i in before.imports
    ]
    assert [(e.name, _sig(e.type)) for e in after.exports] == [
        (e.name, _sig(e.type)) for e in before.exports
    ]
    assert [e.name for e in after.exports] == ["memory", "g", "t", "double", "seven"]


def _sig(ty: object) -> object:
    if isinstance(ty, FuncType):
        return ([str(p) for p in ty.params], [str(r) for r in ty.results])
    return type(ty).__name__


@pytest.mark.parametrize("fixture", ["consumer", "typed_exporter"])
def test_code_stub_has_the_components_imports_and_exports(fixture: str) -> None:
    data = bytes(wat2wasm((FIXTURES / f"{fixture}.wat").read_text()))
    stub = code_stub(data)
    engine = Engine()
    original, _ = try_compile(engine, data)
    stubbed, message = try_compile(engine, stub)
    assert original is not None and stubbed is not None, message
    imports = [e.name for e in wb.component_imports(data)]
    exports = [(e.name, e.sort) for e in wb.component_exports(data)]
    assert [(e.name, e.sort) for e in wb.component_exports(stub)] == exports
    assert describe_imports(stubbed, engine, imports) == describe_imports(original, engine, imports)
    assert describe_exports(stubbed, engine, exports) == describe_exports(original, engine, exports)


def test_code_stub_of_garbage_is_a_format_error() -> None:
    with pytest.raises(WasmFormatError):
        code_stub(b"\0asm\x0d\0\x01\0\x01\xff")
