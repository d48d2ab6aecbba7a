"""File permission checks for secrets and trust, in the spirit of ssh's ``StrictModes``.

A secret key file must be readable and writable by its owner only (no bit of
``0o077``), and a trust store's directory and file must not be writable by group or
others (no bit of ``0o022``): whoever can write the trust store decides what the harness
trusts. :mod:`harness.supply.keys` and :mod:`harness.supply.trust` refuse anything else
with an :class:`InsecurePermissions` naming the path, its mode and the ``chmod`` that
fixes it.

Two ways to switch the checks off, for file systems without Unix permissions (some
network, FUSE or Windows shares show every file as 0777):

* the keyword argument ``check_permissions=False`` of the functions that load secret keys
  and of :class:`~harness.supply.trust.TrustStore`;
* the environment variable ``MATTER_HARNESS_INSECURE_PERMISSIONS=1`` (also ``true``,
  ``yes`` or ``on``), read at each check, so it works for every command unchanged.

Nothing is checked where the operating system has no POSIX permissions.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from harness.errors import HarnessError

INSECURE_PERMISSIONS_ENV = "MATTER_HARNESS_INSECURE_PERMISSIONS"
"""Environment variable that, set to ``1``, turns the permission checks off."""
SECRET_FORBIDDEN_BITS = 0o077
"""Mode bits a secret key file must not have: any access by group or others."""
TRUST_FORBIDDEN_BITS = 0o022
"""Mode bits a trust store directory or file must not have: write by group or others."""

_TRUE = {"1", "true", "yes", "on"}


class InsecurePermissions(HarnessError):
    """A secret key or trust store that others may read or change; it was not used.

    ``path`` is the file or directory, ``mode`` its permission bits.
    """

    def __init__(self, message: str, *, path: Path, mode: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.mode = mode


def permission_checks_enabled(check_permissions: bool = True) -> bool:
    """Whether to check: not switched off by argument, environment or platform."""
    if not check_permissions or os.name != "posix":
        return False
    return os.environ.get(INSECURE_PERMISSIONS_ENV, "").strip().lower() not in _TRUE


def octal_mode(mode: int) -> str:
    """The permission bits of ``mode`` the way ``ls``/``chmod`` users write them: ``0644``."""
    return f"{stat.S_IMODE(mode):04o}"


def chmod_command(fix: str, path: Path) -> str:
    """The shell command that fixes ``path`` (the path quoted for the shell)."""
    return f"chmod {fix} {shlex.quote(str(path))}"


def override_hint(what: str) -> str:
    """The hint every permission error carries: why, and how to skip the check."""
    return (
        f"{what}; on a file system without Unix permissions, set "
        f"{INSECURE_PERMISSIONS_ENV}=1 to skip this check"
    )
