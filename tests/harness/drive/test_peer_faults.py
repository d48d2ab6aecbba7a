"""``peer`` over UDP with the seeded link fault model between the core and the socket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from test_peer import DEVICE, controller_for, run_pair

from harness.seams import (
    FaultyDatagramTransport,
    LinkFaults,
    UdpTransport,
    fault_seed_material,
    parse_fault_plan,
)
from harness.seams.clock import MonotonicClock


def _layer(
    spec: str, seed: int, box: list[FaultyDatagramTransport]
) -> Callable[[UdpTransport], FaultyDatagramTransport]:
    def wrap(udp: UdpTransport) -> FaultyDatagramTransport:
        faults = LinkFaults(parse_fault_plan(spec), fault_seed_material(seed))
        layer = FaultyDatagramTransport(udp, faults, udp.clock or MonotonicClock())
        box.append(layer)
        return layer

    return wrap


@pytest.mark.network
def test_a_faulted_pair_still_establishes() -> None:
    device_layers: list[FaultyDatagramTransport] = []
    controller_layers: list[FaultyDatagramTransport] = []
    device, controller = run_pair(
        replace(DEVICE, native=True),
        lambda a: controller_for(a, native=True),
        wrap_device=_layer("drop=0.2,duplicate=0.2,delay=20", 3, device_layers),
        wrap_controller=_layer("duplicate=0.3,delay=10", 4, controller_layers),
    )
    assert device.ok and controller.ok, (device.failure, controller.failure)
    assert device.transcript_hash == controller.transcript_hash
    (device_layer,), (controller_layer,) = device_layers, controller_layers
    assert device_layer.faults.counts.delayed > 0
    assert controller_layer.faults.counts.delayed > 0
    # Both directions go through the model: what the core sends and what arrives.
    assert {event.direction for event in device_layer.faults.log} == {0, 1}
    assert {event.direction for event in controller_layer.faults.log} == {0, 1}
