"""The top-level group loads its subcommands lazily (harness/cli/app.py): its table names
every command with the right one-line help, ``--help`` and name completion read the
table and say exactly what click says with every command loaded, and start-up imports
no command module and no heavy package (checked structurally, in fresh interpreters;
the time it takes is a benchmark's business, benchmarks/bench_startup.py)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import harness.cli
from harness import progress
from harness.cli.app import (
    COMMANDS,
    PROGRESS_ENV,
    HarnessGroup,
    LazyCommand,
    cli,
    load_command,
)

#: Packages that are slow to import and that no help text needs.
HEAVY = {"wasmtime", "cryptography", "hypothesis", "componentize_py", "matter_core", "yaml"}
#: Widths of terminal the help is checked at (the one-line help is cut to fit).
WIDTHS = (30, 50, 80, 120, 250)


def command_modules() -> list[str]:
    """Every module of harness.cli except the package's own plumbing."""
    return [
        f"harness.cli.{info.name}"
        for info in pkgutil.iter_modules(harness.cli.__path__)
        if info.name not in {"app", "exits", "options"}
    ]


def eager_group() -> click.Group:
    """A plain click group holding every command of the table, loaded."""
    return click.Group(
        "matter-harness",
        commands={name: load_command(name, entry) for name, entry in COMMANDS.items()},
    )


def fresh_lazy_group() -> HarnessGroup:
    """A lazy group with nothing loaded yet (``cli`` may have loaded commands already)."""
    return HarnessGroup("matter-harness", lazy=COMMANDS)


def command_rows(group: click.Group, width: int) -> str:
    formatter = click.HelpFormatter(width=width)
    group.format_commands(click.Context(group), formatter)
    return formatter.getvalue()


def completions(group: click.Group, incomplete: str) -> list[tuple[str, str | None]]:
    items = group.shell_complete(click.Context(group), incomplete)
    return [(item.value, item.help) for item in items]


def python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --------------------------------------------------------------------------- the table


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_entry_names_its_command_with_its_one_line_help(name: str) -> None:
    entry = COMMANDS[name]
    command = load_command(name, entry)
    assert command.name == name
    assert entry.summary == command.get_short_help_str(limit=sys.maxsize)
    stand_in = click.Command(name, help=entry.summary)
    for limit in (3, 10, 30, 45, 60, 100):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), limit


def test_the_table_lists_every_command_the_modules_define() -> None:
    """A command defined in a module but missing from the table would be unreachable."""
    defined = set()
    for module_name in command_modules():
        module = importlib.import_module(module_name)
        commands = {
            attribute: value
            for attribute, value in vars(module).items()
            if isinstance(value, click.Command)
        }
        nested = {
            id(sub)
            for group in commands.values()
            if isinstance(group, click.Group)
            for sub in group.commands.values()
        }
        defined |= {f"{module_name}:{a}" for a, c in commands.items() if id(c) not in nested}
    assert defined == {entry.target for entry in COMMANDS.values()}


def test_a_wrong_entry_is_refused_when_looked_up() -> None:
    with pytest.raises(TypeError, match="is not the click command 'walk'"):
        load_command("walk", LazyCommand("harness.cli.run:run", "Run."))
    with pytest.raises(TypeError, match=r"harness\.cli\.run:progress is not"):
        load_command("progress", LazyCommand("harness.cli.run:progress", "Print."))


# --------------------------------------------------------------------------- same as eager


@pytest.mark.parametrize("width", WIDTHS)
def test_the_command_list_in_help_is_clicks_with_every_command_loaded(width: int) -> None:
    expected = command_rows(eager_group(), width)
    assert "Commands:" in expected
    lazy = fresh_lazy_group()
    assert command_rows(lazy, width) == expected
    assert lazy.commands == {}  # nothing was loaded to write it
    for name in COMMANDS:  # and loading commands changes nothing
        lazy.get_command(click.Context(lazy), name)
        assert command_rows(lazy, width) == expected


@pytest.mark.parametrize("incomplete", ["", "t", "s", "ev", "x", "-", "--", "--pro"])
def test_name_completion_is_clicks_with_every_command_loaded(incomplete: str) -> None:
    eager = eager_group()
    eager.params = list(cli.params)
    lazy = fresh_lazy_group()
    lazy.params = list(cli.params)
    assert completions(lazy, incomplete) == completions(eager, incomplete)
    assert lazy.commands == {}


def test_looking_a_command_up_loads_it_once() -> None:
    lazy = fresh_lazy_group()
    ctx = click.Context(lazy)
    assert lazy.list_commands(ctx) == sorted(COMMANDS)
    run = lazy.get_command(ctx, "run")
    assert run is load_command("run", COMMANDS["run"])
    assert lazy.commands == {"run": run}
    assert lazy.get_command(ctx, "run") is run
    assert lazy.get_command(ctx, "walk") is None


def test_an_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["walk"])
    assert result.exit_code == 2
    assert "No such command 'walk'" in result.output


# --------------------------------------------------------------------------- start-up


def test_the_progress_variable_named_in_help_is_the_one_read() -> None:
    assert PROGRESS_ENV == progress.PROGRESS_ENV
    help_text = CliRunner().invoke(cli, ["--help"], terminal_width=200).output
    assert f"${progress.PROGRESS_ENV}=1 or 0" in help_text


def test_importing_the_cli_loads_no_heavy_package() -> None:
    loaded = python(
        "import harness.cli, sys\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r}))"
    )
    assert loaded.strip() == "[]"


@pytest.mark.parametrize(
    ("args", "loads"),
    [
        (["--help"], set()),
        (["--version"], set()),
        (["evidence", "verify", "--help"], {"harness.cli.evidence"}),
        (["run", "--help"], {"harness.cli.run"}),
        (["trust", "list", "--help"], {"harness.cli.supply"}),
    ],
)
def test_start_up_loads_only_the_module_of_the_command_asked_for(
    args: list[str], loads: set[str]
) -> None:
    probe = (
        "import json, sys\n"
        "from harness.cli import main\n"
        f"sys.argv = ['matter-harness', *{args!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=Path(__file__).parent
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert {m for m in modules if m.split(".")[0] in HEAVY} == set()
    assert modules & set(command_modules()) == loads
