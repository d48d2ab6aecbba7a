"""Options and output helpers shared by the commands.

Only light modules are imported here (no wasmtime, no componentize-py, no core): the
option defaults come from modules that load nothing heavy, so ``--help`` and
``--version`` start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.project import DEFAULT_BUILD_DIR
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


def hex_bytes(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter("must be hex, e.g. 5350414b453250204b65792053616c74") from None


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


def limit_options(fn: Any) -> Any:
    """Per-instance resource limits for a run; 0 means unlimited."""
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
    for option in reversed(options):
        fn = option(fn)
    return fn


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
