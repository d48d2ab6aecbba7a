"""Options and output helpers shared by the commands.

Only light modules are imported here (no wasmtime, no componentize-py, no core): the
option defaults come from modules that load nothing heavy, so ``--help`` and
``--version`` start fast.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.component_file import read_component_file
from harness.project import DEFAULT_BUILD_DIR, DEFAULT_LEDGER_PATH, LEDGER_ENV, display_path
from harness.runtime import Limits
from harness.seams import FaultPlan, FaultPlanError, parse_fault_plan
from harness.supply import (
    SIGNING_KEY_ENV,
    TRUST_MODE_ENV,
    TRUST_STORE_ENV,
    TrustMode,
    TrustSettings,
)

if TYPE_CHECKING:
    from harness.supply import SupplyChain

_F = TypeVar("_F", bound=Callable[..., Any])

if TYPE_CHECKING:
    _PathParamType = click.ParamType[Path]
else:  # click before 8.4 (pyproject allows 8.1) has no generic ParamType
    _PathParamType = click.ParamType


def parse_hex(text: str) -> bytes:
    """``text`` as bytes, two hex digits a byte; a ValueError says exactly what is wrong
    (the first character that is not a hex digit, with its 1-based position, or an odd
    number of digits)."""
    for position, char in enumerate(text, start=1):
        if char not in string.hexdigits:
            raise ValueError(f"not hex at position {position} ({char!r})")
    if len(text) % 2:
        raise ValueError(f"odd number of hex digits ({len(text)}); each byte takes two")
    return bytes.fromhex(text)


def hex_bytes(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return parse_hex(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{exc}; give hex, e.g. 5350414b453250204b65792053616c74"
        ) from None


class ComponentPath(_PathParamType):
    """A component file argument, checked by the harness's one component loader
    (:func:`harness.component_file.read_component_file`) while the options are parsed:
    before anything is built or compiled, every command says the same thing, with the
    same exit code, about a missing file, a directory, a text file or a core module."""

    name = "component"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = value if isinstance(value, Path) else Path(value)
        read_component_file(path)
        return path


class GraphPath(_PathParamType):
    """A composition graph file (TOML), read and checked (structure, names, references)
    while the options are parsed, before any component is built or composed. Its
    component files are not required to exist yet (``run --graph`` builds them)."""

    name = "graph"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        from harness.build import load_graph

        path = value if isinstance(value, Path) else Path(value)
        load_graph(path)
        return path


def fault_plan(_ctx: click.Context, _param: click.Parameter, value: str | None) -> FaultPlan | None:
    if value is None:
        return None
    try:
        return parse_fault_plan(value)
    except FaultPlanError as exc:
        raise click.BadParameter(exc.message) from None


faults_option = click.option(
    "--faults",
    metavar="SPEC",
    callback=fault_plan,
    default=None,
    help="Seeded link faults, e.g. drop=0.3,duplicate=0.1,reorder=0.1,corrupt=0.05,delay=40: "
    "rates 0..1 per datagram, delay in ms of clock time; decided from the run's seed "
    "(its own HMAC-DRBG stream), so a seeded faulted run repeats exactly.",
)


def trace_options(fn: Any) -> Any:
    """The --trace FILE and --mkdir options (see :func:`trace_target`)."""
    fn = click.option(
        "--mkdir",
        is_flag=True,
        help="Create the --trace file's directory (and its parents) when it is missing.",
    )(fn)
    return click.option(
        "--trace",
        "trace_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the packet trace as JSON lines, one per datagram (direction, time, "
        "message type, size, SHA-256, bytes). Its directory must exist unless --mkdir is "
        "given.",
    )(fn)


def trace_target(trace_file: Path | None, mkdir: bool) -> Path | None:
    """Check the --trace target before anything is built or run (exit 2 when its
    directory is missing and --mkdir was not given; created when it was)."""
    from harness.seams import prepare_trace_target

    if trace_file is None:
        if mkdir:
            raise click.UsageError("--mkdir only applies to the directory of --trace FILE")
        return None
    prepare_trace_target(trace_file, mkdir=mkdir)
    return trace_file


build_dir_option = click.option(
    "--build-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_BUILD_DIR,
    show_default=True,
    help="Where components, caches and composed graphs go.",
)


def format_option(fn: Any) -> Any:
    """``--format text|json`` (JSON: one object on standard output), with ``--json`` kept
    as a hidden alias of ``--format json``. The command receives ``output_format``."""

    @functools.wraps(fn)
    def command(*args: Any, output_format: str | None, as_json: bool, **kwargs: Any) -> Any:
        if as_json and output_format not in (None, "json"):
            raise click.UsageError(f"--json and --format {output_format} exclude each other")
        return fn(*args, output_format="json" if as_json else output_format or "text", **kwargs)

    command = click.option(
        "--json",
        "as_json",
        is_flag=True,
        hidden=True,
        help="Same as --format json (kept for older scripts).",
    )(command)
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default=None,
        help="Plain text (default), or one JSON object.",
    )(command)


def ledger_option(
    help_text: str, *, default: Path | None = DEFAULT_LEDGER_PATH
) -> Callable[[_F], _F]:
    """A ``--ledger`` option: the evidence ledger a command reads or appends to; by default
    the project's ``evidence/ledger.jsonl``, whatever the current directory, or the file
    the environment variable names."""
    return click.option(
        "--ledger",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=LEDGER_ENV if default is not None else None,
        show_envvar=default is not None,
        default=default,
        show_default=f"<project>/{display_path(default)}" if default is not None else False,
        help=help_text,
    )


def announce_ledger(ledger: Path, verb: str) -> None:
    """Say (on stderr) which ledger file a command ``verb`` (reads, appends to)."""
    progress(f"evidence ledger: {verb} {ledger.resolve()}")


_TRUST_MODES = [mode.value for mode in TrustMode]

trust_mode_option = click.option(
    "--trust-mode",
    type=click.Choice(_TRUST_MODES),
    envvar=TRUST_MODE_ENV,
    show_envvar=True,
    default=None,
    help="strict (default): a valid signature by a trusted key; self-signed: any valid "
    "signature by a key we know; unsigned: no check (development only, warns on every load).",
)
trust_store_option = click.option(
    "--trust-store",
    type=click.Path(path_type=Path),
    envvar=TRUST_STORE_ENV,
    show_envvar=True,
    default=None,
    help="Trust store: a directory or .json file [default: $XDG_CONFIG_HOME/matter-harness/trust].",
)
signing_key_option = click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=SIGNING_KEY_ENV,
    show_envvar=True,
    default=None,
    help="Secret key that signs build outputs [default: the build directory's build key].",
)


def trust_options(fn: Any) -> Any:
    """The --trust-mode, --trust-store and --signing-key options."""
    return trust_mode_option(trust_store_option(signing_key_option(fn)))


_DEFAULT_LIMITS = Limits()


#: The parameters of :func:`limit_options`, in :func:`limits_from`'s order.
_LIMIT_PARAMS = (
    "fuel",
    "memory_mb",
    "table_elements",
    "instances",
    "deadline_ms",
    "memory_budget_mb",
)


def limit_options(fn: Any) -> Any:
    """Per-instance resource limits for a run (0 means unlimited), handed to the command
    as one ``limits`` argument: the :class:`Limits` :func:`limits_from` makes of them."""

    @functools.wraps(fn)
    def with_limits(*args: Any, **kwargs: Any) -> Any:
        values = [kwargs.pop(name) for name in _LIMIT_PARAMS]
        return fn(*args, limits=limits_from(*values), **kwargs)

    options = [
        click.option(
            "--fuel",
            type=click.IntRange(min=0),
            default=_DEFAULT_LIMITS.fuel,
            show_default=True,
            help="Fuel per instance (wasm instructions, roughly); 0: unlimited.",
        ),
        click.option(
            "--memory-mb",
            type=click.IntRange(min=0),
            default=(_DEFAULT_LIMITS.memory_bytes or 0) // (1024 * 1024),
            show_default=True,
            help="Linear memory per instance in MiB; 0: unlimited.",
        ),
        click.option(
            "--table-elements",
            type=click.IntRange(min=0),
            default=_DEFAULT_LIMITS.table_elements,
            show_default=True,
            help="Table elements per table; 0: unlimited.",
        ),
        click.option(
            "--instances",
            type=click.IntRange(min=0),
            default=_DEFAULT_LIMITS.instances,
            show_default=True,
            help="Core and component instances per store; 0: unlimited.",
        ),
        click.option(
            "--deadline-ms",
            type=click.IntRange(min=0),
            default=_DEFAULT_LIMITS.deadline_ms,
            show_default=True,
            help="Wall-clock deadline of each call into a guest (epoch interruption); 0: none.",
        ),
        memory_budget_option,
    ]
    command: Any = with_limits
    for option in reversed(options):
        command = option(command)
    return command


memory_budget_option = click.option(
    "--memory-budget-mb",
    type=click.IntRange(min=0),
    default=(_DEFAULT_LIMITS.memory_budget_bytes or 0) // (1024 * 1024),
    show_default=True,
    help="All linear memories of the run together, in MiB (every instance's share of it); "
    "0: no budget.",
)


def limits_from(
    fuel: int,
    memory_mb: int,
    table_elements: int,
    instances: int,
    deadline_ms: int,
    memory_budget_mb: int,
) -> Limits:
    """The limits the options ask for (0 means unlimited)."""
    return Limits(
        fuel=fuel or None,
        memory_bytes=memory_mb * 1024 * 1024 or None,
        table_elements=table_elements or None,
        instances=instances or None,
        deadline_ms=deadline_ms or None,
        memory_budget_bytes=memory_budget_mb * 1024 * 1024 or None,
    )


def settings(
    trust_mode: str | None, trust_store: Path | None, signing_key: Path | None
) -> TrustSettings:
    return TrustSettings.from_options(trust_mode, trust_store, signing_key)


def announce(chain: SupplyChain) -> None:
    for line in chain.describe():
        progress(line)


def verified_lines(chain: SupplyChain) -> None:
    for v in chain.verifications:
        who = f"{v.signer or 'key'} {v.key_id}" if v.key_id else "nobody (not verified)"
        progress(f"verified {v.path}: sha256 {v.sha256}, signed by {who} [{v.mode}]")


def progress(message: str) -> None:
    click.echo(message, err=True)
