"""Attack drills for claim S1: what an attacker who can write ``build/`` (a pull request's
cached build directory, a restored CI cache) would try, each of which must be refused.

Each drill runs in a throw-away directory on small components of its own, so the gate
shows the defence working without touching the real build: a poisoned compiled-artifact
cache, a swapped build output with a forged ``inputs.json``, a planted ``build.pub``, a
small-order Ed25519 key and a signature forged with it. (A run over the total memory
budget is claim S3's.)
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.errors import HarnessError
from harness.runtime import Runtime, wat2wasm
from harness.supply import (
    ComponentRejected,
    PublicKey,
    SecretKey,
    SignatureData,
    SupplyChain,
    TrustMode,
    TrustSettings,
    TrustStore,
    build_key_path,
    load_secret_key,
    save_public_key,
    save_secret_key,
    sign,
)

#: A tiny valid component with content to sign and compile.
_SUBJECT = (
    '(component (core module $m (func (export "f") (result i32) i32.const 7))'
    " (core instance (instantiate $m)))"
)
#: What an attacker would rather run: a component importing WASI filesystem and sockets.
_INTRUDER = (
    '(component (import "wasi:filesystem/types@0.2.0" (instance))'
    ' (import "wasi:sockets/tcp@0.2.0" (instance)))'
)
#: The identity point of edwards25519 (order 1): a small-order public key.
SMALL_ORDER_KEY = bytes([1]) + bytes(31)


@dataclass(frozen=True)
class Drill:
    """One attack and how it ended."""

    case: str
    refused: bool
    detail: str

    def as_dict(self) -> dict[str, str | bool]:
        """A JSON-ready form (for the evidence)."""
        return {"case": self.case, "refused": self.refused, "detail": self.detail}


def run_attack_drills() -> list[Drill]:
    """Every drill, in a temporary directory; a drill that crashes counts as not refused."""
    drills: list[Drill] = []
    with tempfile.TemporaryDirectory(prefix="matter-harness-drill-") as tmp:
        root = Path(tmp)
        for number, (case, drill) in enumerate(DRILLS.items(), 1):
            workdir = root / f"drill-{number}"
            workdir.mkdir()
            try:
                refused, detail = drill(workdir)
            except Exception as exc:  # the drill itself broke: that is not a refusal
                refused, detail = False, f"the drill failed: {type(exc).__name__}: {exc}"
            drills.append(Drill(case, refused, detail))
    return drills


def _poisoned_compiled_cache(work: Path) -> tuple[bool, str]:
    runtime = Runtime(work / "cache", cache_key_file=work / "config" / "cache.key", warn=_quiet)
    try:
        subject, intruder = wat2wasm(_SUBJECT), wat2wasm(_INTRUDER)
        runtime.load_bytes(subject)
        runtime.load_bytes(intruder)
        assert runtime.cache is not None
        target = runtime.cache.artifact_path(hashlib.sha256(subject).hexdigest())
        source = runtime.cache.artifact_path(hashlib.sha256(intruder).hexdigest())
        for suffix in ("", ".tag"):  # the intruder's artifact, and its own genuine tag
            target.with_name(target.name + suffix).write_bytes(
                source.with_name(source.name + suffix).read_bytes()
            )
        loaded = runtime.load_bytes(subject)
        imports = list(loaded.type.imports(runtime.engine))
    finally:
        runtime.close()
    refused = runtime.cache_rejected == 1 and not imports
    return refused, (
        f"the swapped artifact was discarded and the subject recompiled "
        f"({runtime.cache_rejected} rejected, imports {imports or 'none'})"
    )


def _swapped_output_with_forged_record(work: Path) -> tuple[bool, str]:
    build = work / "build"
    local = SupplyChain(TrustSettings(TrustMode.STRICT, work / "no-store"), build)
    output = build / "core.wasm"
    local.seal_new(output, wat2wasm(_SUBJECT))
    swapped = sign(wat2wasm(_INTRUDER), load_secret_key(build_key_path(build)))
    output.write_bytes(swapped)
    (build / "core.wasm.inputs.json").write_text(
        json.dumps({"content_sha256": hashlib.sha256(wat2wasm(_INTRUDER)).hexdigest()})
    )
    release = SecretKey.generate()
    save_secret_key(work / "release.key", release)
    store = TrustStore(work / "trust")
    store.add("release", release.public_key)
    chain = SupplyChain(TrustSettings(TrustMode.STRICT, store.path, work / "release.key"), build)
    if chain.seal(output, hashlib.sha256(wat2wasm(_INTRUDER)).hexdigest()) == "ok":
        return False, "the swapped output was accepted for signing with the release key"
    if output.read_bytes() != swapped:
        return False, "the swapped output was changed"
    return _refused(chain, output, "not signed with the release key, and refused when loaded")


def _planted_build_pub(work: Path) -> tuple[bool, str]:
    build = work / "build"
    attacker = SecretKey.generate()
    build_key_path(build).parent.mkdir(parents=True)
    save_public_key(build_key_path(build).with_suffix(".pub"), attacker.public_key)
    output = build / "core.wasm"
    output.write_bytes(sign(wat2wasm(_INTRUDER), attacker))
    store = TrustStore(work / "trust")
    store.add("release", SecretKey.generate().public_key)
    chain = SupplyChain(TrustSettings(TrustMode.STRICT, store.path), build)
    if chain.trusts_build_key:
        return False, "the planted build key is trusted although a trust store is configured"
    return _refused(chain, output, "the planted key is not trusted")


def _small_order_key(work: Path) -> tuple[bool, str]:
    store = TrustStore(work / "trust")
    try:
        store.add("identity", _small_order_public_key())
    except HarnessError as exc:
        return True, f"refused: {exc}"
    return False, "the identity point was added to the trust store"


def forged_small_order_signature(data: bytes) -> bytes:
    """A detached signature of ``data`` in the tool-conventions format whose Ed25519
    signatures are R = the identity point, S = 0: what "verifies" under the small-order
    public key :data:`SMALL_ORDER_KEY` with a verifier that does not refuse such keys."""
    genuine = SignatureData.decode(sign(data, SecretKey.generate(), key_id=b"", detached=True))
    forged = replace(
        genuine,
        signed_hashes=tuple(
            replace(
                signed,
                signatures=tuple(
                    replace(record, signature=SMALL_ORDER_KEY + bytes(32))
                    for record in signed.signatures
                ),
            )
            for signed in genuine.signed_hashes
        ),
    )
    return forged.encode()


def _forged_small_order_signature(work: Path) -> tuple[bool, str]:
    # As finding 4 had it: the small-order key is merely *known* (self-signed mode with
    # --public-key), and the forged signature is offered over a modified component.
    data = wat2wasm(_INTRUDER)
    chain = SupplyChain(TrustSettings(TrustMode.SELF_SIGNED, work / "trust"), None)
    try:
        chain.extra_keys.append(_small_order_public_key())
    except HarnessError as exc:
        return True, f"the small-order key cannot even be named: {exc}"
    try:
        chain.verify_data(data, name="core.wasm", detached=forged_small_order_signature(data))
    except ComponentRejected as exc:
        return True, f"the forged signature does not verify: {exc.message}"
    return False, "the forged signature verified"


def _small_order_public_key() -> PublicKey:
    return PublicKey(SMALL_ORDER_KEY)


def _refused(chain: SupplyChain, path: Path, why: str) -> tuple[bool, str]:
    try:
        chain.load_verified(path)
    except ComponentRejected as exc:
        return True, f"{why}: {exc.message}"
    return False, f"{path.name} was accepted"


def _quiet(_message: str) -> None:
    """Where the drills' warnings go: the evidence records the outcome instead."""


DRILLS: dict[str, Callable[[Path], tuple[bool, str]]] = {
    "poisoned compiled cache": _poisoned_compiled_cache,
    "swapped build output with a forged inputs.json": _swapped_output_with_forged_record,
    "planted build.pub": _planted_build_pub,
    "small-order public key": _small_order_key,
    "signature forged with a small-order key": _forged_small_order_signature,
}
