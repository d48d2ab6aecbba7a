"""What a component imports and exports, as plain data, read quickly and cached.

The composer needs the exact type of every import it re-declares on the composed
component. Compiling a whole componentize-py component (18 MB) to ask wasmtime takes
4-10 s, so :func:`read_interface` compiles only a *type stub*: the component's leading
custom, type, alias and import sections, cut off before the first core module. That is
a valid component with the same imports and no exports, and wasmtime compiles it in a
few milliseconds. (wasmtime leaves plain type imports out of its import list; the
stub re-exports them so they can be described too.) Exports are described from a
*code stub* (:func:`harness.runtime.stubs.code_stub`): the whole component with every
core function body replaced by ``unreachable``, which has the same exports with the
same types and compiles in under a second instead of seconds. The result is cached as
JSON keyed by the SHA-256 of the component file.

Types are described as JSON-compatible data (``Json``) so they can be cached, compared
across components and rendered back to component-model text (:mod:`harness.build.wat`):

- a value type is a primitive name (``"u32"``, ``"string"``...), ``{"ref": name}`` (a
  named type exported earlier in the same scope), ``{"list": t}``, ``{"option": t}``,
  ``{"tuple": [t...]}``, ``{"result": [ok_or_null, err_or_null]}``, ``{"own": name}``,
  ``{"borrow": name}``, ``{"future": t}`` or ``{"stream": t}``;
- a type definition is a value type or ``{"record": [[field, t]...]}``,
  ``{"variant": [[case, t_or_null]...]}``, ``{"enum": [...]}``, ``{"flags": [...]}``
  or ``{"resource": [import, export]}`` (a resource declared here), or ``{"alias":
  [import, export]}`` (a type an earlier import introduced: a resource seen again,
  since resources are nominal, or a type whose body this scope cannot spell because
  it names types only the earlier interface exports, as WIT ``use`` produces);
- an item is ``{"kind": "type", "def": d}``, ``{"kind": "func", "params": [[name, t]...],
  "result": t_or_null}``, ``{"kind": "instance", "exports": [[name, item]...]}``
  (types before functions, each type after the types it uses), or ``{"kind":
  "component"}`` / ``{"kind": "module"}`` (not described further).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wasmtime import Engine, WasmtimeError
from wasmtime import component as wc

from harness import wasm_binary as wb
from harness.errors import ComponentFileError, HarnessError, UnsupportedTypeError, WasmFormatError
from harness.project import atomic_write
from harness.runtime.stubs import code_stub

Json = None | bool | int | str | list["Json"] | dict[str, "Json"]

CACHE_FORMAT = 2

# Sections a type stub may contain: everything a component declares before it starts
# defining core modules and instances (component-model Binary.md section ids).
_STUB_SECTION_IDS = frozenset(
    {wb.SECTION_CUSTOM, wb.SECTION_ALIAS, wb.SECTION_TYPE, wb.SECTION_IMPORT}
)

_PRIMITIVES: dict[type, str] = {
    wc.Bool: "bool",
    wc.S8: "s8",
    wc.S16: "s16",
    wc.S32: "s32",
    wc.S64: "s64",
    wc.U8: "u8",
    wc.U16: "u16",
    wc.U32: "u32",
    wc.U64: "u64",
    wc.F32: "f32",
    wc.F64: "f64",
    wc.Char: "char",
    wc.String: "string",
    wc.ErrorContext: "error-context",
}

# Defined types the component model requires to be referenced by name.
_NOMINAL = (wc.RecordType, wc.VariantType, wc.EnumType, wc.FlagsType, wc.ResourceType)


@dataclass(frozen=True)
class ImportDesc:
    """One import of a component: its name and its item description (see module doc)."""

    name: str
    item: Json

    @property
    def kind(self) -> str:
        """``"instance"``, ``"func"``, ``"type"``, ``"component"`` or ``"module"``."""
        assert isinstance(self.item, dict)
        kind = self.item["kind"]
        assert isinstance(kind, str)
        return kind


@dataclass(frozen=True)
class ExportDesc:
    """One export of a component: its name, its sort (``"instance"``, ``"func"``...) and
    its item description (see module doc).

    ``item`` is None when the export's type could not be described; ``problem`` then
    says why. An ``{"alias": [name, type]}`` in an export's description names an import
    of the component, or else another of its exports (WIT ``use`` between exported
    interfaces).
    """

    name: str
    sort: str
    item: Json = None
    problem: str = ""

    def to_json(self) -> list[Json]:
        """``[name, sort]``, ``[name, sort, item]`` or ``[name, sort, null, problem]``."""
        if self.item is not None:
            return [self.name, self.sort, self.item]
        if self.problem:
            return [self.name, self.sort, None, self.problem]
        return [self.name, self.sort]

    @classmethod
    def from_json(cls, entry: Any) -> ExportDesc:
        """Inverse of :meth:`to_json`; raises TypeError/ValueError on bad data."""
        if not isinstance(entry, list) or not 2 <= len(entry) <= 4:
            raise ValueError("malformed export entry")
        name, sort, *rest = entry
        item = rest[0] if rest else None
        problem = str(rest[1]) if len(rest) > 1 else ""
        return cls(str(name), str(sort), item, problem)


@dataclass(frozen=True)
class ComponentInterface:
    """The imports and exports, with their types, of one component file."""

    sha256: str
    size: int
    imports: tuple[ImportDesc, ...]
    exports: tuple[ExportDesc, ...]

    def import_named(self, name: str) -> ImportDesc | None:
        """The import called ``name``, or None."""
        return next((imp for imp in self.imports if imp.name == name), None)

    def export_named(self, name: str) -> ExportDesc | None:
        """The export called ``name``, or None."""
        return next((exp for exp in self.exports if exp.name == name), None)

    def to_json(self) -> dict[str, Json]:
        """A JSON-compatible dict (the cache file format)."""
        return {
            "format": CACHE_FORMAT,
            "sha256": self.sha256,
            "size": self.size,
            "imports": [[imp.name, imp.item] for imp in self.imports],
            "exports": [exp.to_json() for exp in self.exports],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComponentInterface:
        """Inverse of :meth:`to_json`; raises KeyError/TypeError/ValueError on bad data."""
        if data["format"] != CACHE_FORMAT:
            raise ValueError("stale cache format")
        return cls(
            sha256=str(data["sha256"]),
            size=int(data["size"]),
            imports=tuple(ImportDesc(str(name), item) for name, item in data["imports"]),
            exports=tuple(ExportDesc.from_json(entry) for entry in data["exports"]),
        )


# --------------------------------------------------------------------------- reading


def type_stub(data: bytes) -> bytes | None:
    """Cut a component down to its leading type/import declarations.

    wasmtime leaves imports of plain (``eq``-bound) types out of a component's import
    list, so the stub also *exports* each such imported type under its import name,
    which makes wasmtime describe it. Returns None when some import comes after the
    first non-declaration section (the stub would miss it; the caller then compiles
    the whole component instead).
    """
    sections = wb.parse_sections(data)
    cut = len(sections)
    for i, section in enumerate(sections):
        if section.id not in _STUB_SECTION_IDS:
            cut = i
            break
    if any(section.id == wb.SECTION_IMPORT for section in sections[cut:]):
        return None
    prefix = sections[:cut]
    type_imports = _eq_type_imports(prefix)
    parts: list[wb.Section | bytes] = list(prefix)
    if type_imports:
        payload = wb.leb128_u32(len(type_imports)) + b"".join(
            b"\x00" + wb.encode_name(name) + bytes([wb.SORT_TYPE]) + wb.leb128_u32(index) + b"\x00"
            for name, index in type_imports.items()
        )
        parts.append(wb.encode_section(wb.SECTION_EXPORT, payload))
    return wb.assemble(wb.COMPONENT_PREAMBLE, parts)


def _eq_type_imports(sections: list[wb.Section]) -> dict[str, int]:
    """Type-index-space positions of the ``(type (eq ...))`` imports among ``sections``.

    Only type, alias and import sections occur in a stub; each adds to the type index
    space as counted here (component-model Binary.md).
    """
    found: dict[str, int] = {}
    count = 0
    for section in sections:
        reader = wb.ByteReader(section.payload, section.payload_offset)
        if section.id == wb.SECTION_TYPE:
            count += reader.u32()
        elif section.id == wb.SECTION_ALIAS:
            for _ in range(reader.u32()):
                sort = reader.u8()
                if sort == wb.SORT_CORE:
                    reader.u8()
                target = reader.u8()
                reader.u32()
                if target == 0x02:
                    reader.u32()
                else:
                    reader.name()
                if sort == wb.SORT_TYPE:
                    count += 1
        elif section.id == wb.SECTION_IMPORT:
            for entry in wb.parse_component_imports(section):
                if entry.sort == "type":
                    if entry.index is not None:
                        found[entry.name] = count
                    count += 1
    return found


def read_interface(
    data: bytes,
    *,
    engine: Engine,
    cache_dir: Path | None = None,
    source: str = "<bytes>",
) -> ComponentInterface:
    """Describe the imports and exports of the component ``data``.

    ``source`` names the file in error messages. With ``cache_dir`` the description is
    cached there as ``<sha256>.json``; a corrupt or stale cache entry is ignored.
    """
    digest = hashlib.sha256(data).hexdigest()
    cache_file = cache_dir / f"{digest}.json" if cache_dir is not None else None
    if cache_file is not None:
        cached = _load_cached(cache_file, digest)
        if cached is not None:
            return cached
    try:
        if wb.binary_kind(data) != "component":
            raise ComponentFileError(f"{source} is a core wasm module, not a component")
        imported = [entry.name for entry in wb.component_imports(data)]
        exported = [(e.name, e.sort) for e in wb.component_exports(data)]
        stub = type_stub(data)
        coded = code_stub(data) if exported else None
    except WasmFormatError as exc:
        raise ComponentFileError(f"{source} is not a well-formed component: {exc}") from exc
    full: wc.Component | None = None
    compiled, _ = try_compile(engine, stub) if stub is not None else (None, "")
    if compiled is None:
        # No usable stub: the whole component has to be compiled (seconds, not ms).
        full = _compile_whole(engine, data, source)
        compiled = full
    origins = _Origins()
    imports = _describe_imports(compiled, engine, imported, origins)
    if exported and full is None:
        with_exports, _ = try_compile(engine, coded) if coded is not None else (None, "")
        # A code stub wasmtime refuses (it should not happen) costs a whole compile.
        full = with_exports if with_exports is not None else _compile_whole(engine, data, source)
        # Resources are told apart per compiled component: the exports' resources are
        # matched against the imports as this compile sees them.
        origins = _import_origins(full, engine)
    exports = describe_exports(full, engine, exported, origins) if full is not None else ()
    interface = ComponentInterface(digest, len(data), imports, exports)
    if cache_file is not None:
        # A cache that cannot be written only costs time on the next run.
        with contextlib.suppress(OSError):
            _store_cached(cache_file, interface)
    return interface


def _compile_whole(engine: Engine, data: bytes, source: str) -> wc.Component:
    compiled, error = try_compile(engine, data)
    if compiled is None:
        raise ComponentFileError(f"{source} is not a valid component: {error}")
    return compiled


def try_compile(engine: Engine, data: bytes) -> tuple[wc.Component | None, str]:
    """Compile ``data``; the component, or None and wasmtime's explanation on one line."""
    try:
        return wc.Component(engine, data), ""
    except WasmtimeError as exc:
        return None, wasmtime_message(exc)


def wasmtime_message(exc: Exception) -> str:
    """wasmtime's explanation on one line, without its "failed to parse" wrapper."""
    detail = str(exc).strip().split("Caused by:", 1)[-1]
    return "; ".join(line.strip() for line in detail.splitlines() if line.strip())


def _load_cached(path: Path, digest: str) -> ComponentInterface | None:
    try:
        interface = ComponentInterface.from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return interface if interface.sha256 == digest else None


def _store_cached(path: Path, interface: ComponentInterface) -> None:
    data = json.dumps(interface.to_json(), sort_keys=True).encode("utf-8")
    atomic_write(path, data)


# --------------------------------------------------------------------------- describing


class _Origins:
    """Named types already described in a component's imports, with where they came from.

    Resources are nominal, so a resource seen again in a later interface (through WIT
    ``use``) must be re-declared as an alias of the first declaration. Records, variants,
    enums and flags are structural; they are aliased only when their body cannot be
    spelled in the later scope (it refers to types that scope does not name).
    """

    def __init__(self) -> None:
        self.known: list[tuple[Any, list[Json]]] = []

    def find(self, ty: Any) -> list[Json] | None:
        for known, origin in self.known:
            if type(known) is type(ty) and known == ty:
                return origin
        return None

    def add(self, ty: Any, origin: list[Json]) -> None:
        self.known.append((ty, origin))


class _NotLocal(HarnessError):
    """A type refers to a named type its scope does not name."""


def describe_imports(
    compiled: wc.Component, engine: Engine, names: list[str]
) -> tuple[ImportDesc, ...]:
    """Describe the imports called ``names`` (in that order) of a compiled component.

    An import wasmtime does not list (a plain type import) is looked up among the
    exports, where :func:`type_stub` puts it.
    """
    return _describe_imports(compiled, engine, names, _Origins())


def _describe_imports(
    compiled: wc.Component, engine: Engine, names: list[str], origins: _Origins
) -> tuple[ImportDesc, ...]:
    listed = compiled.type.imports(engine)
    exported = compiled.type.exports(engine)
    top: dict[str, Any] = {}
    for name in names:
        if name in listed:
            top[name] = listed[name]
        elif name in exported:
            top[name] = exported[name]
        else:
            raise UnsupportedTypeError(f"wasmtime does not describe the import {name!r}")
    described = dict(_Scope(top, engine, origins, owner=None).describe())
    return tuple(ImportDesc(name, described[name]) for name in names)


def _import_origins(compiled: wc.Component, engine: Engine) -> _Origins:
    """The named types the imports of ``compiled`` introduce (those wasmtime lists)."""
    origins = _Origins()
    with contextlib.suppress(UnsupportedTypeError):
        # Already described once from the type stub; failing here cannot happen, and
        # would only leave the exports' aliases of imported types undescribed.
        _Scope(compiled.type.imports(engine), engine, origins, owner=None).describe()
    return origins


def describe_exports(
    compiled: wc.Component,
    engine: Engine,
    exported: list[tuple[str, str]],
    origins: _Origins | None = None,
) -> tuple[ExportDesc, ...]:
    """Describe the exports ``exported`` (name and sort, in order) of a compiled component.

    ``origins`` holds the named types the imports introduced (so an exported interface
    that uses an imported resource aliases it); each export's own named types are added
    to it in turn, so a later export can alias an earlier one's. An export that cannot
    be described gets ``item`` None and the reason; that is only an error for a caller
    that needs its type.
    """
    origins = origins if origins is not None else _Origins()
    listed = compiled.type.exports(engine)
    described: list[ExportDesc] = []
    for name, sort in exported:
        if name not in listed:
            described.append(ExportDesc(name, sort, None, "wasmtime does not describe it"))
            continue
        try:
            ((_, item),) = _Scope(
                {name: listed[name]}, engine, origins, owner=None, side="export"
            ).describe()
        except UnsupportedTypeError as exc:
            described.append(ExportDesc(name, sort, None, exc.message))
            continue
        described.append(ExportDesc(name, sort, item))
    return tuple(described)


class _Scope:
    """Describes the items of one scope: the component's top level or one instance type.

    ``owner`` is the import (or, with ``side`` "export", the export) whose instance type
    this is, or None at top level.
    """

    def __init__(
        self,
        externs: Mapping[str, Any],
        engine: Engine,
        origins: _Origins,
        owner: str | None,
        side: str = "import",
    ) -> None:
        self.engine = engine
        self.origins = origins
        self.owner = owner
        self.side = side
        self.types: list[tuple[str, Any]] = []
        self.others: list[tuple[str, Any]] = []
        for name, extern in externs.items():
            ty = extern.ty
            is_type = isinstance(ty, wc.ValType | wc.ResourceType)
            (self.types if is_type else self.others).append((name, ty))

    def origin_of(self, name: str) -> list[Json]:
        return [self.owner, name] if self.owner is not None else [name, ""]

    def local(self, ty: Any, before: int | None = None) -> str | None:
        """The first name in this scope for a type equal to ``ty``."""
        limit = len(self.types) if before is None else before
        for name, candidate in self.types[:limit]:
            if type(candidate) is type(ty) and candidate == ty:
                return name
        return None

    def valtype(self, ty: Any, deps: list[str]) -> Json:
        """Describe a value type used in a definition or a signature."""
        if type(ty) in _PRIMITIVES:
            return _PRIMITIVES[type(ty)]
        if isinstance(ty, (wc.OwnType, wc.BorrowType, *_NOMINAL)):
            target = ty.ty if isinstance(ty, wc.OwnType | wc.BorrowType) else ty
            name = self.local(target)
            if name is None:
                raise _NotLocal(type(target).__name__)
            deps.append(name)
            if isinstance(ty, wc.OwnType):
                return {"own": name}
            if isinstance(ty, wc.BorrowType):
                return {"borrow": name}
            return {"ref": name}
        if isinstance(ty, wc.ListType):
            return {"list": self.valtype(ty.element, deps)}
        if isinstance(ty, wc.OptionType):
            return {"option": self.valtype(ty.payload, deps)}
        if isinstance(ty, wc.TupleType):
            return {"tuple": [self.valtype(e, deps) for e in ty.elements]}
        if isinstance(ty, wc.ResultType):
            ok, err = ty.ok, ty.err
            return {
                "result": [
                    None if ok is None else self.valtype(ok, deps),
                    None if err is None else self.valtype(err, deps),
                ]
            }
        if isinstance(ty, wc.FutureType):
            return {"future": self.valtype(ty.payload, deps)}
        if isinstance(ty, wc.StreamType):
            return {"stream": self.valtype(ty.payload, deps)}
        raise UnsupportedTypeError(f"unknown value type {ty!r} in {_where(self.owner, self.side)}")

    def body(self, ty: Any, deps: list[str]) -> Json:
        """The structural definition of a type item."""
        if isinstance(ty, wc.RecordType):
            fields: list[Json] = [[f, self.valtype(t, deps)] for f, t in ty.fields]
            return {"record": fields}
        if isinstance(ty, wc.VariantType):
            cases: list[Json] = [
                [c, None if t is None else self.valtype(t, deps)] for c, t in ty.cases
            ]
            return {"variant": cases}
        if isinstance(ty, wc.EnumType):
            return {"enum": list(ty.names)}
        if isinstance(ty, wc.FlagsType):
            return {"flags": list(ty.names)}
        return self.valtype(ty, deps)

    def definition(self, index: int, name: str, ty: Any, deps: list[str]) -> Json:
        if isinstance(ty, _NOMINAL):
            first = self.local(ty, before=index)
            if first is not None:
                deps.append(first)
                return {"ref": first}
        if isinstance(ty, wc.ResourceType):
            origin = self.origins.find(ty)
            if origin is not None:
                return {"alias": origin}
            self.origins.add(ty, self.origin_of(name))
            return {"resource": self.origin_of(name)}
        try:
            body = self.body(ty, deps)
        except _NotLocal as exc:
            origin = self.origins.find(ty) if isinstance(ty, _NOMINAL) else None
            if origin is None:
                raise UnsupportedTypeError(
                    f"type {name!r} in {_where(self.owner, self.side)} refers to an unnamed {exc}"
                ) from None
            deps.clear()
            return {"alias": origin}
        if isinstance(ty, _NOMINAL):
            self.origins.add(ty, self.origin_of(name))
        return body

    def describe(self) -> list[tuple[str, Json]]:
        """Items in an order where every type follows the types it uses.

        At top level, instances are described first: a top-level type import may alias
        a type of an imported interface (WIT ``use`` in a world), never the reverse.
        """
        instances = {
            name: self.item(name, ty)
            for name, ty in self.others
            if isinstance(ty, wc.ComponentInstanceType)
        }
        bodies: dict[str, tuple[Json, list[str]]] = {}
        for index, (name, ty) in enumerate(self.types):
            deps: list[str] = []
            bodies[name] = (self.definition(index, name, ty, deps), deps)
        ordered: list[tuple[str, Json]] = []
        placed: set[str] = set()

        def place(name: str) -> None:
            if name in placed:
                return
            placed.add(name)
            body, deps = bodies[name]
            for dep in deps:
                place(dep)
            ordered.append((name, {"kind": "type", "def": body}))

        for name, _ in self.types:
            place(name)
        for name, ty in self.others:
            ordered.append((name, instances[name] if name in instances else self.item(name, ty)))
        return ordered

    def item(self, name: str, ty: Any) -> Json:
        try:
            if isinstance(ty, wc.FuncType):
                result = ty.result
                return {
                    "kind": "func",
                    "params": [[p, self.valtype(t, [])] for p, t in ty.params],
                    "result": None if result is None else self.valtype(result, []),
                }
        except _NotLocal as exc:
            raise UnsupportedTypeError(
                f"function {name!r} in {_where(self.owner, self.side)} uses an unnamed {exc}"
            ) from None
        if isinstance(ty, wc.ComponentInstanceType):
            if self.owner is not None:
                raise UnsupportedTypeError(
                    f"nested instance {name!r} in {_where(self.owner, self.side)}"
                )
            scope = _Scope(ty.exports(self.engine), self.engine, self.origins, name, self.side)
            return {"kind": "instance", "exports": [[n, i] for n, i in scope.describe()]}
        if isinstance(ty, wc.ComponentType):
            return {"kind": "component"}
        return {"kind": "module"}


def _where(owner: str | None, side: str) -> str:
    return f"{side} {owner!r}" if owner is not None else "the component's top level"
