"""A component with the code taken out of its core modules, for asking about its type.

What a component exports, and with which types, is fixed by its component-level
sections: the core modules contribute only their import and export signatures. Yet
wasmtime compiles every function body before it will answer, which for an 18 MB
componentize-py component (CPython inside) takes seconds to tens of seconds.
:func:`code_stub` keeps everything a core module's type depends on (its type, import,
function, table, memory, tag, global and export sections) and gives every function
the body ``unreachable``; it drops the start, element, data-count and data sections
and custom sections (none of them changes the module's type). Nested components are
treated the same way. The result has the same imports and exports, with the same
types, as the original and compiles in well under a second. It is never run.

Section ids are those of the WebAssembly Core Specification 2.0, section 5.5.2, and
component-model Binary.md.
"""

from __future__ import annotations

from harness import wasm_binary as wb

# Core module sections (WebAssembly Core Specification 2.0, section 5.5.2; tag, 13, from
# the exception-handling proposal) that determine a module's imports and exports.
_TYPE = 1
_FUNCTION = 3
_CODE = 10
_KEPT_MODULE_SECTIONS = frozenset({_TYPE, 2, _FUNCTION, 4, 5, 13, 6, 7})

# One function body: no locals, ``unreachable`` (0x00), ``end`` (0x0b); size-prefixed
# (WebAssembly Core Specification 2.0, section 5.5.13).
_UNREACHABLE_BODY = b"\x03\x00\x00\x0b"


def module_code_stub(module: bytes) -> bytes:
    """A core module with the same imports and exports and no code (see module doc)."""
    parts: list[wb.Section | bytes] = []
    defined = 0
    code_at = -1
    for section in wb.parse_sections(module):
        if section.id == _FUNCTION:
            defined = wb.ByteReader(section.payload, section.payload_offset).u32()
        if section.id in _KEPT_MODULE_SECTIONS:
            parts.append(section)
        elif section.id == _CODE:
            code_at = len(parts)
    if defined:
        # The code section goes where it was: after every kept section but none later.
        code = wb.encode_section(_CODE, wb.leb128_u32(defined) + _UNREACHABLE_BODY * defined)
        parts.insert(code_at if code_at >= 0 else len(parts), code)
    return wb.assemble(wb.MODULE_PREAMBLE, parts)


def code_stub(component: bytes) -> bytes:
    """``component`` with :func:`module_code_stub` applied to every core module in it.

    Raises :class:`~harness.errors.WasmFormatError` when the binary is malformed.
    """
    parts: list[wb.Section | bytes] = []
    for section in wb.parse_sections(component):
        if section.id == wb.SECTION_CORE_MODULE:
            parts.append(wb.encode_section(section.id, module_code_stub(section.payload)))
        elif section.id == wb.SECTION_COMPONENT:
            parts.append(wb.encode_section(section.id, code_stub(section.payload)))
        elif section.id == wb.SECTION_CUSTOM:
            continue
        else:
            parts.append(section)
    return wb.assemble(wb.COMPONENT_PREAMBLE, parts)
