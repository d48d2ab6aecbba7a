"""Where trust comes from: the trust mode, trust store, signing key and build key.

Configuration (command-line option, else environment variable, else default):

* trust mode: ``--trust-mode`` / ``MATTER_HARNESS_TRUST_MODE``: ``strict`` (default: a
  complete, valid signature by a trusted key), ``self-signed`` (a valid signature by any
  key the harness knows: the trust store's, the build key, the signing key), or
  ``unsigned`` (development only: anything loads, with a loud warning on every load);
* trust store: ``--trust-store`` / ``MATTER_HARNESS_TRUST_STORE`` / the per-user
  ``$XDG_CONFIG_HOME/matter-harness/trust/`` (see :mod:`harness.supply.trust`);
* signing key: ``--signing-key`` / ``MATTER_HARNESS_SIGNING_KEY`` (a key pair file made by
  ``matter-harness keys generate``).

Without a signing key, build outputs are signed with a *build key* generated once per
build directory (``<build>/keys/build.key``, mode 0600, and ``build.pub``; see
:mod:`harness.supply.keys`). This module loads no cryptography, so the command line can
read its defaults cheaply.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.project import user_config_dir

TRUST_MODE_ENV = "MATTER_HARNESS_TRUST_MODE"
"""Environment variable naming the trust mode."""
SIGNING_KEY_ENV = "MATTER_HARNESS_SIGNING_KEY"
"""Environment variable naming the signing key file."""
TRUST_STORE_ENV = "MATTER_HARNESS_TRUST_STORE"
"""Environment variable naming the trust store."""
BUILD_KEY_NAME = "local-build-key"
"""The name the build key goes by in verdicts."""
GATE_KEY_NAME = "gate-run-key"
"""The name the gate's per-run key goes by in verdicts."""
ADMISSION_KEY_NAME = "admitted-foreign"
"""The name of the per-run key that endorses admitted foreign components (no run key)."""


class SupplyChainError(HarnessError):
    """The signing or trust configuration cannot be used."""


class TrustMode(enum.Enum):
    """How much a component's signature must prove before it may be loaded."""

    STRICT = "strict"
    SELF_SIGNED = "self-signed"
    UNSIGNED = "unsigned"

    @classmethod
    def parse(cls, text: str | TrustMode) -> TrustMode:
        """The mode called ``text`` (``strict``, ``self-signed`` or ``unsigned``)."""
        if isinstance(text, TrustMode):
            return text
        for mode in cls:
            if mode.value == text:
                return mode
        choices = ", ".join(mode.value for mode in cls)
        raise ValueError(f"unknown trust mode {text!r} (choose from {choices})")


DEFAULT_MODE = TrustMode.STRICT
"""The mode used when none is chosen."""


def default_trust_store_path(env: Mapping[str, str] | None = None) -> Path:
    """The per-user store directory: ``$XDG_CONFIG_HOME/matter-harness/trust``."""
    return user_config_dir(env) / "trust"


def resolve_trust_store_path(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The store location: ``path`` if given, else ``$MATTER_HARNESS_TRUST_STORE``, else
    the per-user default."""
    if path is not None:
        return Path(path)
    env = os.environ if env is None else env
    from_env = env.get(TRUST_STORE_ENV, "")
    if from_env:
        return Path(from_env)
    return default_trust_store_path(env)


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
