"""Every component is verified before the harness compiles it; what it builds, it signs.

:class:`SupplyChain` is the one door through which component bytes reach wasmtime.
:meth:`SupplyChain.load_verified` reads a file once, checks its signature under the
configured trust mode, records the check for the evidence, and hands back the bytes it
checked; the caller compiles exactly those bytes, so nothing can change between the check
and the use. (A signature covers every section but the ``signature`` section itself, a
custom section that wasmtime skips.)

Configuration (command-line option, else environment variable, else default):

* trust mode: ``--trust-mode`` / ``MATTER_HARNESS_TRUST_MODE``: ``strict`` (default: a
  complete, valid signature by a trusted key), ``self-signed`` (a valid signature by any
  key the harness knows: the trust store's, the build key, the signing key), or
  ``unsigned`` (development only: anything loads, with a loud warning on every load);
* trust store: ``--trust-store`` / ``MATTER_HARNESS_TRUST_STORE`` / the per-user
  ``$XDG_CONFIG_HOME/matter-harness/trust/`` (see :mod:`harness.trust`);
* signing key: ``--signing-key`` / ``MATTER_HARNESS_SIGNING_KEY`` (a key pair file made by
  ``matter-harness keys generate``).

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
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.keys import (
    KeyFileError,
    PublicKey,
    SecretKey,
    load_public_key,
    load_secret_key,
    save_public_key,
    save_secret_key,
)
from harness.signature_format import MalformedComponent, layout, parse_sections
from harness.signing import SignatureError, TamperedComponent, sign, verify_all
from harness.trust import (
    DEFAULT_MODE,
    TRUST_STORE_ENV,
    TrustedKey,
    TrustMode,
    TrustStore,
    check_component,
    resolve_trust_store_path,
)

if TYPE_CHECKING:
    import wasmtime.component as wc

    from harness.gate import Evidence, GateContext
    from harness.runtime import Runtime

TRUST_MODE_ENV = "MATTER_HARNESS_TRUST_MODE"
"""Environment variable naming the trust mode."""
SIGNING_KEY_ENV = "MATTER_HARNESS_SIGNING_KEY"
"""Environment variable naming the signing key file."""
BUILD_KEY_DIR = "keys"
"""Directory of the build key inside a build directory."""
BUILD_KEY_FILE = "build.key"
"""File name of the build key (its public half is ``build.pub``)."""
BUILD_KEY_NAME = "local-build-key"
"""The name the build key goes by in verdicts."""
GATE_KEY_NAME = "gate-run-key"
"""The name the gate's per-run key goes by in verdicts."""
EXIT_REJECTED = 1
"""Exit code of a command that refused a component."""

Say = Callable[[str], None]


class SupplyChainError(HarnessError):
    """The signing or trust configuration cannot be used (exit code 2)."""

    exit_code = 2


class ComponentRejected(HarnessError):
    """A component failed its signature check and was not loaded (exit code 1).

    ``path`` names the component, ``cause`` is the signature error from the library.
    """

    exit_code = EXIT_REJECTED

    def __init__(self, message: str, *, path: str, cause: Exception | None = None) -> None:
        hint = getattr(cause, "hint", None)
        super().__init__(message, hint=hint)
        self.path = path
        self.cause = cause


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TrustSettings:
    """The configured trust mode, trust store location and signing key."""

    mode: TrustMode = DEFAULT_MODE
    trust_store: Path | None = None
    signing_key: Path | None = None

    @classmethod
    def from_options(
        cls,
        mode: str | TrustMode | None = None,
        trust_store: Path | str | None = None,
        signing_key: Path | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TrustSettings:
        """Settings from options, falling back to the environment, then the defaults."""
        env = os.environ if env is None else env
        text = mode if mode is not None else env.get(TRUST_MODE_ENV) or DEFAULT_MODE
        try:
            parsed = TrustMode.parse(text)
        except ValueError as exc:
            raise SupplyChainError(str(exc), hint=f"set {TRUST_MODE_ENV} or --trust-mode") from None
        key = signing_key if signing_key is not None else env.get(SIGNING_KEY_ENV) or None
        store = trust_store if trust_store is not None else env.get(TRUST_STORE_ENV) or None
        return cls(
            parsed,
            resolve_trust_store_path(store, env),
            Path(key) if key is not None else None,
        )


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


def build_key_path(build_dir: Path) -> Path:
    """Where the build key of ``build_dir`` lives (the public half has suffix ``.pub``)."""
    return build_dir / BUILD_KEY_DIR / BUILD_KEY_FILE


def read_build_public_key(build_dir: Path) -> PublicKey | None:
    """The public half of ``build_dir``'s build key, or None if it has none yet."""
    secret = build_key_path(build_dir)
    public = secret.with_suffix(".pub")
    if public.is_file():
        return load_public_key(public)
    if secret.is_file():  # a concurrent build is between writing the two halves
        return load_secret_key(secret).public_key
    return None


def load_or_create_build_key(build_dir: Path) -> SecretKey:
    """``build_dir``'s build key, generated (0600, plus ``build.pub``) on first use."""
    path = build_key_path(build_dir)
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Two processes may race here: the loser's link() fails and it reads the winner's.
        with contextlib.suppress(KeyFileError):
            save_secret_key(path, SecretKey.generate())
    key = load_secret_key(path)
    public = path.with_suffix(".pub")
    if not public.is_file():
        with contextlib.suppress(KeyFileError):
            save_public_key(public, key.public_key)
    return key


def write_atomically(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one step (a reader sees all or nothing)."""
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def trusted_keys(self) -> list[TrustedKey]:
        """The keys a strict check accepts."""
        if self.run_key is not None:
            return [TrustedKey(GATE_KEY_NAME, self.run_key.public_key, "this gate run")]
        trusted = self.store.entries()
        build_key = self._build_key
        if (
            build_key is not None
            and not self.gate_run
            and all(t.key.raw != build_key.raw for t in trusted)
        ):
            trusted.append(TrustedKey(BUILD_KEY_NAME, build_key, "this build"))
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
        if self._build_key is not None and not self.gate_run:
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
        if self._build_key is not None and not self.gate_run:
            lines.append(
                f"trusting the local build key {self._build_key.fingerprint} of "
                f"{self.build_dir}/ (it shows a component is unchanged since it was built "
                "and signed there, not who can write that directory)"
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
        write_atomically(path, signed)
        self._endorse(path, signed)
        return signed

    def seal(self, path: Path, produced_sha256: str | None, say: Say | None = None) -> None:
        """Make sure the cached product at ``path`` carries the build signer's signature.

        A missing or stale signature is added only when the content's SHA-256 equals
        ``produced_sha256`` (what the harness produced); otherwise the file changed after
        it was made: it is left alone (and will be refused when loaded) or, in a gate run,
        refused at once.
        """
        say = say or (lambda _m: None)
        signer = self.build_signer()
        data = read_component(path)
        if not _signs_completely(data, signer.public_key):
            try:
                content_digest = hashlib.sha256(signed_content(data)).hexdigest()
            except SignatureError:
                content_digest = None
            if produced_sha256 is None or content_digest != produced_sha256:
                message = (
                    f"{path} changed after it was made: no valid signature by "
                    f"{signer.public_key.fingerprint} and its content is not what was produced"
                )
                if self.run_key is not None:
                    raise ComponentRejected(message, path=str(path))
                say(f"warning: {message}; not signing it (rebuild it to replace it)")
                return
            data = _add_signature(data, signer)
            write_atomically(path, data)
            say(f"{path.name}: signed with key {signer.public_key.fingerprint}")
        self._endorse(path, data)

    def _endorse(self, path: Path, data: bytes) -> None:
        if self.run_key is not None:
            content = signed_content(data)
            self._endorsed[path.resolve()] = sign(content, self.run_key, detached=True)

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
    ) -> wc.Component:
        """The one way a component is loaded: check its signature (unless ``verified``
        already holds its checked bytes), check its imports against the capability policy
        of ``role``, then compile exactly the bytes that were checked.

        ``timings`` (if given) receives the seconds of ``verify`` and ``compile``.
        """
        # Imported here: harness.policy reaches harness.build, which imports this module.
        from harness.policy import enforce

        times = timings if timings is not None else {}
        if verified is None or verified.path != path:
            started = time.perf_counter()
            verified = self.load_verified(path)
            times["verify"] = time.perf_counter() - started
        enforce(verified.data, role, label=str(path))
        started = time.perf_counter()
        component = runtime.load_bytes(verified.data, name=str(path))
        times["compile"] = time.perf_counter() - started
        return component

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
        from harness.composer import read_manifest

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
    """The bytes of a component file; an unreadable file is a :class:`ComponentRejected`."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ComponentRejected(
            f"cannot read component {path}: {exc.strerror}", path=str(path)
        ) from exc


# --- claim S1 --------------------------------------------------------------------------

#: Where the S1 verifier flips a byte of the core: fractions of the signed content.
TAMPER_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tamper_positions(data: bytes) -> list[int]:
    """Byte offsets spread over the signed content of ``data`` (never the signature)."""
    found = layout(data)
    first = found.content[0].content_start if found.content else found.content_start
    last = len(data) - 1
    return sorted({min(last, int(first + (last - first) * p)) for p in TAMPER_POINTS})


def flip_byte(data: bytes, position: int) -> bytes:
    """``data`` with the byte at ``position`` inverted."""
    changed = bytearray(data)
    changed[position] ^= 0xFF
    return bytes(changed)


def verify_signatures(ctx: GateContext, params: Mapping[str, Any]) -> Evidence:
    """S1: every component the gate runs verifies against the trust store; tampering fails.

    The core, the loopback and the composed graph must verify in strict mode (with the
    gate's run key unless a signing key is configured), the composed graph must nest
    exactly the verified files, and copies of the core with one byte flipped (at several
    places), with its signature damaged, or with no signature must all be refused.
    """
    from harness.gate import Evidence
    from harness.graph import load_graph

    chain = ctx.supply_chain
    try:
        paths = {
            "core": ctx.component("core"),
            "loopback": ctx.component("loopback"),
            "composed": ctx.composed(),
        }
    except ComponentRejected as exc:
        return Evidence("fail", exc.message, {"trust_source": chain.trust_source()})
    figures: dict[str, Any] = {
        "mode": chain.mode.value,
        "trust_source": chain.trust_source(),
        "run_key_id": chain.run_key.public_key.fingerprint if chain.run_key else None,
        "components": {},
        "refused": [],
    }
    inputs = ctx.inputs("core", "loopback", "composed")
    if chain.mode is not TrustMode.STRICT:
        return Evidence(
            "fail",
            f"trust mode is {chain.mode.value}: components are not verified against the "
            "trust store",
            figures,
            inputs,
        )
    problems: list[str] = []
    verified: dict[str, VerifiedComponent] = {}
    for name, path in paths.items():
        try:
            verified[name] = chain.load_verified(path)
        except ComponentRejected as exc:
            problems.append(f"{name}: {exc.message}")
            continue
        figures["components"][name] = {
            "path": str(path),
            "sha256": verified[name].sha256,
            "content_sha256": verified[name].verification.content_sha256,
            "key_id": verified[name].verification.key_id,
            "signer": verified[name].verification.signer,
            "signature": verified[name].verification.signature,
        }
    if not problems:
        graph = load_graph(ctx.graph)
        by_path = {paths["core"].resolve(): verified["core"]}
        by_path[paths["loopback"].resolve()] = verified["loopback"]
        try:
            nodes = {node.name: by_path[node.path.resolve()] for node in graph.nodes}
            composed = verified["composed"]
            chain.check_composition(composed.content, nodes, name=composed.path)
            figures["composition_nodes"] = {n: v.sha256 for n, v in nodes.items()}
        except (KeyError, ComponentRejected) as exc:
            problems.append(f"composition: {exc}")
    if "core" in verified:
        problems += _refusals(chain, verified["core"], paths["core"], figures["refused"])
    figures["loads"] = [v.to_dict() for v in chain.verifications]
    figures["components_verified"] = len(figures["components"])
    if problems:
        return Evidence("fail", "; ".join(problems), figures, inputs)
    return Evidence(
        "pass",
        f"{len(verified)} components verified (strict, trusting {chain.trust_source()}); "
        f"{len(figures['refused'])} tampered or unsigned copies of the core refused",
        figures,
        inputs,
    )


def _refusals(
    chain: SupplyChain, core: VerifiedComponent, path: Path, out: list[dict[str, Any]]
) -> list[str]:
    detached = chain.detached_signature(path)
    cases: list[tuple[str, bytes, bytes | None]] = [
        (f"byte {pos} flipped", flip_byte(core.data, pos), detached)
        for pos in tamper_positions(core.data)
    ]
    if detached is not None:
        cases.append(("run key signature damaged", core.data, flip_byte(detached, -1)))
        # The build signature alone holds, but its key is not trusted in this run.
        cases.append(("run key signature missing", core.data, None))
    else:
        section = layout(core.data).signature_section
        if section is not None:
            cases.append(("signature damaged", flip_byte(core.data, section.end - 1), None))
    cases.append(("signature removed", core.content, None))
    problems = []
    for label, data, signature in cases:
        try:
            chain.verify_data(data, name=f"{path.name} ({label})", detached=signature)
        except ComponentRejected as exc:
            out.append({"case": label, "error": type(exc.cause).__name__, "message": exc.message})
            continue
        problems.append(f"a copy of the core with its {label} was accepted")
    return problems


__all__ = [
    "BUILD_KEY_NAME",
    "GATE_KEY_NAME",
    "SIGNING_KEY_ENV",
    "TRUST_MODE_ENV",
    "ComponentRejected",
    "SupplyChain",
    "SupplyChainError",
    "TrustSettings",
    "Verification",
    "VerifiedComponent",
    "build_key_path",
    "flip_byte",
    "load_or_create_build_key",
    "read_build_public_key",
    "read_component",
    "signed_content",
    "tamper_positions",
    "verify_signatures",
    "write_atomically",
]
