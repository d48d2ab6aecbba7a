"""The one place PASE parameters are checked, by the core's own rules.

Every command that takes a passcode, a PBKDF salt or an iteration count (``run``,
``peer``, the gate's runs) checks it here, before anything is built or compiled, so a
typo costs a second and not a build. The rules are the core's
(:func:`matter_core.pase.validate_passcode`, :func:`matter_core.spake2p.validate_pbkdf_params`):
the harness never keeps a second copy of them.

* passcode: 1..99999998 and none of the trivial values, Matter Core Specification 1.3,
  section 5.1.7.1 (Setup Passcode);
* salt: 16..32 bytes, iterations 1000..100000: the limits connectedhomeip enforces on
  both roles (``kSpake2p_Min/Max_PBKDF_Salt_Length`` and
  ``kSpake2p_Min/Max_PBKDF_Iterations``, src/crypto/CHIPCryptoPAL.h).

Each failure raises :class:`~harness.errors.RunConfigError` (exit code 2) naming the
option and what is wrong with its value.
"""

from __future__ import annotations

from matter_core import spake2p
from matter_core.errors import CoreError
from matter_core.pase import validate_passcode

from harness.drive.config import RunConfig
from harness.errors import RunConfigError


def check_passcode(passcode: int) -> None:
    """Raise RunConfigError unless ``passcode`` is a valid Matter setup passcode."""
    try:
        validate_passcode(passcode)
    except CoreError as exc:
        raise RunConfigError(f"{exc} (Matter Core Specification, section 5.1.7.1)") from None


def check_pbkdf_params(salt: bytes, iterations: int) -> None:
    """Raise RunConfigError unless ``salt`` and ``iterations`` are PBKDF parameters
    Matter allows (salt 16..32 bytes, iterations 1000..100000)."""
    try:
        spake2p.validate_pbkdf_params(salt, iterations)
    except CoreError as exc:
        raise RunConfigError(str(exc)) from None


def check_run_config(config: RunConfig) -> None:
    """Check a run's passcode, salt and iterations (see the module docstring)."""
    check_passcode(config.passcode)
    check_pbkdf_params(config.salt, config.iterations)


__all__ = ["check_passcode", "check_pbkdf_params", "check_run_config"]
