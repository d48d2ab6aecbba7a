"""What one handshake run is asked to do, and the defaults every command shares.

Pure data (no core, no engine is loaded), so the command line can show the defaults in
its help text cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.runtime import Limits
from harness.seams import FaultPlan

DEFAULT_PASSCODE = 20202021
DEFAULT_SALT = b"SPAKE2P Key Salt"
DEFAULT_ITERATIONS = 1000
DEFAULT_SEED = 7
"""The seed of the gate's seeded runs (and of the README's published transcript)."""


@dataclass(frozen=True)
class RunConfig:
    """Parameters of one handshake run."""

    seed: int | None = None
    passcode: int = DEFAULT_PASSCODE
    salt: bytes = DEFAULT_SALT
    iterations: int = DEFAULT_ITERATIONS
    wrong_passcode: bool = False
    real_clock: bool = False
    limits: Limits = field(default_factory=Limits)
    fault: str | None = None
    """Fault injected on the host loopback (negative runs): ``corrupt`` flips a byte of
    the third datagram (Pake1) in flight, ``truncate`` cuts it in half."""
    faults: FaultPlan | None = None
    """Seeded link faults (:mod:`harness.seams.linkfaults`) on the link between the roles:
    the host loopback, or the loopback component in the composed graph. None: no fault
    model at all; an empty plan: the model is there (counts, injection) but faults nothing."""
