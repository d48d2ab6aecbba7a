"""The host side of the three seams: clocks, entropy (one documented convention,
:mod:`harness.seams.entropy`), transports (the loopback link, UDP, fault injection),
the counters every crossing is counted in once, and the packet trace; the seeded link
fault model (:mod:`harness.seams.linkfaults`).

Layer: above ``errors``, ``project`` and ``wit`` only; never imports ``runtime``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.lazy import lazy_exports

#: Each public name and the module (in this package) that defines it.
EXPORTS = {
    "Clock": "clock",
    "CountingClock": "counters",
    "CountingEntropy": "counters",
    "Endpoint": "udp",
    "EndpointError": "udp",
    "EntropyExhausted": "entropy",
    "FAULTS": "faults",
    "FAULT_KINDS": "linkfaults",
    "FAULT_STREAM": "linkfaults",
    "FaultCounts": "linkfaults",
    "FaultEvent": "linkfaults",
    "FaultPlan": "linkfaults",
    "FaultPlanError": "linkfaults",
    "FaultyDatagramTransport": "linkfaults",
    "FaultyTransport": "faults",
    "HmacDrbg": "entropy",
    "LOOPBACK_QUEUE_LIMIT": "loopback",
    "LinkFaults": "linkfaults",
    "LoopbackEndpoint": "loopback",
    "LoopbackLink": "loopback",
    "MAX_DATAGRAM": "loopback",
    "MAX_ENTROPY_REQUEST": "entropy",
    "MonotonicClock": "clock",
    "OsEntropy": "entropy",
    "PacketRecord": "loopback",
    "REORDER_HOLD_MS": "linkfaults",
    "RUN_STREAM": "entropy",
    "ScriptedEntropy": "entropy",
    "SeamCounters": "counters",
    "SeededEntropy": "entropy",
    "Delivered": "strays",
    "Stray": "strays",
    "StrayGenerator": "strays",
    "UdpSocketError": "udp",
    "UdpStats": "udp",
    "UdpTransport": "udp",
    "VirtualClock": "clock",
    "entropy_for": "entropy",
    "fault_seed_material": "linkfaults",
    "format_endpoint": "udp",
    "parse_endpoint": "udp",
    "parse_fault_plan": "linkfaults",
    "seed_material": "entropy",
    "transcript_digest": "loopback",
    "wildcard_for": "udp",
    "write_trace": "trace",
    "SECURE_CHANNEL_NAMES": "trace",
    "TraceTargetError": "trace",
    "message_type": "trace",
    "prepare_trace_target": "trace",
    "trace_line": "trace",
}

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

if TYPE_CHECKING:
    from harness.seams.clock import Clock, MonotonicClock, VirtualClock
    from harness.seams.counters import CountingClock, CountingEntropy, SeamCounters
    from harness.seams.entropy import (
        MAX_ENTROPY_REQUEST,
        RUN_STREAM,
        EntropyExhausted,
        HmacDrbg,
        OsEntropy,
        ScriptedEntropy,
        SeededEntropy,
        entropy_for,
        seed_material,
    )
    from harness.seams.faults import FAULTS, FaultyTransport
    from harness.seams.linkfaults import (
        FAULT_KINDS,
        FAULT_STREAM,
        REORDER_HOLD_MS,
        FaultCounts,
        FaultEvent,
        FaultPlan,
        FaultPlanError,
        FaultyDatagramTransport,
        LinkFaults,
        fault_seed_material,
        parse_fault_plan,
    )
    from harness.seams.loopback import (
        LOOPBACK_QUEUE_LIMIT,
        MAX_DATAGRAM,
        LoopbackEndpoint,
        LoopbackLink,
        PacketRecord,
        transcript_digest,
    )
    from harness.seams.strays import Delivered, Stray, StrayGenerator
    from harness.seams.trace import (
        SECURE_CHANNEL_NAMES,
        TraceTargetError,
        message_type,
        prepare_trace_target,
        trace_line,
        write_trace,
    )
    from harness.seams.udp import (
        Endpoint,
        EndpointError,
        UdpSocketError,
        UdpStats,
        UdpTransport,
        format_endpoint,
        parse_endpoint,
        wildcard_for,
    )

__all__ = [
    "FAULTS",
    "FAULT_KINDS",
    "FAULT_STREAM",
    "LOOPBACK_QUEUE_LIMIT",
    "MAX_DATAGRAM",
    "MAX_ENTROPY_REQUEST",
    "REORDER_HOLD_MS",
    "RUN_STREAM",
    "SECURE_CHANNEL_NAMES",
    "Clock",
    "CountingClock",
    "CountingEntropy",
    "Delivered",
    "Endpoint",
    "EndpointError",
    "EntropyExhausted",
    "FaultCounts",
    "FaultEvent",
    "FaultPlan",
    "FaultPlanError",
    "FaultyDatagramTransport",
    "FaultyTransport",
    "HmacDrbg",
    "LinkFaults",
    "LoopbackEndpoint",
    "LoopbackLink",
    "MonotonicClock",
    "OsEntropy",
    "PacketRecord",
    "ScriptedEntropy",
    "SeamCounters",
    "SeededEntropy",
    "Stray",
    "StrayGenerator",
    "TraceTargetError",
    "UdpSocketError",
    "UdpStats",
    "UdpTransport",
    "VirtualClock",
    "entropy_for",
    "fault_seed_material",
    "format_endpoint",
    "message_type",
    "parse_endpoint",
    "parse_fault_plan",
    "prepare_trace_target",
    "seed_material",
    "trace_line",
    "transcript_digest",
    "wildcard_for",
    "write_trace",
]
