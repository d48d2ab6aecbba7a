"""Exit codes: the one place that decides which error ends a command with which code.

* 0: everything asked for happened (and every gated claim passed);
* 1: a check ran and said no: a failed handshake or claim, a component refused by its
  signature check or capability policy, a guest stopped by a resource limit;
* 2: the command could not do its job: bad usage, unreadable input, a broken
  environment (click uses 2 for usage errors too).
"""

from __future__ import annotations

from harness.errors import CheckFailed, ExitCode, HarnessError

EXIT_OK = ExitCode.OK
EXIT_FAILED = ExitCode.FAILED
EXIT_USAGE = ExitCode.USAGE


def exit_code_for(error: HarnessError) -> ExitCode:
    """The exit code a command ends with when ``error`` stops it: a
    :class:`~harness.errors.CheckFailed` (a refused component or policy, a guest stopped
    by a limit) is a failed check, anything else a usage or environment error."""
    return EXIT_FAILED if isinstance(error, CheckFailed) else EXIT_USAGE


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "exit_code_for"]
