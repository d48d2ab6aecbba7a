"""Core components with one planted protocol bug, built with the project's own builder.

For tests that must see a check fail on a real, wrong core component (the gate on a graph
whose commissionee is broken, the conformance suite): a copy of ``components/core`` has
one line of its source replaced, and is built by componentize-py through
:func:`harness.build.build_component` into a directory of the caller's. Each kind names
the bug it plants:

* ``transcript``: the commissionee hashes the PASE context with the PBKDF parameter
  request and response swapped (Matter Core Specification 1.3, section 3.10.1: the
  context is the hash of the prefix, the request and then the response), so its keys and
  cB differ from the commissioner's and every handshake with it fails key confirmation.
  As commissioner the same core is correct (that side's context is untouched).
* ``skip-ca``: the commissionee accepts any cA (it compares the expected cA with itself),
  so it establishes a session with a commissioner that proved nothing (section 3.10.5);
  handshakes with an honest commissioner still complete.

The build is signed with a build key of ``out_dir`` (so, to a gate, it is a component
from outside the project signed by an untrusted key). Building takes 5-60 s; cache the
result in a session-scoped fixture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.build import ComponentSpec, build_component
from harness.project import COMPONENTS_DIR
from harness.supply import SupplyChain

#: Each kind: the file under ``components/core`` and the exact text replaced in it.
PLANTED: dict[str, tuple[str, str, str]] = {
    "transcript": (
        "matter_core/pase.py",
        "context = spake2p.pase_context(payload, response_payload)",
        "context = spake2p.pase_context(response_payload, payload)",
    ),
    "skip-ca": (
        "matter_core/spake2p.py",
        'self._confirm(self._transcript.ca, ca, "cA")',
        'self._confirm(self._transcript.ca, self._transcript.ca, "cA")',
    ),
}

BROKEN_KINDS = tuple(PLANTED)


def plant(kind: str, source_dir: Path) -> Path:
    """Copy ``components/core`` to ``source_dir`` with the bug ``kind`` planted."""
    if kind not in PLANTED:
        raise ValueError(f"unknown broken core {kind!r}; one of {', '.join(PLANTED)}")
    relative, before, after = PLANTED[kind]
    shutil.copytree(
        COMPONENTS_DIR / "core",
        source_dir,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    target = source_dir / relative
    text = target.read_text()
    if text.count(before) != 1:
        # The source moved on: the bug must be planted somewhere else now.
        raise AssertionError(f"{relative}: expected exactly one {before!r} to replace")
    target.write_text(text.replace(before, after))
    return source_dir


def build_broken_core(kind: str, out_dir: Path) -> Path:
    """Build a core component with the bug ``kind`` planted; the path of its ``.wasm``
    (``out_dir/<kind>/core.wasm``)."""
    work = out_dir / kind
    source = plant(kind, work / "src")
    spec = ComponentSpec(name="core", world="core", app_module="app", python_paths=(source,))
    result = build_component(spec, work, supply_chain=SupplyChain.local(None, work))
    return result.path
