"""The ``matter-harness`` command line.

The click commands only parse options and print; the work is done by the modules they
call. Every :class:`~harness.errors.HarnessError` is caught in one place (:func:`main`)
and printed without a traceback; exit code 2 means bad usage or a broken environment,
exit code 1 a check that ran and failed, including a component refused by its signature
check (see :mod:`harness.supply_chain`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from harness import __version__
from harness.build import COMPONENTS, DEFAULT_BUILD_DIR, build_all
from harness.composed_run import compose_cached, run_composed
from harness.driver import describe_failure
from harness.errors import HarnessError
from harness.placements import (
    DEFAULT_ITERATIONS,
    DEFAULT_PASSCODE,
    DEFAULT_SALT,
    RunConfig,
    RunReport,
    run_component,
    run_native,
)
from harness.runtime import Limits, Runtime
from harness.supply_chain import SIGNING_KEY_ENV, TRUST_MODE_ENV, SupplyChain, TrustSettings
from harness.trust import TRUST_STORE_ENV, TrustMode, TrustStore

EXIT_FAILED = 1
EXIT_USAGE = 2


def _hex_bytes(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter("must be hex, e.g. 5350414b453250204b65792053616c74") from None


class HarnessGroup(click.Group):
    """A click group that prints HarnessError as a message, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(exc.explain(), err=True)
            ctx.exit(getattr(exc, "exit_code", EXIT_USAGE))


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="matter-harness")
def cli() -> None:
    """Prove that Matter PASE runs inside sandboxed, composed WebAssembly components."""


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
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _limits(
    fuel: int, memory_mb: int, table_elements: int, instances: int, deadline_ms: int
) -> Limits:
    return Limits(
        fuel=fuel or None,
        memory_bytes=memory_mb * 1024 * 1024 or None,
        table_elements=table_elements or None,
        instances=instances or None,
        deadline_ms=deadline_ms or None,
    )


def _settings(
    trust_mode: str | None, trust_store: Path | None, signing_key: Path | None
) -> TrustSettings:
    return TrustSettings.from_options(trust_mode, trust_store, signing_key)


def _announce(chain: SupplyChain) -> None:
    for line in chain.describe():
        _progress(line)


def _verified_lines(chain: SupplyChain) -> None:
    for v in chain.verifications:
        who = f"{v.signer or 'key'} {v.key_id}" if v.key_id else "nobody (not verified)"
        _progress(f"verified {v.path}: sha256 {v.sha256}, signed by {who} [{v.mode}]")


@cli.command()
@build_dir_option
@click.option("--force", is_flag=True, help="Rebuild even when the cache says it is current.")
@signing_key_option
@click.argument("names", nargs=-1, type=click.Choice(sorted(COMPONENTS)))
def build(build_dir: Path, force: bool, signing_key: Path | None, names: tuple[str, ...]) -> None:
    """Build the components (core, loopback) with componentize-py, and sign them.

    A content-hash cache of the inputs (WIT, sources, tool version) skips unchanged
    rebuilds. Outputs are signed with --signing-key, else with the build directory's
    build key (generated on first use in BUILD_DIR/keys/).
    """
    chain = SupplyChain.local(_settings(None, None, signing_key), build_dir)
    results = build_all(
        build_dir, names=names or None, force=force, progress=_progress, supply_chain=chain
    )
    built = sum(not r.cached for r in results.values())
    signer = chain.build_signer().public_key.fingerprint
    click.echo(
        f"{len(results)} component(s) ready in {build_dir} ({built} built), "
        f"signed with key {signer}"
    )


@cli.command()
@click.argument("component", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect(component: Path, as_json: bool) -> None:
    """Show a component's imports and exports with their types, size and digest."""
    from harness.inspect import describe_component

    info = describe_component(component)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{component}: {info['size']} bytes, sha256 {info['sha256']}")
    for title, key in (("imports", "imports"), ("exports", "exports")):
        click.echo(f"{title}:")
        for name, text in info[key].items():
            click.echo(f"  {name}")
            for line in text.splitlines():
                click.echo(f"    {line}")
    if info.get("manifest") is not None:
        click.echo("composition manifest:")
        click.echo("  " + json.dumps(info["manifest"], indent=2).replace("\n", "\n  "))


@cli.command()
@click.option(
    "--seed", type=int, default=None, help="Deterministic entropy (HMAC-DRBG) from this seed."
)
@click.option("--passcode", type=int, default=DEFAULT_PASSCODE, show_default=True)
@click.option(
    "--salt",
    callback=_hex_bytes,
    default=None,
    help=f"PBKDF salt in hex, 16..32 bytes [default: {DEFAULT_SALT.hex()}]",
)
@click.option("--iterations", type=int, default=DEFAULT_ITERATIONS, show_default=True)
@click.option(
    "--wrong-passcode",
    is_flag=True,
    help="Give the commissionee a verifier for another passcode; the run must fail cleanly.",
)
@click.option("--native", is_flag=True, help="Run the core natively instead of as a component.")
@click.option(
    "--real-clock", is_flag=True, help="Use the host's monotonic clock instead of a virtual one."
)
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the packet trace as JSON lines.",
)
@click.option(
    "--graph",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Run across this composed graph (composed on the fly, cached by input digests).",
)
@build_dir_option
@trust_options
@limit_options
def run(
    graph: Path | None,
    seed: int | None,
    passcode: int,
    salt: bytes | None,
    iterations: int,
    wrong_passcode: bool,
    native: bool,
    real_clock: bool,
    trace_file: Path | None,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
    fuel: int,
    memory_mb: int,
    table_elements: int,
    instances: int,
    deadline_ms: int,
) -> None:
    """Run PASE between two core instances and prove the secure session.

    Prints a line starting PASE-RUNS-OK with the transcript hash on success. Every
    component is verified before it is compiled; one that fails its signature check is
    refused (exit 1).
    """
    config = RunConfig(
        seed=seed,
        passcode=passcode,
        salt=salt if salt is not None else DEFAULT_SALT,
        iterations=iterations,
        wrong_passcode=wrong_passcode,
        real_clock=real_clock,
        limits=_limits(fuel, memory_mb, table_elements, instances, deadline_ms),
    )
    started = time.perf_counter()
    if native and graph is not None:
        raise click.UsageError("--native and --graph exclude each other")
    if native:
        report = run_native(config)
    else:
        chain = SupplyChain.local(_settings(trust_mode, trust_store, signing_key), build_dir)
        names = ["core", "loopback"] if graph is not None else ["core"]
        results = build_all(build_dir, names=names, progress=_progress, supply_chain=chain)
        _announce(chain)
        runtime = Runtime(build_dir / "cache")
        try:
            if graph is not None:
                artifact = compose_cached(
                    graph, runtime, build_dir, supply_chain=chain, progress=_progress
                )
                _progress(
                    f"composed {graph} -> {artifact.path}"
                    + (" (cached)" if artifact.cached else f" in {artifact.seconds:.2f} s")
                )
                report = run_composed(
                    config, runtime, artifact.path, supply_chain=chain, verified=artifact.verified
                )
                report.timings["compose"] = artifact.seconds
            else:
                report = run_component(config, runtime, results["core"].path, supply_chain=chain)
        finally:
            runtime.close()
        _verified_lines(chain)
        report.timings["build"] = sum(r.seconds for r in results.values())
    report.timings["total"] = time.perf_counter() - started
    if trace_file is not None:
        from harness.peer import write_trace

        write_trace(trace_file, report.trace)
    _print_report(report)
    if not report.ok:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("graph_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the composed component.",
)
@click.option("--no-validate", is_flag=True, help="Skip loading the result with wasmtime (faster).")
@build_dir_option
@trust_options
def compose(
    graph_file: Path,
    output: Path,
    no_validate: bool,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Compose the components named by GRAPH_FILE (TOML) into one signed component.

    Each component is verified first; the result is signed like a build output and must
    nest exactly the verified files.
    """
    from harness.composed_run import compose_to_file

    chain = SupplyChain.local(_settings(trust_mode, trust_store, signing_key), build_dir)
    _announce(chain)
    runtime = Runtime(build_dir / "cache")
    try:
        result, signed, compose_seconds = compose_to_file(
            graph_file,
            output,
            runtime=runtime,
            build_dir=build_dir,
            supply_chain=chain,
            validate=not no_validate,
            progress=_progress,
        )
    finally:
        runtime.close()
    _verified_lines(chain)
    click.echo(f"wrote {output} ({len(signed)} bytes, composed in {compose_seconds:.2f} s)")
    click.echo(f"  signed with key {chain.build_signer().public_key.fingerprint}")
    click.echo("  imports: " + (", ".join(result.outer_imports) or "none"))
    click.echo("  exports: " + ", ".join(result.outer_exports))


def _print_report(report: RunReport) -> None:
    outcome = report.outcome
    if report.ok:
        click.echo(
            f"PASE-RUNS-OK transcript={report.transcript_hash.hex()} mode={report.mode} "
            f"seed={report.config.seed if report.config.seed is not None else 'os'}"
        )
    else:
        click.echo(f"PASE-FAILED mode={report.mode}", err=True)
        for line in describe_failure(outcome):
            click.echo(f"  {line}", err=True)
        if report.error:
            click.echo(f"  {report.error}", err=True)
    if report.mode == "composed":
        # The datagrams never reach the host: the transport component counted them.
        stats = report.transport_stats
        carried = stats.get("commissioner->commissionee packets", 0) + stats.get(
            "commissionee->commissioner packets", 0
        )
        where = "inside the graph"
    else:
        carried, where = len(report.trace), "over the host loopback"
    click.echo(
        f"  handshake: {outcome.rounds} rounds, {outcome.virtual_ms} ms clock time, "
        f"{carried} datagrams {where}"
    )
    for role, counters in report.seams.items():
        c = counters
        transport = (
            ""
            if report.mode == "composed"
            else f"transport send={c.transport_sends} ({c.transport_send_bytes} B) "
            f"receive={c.transport_receives} ({c.transport_receive_bytes} B) "
            f"empty={c.transport_empty_receives}; "
        )
        click.echo(
            f"  seams {role}: {transport}clock reads={c.clock_reads}; "
            f"entropy calls={c.entropy_calls} ({c.entropy_bytes} B)"
        )
    for line in outcome.secure_probe:
        click.echo(f"  secure session: {line}")
    if report.transport_stats:
        click.echo("  transport component: " + _kv(report.transport_stats))
    if report.fuel:
        click.echo("  fuel used: " + _kv(report.fuel))
    click.echo(
        "  timings: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in report.timings.items())
    )


def _kv(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _progress(message: str) -> None:
    click.echo(message, err=True)


def main() -> None:
    """Entry point of the ``matter-harness`` script."""
    cli()


DEFAULT_LEDGER = Path("evidence") / "ledger.jsonl"


@cli.command()
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_LEDGER,
    show_default=True,
    help="Append-only evidence ledger (JSON lines, hash-chained).",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the seeded runs.")
@click.option(
    "--min",
    "min_claims",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Fail when fewer claims than this were verified (an empty run never passes).",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report of this run here.",
)
@click.option("--no-coverage", is_flag=True, help="Do not measure seam coverage (C6 is skipped).")
@build_dir_option
@trust_options
def gate(
    ledger: Path,
    seed: int,
    min_claims: int,
    report_file: Path | None,
    no_coverage: bool,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Run every claim's verifier, record evidence, exit non-zero if a gated claim fails.

    Exit 0: every gated claim passed in this run. 1: a gated claim failed or errored, or
    fewer than --min claims were verified. 2: usage or environment error.

    Without --signing-key the gate signs what it builds with a key generated for this run
    and trusts only that key; with one, it uses that key and the trust store.
    """
    from harness.gate import run_gate
    from harness.reports import render_ledger
    from harness.traceability import load_artifacts

    chain = SupplyChain.for_gate(_settings(trust_mode, trust_store, signing_key), build_dir)
    _announce(chain)
    result = run_gate(
        supply_chain=chain,
        ledger_path=ledger,
        build_dir=build_dir,
        seed=seed,
        min_claims=min_claims,
        measure_coverage=not no_coverage,
        progress=_progress,
    )
    markdown = render_ledger("md", ledger, load_artifacts(None), run_id=result.run_id)
    click.echo(markdown)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(markdown)
    click.echo(result.summary)
    sys.exit(result.exit_code)


@cli.command()
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_LEDGER,
    show_default=True,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "json", "junit", "rivet", "rivet-json"]),
    default="md",
    show_default=True,
)
@click.option("--run-id", default=None, help="Which gate run (default: the latest).")
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A previous ledger: show what changed since its latest run.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def report(
    ledger: Path, fmt: str, run_id: str | None, previous: Path | None, output: Path | None
) -> None:
    """Render the evidence of one gate run as md, html, json, junit or rivet results."""
    from harness.reports import render_ledger
    from harness.traceability import load_artifacts

    text = render_ledger(fmt, ledger, load_artifacts(None), run_id=run_id, previous_ledger=previous)
    if output is None:
        click.echo(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        click.echo(f"wrote {output}", err=True)


@cli.group()
def evidence() -> None:
    """Work with evidence ledgers."""


@evidence.command("verify")
@click.argument("ledger", type=click.Path(dir_okay=False, path_type=Path))
def evidence_verify(ledger: Path) -> None:
    """Check LEDGER's hash chain and record schema; name the first bad record."""
    from harness.ledger import verify_ledger

    result = verify_ledger(ledger)
    click.echo(result.describe())
    sys.exit(0 if result.ok else EXIT_FAILED)


@cli.group()
def trace() -> None:
    """Work with the traceability data in traceability/."""


@trace.command("validate")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Traceability directory [default: the project's traceability/].",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "info"]),
    default="error",
    show_default=True,
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def trace_validate_command(directory: Path | None, fail_on: str, fmt: str) -> None:
    """Check links, link types, coverage of requirements, verifiers, ids and statuses."""
    from harness.gate import REGISTRY
    from harness.traceability import trace_validate

    code, text = trace_validate(directory, REGISTRY.keys(), fail_on=fail_on, fmt=fmt)
    click.echo(text)
    sys.exit(code)


@cli.command()
@click.option(
    "--role", type=click.Choice(["commissioner", "commissionee"]), required=True, help="PASE side."
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Commissionee: address to listen on. Commissioner: local address (default: any).",
)
@click.option("--connect", metavar="HOST:PORT", help="Commissioner: the device's address.")
@click.option("--passcode", type=int, default=None, help="The setup passcode.")
@click.option(
    "--verifier", callback=_hex_bytes, default=None, help="Commissionee: w0||L in hex (97 bytes)."
)
@click.option("--salt", callback=_hex_bytes, default=None, help="Commissionee: PBKDF salt in hex.")
@click.option("--iterations", type=int, default=None, help="Commissionee: PBKDF iterations.")
@click.option("--seed", type=int, default=None, help="Deterministic entropy from this seed.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option(
    "--expect-secured", is_flag=True, help="Commissionee: open the peer's first secured message."
)
@click.option("--send-secured", is_flag=True, help="Commissioner: seal one message afterwards.")
@click.option("--native", is_flag=True, help="Run the core natively instead of as a component.")
@click.option(
    "--core",
    "core_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Run this core component instead of building one.",
)
@click.option(
    "--trace",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the packet trace as JSON lines.",
)
@build_dir_option
@trust_options
def peer(
    role: str,
    listen: str | None,
    connect: str | None,
    passcode: int | None,
    verifier: bytes | None,
    salt: bytes | None,
    iterations: int | None,
    seed: int | None,
    timeout: float,
    expect_secured: bool,
    send_secured: bool,
    native: bool,
    core_path: Path | None,
    trace_file: Path | None,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
) -> None:
    """Run one PASE role against a real Matter peer over UDP.

    Prints PASE-RUNS-OK peer=ADDR transcript=HEX once the session is established;
    exits 1 with the core's failure text when the handshake fails or times out.
    """
    from harness.peer import config_from_options, run_peer, summary_lines, write_trace
    from harness.udp import format_endpoint

    config = config_from_options(
        role=role,
        listen=listen,
        connect=connect,
        passcode=passcode,
        verifier=verifier,
        salt=salt,
        iterations=iterations,
        seed=seed,
        timeout_s=timeout,
        expect_secured=expect_secured,
        send_secured=send_secured,
        native=native,
        core_path=core_path,
        build_dir=build_dir,
    )

    def ready(local: tuple[str, int]) -> None:
        target = format_endpoint(config.connect) if config.connect else "a controller"
        click.echo(f"LISTENING {format_endpoint(local)} role={role} peer={target}")

    chain = None
    if not native:
        chain = SupplyChain.local(_settings(trust_mode, trust_store, signing_key), build_dir)
        _announce(chain)
    result = run_peer(
        config, supply_chain=chain, on_ready=ready, emit=click.echo, progress=_progress
    )
    if trace_file is not None:
        write_trace(trace_file, result.trace)
    if result.failure is not None:
        click.echo(f"PASE-FAILED role={role} peer={result.peer_text}: {result.failure}", err=True)
    for line in summary_lines(result):
        click.echo(line)
    if not result.ok:
        sys.exit(EXIT_FAILED)


# --------------------------------------------------------------------------- signing


@cli.group()
def keys() -> None:
    """Signing keys (Ed25519, WebAssembly tool-conventions format, wasmsign2-compatible)."""


@keys.command("generate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def keys_generate(path: Path, force: bool) -> None:
    """Write a new secret key to PATH (mode 0600) and its public key to PATH.pub."""
    from harness.signing_commands import generate_key_files

    key, secret, public = generate_key_files(path, overwrite=force)
    click.echo(f"secret key {secret} (keep it private), public key {public}")
    click.echo(f"key id {key.public_key.fingerprint}")


@cli.command()
@click.argument("component", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="Secret key file (from `keys generate`).",
)
@click.option(
    "--detached",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a detached signature here; the component is left unchanged.",
)
@click.option("--key-id", default=None, help="Key id stored with the signature (text).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the signed component here instead of signing COMPONENT in place.",
)
def sign(
    component: Path, key_path: Path, detached: Path | None, key_id: str | None, output: Path | None
) -> None:
    """Sign COMPONENT (embedded signature, added to any it has), or write a detached one."""
    from harness.keys import load_secret_key
    from harness.signing_commands import sign_component_file

    if detached is not None and output is not None:
        raise click.UsageError("--detached and --output exclude each other")
    outcome = sign_component_file(
        component,
        load_secret_key(key_path),
        key_id=key_id.encode("utf-8") if key_id is not None else None,
        detached=detached,
        output=output,
    )
    what = "detached signature" if outcome.detached else "signed component"
    click.echo(f"wrote {what} {outcome.written} (key id {outcome.key_id})")


@cli.command()
@click.argument("component", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--signature",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A detached signature of COMPONENT.",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    help="A known (not trusted) public key, file or hex; counts in self-signed mode.",
)
@build_dir_option
@trust_mode_option
@trust_store_option
def verify(
    component: Path,
    signature: Path | None,
    public_keys: tuple[str, ...],
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
) -> None:
    """Check COMPONENT's signature as `run` would; exit 1 if it would be refused.

    Strict mode trusts the trust store and the build key of --build-dir.
    """
    from harness.signing_commands import read_public_key_argument, verify_component_file

    extra = [read_public_key_argument(text) for text in public_keys]
    settings = _settings(trust_mode, trust_store, None)
    chain = SupplyChain.local(settings, build_dir, extra_keys=extra)
    _announce(chain)
    verification = verify_component_file(chain, component, signature)
    status = "VERIFIED" if verification.verified else "NOT-VERIFIED"
    click.echo(f"{status} {component}: {verification.detail}")
    click.echo(f"  sha256 {verification.sha256}")


@cli.group()
@trust_store_option
@click.pass_context
def trust(ctx: click.Context, trust_store: Path | None) -> None:
    """The trust store: public keys whose signatures strict mode accepts."""
    ctx.obj = TrustStore.open(trust_store)


@trust.command("add")
@click.argument("pubkey")
@click.option("--name", required=True, help="Name of the key (A-Z a-z 0-9 . _ @ -).")
@click.option("--key-id", default=None, help="The key id its signatures carry, if not the default.")
@click.pass_obj
def trust_add(store: TrustStore, pubkey: str, name: str, key_id: str | None) -> None:
    """Trust PUBKEY (a .pub file from `keys generate`, or hex) under NAME."""
    from harness.signing_commands import read_public_key_argument

    key = read_public_key_argument(pubkey)
    if key_id is not None:
        key = key.with_key_id(key_id.encode("utf-8"))
    entry = store.add(name, key)
    click.echo(f"trusted {entry.name}: key id {entry.key.fingerprint} (in {store.path})")


@trust.command("list")
@click.pass_obj
def trust_list(store: TrustStore) -> None:
    """List the trusted keys."""
    entries = store.entries()
    click.echo(f"trust store {store.path}: {len(entries)} key(s)")
    for entry in entries:
        click.echo(f"  {entry.name}  key id {entry.key.fingerprint}  added {entry.added_at}")


@trust.command("remove")
@click.argument("name")
@click.pass_obj
def trust_remove(store: TrustStore, name: str) -> None:
    """Stop trusting the key called NAME."""
    entry = store.remove(name)
    click.echo(f"removed {entry.name} (key id {entry.key.fingerprint}) from {store.path}")


@cli.command()
@click.argument("component", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Capability policy (TOML) [default: components/policy.toml].",
)
@click.option(
    "--role",
    default=None,
    help="Role to audit under [default: 'composed' for a composed graph, else the file's stem].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def audit(component: Path, policy_file: Path | None, role: str | None, as_json: bool) -> None:
    """List a component's imports with their risk class and the policy's verdict.

    Exits 0 when every import is allowed, 1 when any is refused, 2 for a bad policy file,
    an unknown role or an unreadable component.
    """
    from harness.policy import audit as audit_imports
    from harness.policy import infer_role, load_policy

    policy = load_policy(policy_file)
    report = audit_imports(component, role or infer_role(component, policy), policy)
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.render())
    if not report.allowed:
        sys.exit(EXIT_FAILED)
