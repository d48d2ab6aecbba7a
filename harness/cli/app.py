"""The ``matter-harness`` click group: every HarnessError is printed, never a traceback.

The exit code of an error is :func:`harness.cli.exits.exit_code_for`'s, the one place
that maps errors to exit codes.
"""

from __future__ import annotations

from typing import Any

import click

from harness import __version__
from harness.cli.exits import exit_code_for
from harness.errors import HarnessError


class HarnessGroup(click.Group):
    """A click group that prints HarnessError as a message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(exc.explain(), err=True)
            ctx.exit(exit_code_for(exc))


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="matter-harness")
def cli() -> None:
    """Prove that Matter PASE runs inside sandboxed, composed WebAssembly components."""
