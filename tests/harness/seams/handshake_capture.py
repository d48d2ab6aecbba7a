"""A seeded native handshake's datagrams, by receiving role (templates for the strays)."""

from __future__ import annotations

from harness.drive import RunConfig, run_native
from harness.seams.strays import Delivered


def reference_handshake(seed: int) -> list[Delivered]:
    """Every datagram of a seeded native run, with the role it was delivered to."""
    report = run_native(RunConfig(seed=seed))
    assert report.ok, report.error
    return [Delivered(p.direction.split("->")[1], p.data) for p in report.trace]
