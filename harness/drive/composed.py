"""PASE across the composed graph: both cores and the loopback in one component.

The composed component imports only the host's clock and entropy; every Matter datagram
crosses the component-to-component seam between a core and the loopback transport, and
the counters are read from the transport component. Composing and caching the graph is
:mod:`harness.build.compositions`' job.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.drive.config import RunConfig
from harness.drive.placements import RunReport, Seams, drive_and_prove, handshake_params
from harness.drive.roles import ComponentRole
from harness.errors import ComposedRunError, RunConfigError
from harness.runtime import Runtime, field
from harness.supply import SupplyChain, VerifiedComponent
from harness.wit import (
    COMMISSIONEE,
    COMMISSIONEE_EXPORT,
    COMMISSIONER,
    COMMISSIONER_EXPORT,
    TRANSPORT_STATS_EXPORT,
)


def run_composed(
    config: RunConfig,
    runtime: Runtime,
    composed: Path,
    *,
    supply_chain: SupplyChain | None = None,
    verified: VerifiedComponent | None = None,
) -> RunReport:
    """One instance of the composed graph; the driver talks to both roles' exports.

    The composed component is verified by ``supply_chain`` (default: the configured trust
    plus the build key of the build directory it lies in), unless ``verified`` already
    holds its verified bytes (from :func:`compose_cached`).
    """
    if config.fault is not None:
        # Faults are injected on the host loopback, which a composed run never crosses.
        raise RunConfigError(
            "fault injection works on the host loopback; the composed graph carries its "
            "datagrams inside the graph, so --graph runs take no fault"
        )
    params = handshake_params(config)
    timings: dict[str, float] = {}
    build_dir = composed.parent.parent if composed.parent.name == "composed" else None
    chain = supply_chain or SupplyChain.local(None, build_dir or composed.parent)
    component = chain.load_component(
        runtime, composed, role="composed", verified=verified, timings=timings
    )
    seams = Seams(config)
    # The graph is one instance with one set of host seams (the commissioner's views).
    graph_counters = seams.counters[COMMISSIONER]
    started = time.perf_counter()
    guest = runtime.instantiate_with_seams(
        component,
        config.limits,
        f"composed graph {composed.name}",
        clock=seams.clocks[COMMISSIONER],
        entropy=seams.entropy[COMMISSIONER],
    )
    timings["instantiate"] = time.perf_counter() - started
    missing = guest.missing_exports(
        (COMMISSIONER_EXPORT, COMMISSIONEE_EXPORT, TRANSPORT_STATS_EXPORT)
    )
    if missing:
        raise ComposedRunError(f"{composed} does not export '{missing[0]}'")
    fuel_before = guest.store.get_fuel()
    roles = (
        ComponentRole(COMMISSIONER, guest, COMMISSIONER_EXPORT),
        ComponentRole(COMMISSIONEE, guest, COMMISSIONEE_EXPORT),
    )
    report = drive_and_prove("composed", config, seams, roles, params, timings)
    report.mode = "composed"
    report.seams = {"graph": graph_counters}
    report.fuel = {"graph": guest.fuel_consumed(fuel_before)}
    if guest.dead is None:
        stats = guest.call(TRANSPORT_STATS_EXPORT, "stats")
        a_to_b, b_to_a = field(stats, "a_to_b"), field(stats, "b_to_a")
        report.transport_stats = {
            "commissioner->commissionee packets": int(a_to_b.packets),
            "commissioner->commissionee bytes": int(a_to_b.bytes),
            "commissionee->commissioner packets": int(b_to_a.packets),
            "commissionee->commissioner bytes": int(b_to_a.bytes),
            "dropped": int(stats.dropped),
        }
        report.traffic_digest = bytes(field(stats, "traffic_digest"))
    return report
