"""``run`` and ``peer``: PASE between two core instances, or one against a real peer."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.exits import EXIT_FAILED
from harness.cli.options import (
    ComponentPath,
    GraphPath,
    announce,
    build_dir_option,
    faults_option,
    hex_bytes,
    limit_options,
    memory_budget_option,
    progress,
    settings,
    trace_options,
    trace_target,
    trust_options,
    verified_lines,
)
from harness.drive import (
    DEFAULT_ITERATIONS,
    DEFAULT_LINGER_MS,
    DEFAULT_PASSCODE,
    DEFAULT_SALT,
)
from harness.wit import ROLES

if TYPE_CHECKING:
    from harness.drive import RunConfig, RunReport
    from harness.runtime import Limits
    from harness.seams import FaultPlan, FaultyDatagramTransport, UdpTransport
    from harness.supply import TrustSettings


@click.command()
@click.option(
    "--seed", type=int, default=None, help="Deterministic entropy (HMAC-DRBG) from this seed."
)
@click.option(
    "--passcode",
    type=int,
    default=DEFAULT_PASSCODE,
    show_default=True,
    help="Setup passcode both roles use: 1..99999998, not a trivial one such as 11111111 "
    "or 12345678 (Matter Core Specification, section 5.1.7.1).",
)
@click.option(
    "--salt",
    callback=hex_bytes,
    default=None,
    help=f"PBKDF salt in hex, 16..32 bytes [default: {DEFAULT_SALT.hex()}]",
)
@click.option(
    "--iterations",
    type=int,
    default=DEFAULT_ITERATIONS,
    show_default=True,
    help="PBKDF2 iterations of the passcode verifier, 1000..100000.",
)
@click.option(
    "--wrong-passcode",
    is_flag=True,
    help="Give the commissionee a verifier for another passcode; the run must fail cleanly.",
)
@click.option("--native", is_flag=True, help="Run the core natively instead of as a component.")
@click.option(
    "--runtime",
    type=click.Choice(["wasmtime", "jco"]),
    default="wasmtime",
    show_default=True,
    help="Run the components on wasmtime, or transpiled by jco on Node's V8.",
)
@click.option(
    "--real-clock", is_flag=True, help="Use the host's monotonic clock instead of a virtual one."
)
@trace_options
@click.option(
    "--graph",
    type=GraphPath(),
    help="Run across this composed graph (TOML; composed on the fly, cached by input "
    "digests). Checked before anything is built.",
)
@faults_option
@build_dir_option
@trust_options
@limit_options
def run(
    graph: Path | None,
    faults: FaultPlan | None,
    seed: int | None,
    passcode: int,
    salt: bytes | None,
    iterations: int,
    wrong_passcode: bool,
    native: bool,
    runtime: str,
    real_clock: bool,
    trace_file: Path | None,
    mkdir: bool,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
    limits: Limits,
) -> None:
    """Run PASE between two core instances and prove the secure session.

    Prints a line starting PASE-RUNS-OK with the transcript hash on success. Every
    component is verified before it is compiled; one that fails its signature check is
    refused (exit 1). With --faults the link between the roles (the host loopback, or
    the transport component in --graph runs) applies seeded faults to the handshake and
    the counts of each fault applied are printed.
    """
    from harness.drive import RunConfig, check_run_config, run_native
    from harness.seams import write_trace

    trace_file = trace_target(trace_file, mkdir)
    config = RunConfig(
        seed=seed,
        passcode=passcode,
        salt=salt if salt is not None else DEFAULT_SALT,
        iterations=iterations,
        wrong_passcode=wrong_passcode,
        real_clock=real_clock,
        faults=faults,
        limits=limits,
    )
    # Every parameter is checked before anything is built or compiled.
    check_run_config(config)
    started = time.perf_counter()
    if native and graph is not None:
        raise click.UsageError("--native and --graph exclude each other")
    if native and runtime != "wasmtime":
        raise click.UsageError("--native runs no component, so it takes no --runtime")
    if runtime == "jco" and faults is not None:
        raise click.UsageError(
            "--faults is not available with --runtime jco yet (the JS host's loopback has "
            "no fault model); run faulted handshakes on wasmtime"
        )
    if native:
        report = run_native(config)
    elif runtime == "jco":
        report = _run_on_jco(
            config, graph, build_dir, settings(trust_mode, trust_store, signing_key)
        )
    else:
        report = _run_in_components(
            config, graph, build_dir, settings(trust_mode, trust_store, signing_key)
        )
    report.timings["total"] = time.perf_counter() - started
    if trace_file is not None:
        write_trace(trace_file, report.trace)
    _print_report(report)
    if not report.ok:
        sys.exit(EXIT_FAILED)


def _run_in_components(
    config: RunConfig, graph: Path | None, build_dir: Path, trust: TrustSettings
) -> RunReport:
    """Build (through the cache), verify and run: one core instance per role, or the
    composed ``graph``."""
    from harness.build import build_all, compose_cached
    from harness.drive import run_component, run_composed
    from harness.runtime import Runtime
    from harness.supply import SupplyChain

    chain = SupplyChain.local(trust, build_dir)
    names = ["core", "loopback"] if graph is not None else ["core"]
    results = build_all(build_dir, names=names, progress=progress, supply_chain=chain)
    announce(chain)
    runtime = Runtime(build_dir / "cache")
    try:
        if graph is not None:
            artifact = compose_cached(
                graph, runtime, build_dir, supply_chain=chain, progress=progress
            )
            progress(
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
    verified_lines(chain)
    report.timings["build"] = sum(r.seconds for r in results.values())
    return report


def _run_on_jco(
    config: RunConfig, graph: Path | None, build_dir: Path, trust: TrustSettings
) -> RunReport:
    """Build and verify as for wasmtime, then run on Node's V8 (the jco placement)."""
    from harness.build import build_all, compose_cached
    from harness.drive import JcoTarget, run_jco
    from harness.runtime import Runtime
    from harness.supply import SupplyChain

    chain = SupplyChain.local(trust, build_dir)
    names = ["core", "loopback"] if graph is not None else ["core"]
    results = build_all(build_dir, names=names, progress=progress, supply_chain=chain)
    announce(chain)
    compose_seconds = 0.0
    if graph is not None:
        # The graph is composed (and validated) on wasmtime, as for a wasmtime run.
        runtime = Runtime(build_dir / "cache")
        try:
            artifact = compose_cached(
                graph, runtime, build_dir, supply_chain=chain, progress=progress
            )
        finally:
            runtime.close()
        compose_seconds = artifact.seconds
        target = JcoTarget(artifact.path, composed=True)
    else:
        target = JcoTarget(results["core"].path, composed=False)
    report = run_jco(config, target, chain, build_dir, progress=progress)
    verified_lines(chain)
    report.timings["build"] = sum(r.seconds for r in results.values())
    if graph is not None:
        report.timings["compose"] = compose_seconds
    return report


@click.command()
@click.option("--role", type=click.Choice(list(ROLES)), required=True, help="PASE side.")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Commissionee: address to listen on. Commissioner: local address (default: any).",
)
@click.option("--connect", metavar="HOST:PORT", help="Commissioner: the device's address.")
@click.option("--passcode", type=int, default=None, help="The setup passcode.")
@click.option(
    "--verifier", callback=hex_bytes, default=None, help="Commissionee: w0||L in hex (97 bytes)."
)
@click.option("--salt", callback=hex_bytes, default=None, help="Commissionee: PBKDF salt in hex.")
@click.option("--iterations", type=int, default=None, help="Commissionee: PBKDF iterations.")
@click.option("--seed", type=int, default=None, help="Deterministic entropy from this seed.")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds.")
@click.option(
    "--expect-secured", is_flag=True, help="Commissionee: open the peer's first secured message."
)
@click.option("--send-secured", is_flag=True, help="Commissioner: seal one message afterwards.")
@click.option(
    "--linger",
    "linger_ms",
    type=click.IntRange(0, 60_000),
    default=DEFAULT_LINGER_MS,
    show_default=True,
    metavar="MS",
    help="Keep acknowledging the peer this long after the outcome is known "
    "(default: one MRP retransmission interval with backoff margin and jitter, plus slack).",
)
@click.option("--native", is_flag=True, help="Run the core natively instead of as a component.")
@click.option(
    "--core",
    "core_path",
    type=ComponentPath(),
    help="Run this core component instead of building one.",
)
@trace_options
@faults_option
@memory_budget_option
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
    linger_ms: int,
    native: bool,
    core_path: Path | None,
    trace_file: Path | None,
    mkdir: bool,
    faults: FaultPlan | None,
    build_dir: Path,
    trust_mode: str | None,
    trust_store: Path | None,
    signing_key: Path | None,
    memory_budget_mb: int,
) -> None:
    """Run one PASE role against a real Matter peer over UDP.

    Prints PASE-RUNS-OK peer=ADDR transcript=HEX once the session is established;
    exits 1 with the core's failure text when the handshake fails or times out. With
    --faults the datagrams this side sends and receives go through the seeded link fault
    model (seeded from --seed, else from the OS), for the whole run, and the counts of
    each fault applied are printed at the end.
    """
    from harness.drive import config_from_options, run_peer, summary_lines
    from harness.seams import format_endpoint, write_trace
    from harness.supply import SupplyChain

    trace_file = trace_target(trace_file, mkdir)
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
        memory_budget_bytes=memory_budget_mb * 1024 * 1024 or None,
        linger_ms=linger_ms,
    )

    def ready(local: tuple[str, int]) -> None:
        if config.connect is None:
            click.echo(f"LISTENING {format_endpoint(local)} role={role} peer=a controller")
            return
        # A UDP client: an ephemeral local port in the device's address family.
        click.echo(
            f"CONNECTING {format_endpoint(config.connect)} role={role} "
            f"from={format_endpoint(local)} (UDP client)"
        )

    chain = None
    if not native:
        chain = SupplyChain.local(settings(trust_mode, trust_store, signing_key), build_dir)
        announce(chain)
    faulty = _FaultLayers(faults, seed)
    result = run_peer(
        config,
        supply_chain=chain,
        on_ready=ready,
        emit=click.echo,
        progress=progress,
        wrap_transport=faulty.wrap if faults is not None else None,
    )
    if chain is not None:
        verified_lines(chain)
    if trace_file is not None:
        write_trace(trace_file, result.trace)
    if result.failure is not None:
        click.echo(f"PASE-FAILED role={role} peer={result.peer_text}: {result.failure}", err=True)
    for line in summary_lines(result):
        click.echo(line)
    for layer in faulty.layers:
        click.echo(f"  faults ({layer.faults.plan.text()}): {layer.faults.counts.line()}")
    if not result.ok:
        sys.exit(EXIT_FAILED)


class _FaultLayers:
    """Puts the seeded link fault model between the peer's core and its UDP socket."""

    def __init__(self, plan: FaultPlan | None, seed: int | None) -> None:
        self.plan = plan
        self.seed = seed
        self.layers: list[FaultyDatagramTransport] = []

    def wrap(self, udp: UdpTransport) -> FaultyDatagramTransport:
        from harness.seams import (
            FaultPlan,
            FaultyDatagramTransport,
            LinkFaults,
            MonotonicClock,
            fault_seed_material,
        )

        faults = LinkFaults(self.plan or FaultPlan(), fault_seed_material(self.seed))
        layer = FaultyDatagramTransport(udp, faults, udp.clock or MonotonicClock())
        self.layers.append(layer)
        return layer


def _print_report(report: RunReport) -> None:
    outcome = report.outcome
    from harness.drive import describe_failure

    if report.ok:
        click.echo(
            f"PASE-RUNS-OK transcript={report.transcript_hash.hex()} mode={report.mode} "
            f"seed={report.config.seed if report.config.seed is not None else 'os'}"
            + (f" runtime={report.runtime}" if report.runtime != "wasmtime" else "")
        )
    else:
        runtime = f" runtime={report.runtime}" if report.runtime != "wasmtime" else ""
        click.echo(f"PASE-FAILED mode={report.mode}{runtime}", err=True)
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
            f"empty-polls={c.transport_empty_receives}; "
        )
        click.echo(
            f"  seam crossings {role}: {transport}clock reads={c.clock_reads}; "
            f"entropy calls={c.entropy_calls} ({c.entropy_bytes} B)"
        )
    for role, status in (
        ("commissioner", outcome.commissioner),
        ("commissionee", outcome.commissionee),
    ):
        dropped = ", ".join(f"{reason}={count}" for reason, count in status.dropped) or "none"
        click.echo(
            f"  message layer {role}: retransmissions={status.retransmissions} "
            f"acks sent={status.acks_sent}; dropped: {dropped}"
        )
    if report.faults is not None:
        plan = report.config.faults.text() if report.config.faults is not None else "none"
        click.echo(f"  faults ({plan}): {report.faults.line()}")
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
