"""What a ``peer`` run is asked to do: :class:`PeerConfig`, checked and resolved by
:func:`prepare` into a :class:`PeerPlan` (addresses, the commissionee's verifier, the
linger time). Separate from :mod:`harness.drive.peer` (the loop), so options can be
checked without touching a socket or the core component.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from matter_core import spake2p
from matter_core.errors import CoreError

from harness.drive.config import DEFAULT_ITERATIONS, DEFAULT_LINGER_MS, DEFAULT_SALT
from harness.drive.params import check_passcode, check_pbkdf_params
from harness.errors import HarnessError, RunConfigError
from harness.project import DEFAULT_BUILD_DIR
from harness.runtime import Limits
from harness.seams import Endpoint, EndpointError, parse_endpoint, wildcard_for
from harness.wit import ROLES

DEFAULT_TIMEOUT_S = 30.0
#: A week: long enough for a device waiting on a person, finite so deadlines stay integers.
MAX_TIMEOUT_S = 7 * 24 * 3600.0
#: The longest ``linger_ms`` accepted (a minute).
MAX_LINGER_MS = 60_000


class PeerConfigError(HarnessError):
    """Options that do not make a runnable peer (wrong role options, bad passcode...)."""


@dataclass(frozen=True)
class PeerConfig:
    """What one ``peer`` run is asked to do (validated by :func:`prepare`)."""

    role: str
    listen: Endpoint | None = None
    """Commissionee: where to listen. Commissioner: local bind (default: any, ephemeral)."""
    connect: Endpoint | None = None
    passcode: int | None = None
    verifier: bytes | None = None
    """The commissionee's w0 || L (97 bytes), instead of a passcode."""
    salt: bytes | None = None
    iterations: int | None = None
    seed: int | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    expect_secured: bool = False
    send_secured: bool = False
    native: bool = False
    core_path: Path | None = None
    """A core component to run instead of building one in ``build_dir``."""
    build_dir: Path = DEFAULT_BUILD_DIR
    memory_budget_bytes: int | None = Limits().memory_budget_bytes
    """All linear memories of the core component together (None: no budget)."""
    linger_ms: int | None = None
    """How long to keep answering after the outcome is known (None: DEFAULT_LINGER_MS)."""


@dataclass(frozen=True)
class PeerPlan:
    """A validated :class:`PeerConfig`: addresses resolved to a bind, secrets derived."""

    role: str
    bind: Endpoint
    connect: Endpoint | None
    passcode: int | None
    verifier: bytes | None
    salt: bytes
    iterations: int
    linger_ms: int = DEFAULT_LINGER_MS


def config_from_options(
    *,
    role: str,
    listen: str | None,
    connect: str | None,
    passcode: int | None,
    verifier: bytes | None,
    salt: bytes | None,
    iterations: int | None,
    seed: int | None,
    timeout_s: float,
    expect_secured: bool,
    send_secured: bool,
    native: bool,
    core_path: Path | None,
    build_dir: Path,
    memory_budget_bytes: int | None = Limits().memory_budget_bytes,
    linger_ms: int | None = None,
) -> PeerConfig:
    """A :class:`PeerConfig` from command-line text; bad addresses raise PeerConfigError."""
    try:
        listen_at = parse_endpoint(listen, allow_port_zero=True) if listen is not None else None
        connect_to = parse_endpoint(connect) if connect is not None else None
    except EndpointError as exc:
        raise PeerConfigError(exc.message) from None
    config = PeerConfig(
        role=role,
        listen=listen_at,
        connect=connect_to,
        passcode=passcode,
        verifier=verifier,
        salt=salt,
        iterations=iterations,
        seed=seed,
        timeout_s=timeout_s,
        expect_secured=expect_secured,
        send_secured=send_secured,
        native=native,
        core_path=core_path,
        build_dir=build_dir,
        memory_budget_bytes=memory_budget_bytes,
        linger_ms=linger_ms,
    )
    prepare(config)
    return config


def prepare(config: PeerConfig) -> PeerPlan:
    """Check that ``config`` makes a runnable peer; derive the commissionee's verifier."""
    if config.role not in ROLES:
        raise PeerConfigError(f"role must be one of {', '.join(ROLES)}, not {config.role!r}")
    if not 0 < config.timeout_s <= MAX_TIMEOUT_S:
        raise PeerConfigError(
            f"--timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds, not {config.timeout_s}"
        )
    linger = DEFAULT_LINGER_MS if config.linger_ms is None else config.linger_ms
    if not 0 <= linger <= MAX_LINGER_MS:
        raise PeerConfigError(
            f"--linger must be between 0 and {MAX_LINGER_MS} ms, not {config.linger_ms}"
        )
    if config.role == "commissioner":
        plan = _prepare_commissioner(config)
    else:
        plan = _prepare_commissionee(config)
    return replace(plan, linger_ms=linger)


def _prepare_commissioner(config: PeerConfig) -> PeerPlan:
    _refuse(config, "commissioner", verifier="--verifier", salt="--salt", iterations="--iterations")
    if config.expect_secured:
        raise PeerConfigError("--expect-secured is for the commissionee (use --send-secured)")
    if config.connect is None:
        raise PeerConfigError("the commissioner needs --connect HOST:PORT (the device)")
    if config.passcode is None:
        raise PeerConfigError("the commissioner needs --passcode")
    _check_passcode(config.passcode)
    bind = config.listen if config.listen is not None else _wildcard(config.connect)
    return PeerPlan("commissioner", bind, config.connect, config.passcode, None, DEFAULT_SALT, 0)


def _prepare_commissionee(config: PeerConfig) -> PeerPlan:
    _refuse(config, "commissionee", connect="--connect")
    if config.send_secured:
        raise PeerConfigError("--send-secured is for the commissioner (use --expect-secured)")
    if config.listen is None:
        raise PeerConfigError("the commissionee needs --listen HOST:PORT (port 0: any)")
    salt = config.salt if config.salt is not None else DEFAULT_SALT
    iterations = config.iterations if config.iterations is not None else DEFAULT_ITERATIONS
    try:
        check_pbkdf_params(salt, iterations)
    except RunConfigError as exc:
        raise PeerConfigError(f"invalid PBKDF parameters: {exc}") from None
    if (config.passcode is None) == (config.verifier is None):
        raise PeerConfigError("the commissionee needs exactly one of --passcode or --verifier")
    if config.passcode is not None:
        _check_passcode(config.passcode)
        verifier = spake2p.compute_verifier(config.passcode, salt, iterations)
    else:
        assert config.verifier is not None
        verifier = config.verifier
        try:
            spake2p.parse_verifier(verifier)
        except CoreError as exc:
            raise PeerConfigError(f"invalid --verifier (w0 || L, 97 bytes): {exc}") from None
    return PeerPlan(
        "commissionee", config.listen, None, config.passcode, verifier, salt, iterations
    )


def _refuse(config: PeerConfig, role: str, **options: str) -> None:
    for attribute, flag in options.items():
        if getattr(config, attribute) is not None:
            raise PeerConfigError(f"{flag} does not apply to the {role}")


def _check_passcode(passcode: int) -> None:
    try:
        check_passcode(passcode)
    except RunConfigError as exc:
        raise PeerConfigError(exc.message) from None


def _wildcard(endpoint: Endpoint) -> Endpoint:
    try:
        return wildcard_for(endpoint)
    except HarnessError as exc:
        raise PeerConfigError(exc.message) from None
