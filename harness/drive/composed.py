"""PASE across the composed graph: both cores and the loopback in one component.

The composed component imports only the host's clock and entropy; every Matter datagram
crosses the component-to-component seam between a core and the loopback transport, and
the counters are read from the transport component. Composing and caching the graph is
:mod:`harness.build.compositions`' job.

Which surfaced export plays which part (commissioner and commissionee session control,
transport statistics, link faults) is the graph's ``[roles]``, recorded in the composed
component's manifest (:func:`~harness.build.compositions.composed_roles`); the graph may
leave out the statistics and faults roles, and then a run has no transport counters and
cannot apply link faults.

Link faults (``RunConfig.faults``) and a link adversary are applied by the transport
component itself: the host passes the plan and the run's fault seed material through
the graph's ``transport-faults`` role (:class:`GraphLink`), so the same seed gives the
same fault decisions as over the host loopback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.build import GraphRoles, composed_roles
from harness.drive.config import RunConfig
from harness.drive.driver import LinkAdversary
from harness.drive.placements import RunReport, Seams, drive_and_prove, handshake_params
from harness.drive.roles import ComponentRole
from harness.errors import ComposedRunError, RunConfigError
from harness.runtime import GuestCall, Runtime, field, record
from harness.seams import FAULT_KINDS, FaultCounts, FaultEvent, FaultPlan, fault_seed_material
from harness.supply import SupplyChain, VerifiedComponent
from harness.wit import COMMISSIONEE, COMMISSIONER, TRANSPORT_FAULTS_EXPORT


class GraphLink:
    """The link inside the composed graph, driven through its ``transport-faults`` role
    (``export``; the driver's :class:`~harness.drive.driver.Link`)."""

    def __init__(
        self,
        guest: GuestCall,
        plan: FaultPlan,
        seed: bytes,
        export: str = TRANSPORT_FAULTS_EXPORT,
    ) -> None:
        self.guest = guest
        self.export = export
        wit_plan = record(
            drop=plan.drop,
            corrupt=plan.corrupt,
            duplicate=plan.duplicate,
            reorder=plan.reorder,
            delay_ms=plan.delay_ms,
        )
        refusal = self._call("configure", wit_plan, seed)
        if refusal is not None:
            raise ComposedRunError(f"the transport component refused the fault plan: {refusal}")

    def _call(self, name: str, *args: Any) -> Any:
        return self.guest.call(self.export, name, *args)

    def next_release_ms(self) -> int | None:
        """When the transport component next releases a held or delayed datagram."""
        value = self._call("next-release-ms")
        return None if value is None else int(value)

    def inject(self, receiver: str, datagram: bytes) -> None:
        """Deliver ``datagram`` to ``receiver`` inside the graph (counted ``injected``)."""
        if receiver not in (COMMISSIONER, COMMISSIONEE):
            raise ValueError(f"unknown endpoint {receiver!r}")
        self._call("inject", receiver == COMMISSIONEE, bytes(datagram))

    def calm(self) -> None:
        """Stop the faults for new datagrams."""
        self._call("calm")

    def counts(self) -> FaultCounts:
        """The transport component's fault counters."""
        counters = self._call("counters")
        return FaultCounts(**{kind: int(getattr(counters, kind)) for kind in FAULT_KINDS})

    def log(self) -> list[FaultEvent]:
        """The transport component's fault events, in order."""
        return [
            FaultEvent(
                int(event.index),
                int(event.direction),
                int(field(event, "at_ms")),
                str(event.kind),
                int(event.detail),
            )
            for event in self._call("events")
        ]


def run_composed(
    config: RunConfig,
    runtime: Runtime,
    composed: Path,
    *,
    supply_chain: SupplyChain | None = None,
    verified: VerifiedComponent | None = None,
    adversary: LinkAdversary | None = None,
    roles: GraphRoles | None = None,
) -> RunReport:
    """One instance of the composed graph; the driver talks to both roles' exports.

    The composed component is verified by ``supply_chain`` (default: the configured trust
    plus the build key of the build directory it lies in), unless ``verified`` already
    holds its verified bytes (from :func:`compose_cached`). ``roles`` (default: those its
    manifest records) say which export plays which part. ``config.faults`` and
    ``adversary`` act on the link inside the graph (see the module docstring) and need
    its ``transport-faults`` role.
    """
    if config.fault is not None:
        # The index-based fault wraps a host endpoint, which a composed run never crosses.
        raise RunConfigError(
            "the index-based fault works on the host loopback; the composed graph carries "
            "its datagrams inside the graph: use link faults (--faults) there"
        )
    params = handshake_params(config)
    timings: dict[str, float] = {}
    build_dir = composed.parent.parent if composed.parent.name == "composed" else None
    chain = supply_chain or SupplyChain.local(None, build_dir or composed.parent)
    verified = chain.verify_for_role(composed, role="composed", verified=verified, timings=timings)
    roles = roles if roles is not None else composed_roles(verified.data)
    faulted = config.faults is not None or adversary is not None
    where = f"the composed graph {composed.name}"
    controls = (roles.require(COMMISSIONER, where), roles.require(COMMISSIONEE, where))
    faults_export = roles.require("transport-faults", where) if faulted else None
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
    stats_export = roles.transport_stats
    needed = (*controls, *(e for e in (stats_export, faults_export) if e is not None))
    missing = guest.missing_exports(needed)
    if missing:
        raise ComposedRunError(f"{composed} does not export '{missing[0]}'")
    link = None
    if faults_export is not None:
        plan = config.faults if config.faults is not None else FaultPlan()
        link = GraphLink(guest, plan, fault_seed_material(config.seed), faults_export)
    fuel_before = guest.store.get_fuel()
    drivers = (
        ComponentRole(COMMISSIONER, guest, controls[0]),
        ComponentRole(COMMISSIONEE, guest, controls[1]),
    )
    report = drive_and_prove(
        "composed", config, seams, drivers, params, timings, link=link, adversary=adversary
    )
    report.mode = "composed"
    report.seams = {"graph": graph_counters}
    report.fuel = {"graph": guest.fuel_consumed(fuel_before)}
    if guest.dead is None and stats_export is not None:
        stats = guest.call(stats_export, "stats")
        a_to_b, b_to_a = field(stats, "a_to_b"), field(stats, "b_to_a")
        report.transport_stats = {
            "commissioner->commissionee packets": int(a_to_b.packets),
            "commissioner->commissionee bytes": int(a_to_b.bytes),
            "commissionee->commissioner packets": int(b_to_a.packets),
            "commissionee->commissioner bytes": int(b_to_a.bytes),
            "dropped": int(stats.dropped),
        }
        report.traffic_digest = bytes(field(stats, "traffic_digest"))
    if guest.dead is None and link is not None:
        report.faults = link.counts()
        report.fault_log = link.log()
    return report
