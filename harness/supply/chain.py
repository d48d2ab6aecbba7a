"""Every component is verified before the harness compiles it; what it builds, it signs.

:class:`SupplyChain` is the one door through which component bytes reach wasmtime.
:meth:`SupplyChain.load_verified` reads a file once, checks its signature under the
configured trust mode, records the check for the evidence, and hands back the bytes it
checked; the caller compiles exactly those bytes, so nothing can change between the check
and the use. (A signature covers every section but the ``signature`` section itself, a
custom section that wasmtime skips.)

Configuration (trust mode, trust store, signing key, build key): see
:mod:`harness.supply.settings`.

Where trust comes from:

* **Local builds** (``build``, ``run``, ``compose``, ``peer``, ``verify``): each build
  output and each composed graph is signed (embedded signature) with the signing key, or
  without one with a *build key* generated once per build directory
  (``<build>/keys/build.key``, mode 0600, and ``build.pub``). In strict mode these
  commands trust the trust store plus that build key, and say so. A build key protects
  against a component changed after it was built and signed (a flipped byte, a swapped
  file, a stale copy from elsewhere); it does **not** protect against anyone who can
  write the build directory, since the secret key lives there too. For that, sign with a
  key kept elsewhere and trust only the store.
* **The gate**: with no signing key configured, the gate generates a key for that run
  only, checks each component it built (or found in the build cache) against the build
  signature, signs its signed content with the run key (a detached signature kept in
  memory, so the build directory and the compiled-artifact caches stay as they are), and
  trusts only the run key. With a signing key configured it uses that key and the trust
  store instead. Either way a component changed after signing is refused.
* A cached build or composition whose signature does not hold is re-signed only when its
  content is byte-for-byte what the harness produced (its SHA-256 is recorded at build
  time); otherwise it is left alone and refused when loaded.

Errors: a component that fails its check raises :class:`ComponentRejected` (exit code 1,
like any check that ran and said no); unusable configuration (a missing key file, a
corrupt trust store, a bad mode) raises :class:`SupplyChainError` or the key/store errors
(exit code 2).
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from harness.component_file import read_component_file
from harness.errors import CheckFailed, HarnessError
from harness.project import atomic_write
from harness.runtime import Component, Runtime
from harness.supply.capabilities import enforce
from harness.supply.keys import (
    PublicKey,
    SecretKey,
    load_or_create_build_key,
    load_secret_key,
    read_build_public_key,
)
from harness.supply.settings import (
    ADMISSION_KEY_NAME,
    BUILD_KEY_NAME,
    GATE_KEY_NAME,
    SupplyChainError,
    TrustMode,
    TrustSettings,
    resolve_trust_store_path,
)
from harness.supply.signature_format import (
    MalformedComponent,
    SignatureError,
    layout,
    parse_sections,
)
from harness.supply.signing import TamperedComponent, sign, verify_all
from harness.supply.trust import TrustedKey, TrustStore, check_component
from harness.wasm_binary import read_manifest

Say = Callable[[str], None]
Sealed = Literal["ok", "rebuild", "changed"]
"""What :meth:`SupplyChain.seal` found a cached product fit for."""


class ComponentRejected(CheckFailed):
    """A component failed its signature check and was not loaded (exit code 1).

    ``path`` names the component, ``cause`` is the signature error from the library.
    """

    def __init__(self, message: str, *, path: str, cause: Exception | None = None) -> None:
        hint = getattr(cause, "hint", None)
        super().__init__(message, hint=hint)
        self.path = path
        self.cause = cause


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Verification:
    """One signature check, as recorded for the evidence."""

    path: str
    sha256: str
    """SHA-256 of the file as read: the bytes that were checked and are compiled."""
    content_sha256: str
    """SHA-256 of the signed content (the file without its signature section)."""
    size: int
    mode: str
    verified: bool
    trusted: bool
    signer: str | None
    key_id: str | None
    signature: str
    """Where the signature that held came from: ``embedded``, ``detached`` or ``none``."""
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record."""
        return asdict(self)


@dataclass(frozen=True)
class VerifiedComponent:
    """A component that passed its check.

    ``data`` is the file as read and checked: the bytes to compile (its signature section
    is a custom section, which wasmtime skips; compiling the file's own bytes lets every
    loader share one compiled-artifact cache entry). ``content`` is the part the
    signatures cover: ``data`` without its signature section.
    """

    path: Path
    data: bytes
    content: bytes
    verification: Verification

    @property
    def sha256(self) -> str:
        """SHA-256 of the file as read and verified."""
        return self.verification.sha256


def signed_content(data: bytes) -> bytes:
    """The bytes a signature covers: ``data`` without its embedded signature section."""
    found = layout(data)
    if found.signature_section is None:
        return data
    return data[:8] + data[found.content_start :]


def _signs_completely(data: bytes, key: PublicKey) -> bool:
    try:
        return any(r.complete for r in verify_all(data, key))
    except SignatureError:
        return False


def _add_signature(data: bytes, key: SecretKey) -> bytes:
    try:
        return sign(data, key)
    except SignatureError:
        # The old signature data is unusable (or full): keep the content, sign it afresh.
        return sign(signed_content(data), key)


class SupplyChain:
    """Verifies components before they are compiled and signs what the harness produces.

    Build one with :meth:`local` (commands working on a build directory) or
    :meth:`for_gate`. ``warn`` receives the unsigned-mode warnings (default: stderr).
    """

    def __init__(
        self,
        settings: TrustSettings,
        build_dir: Path | None,
        *,
        gate_run: bool = False,
        extra_keys: Sequence[PublicKey] = (),
        warn: Say | None = None,
    ) -> None:
        """Use ``settings``; trust ``build_dir``'s build key unless ``gate_run``.

        ``extra_keys`` are known but untrusted keys (they count in self-signed mode).
        """
        self.settings = settings
        self.extra_keys = list(extra_keys)
        self.mode = settings.mode
        self.build_dir = build_dir
        self.gate_run = gate_run
        self.store = TrustStore(resolve_trust_store_path(settings.trust_store))
        self.warn = warn or _stderr
        self.verifications: list[Verification] = []
        self._signing_key: SecretKey | None = None
        self._build_key: PublicKey | None = None
        if build_dir is not None:
            self._build_key = read_build_public_key(build_dir)
        self.run_key: SecretKey | None = None
        if gate_run and settings.signing_key is None:
            self.run_key = SecretKey.generate()
        self._endorsed: dict[Path, bytes] = {}
        # Endorses foreign components admitted when there is no run key (a gate run with
        # a signing key); generated on first use, trusted for this object's life only.
        self._admission_key: SecretKey | None = None

    @classmethod
    def local(
        cls,
        settings: TrustSettings | None = None,
        build_dir: Path | None = None,
        *,
        extra_keys: Sequence[PublicKey] = (),
    ) -> SupplyChain:
        """The supply chain of a local command: the store plus ``build_dir``'s build key."""
        return cls(settings or TrustSettings.from_options(), build_dir, extra_keys=extra_keys)

    @classmethod
    def for_gate(cls, settings: TrustSettings | None, build_dir: Path) -> SupplyChain:
        """The supply chain of one gate run (a fresh run key unless a signing key is set)."""
        return cls(settings or TrustSettings.from_options(), build_dir, gate_run=True)

    # -- who signs and who is trusted ---------------------------------------------

    def build_signer(self) -> SecretKey:
        """The key that signs build outputs: the signing key, else the build key."""
        if self._signing_key is None:
            if self.settings.signing_key is not None:
                self._signing_key = load_secret_key(self.settings.signing_key)
            elif self.build_dir is None:
                raise SupplyChainError("no build directory, so no build key to sign with")
            else:
                self._signing_key = load_or_create_build_key(self.build_dir)
                self._build_key = self._signing_key.public_key
        return self._signing_key

    @property
    def trusts_build_key(self) -> bool:
        """Whether strict mode trusts the build directory's own build key.

        Only for a local command with no trust configured: no signing key, and no key in
        the trust store. Whoever can write the build directory can plant its key, so once
        trust is configured it comes from there alone (and never, in a gate run, from the
        build directory).
        """
        return self._trusts_build_key(self.store.entries())

    def _trusts_build_key(self, store_entries: Sequence[TrustedKey]) -> bool:
        return (
            self._build_key is not None
            and not self.gate_run
            and self.settings.signing_key is None
            and not store_entries
        )

    def trusted_keys(self) -> list[TrustedKey]:
        """The keys a strict check accepts."""
        if self.run_key is not None:
            return [TrustedKey(GATE_KEY_NAME, self.run_key.public_key, "this gate run")]
        trusted = self.store.entries()  # read once: the store is a file
        if self._trusts_build_key(trusted) and self._build_key is not None:
            trusted.append(TrustedKey(BUILD_KEY_NAME, self._build_key, "this build"))
        if self._admission_key is not None:
            trusted.append(
                TrustedKey(ADMISSION_KEY_NAME, self._admission_key.public_key, "this run")
            )
        return trusted

    def _known_keys(self) -> list[PublicKey]:
        keys = [k for k in (self._build_key,) if k is not None] + self.extra_keys
        if self._signing_key is not None:
            keys.append(self._signing_key.public_key)
        elif self.settings.signing_key is not None:
            with contextlib.suppress(HarnessError):
                keys.append(self.build_signer().public_key)
        return keys

    def trust_source(self) -> str:
        """Where trust comes from, in words (for output and evidence)."""
        if self.run_key is not None:
            return (
                f"a key generated for this gate run ({self.run_key.public_key.fingerprint}); "
                "nothing else is trusted"
            )
        entries = self.store.entries()
        text = f"the trust store {self.store.path} ({len(entries)} key(s))"
        if self.trusts_build_key and self._build_key is not None:
            text += f" and the local build key {self._build_key.fingerprint} of {self.build_dir}/"
        return text

    def describe(self) -> list[str]:
        """Lines that tell the user what is checked and whom it trusts."""
        if self.mode is TrustMode.UNSIGNED:
            return [
                "WARNING: trust mode 'unsigned' (development only): components load "
                "without any signature check"
            ]
        if self.mode is TrustMode.SELF_SIGNED:
            lines = [
                "trust mode self-signed: a valid signature by any key we know is enough "
                "(trust store, build key, signing key)"
            ]
        else:
            lines = ["trust mode strict: a valid signature by a trusted key is required"]
        if self.run_key is not None:
            return [*lines, f"trusting only {self.trust_source()}"]
        count = len(self.store.entries())
        lines.append(f"trusting the trust store {self.store.path} ({count} key(s))")
        if self.trusts_build_key and self._build_key is not None:
            lines.append(
                f"trusting the local build key {self._build_key.fingerprint} of "
                f"{self.build_dir}/ (it shows a component is unchanged since it was built "
                "and signed there, not who can write that directory)"
            )
        elif self._build_key is not None:
            lines.append(
                f"not trusting the build key of {self.build_dir}/: trust is configured "
                "(a signing key or a trust store), so it comes from there alone"
            )
        return lines

    # -- signing what the harness produces ----------------------------------------

    def sign_product(self, data: bytes) -> bytes:
        """``data`` with an embedded signature by the build signer added."""
        return _add_signature(data, self.build_signer())

    def seal_new(self, path: Path, data: bytes) -> bytes:
        """Sign freshly produced ``data`` with the build signer and write it to ``path``.

        In a gate run the result is also signed with the run key. Returns the signed bytes.
        """
        signed = self.sign_product(data)
        _write(path, signed)
        self._endorse(path, signed)
        return signed

    def seal(self, path: Path, produced_sha256: str | None, say: Say | None = None) -> Sealed:
        """Whether the cached product at ``path`` may be used as it is.

        ``"ok"``: the build signer signs it completely, or a trusted key's signature
        (trust store) holds on it and the build signer's is added; in a gate run the run
        key endorses it. ``"rebuild"``: nothing we trust signs it, but its content is what
        was produced (``produced_sha256``, from the record beside it): the signer changed
        (a new build key, a signing key configured since), so it is produced afresh.
        The record only tells a signer change from a tampered file; it never vouches for
        the bytes, which are never signed on its word. ``"changed"``: the file changed
        after it was made; it is left as it is, to be refused when loaded (in a gate run,
        refused at once).
        """
        say = say or (lambda _m: None)
        signer = self.build_signer()
        data = read_component(path)
        if not _signs_completely(data, signer.public_key):
            if not any(_signs_completely(data, t.key) for t in self.store.entries()):
                try:
                    content_digest = hashlib.sha256(signed_content(data)).hexdigest()
                except SignatureError:
                    content_digest = None
                if produced_sha256 is not None and content_digest == produced_sha256:
                    say(
                        f"{path.name}: not signed by {signer.public_key.fingerprint} or a "
                        "trusted key: producing it afresh rather than signing it"
                    )
                    return "rebuild"
                message = (
                    f"{path} changed after it was made: no valid signature by "
                    f"{signer.public_key.fingerprint} and its content is not what was produced"
                )
                if self.run_key is not None:
                    raise ComponentRejected(message, path=str(path))
                say(f"warning: {message}; not signing it (rebuild it to replace it)")
                return "changed"
            data = _add_signature(data, signer)
            _write(path, data)
            say(f"{path.name}: signed with key {signer.public_key.fingerprint}")
        self._endorse(path, data)
        return "ok"

    def _endorse(self, path: Path, data: bytes) -> None:
        if self.run_key is not None:
            content = signed_content(data)
            self._endorsed[path.resolve()] = sign(content, self.run_key, detached=True)

    def endorse_admitted(self, path: Path, data: bytes) -> None:
        """Endorse ``data`` (the file at ``path`` as read) for the rest of this run.

        For a component from outside the project that the caller decided to accept
        (:func:`harness.supply.foreign.admit_foreign`): the run key (or, without one, a
        key generated for this object) signs its content detached, so every later load in
        the run verifies, and a change to the file after this point is still refused.
        """
        key = self.run_key
        if key is None:
            if self._admission_key is None:
                self._admission_key = SecretKey.generate()
            key = self._admission_key
        self._endorsed[path.resolve()] = sign(signed_content(data), key, detached=True)

    def detached_signature(self, path: Path) -> bytes | None:
        """The run key's detached signature of ``path`` in this gate run, if any."""
        return self._endorsed.get(path.resolve())

    # -- verifying ----------------------------------------------------------------

    def load_verified(self, path: Path) -> VerifiedComponent:
        """Read ``path`` once and check it; raise :class:`ComponentRejected` if it fails."""
        return self.verify_data(
            read_component(path), name=path, detached=self.detached_signature(path), record=True
        )

    def load_component(
        self,
        runtime: Runtime,
        path: Path,
        *,
        role: str,
        verified: VerifiedComponent | None = None,
        timings: dict[str, float] | None = None,
    ) -> Component:
        """The one way a component is loaded: check its signature (unless ``verified``
        already holds its checked bytes), check its imports against the capability policy
        of ``role``, then compile exactly the bytes that were checked.

        ``timings`` (if given) receives the seconds of ``verify`` and ``compile``.
        """
        times = timings if timings is not None else {}
        verified = self.verify_for_role(path, role=role, verified=verified, timings=times)
        started = time.perf_counter()
        component = runtime.load_bytes(verified.data, name=str(path))
        times["compile"] = time.perf_counter() - started
        return component

    def verify_for_role(
        self,
        path: Path,
        *,
        role: str,
        verified: VerifiedComponent | None = None,
        timings: dict[str, float] | None = None,
    ) -> VerifiedComponent:
        """Check ``path``'s signature (unless ``verified`` already holds its checked bytes)
        and its imports against the capability policy of ``role``; the checked bytes, for
        a runtime that is not wasmtime (the jco placement transpiles exactly these).

        ``timings`` (if given) receives the seconds of ``verify``.
        """
        if verified is None or verified.path != path:
            started = time.perf_counter()
            verified = self.load_verified(path)
            if timings is not None:
                timings["verify"] = time.perf_counter() - started
        enforce(verified.data, role, label=str(path))
        return verified

    def verify_data(
        self,
        data: bytes,
        *,
        name: Path | str,
        detached: bytes | None = None,
        record: bool = False,
    ) -> VerifiedComponent:
        """Check component bytes under the configured mode (see :meth:`load_verified`).

        ``detached`` is a detached signature of the signed content (the gate's run key).
        """
        try:
            content = signed_content(data)
        except SignatureError as exc:
            if self.mode is not TrustMode.UNSIGNED:
                raise self._rejected(name, exc) from exc
            content = data
        extra = self._known_keys()
        try:
            if detached is not None:
                verdict = check_component(
                    content, self.mode, self.trusted_keys(), detached, extra_keys=extra
                )
            else:
                verdict = check_component(data, self.mode, self.trusted_keys(), extra_keys=extra)
        except (SignatureError, ValueError) as exc:
            raise self._rejected(name, exc) from exc
        if verdict.warning is not None:
            self.warn(f"{verdict.warning} ({name})")
        # check_component hashed what it checked; hash only the other one (18 MB: 9 ms).
        checked = verdict.component_sha256
        verification = Verification(
            path=str(name),
            sha256=hashlib.sha256(data).hexdigest() if detached is not None else checked,
            content_sha256=checked
            if detached is not None or content is data
            else hashlib.sha256(content).hexdigest(),
            size=len(data),
            mode=self.mode.value,
            verified=verdict.verified,
            trusted=verdict.trusted,
            signer=verdict.signer_name,
            key_id=verdict.key_id,
            signature=("detached" if detached is not None else "embedded")
            if verdict.verified
            else "none",
            detail=verdict.detail,
        )
        if record:
            self.verifications.append(verification)
        return VerifiedComponent(Path(name), data, content, verification)

    def _rejected(self, name: Path | str, exc: Exception) -> ComponentRejected:
        text = getattr(exc, "message", str(exc))
        if isinstance(exc, MalformedComponent):
            text = f"cannot check its signature: {text}"
        rejected = ComponentRejected(
            f"refusing to load {name} (trust mode {self.mode.value}): {text}",
            path=str(name),
            cause=exc,
        )
        if rejected.hint is None and isinstance(exc, TamperedComponent):
            rejected.hint = (
                "it changed after it was signed: rebuild it (`matter-harness build --force`) "
                "or fetch it again from where it came from"
            )
        return rejected

    def check_composition(
        self, composed: bytes, nodes: Mapping[str, VerifiedComponent], *, name: Path | str
    ) -> None:
        """Check that the composed component nests exactly the verified ``nodes``.

        ``composed`` is its (signed content) bytes. Both the composition manifest's
        digests and the nested component sections themselves are compared with the
        SHA-256 of the node files that were verified.
        """
        where = str(name)
        manifest = read_manifest(composed)
        if manifest is None:
            raise ComponentRejected(f"{where} has no composition manifest", path=where)
        listed = {
            str(entry.get("name")): str(entry.get("sha256"))
            for entry in manifest.get("nodes", [])
            if isinstance(entry, dict)
        }
        if set(listed) != set(nodes):
            raise ComponentRejected(
                f"{where}: the composition manifest names nodes {sorted(listed)}, "
                f"the graph {sorted(nodes)}",
                path=where,
            )
        for node, verified in nodes.items():
            if listed[node] != verified.sha256:
                raise ComponentRejected(
                    f"{where}: the composition manifest gives node '{node}' sha256 "
                    f"{listed[node]}, but the verified {verified.path} has {verified.sha256}",
                    path=where,
                )
        _, sections = parse_sections(composed)
        view = memoryview(composed)
        nested = sorted(
            hashlib.sha256(view[s.content_start : s.end]).hexdigest()
            for s in sections
            if s.id == NESTED_COMPONENT_SECTION
        )
        if nested != sorted(v.sha256 for v in nodes.values()):
            raise ComponentRejected(
                f"{where}: the nested components are not the verified node files", path=where
            )


NESTED_COMPONENT_SECTION = 4
"""Section id of a nested component in a component binary."""


def read_component(path: Path) -> bytes:
    """The bytes of a component file, read by the harness's one component loader
    (:func:`harness.component_file.read_component_file`): a file that cannot be read or
    is not a component raises its ``UnreadableComponent`` or ``NotAComponent`` (exit 2),
    before any signature is looked at."""
    return read_component_file(path)


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise SupplyChainError(f"cannot write {path}: {exc.strerror or exc}") from exc
