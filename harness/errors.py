"""The harness's error types: one base, and the families several packages share.

Every failure the harness reports to a user is a :class:`HarnessError`, and every error
type of the harness derives from it (a test walks the package to check). The CLI catches
this one base class in one place and prints :meth:`HarnessError.explain` instead of a
traceback; anything else escaping is a bug. :class:`CheckFailed` marks the errors that
report a check that ran and said no (exit code 1); the CLI's ``harness.cli.exits`` is
the one place that turns errors into exit codes.

Errors raised and caught within one package are defined beside the code that raises
them (``harness.runtime.traps``, ``harness.supply.signing``, ...) and exported by that
package; the families here are the ones more than one package raises or catches, so a
caller can catch a whole family (``except CompositionError``) without importing the
package that raises it.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The exit codes of ``matter-harness`` commands."""

    OK = 0
    FAILED = 1
    """A check ran and said no (a failed claim or handshake, a refused component)."""
    USAGE = 2
    """Bad usage, unreadable input or a broken environment."""


class HarnessError(Exception):
    """Base of every error the harness reports to its user.

    ``message`` says what went wrong, naming the file, instance or interface involved;
    ``hint`` (optional) says what the user can do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def explain(self) -> str:
        """Return the text the CLI prints for this error (no traceback)."""
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class CheckFailed(HarnessError):
    """A check ran and said no: a refused component, a guest stopped by a limit.

    Commands end with :attr:`ExitCode.FAILED` for these, and with
    :attr:`ExitCode.USAGE` for every other :class:`HarnessError`.
    """


class WasmFormatError(HarnessError, ValueError):
    """Bytes that are not a well-formed WebAssembly module or component.

    Raised for a bad preamble, a truncated or overlong LEB128, a section running past
    the end, an unknown section id, or bytes left over where none may be.
    ``offset`` is the byte offset in the input where the problem was found.
    """

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        where = f" (at byte offset {offset})" if offset is not None else ""
        super().__init__(message + where)
        self.offset = offset


class GraphError(HarnessError):
    """A composition graph file that is malformed or inconsistent.

    Unknown or missing keys, wrong value types, references to unknown nodes or
    instances, duplicate names.
    """


class CompositionError(HarnessError):
    """Base of the errors raised while composing a graph of components."""


class ComponentFileError(CompositionError):
    """A component file named by the graph is missing, unreadable or malformed."""


class UnsatisfiedImportError(CompositionError):
    """An import the graph requires to be wired internally that no instance satisfies."""


class MissingExportError(CompositionError):
    """A wiring or outer export names an export the instance does not have."""


class MissingImportError(CompositionError):
    """A wiring names an import the instance does not have."""


class ConflictingImportError(CompositionError):
    """Two instances leave an import of one name open but declare different types for it,
    so they cannot share one import of the composed component."""


class DependencyCycleError(CompositionError):
    """The instances depend on each other in a cycle, so none can be instantiated first."""


class CompositionTypeError(CompositionError):
    """The composed component does not validate: an export does not fit the import it
    was wired to (the message carries wasmtime's explanation)."""


class UnsupportedTypeError(CompositionError):
    """An import whose type the composer cannot re-declare (e.g. a module or component
    import)."""


class ComposedRunError(CompositionError):
    """A composed graph that cannot be run: its node files cannot be read (not built
    yet), or it lacks the exports a PASE run needs."""


class RunConfigError(HarnessError):
    """Run parameters that the core would reject (bad passcode, salt or iterations)."""


class TraceabilityDataError(HarnessError):
    """Traceability data that cannot be read: a missing directory, bad YAML, a duplicate
    mapping key, or a file that is not an ``artifacts`` list of mappings (the CLI exits 2).
    ``path`` names the file or directory, ``reason`` what is wrong with it."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot read traceability data {path}: {reason}")
        self.path = str(path)
        self.reason = reason


class LedgerError(HarnessError):
    """Base of the evidence ledger's errors."""


class LedgerReadError(LedgerError):
    """The ledger file cannot be read at all (missing, permissions, I/O)."""


class LedgerLockedError(LedgerError):
    """Another writer holds the ledger's lock file."""


class LedgerRecordError(LedgerError):
    """The fields given for a new evidence record do not make a valid record."""


class LedgerWriteError(LedgerError):
    """An evidence record could not be written in full."""


class LedgerCorruptError(LedgerError):
    """The ledger fails verification, so it must not be extended or trusted.
    ``first_bad`` is the 0-based index of the first bad record, ``check`` the failed step."""

    def __init__(self, message: str, *, first_bad: int | None, check: str | None) -> None:
        super().__init__(
            message,
            hint="the ledger is left as it is, for inspection: keep it aside and start a new "
            "one (move the file, or pass --ledger NEW), and find out who changed it",
        )
        self.first_bad = first_bad
        self.check = check


class LedgerMergeRefused(LedgerCorruptError, CheckFailed):
    """A source ledger of ``evidence merge`` fails verification: nothing was merged, and
    the command ends as a failed check (exit 1), like ``evidence verify`` on it."""


class ReportError(HarnessError):
    """A report cannot be rendered: an unknown format, or no evidence to render."""
