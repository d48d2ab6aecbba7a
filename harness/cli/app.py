"""The ``matter-harness`` click group: every HarnessError is printed, never a traceback.

The exit code of an error is :func:`harness.cli.exits.exit_code_for`'s, the one place
that maps errors to exit codes.

The group loads its subcommands lazily (click's "lazy loading of subcommands" pattern):
:data:`COMMANDS` names, for every subcommand, where it is defined and its one-line help,
so ``matter-harness --help`` and name completion import no command module; the module
of a command is imported when that command is looked up to run or to show its own help.
A test checks that every entry's one-line help is the real command's.
"""

from __future__ import annotations

import importlib
from gettext import gettext as _
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from harness import __version__

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

#: The environment variable that decides ``--progress`` when it is not given:
#: :data:`harness.progress.PROGRESS_ENV`, repeated so that ``--help`` need not import
#: :mod:`harness.progress` (a test checks that the two agree).
PROGRESS_ENV = "MATTER_HARNESS_PROGRESS"


class LazyCommand(NamedTuple):
    """Where a subcommand is defined and what ``--help`` says of it before it is loaded."""

    #: ``"module:attribute"``, e.g. ``"harness.cli.run:run"``.
    target: str
    #: The command's one-line help in full (click shortens it to the terminal's width).
    summary: str


#: Every subcommand of ``matter-harness``, by name.
COMMANDS: dict[str, LazyCommand] = {
    "audit": LazyCommand(
        "harness.cli.supply:audit",
        "List a component's imports with their risk class and the policy's verdict.",
    ),
    "build": LazyCommand(
        "harness.cli.build:build",
        "Build the components and sign them: the core with componentize-py, the loopback "
        "transport from its component-model text (components/loopback/*.wat); and, when "
        "Node.js and npm are present, mjs-core (a second core from matter.js, built with "
        "componentize-js), which is skipped with a note when they are not. spike, the "
        "example spike command, is built only when named.",
    ),
    "compose": LazyCommand(
        "harness.cli.build:compose",
        "Compose the components named by GRAPH_FILE (TOML) into one signed component.",
    ),
    "conformance": LazyCommand(
        "harness.cli.conformance:conformance",
        "Check that CANDIDATE implements the core world (wit/pase.wit) like the project's core.",
    ),
    "evidence": LazyCommand("harness.cli.evidence:evidence", "Work with evidence ledgers."),
    "fuzz": LazyCommand(
        "harness.cli.fuzz:fuzz",
        "Fuzz one target; exit 1 on any trap, untyped exception, hang or divergence.",
    ),
    "gate": LazyCommand(
        "harness.cli.evidence:gate",
        "Run every claim's verifier, record evidence, exit non-zero if a gated claim fails.",
    ),
    "inspect": LazyCommand(
        "harness.cli.build:inspect",
        "Show a component's imports and exports with their types, size and digest.",
    ),
    "keys": LazyCommand(
        "harness.cli.supply:keys",
        "Signing keys (Ed25519, WebAssembly tool-conventions format, wasmsign2-compatible).",
    ),
    "mutation": LazyCommand(
        "harness.cli.mutation:mutation",
        "Mutate matter_core, print the score per module, record E1.",
    ),
    "peer": LazyCommand(
        "harness.cli.run:peer", "Run one PASE role against a real Matter peer over UDP."
    ),
    "report": LazyCommand(
        "harness.cli.evidence:report",
        "Render the evidence of one gate run as md, html, json, junit or rivet results.",
    ),
    "run": LazyCommand(
        "harness.cli.run:run",
        "Run PASE between two core instances and prove the secure session.",
    ),
    "sign": LazyCommand(
        "harness.cli.supply:sign",
        "Sign COMPONENT (embedded signature, added to any it has), or write a detached one.",
    ),
    "signature": LazyCommand(
        "harness.cli.supply:signature_group",
        "Embedded and detached signatures: list and check them, or split one off a component.",
    ),
    "spike": LazyCommand(
        "harness.cli.spike:spike",
        "Run COMPONENT, a command component (it exports wasi:cli/run), as `wasmtime run` "
        "would, with less authority: only stdout and stderr (captured and printed back), "
        "clocks, random and the exit status are granted; there is no environment, no "
        "preopened directory, an empty stdin, and sockets reach no address.",
    ),
    "trace": LazyCommand(
        "harness.cli.evidence:trace", "Work with the traceability data in traceability/."
    ),
    "trust": LazyCommand(
        "harness.cli.supply:trust",
        "The trust store: public keys whose signatures strict mode accepts.",
    ),
    "verify": LazyCommand(
        "harness.cli.supply:verify",
        "Check COMPONENT's signature as `run` would; exit 1 if it would be refused.",
    ),
}


def load_command(name: str, entry: LazyCommand) -> click.Command:
    """The command ``entry`` names, imported; it must be a click command called ``name``."""
    module_name, _, attribute = entry.target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command) or command.name != name:
        raise TypeError(f"{entry.target} is not the click command {name!r}")
    return command


class HarnessGroup(click.Group):
    """A click group that prints HarnessError as a message, never a traceback, and loads
    the subcommands in ``lazy`` only when one is looked up."""

    def __init__(
        self, *args: Any, lazy: dict[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            # Later lookups (and click's own walks of .commands) find it loaded.
            self.add_command(load_command(cmd_name, self.lazy[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def _listed(self, ctx: click.Context) -> list[tuple[str, click.Command]]:
        """Every visible subcommand by name, as click lists them: a loaded command as it
        is, one not yet loaded as a stand-in that has only its one-line help."""
        listed = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy[name].summary)
            if not command.hidden:
                listed.append((name, command))
        return listed

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click.Group.format_commands, without loading a command to read its short help.
        commands = self._listed(ctx)
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            with formatter.section(_("Commands")):
                formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        # click.Group.shell_complete, without loading a command to read its short help.
        from click.shell_completion import CompletionItem

        results = [
            CompletionItem(name, help=command.get_short_help_str())
            for name, command in self._listed(ctx)
            if name.startswith(incomplete)
        ]
        results.extend(click.Command.shell_complete(self, ctx, incomplete))
        return results

    def invoke(self, ctx: click.Context) -> Any:
        # Imported here: --help and --version never invoke the group.
        from harness.cli.exits import exit_code_for
        from harness.errors import HarnessError

        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(exc.explain(), err=True)
            ctx.exit(exit_code_for(exc))


@click.group(
    cls=HarnessGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="matter-harness")
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Print a line with the elapsed time for every step that can take more than a "
    "second (build, compile, compose, validate, transpile, each gate claim) on stderr "
    f"[default: only when stderr is a terminal; ${PROGRESS_ENV}=1 or 0 decides "
    "otherwise].",
)
@click.pass_context
def cli(ctx: click.Context, show_progress: bool | None) -> None:
    """Prove that Matter PASE runs inside sandboxed, composed WebAssembly components."""
    from harness import progress

    progress.configure(progress.wanted(show_progress))
    # The reporter is process-wide: a command run in-process (a test, a script) leaves
    # it as it found it, quiet.
    ctx.call_on_close(lambda: progress.configure(False))
