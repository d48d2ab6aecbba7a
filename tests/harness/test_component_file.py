"""Tests for harness.component_file: the one answer to "is this a readable component"."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from wasm_samples import COMPONENT

from harness.cli.exits import exit_code_for
from harness.component_file import (
    ComponentInputError,
    NotAComponent,
    UnreadableComponent,
    check_component_bytes,
    read_component_file,
)
from harness.wasm_binary import (
    COMPONENT_PREAMBLE,
    MODULE_PREAMBLE,
    custom_section,
    read_leb128_u32,
)


def test_a_component_reads_back_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "c.wasm"
    data = COMPONENT + custom_section("note", b"x" * 300)
    path.write_bytes(data)
    assert read_component_file(path) == data
    assert read_component_file(str(path)) == data
    check_component_bytes(COMPONENT_PREAMBLE, path)  # no sections at all is well framed


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "it is a directory"),
    ],
    ids=["missing", "directory"],
)
def test_unreadable_files_say_why(tmp_path: Path, make: object, reason: str) -> None:
    path = tmp_path / "c.wasm"
    make(path)  # type: ignore[operator]
    with pytest.raises(UnreadableComponent) as info:
        read_component_file(path)
    assert info.value.message == f"cannot read component {path}: {reason}"
    assert info.value.path == str(path) and info.value.reason == reason
    assert exit_code_for(info.value) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "c.wasm"
    path.write_bytes(COMPONENT)
    path.chmod(0)
    with pytest.raises(UnreadableComponent, match="permission denied"):
        read_component_file(path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"hello, world\n", "it does not start with the \\0asm magic"),
        (b"", "it does not start with the \\0asm magic"),
        (MODULE_PREAMBLE + b"\x01\x04\x01\x60\x00\x00", "it is a core WebAssembly module"),
        (b"\x00asm\x0e\x00\x01\x00", "unsupported component-model version"),
        (b"\x00asm", "only 4 bytes"),
        (COMPONENT[:-3], "it is truncated: section"),
        (COMPONENT_PREAMBLE + b"\x00\xff", "truncated LEB128"),
    ],
    ids=["text", "empty", "core-module", "version", "short", "truncated", "cut-size"],
)
def test_files_that_are_no_component_say_what_they_are(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    path = tmp_path / "c.wasm"
    path.write_bytes(data)
    with pytest.raises(NotAComponent) as info:
        read_component_file(path)
    assert info.value.message.startswith(f"{path} is not a WebAssembly component: ")
    assert reason in info.value.message
    assert isinstance(info.value, ComponentInputError) and exit_code_for(info.value) == 2


def test_every_truncation_of_a_component_is_refused_or_well_framed() -> None:
    # A cut at a section boundary is still a framed component; any other cut is refused.
    boundaries = {8}
    pos = 8
    while pos < len(COMPONENT):
        size, after = read_leb128_u32(COMPONENT, pos + 1)
        pos = after + size
        boundaries.add(pos)
    for cut in range(len(COMPONENT)):
        data = COMPONENT[:cut]
        if cut in boundaries:
            check_component_bytes(data, "c")
        else:
            with pytest.raises(NotAComponent):
                check_component_bytes(data, "c")
