"""The ``matter-harness`` command line: thin click commands, one module per group.

The commands only parse options, call the library and print; every
:class:`~harness.errors.HarnessError` is caught in one place (:mod:`harness.cli.app`) and
printed without a traceback, and :mod:`harness.cli.exits` maps it to the exit code: 2
for bad usage or a broken environment, 1 for a check that ran and failed (a component
refused by its signature or policy, a guest stopped by a limit). So that ``--help`` and
``--version`` start fast, the group imports a command's module only when that command
is looked up (:data:`harness.cli.app.COMMANDS`), and heavy modules (wasmtime,
componentize-py, the core) are imported inside the commands that need them.
"""

from __future__ import annotations

from harness.cli.app import cli


def main() -> None:
    """Entry point of the ``matter-harness`` script."""
    cli()


__all__ = ["cli", "main"]
