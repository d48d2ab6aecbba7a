"""Small components and supply-chain set-ups shared by the supply tests and the S1/S2
verifier tests (imported by name: ``tests/harness`` is on the path via its conftest)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import wasmtime

from harness.supply.chain import SupplyChain
from harness.supply.keys import SecretKey
from harness.supply.settings import TrustSettings
from harness.wit import CLOCK, ENTROPY, TRANSPORT

SEAMS = (TRANSPORT, CLOCK, ENTROPY)
FILESYSTEM = "wasi:filesystem/types@0.2.0"
SOCKETS = "wasi:sockets/tcp@0.2.0"
CLI_ENV = "wasi:cli/environment@0.2.0"

#: A tiny valid component with some content to sign.
COMPONENT = bytes(
    wasmtime.wat2wasm(
        '(component (core module $m (func (export "f") (result i32) i32.const 7))'
        " (core instance (instantiate $m)))"
    )
)
OTHER = bytes(wasmtime.wat2wasm("(component (core module $m))"))
RELEASE = SecretKey.from_seed(b"\x42" * 32)
STRANGER = SecretKey.from_seed(b"\x24" * 32)


def component(*imports: str) -> bytes:
    """A component importing each name as an instance exporting one function."""
    body = "\n".join(f'  (import "{n}" (instance (export "f" (func))))' for n in imports)
    return bytes(wasmtime.wat2wasm(f"(component\n{body}\n)"))


def chain_in(
    build_dir: Path, mode: str = "strict", warnings: list[str] | None = None, **kw: Any
) -> SupplyChain:
    """A supply chain for ``build_dir`` whose trust store sits beside it."""
    settings_ = TrustSettings.from_options(mode, build_dir.parent / "trust", **kw)
    sink = warnings.append if warnings is not None else None
    return SupplyChain(settings_, build_dir, warn=sink)


def built(build_dir: Path, name: str = "c.wasm", data: bytes = COMPONENT) -> tuple[Path, str]:
    """A 'build output' in ``build_dir`` (unsigned) and its produced digest."""
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def signed(
    chain: SupplyChain, build_dir: Path, name: str = "c.wasm", data: bytes = COMPONENT
) -> Path:
    """A build output in ``build_dir`` as ``chain`` produces one: freshly signed by its
    build signer (and endorsed by the run key in a gate run)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / name
    chain.seal_new(path, data)
    return path
