"""Component-model text for imported and exported types, re-created from their
descriptions.

The composer re-declares each import it leaves open on the composed component, typed
exactly as the inner component declares it, and ascribes each exported instance its own
copy of its instance type (:meth:`ImportRenderer.instance_type`). :class:`ImportRenderer`
turns an import or export description from :mod:`harness.runtime.types` back into text for
``wasmtime.wat2wasm``, following the shape wit-component gives such declarations: each
named type is defined and then exported from the instance type, functions refer to the
exported names, and a type another interface introduced (a resource, or a type whose
body that interface cannot spell) is pulled in with an outer alias of the type
aliased out of the earlier import.
"""

from __future__ import annotations

from harness.errors import UnsupportedTypeError
from harness.runtime import Json


def wat_string(text: str) -> str:
    """Quote ``text`` as a component-model text string literal."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def alias_origins(item: Json) -> list[tuple[str, str]]:
    """Every ``{"alias": [import, export]}`` origin an item refers to, in order."""
    found: list[tuple[str, str]] = []

    def walk(node: Json) -> None:
        if isinstance(node, dict):
            alias = node.get("alias")
            if isinstance(alias, list) and len(alias) == 2:
                found.append((str(alias[0]), str(alias[1])))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(item)
    return found


def import_dependencies(item: Json) -> list[str]:
    """Names of the other imports a top-level import's declaration refers to.

    Instance imports depend on the imports whose types they alias; top-level function
    and type imports also on the top-level types they name.
    """
    names = [origin for origin, _ in alias_origins(item)]
    if isinstance(item, dict) and item.get("kind") in ("func", "type"):

        def walk(node: Json) -> None:
            if isinstance(node, dict):
                for key, value in node.items():
                    if key in ("ref", "own", "borrow") and isinstance(value, str):
                        names.append(value)
                    else:
                        walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(item)
    return list(dict.fromkeys(names))


class ImportRenderer:
    """Renders import declarations, re-creating imported types in component-model text.

    ``root`` is the identifier of the enclosing component (the target of outer aliases).
    The renderer remembers the outer identifier of every named type it has declared, so
    a later import can alias a type introduced by an earlier one.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._counter = 0
        self.origin_ids: dict[tuple[str, str], str] = {}
        self.needed: set[tuple[str, str]] = set()

    def fresh(self, prefix: str) -> str:
        """A new unique identifier."""
        self._counter += 1
        return f"${prefix}{self._counter}"

    def render(self, name: str, item: Json, ident: str) -> list[str]:
        """The lines declaring import ``name`` with identifier ``ident``.

        Types that later imports alias (``self.needed``) are aliased out of the imported
        instance right after it.
        """
        assert isinstance(item, dict)
        kind = item.get("kind")
        if kind == "instance":
            return self._instance(name, item, ident)
        if kind == "func":
            lines: list[str] = []
            ftype = self._functype(item, self._top_names(), lines)
            return [*lines, f"(import {wat_string(name)} (func {ident} (type {ftype})))"]
        if kind == "type":
            return self._top_type(name, item["def"], ident)
        raise UnsupportedTypeError(
            f"import {name!r} is a {kind}; only instance, function and type imports "
            "can be re-declared by the composer"
        )

    def _top_names(self) -> dict[str, str]:
        return {origin[0]: ident for origin, ident in self.origin_ids.items() if not origin[1]}

    def _top_type(self, name: str, definition: Json, ident: str) -> list[str]:
        self.origin_ids[(name, "")] = ident
        if isinstance(definition, dict) and "resource" in definition:
            return [f"(import {wat_string(name)} (type {ident} (sub resource)))"]
        lines: list[str] = []
        target = self._type_target(definition, self._top_names(), lines, outer=False)
        return [*lines, f"(import {wat_string(name)} (type {ident} (eq {target})))"]

    def instance_type(
        self,
        name: str,
        item: Json,
        ident: str,
        origins: dict[tuple[str, str], str],
    ) -> list[str]:
        """The lines defining ``ident`` as the instance type ``item`` describes.

        Used to ascribe a type to an export ``name`` of the enclosing component. Each
        ``{"alias": origin}`` in ``item`` must be in ``origins``, mapped to the outer
        identifier of that type (the caller aliases it out of whichever instance or
        import provides it); the renderer's own import origins are not used.
        """
        if not isinstance(item, dict) or item.get("kind") != "instance":
            raise UnsupportedTypeError(f"export {name!r} is not described as an instance")
        saved = self.origin_ids
        self.origin_ids = origins
        try:
            decls, _ = self._instance_decls(name, item, ident, imported=False)
        finally:
            self.origin_ids = saved
        body = "\n    ".join(decls)
        return [f"(type {ident} (instance\n    {body}))"]

    def _instance(self, name: str, item: dict[str, Json], ident: str) -> list[str]:
        decls, after = self._instance_decls(name, item, ident, imported=True)
        body = "\n    ".join(decls)
        return [f"(import {wat_string(name)} (instance {ident}\n    {body}))", *after]

    def _instance_decls(
        self, name: str, item: dict[str, Json], ident: str, *, imported: bool
    ) -> tuple[list[str], list[str]]:
        """The declarations of an instance type, and (for an import) the aliases of its
        types that later imports need."""
        exports = item["exports"]
        assert isinstance(exports, list)
        decls: list[str] = []
        local: dict[str, str] = {}
        after: list[str] = []
        what = "import" if imported else "export"
        for entry in exports:
            assert isinstance(entry, list)
            export_name, export_item = str(entry[0]), entry[1]
            assert isinstance(export_item, dict)
            kind = export_item["kind"]
            quoted = wat_string(export_name)
            if kind == "type":
                exported = self.fresh("e")
                local[export_name] = exported
                definition = export_item["def"]
                if isinstance(definition, dict) and "resource" in definition:
                    decls.append(f"(export {quoted} (type {exported} (sub resource)))")
                else:
                    target = self._type_target(definition, local, decls, outer=True)
                    decls.append(f"(export {quoted} (type {exported} (eq {target})))")
                if imported and (name, export_name) in self.needed:
                    outer_id = self.fresh("t")
                    self.origin_ids[(name, export_name)] = outer_id
                    after.append(f"(alias export {ident} {quoted} (type {outer_id}))")
            elif kind == "func":
                ftype = self._functype(export_item, local, decls)
                decls.append(f"(export {quoted} (func (type {ftype})))")
            else:
                raise UnsupportedTypeError(
                    f"{what} {name!r} exports {export_name!r}, a {kind}, which the composer "
                    "cannot re-declare"
                )
        return decls, after

    def _type_target(
        self, definition: Json, names: dict[str, str], decls: list[str], *, outer: bool
    ) -> str:
        """Declare what a type definition needs and return the identifier it equals."""
        if isinstance(definition, dict) and "ref" in definition:
            return names[str(definition["ref"])]
        if isinstance(definition, dict) and "alias" in definition:
            alias = definition["alias"]
            assert isinstance(alias, list)
            origin = (str(alias[0]), str(alias[1]))
            if origin not in self.origin_ids:
                raise UnsupportedTypeError(
                    f"type {origin[1]!r} of {origin[0]!r} is used by another interface but "
                    "is not declared by an outer import or instance of the composition"
                )
            if not outer:
                return self.origin_ids[origin]
            aliased = self.fresh("a")
            decls.append(f"(alias outer {self.root} {self.origin_ids[origin]} (type {aliased}))")
            return aliased
        defined = self.fresh("d")
        decls.append(f"(type {defined} {self._deftype(definition, names)})")
        return defined

    def _deftype(self, definition: Json, names: dict[str, str]) -> str:
        if isinstance(definition, dict):
            if "record" in definition:
                fields = _pairs(definition["record"])
                inner = " ".join(
                    f"(field {wat_string(f)} {self.valtype(t, names)})" for f, t in fields
                )
                return f"(record {inner})"
            if "variant" in definition:
                cases = []
                for case, payload in _pairs(definition["variant"]):
                    typed = "" if payload is None else " " + self.valtype(payload, names)
                    cases.append(f"(case {wat_string(case)}{typed})")
                return f"(variant {' '.join(cases)})"
            for key in ("enum", "flags"):
                if key in definition:
                    labels = definition[key]
                    assert isinstance(labels, list)
                    return f"({key} {' '.join(wat_string(str(n)) for n in labels)})"
        return self.valtype(definition, names)

    def valtype(self, ty: Json, names: dict[str, str]) -> str:
        """Render a value type described as in the module docstring."""
        if isinstance(ty, str):
            return ty
        if not isinstance(ty, dict) or len(ty) != 1:
            raise UnsupportedTypeError(f"malformed type description {ty!r}")
        ((key, value),) = ty.items()
        if key == "ref":
            return names[str(value)]
        if key in ("own", "borrow"):
            return f"({key} {names[str(value)]})"
        if key in ("list", "option", "future", "stream"):
            return f"({key} {self.valtype(value, names)})"
        if key == "tuple":
            assert isinstance(value, list)
            return f"(tuple {' '.join(self.valtype(t, names) for t in value)})"
        if key == "result":
            assert isinstance(value, list)
            ok, err = value
            parts = ["result"]
            if ok is not None:
                parts.append(self.valtype(ok, names))
            if err is not None:
                parts.append(f"(error {self.valtype(err, names)})")
            return f"({' '.join(parts)})"
        raise UnsupportedTypeError(f"unknown type description {ty!r}")

    def _functype(self, item: dict[str, Json], names: dict[str, str], decls: list[str]) -> str:
        parts = ["func"]
        for param, ty in _pairs(item["params"]):
            parts.append(f"(param {wat_string(param)} {self.valtype(ty, names)})")
        if item.get("result") is not None:
            parts.append(f"(result {self.valtype(item['result'], names)})")
        ident = self.fresh("f")
        decls.append(f"(type {ident} ({' '.join(parts)}))")
        return ident


def _pairs(value: Json) -> list[tuple[str, Json]]:
    assert isinstance(value, list)
    pairs = []
    for entry in value:
        assert isinstance(entry, list) and len(entry) == 2
        pairs.append((str(entry[0]), entry[1]))
    return pairs
