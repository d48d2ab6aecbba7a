"""The ``matter-harness`` command line: thin click commands, one module per group.

The commands only parse options, call the library and print; every
:class:`~harness.errors.HarnessError` is caught in one place (:mod:`harness.cli.app`) and
printed without a traceback, and :mod:`harness.cli.exits` maps it to the exit code: 2
for bad usage or a broken environment, 1 for a check that ran and failed (a component
refused by its signature or policy, a guest stopped by a limit). Heavy modules (wasmtime,
componentize-py, the core) are imported inside the commands that need them, so
``--help`` and ``--version`` start fast.
"""

from __future__ import annotations

from harness.cli import supply
from harness.cli.app import cli
from harness.cli.build import build
from harness.cli.conformance import conformance
from harness.cli.evidence import evidence
from harness.cli.fuzz import fuzz
from harness.cli.mutation import mutation
from harness.cli.run import run
from harness.cli.spike import spike

#: The command modules, imported for their side effect of registering on :data:`cli`.
COMMAND_MODULES = (build, conformance, evidence, fuzz, mutation, run, spike, supply)


def main() -> None:
    """Entry point of the ``matter-harness`` script."""
    cli()


__all__ = ["cli", "main"]
