"""``matter-harness inspect``: a component's imports, exports, size, digest and manifest.

Types are read through wasmtime's component type introspection and printed in a
WIT-like notation (``func(datagram: list<u8>) -> bool``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import wasmtime
import wasmtime.component as wc

from harness import wasm_binary
from harness.component_file import read_component_file
from harness.errors import HarnessError
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime.engine import Runtime

_ComponentExtern = wasmtime.component._types.ComponentExtern

_PRIMITIVES = {
    "Bool": "bool",
    "S8": "s8",
    "S16": "s16",
    "S32": "s32",
    "S64": "s64",
    "U8": "u8",
    "U16": "u16",
    "U32": "u32",
    "U64": "u64",
    "F32": "f32",
    "F64": "f64",
    "Char": "char",
    "String": "string",
}


def render_valtype(ty: Any) -> str:
    """A WIT-like spelling of a component value type."""
    name = type(ty).__name__
    if name in _PRIMITIVES:
        return _PRIMITIVES[name]
    if isinstance(ty, wc.ListType):
        return f"list<{render_valtype(ty.element)}>"
    if isinstance(ty, wc.OptionType):
        return f"option<{render_valtype(ty.payload)}>"
    if isinstance(ty, wc.ResultType):
        ok = "_" if ty.ok is None else render_valtype(ty.ok)
        err = "_" if ty.err is None else render_valtype(ty.err)
        return f"result<{ok}, {err}>"
    if isinstance(ty, wc.TupleType):
        return "tuple<" + ", ".join(render_valtype(e) for e in ty.elements) + ">"
    if isinstance(ty, wc.RecordType):
        return "record { " + ", ".join(f"{n}: {render_valtype(t)}" for n, t in ty.fields) + " }"
    if isinstance(ty, wc.VariantType):
        cases = [n if t is None else f"{n}({render_valtype(t)})" for n, t in ty.cases]
        return "variant { " + ", ".join(cases) + " }"
    if isinstance(ty, wc.EnumType):
        return "enum { " + ", ".join(ty.names) + " }"
    if isinstance(ty, wc.FlagsType):
        return "flags { " + ", ".join(ty.names) + " }"
    return name


def render_extern(item: Any, engine: wasmtime.Engine) -> str:
    """Render one import or export (an instance, a function, ...)."""
    if isinstance(item, _ComponentExtern):
        item = item.ty
    if isinstance(item, wc.FuncType):
        params = ", ".join(f"{n}: {render_valtype(t)}" for n, t in item.params)
        result = "" if item.result is None else f" -> {render_valtype(item.result)}"
        return f"func({params}){result}"
    if isinstance(item, wc.ComponentInstanceType):
        lines = []
        for name, sub in item.exports(engine).items():
            lines.append(f"{name}: {render_extern(sub, engine)}")
        return "instance\n" + "\n".join("  " + line for line in lines)
    if isinstance(item, wc.ComponentType):
        return "component"
    if isinstance(item, wc.ValType):
        return f"type {render_valtype(item)}"
    return type(item).__name__


def describe_component(path: Path, runtime: Runtime | None = None) -> dict[str, Any]:
    """Size, SHA-256, imports and exports (rendered), and the composition manifest if any.

    The component is compiled through ``runtime`` (default: one using the default build
    directory's compiled-artifact cache), so inspecting a built component is fast.
    """
    data = read_component_file(path)
    owned = runtime is None
    runtime = runtime if runtime is not None else Runtime(DEFAULT_BUILD_DIR / "cache")
    try:
        component = runtime.load_bytes(data, name=str(path))
        engine = runtime.engine
    finally:
        if owned:
            runtime.close()
    ty = component.type
    try:
        manifest = wasm_binary.read_manifest(data)
    except HarnessError:
        manifest = None
    return {
        "path": str(path),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "imports": {n: render_extern(i, engine) for n, i in ty.imports(engine).items()},
        "exports": {n: render_extern(e, engine) for n, e in ty.exports(engine).items()},
        "manifest": manifest,
    }
