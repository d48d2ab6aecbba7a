"""Core components with one planted protocol bug, for tests that must see a check fail.

:func:`build_broken_core` copies ``components/core`` (the guest glue and ``matter_core``),
applies one edit to the copy and builds it with componentize-py, as the project builds its
core (the same world, flags and cache), into ``out_dir``. Each edit must match exactly
once, so a refactored core breaks the helper loudly instead of building an intact core.
The output is signed by the project's build key (``build/keys``) unless a supply chain is
given, so commands using the default build directory trust it as they trust build/core.wasm.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.build.componentize import build_component
from harness.build.specs import CORE, ComponentSpec
from harness.project import COMPONENTS_DIR, DEFAULT_BUILD_DIR
from harness.supply.chain import SupplyChain

#: kind -> (file under the core's source folder, text to find, its replacement).
BUGS: dict[str, tuple[str, str, str]] = {
    # The commissioner takes the device's key confirmation cB on trust (SPAKE2+,
    # draft-bar-cfrg-spake2plus-01: each party verifies the other's confirmation MAC):
    # with a wrong passcode it sends Pake3 instead of failing, so the failure kinds change.
    "skip-confirmation": (
        "matter_core/pase.py",
        "            self._prover.verify_peer_confirmation(pake2.cB)\n",
        "            pass  # planted bug: cB is not verified\n",
    ),
    # The core frames its own datagrams with the peer's direction byte in the transcript
    # hash, so its hash differs from any correct peer's.
    "wrong-transcript-direction": (
        "matter_core/pase_session.py",
        "        return DIRECTION_I2R if self.role is Role.COMMISSIONER else DIRECTION_R2I\n",
        "        return DIRECTION_R2I if self.role is Role.COMMISSIONER else DIRECTION_I2R\n",
    ),
    # The core hashes the PASE context with the PBKDFParamRequest and PBKDFParamResponse
    # swapped (Matter Core Specification 1.3, section 3.10.1: the context is the hash of
    # the prefix, the request, then the response). As commissionee its keys and cB differ
    # from any correct commissioner's, so every handshake with it fails key confirmation;
    # as commissioner that side's context is untouched.
    "swapped-context": (
        "matter_core/pase.py",
        "context = spake2p.pase_context(payload, response_payload)",
        "context = spake2p.pase_context(response_payload, payload)",
    ),
    # The message layer no longer drops messages on another exchange than the PASE
    # exchange: off-path strays on other exchanges reach the handshake.
    "accept-any-exchange": (
        "matter_core/message_layer.py",
        "            return DropReason.EXCHANGE\n",
        "            pass  # planted bug: other exchanges are accepted\n",
    ),
}


def build_broken_core(kind: str, out_dir: Path, *, supply_chain: SupplyChain | None = None) -> Path:
    """Build a core with the planted bug ``kind`` (:data:`BUGS`) into ``out_dir``.

    Returns ``out_dir/core-<kind>.wasm``; a second call finds it current (build cache).
    """
    if kind not in BUGS:
        raise ValueError(f"unknown broken core {kind!r}; one of {sorted(BUGS)}")
    relative, find, replace = BUGS[kind]
    source = out_dir / f"src-{kind}"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(COMPONENTS_DIR / "core", source, ignore=shutil.ignore_patterns("__pycache__"))
    target = source / relative
    text = target.read_text(encoding="utf-8")
    count = text.count(find)
    if count != 1:
        raise AssertionError(f"{kind}: the edit matches {count} times in {relative}, not once")
    target.write_text(text.replace(find, replace), encoding="utf-8")
    spec = ComponentSpec(
        name=f"core-{kind}",
        world=CORE.world,
        app_module=CORE.app_module,
        python_paths=(source,),
    )
    chain = supply_chain or SupplyChain.local(None, DEFAULT_BUILD_DIR)
    return build_component(spec, out_dir, supply_chain=chain).path
