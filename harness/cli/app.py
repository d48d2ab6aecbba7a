"""The ``matter-harness`` click group: every HarnessError is printed, never a traceback.

The exit code of an error is :func:`harness.cli.exits.exit_code_for`'s, the one place
that maps errors to exit codes.
"""

from __future__ import annotations

from typing import Any

import click

from harness import __version__, progress
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
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Print a line with the elapsed time for every step that can take more than a "
    "second (build, compile, compose, validate, transpile, each gate claim) on stderr "
    f"[default: only when stderr is a terminal; ${progress.PROGRESS_ENV}=1 or 0 decides "
    "otherwise].",
)
@click.pass_context
def cli(ctx: click.Context, show_progress: bool | None) -> None:
    """Prove that Matter PASE runs inside sandboxed, composed WebAssembly components."""
    progress.configure(progress.wanted(show_progress))
    # The reporter is process-wide: a command run in-process (a test, a script) leaves
    # it as it found it, quiet.
    ctx.call_on_close(lambda: progress.configure(False))
