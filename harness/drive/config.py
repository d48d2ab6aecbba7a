"""What one handshake run is asked to do, and the defaults every command shares.

Pure data (no core, no engine is loaded), so the command line can show the defaults in
its help text cheaply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.runtime import Limits
from harness.seams import FaultPlan

DEFAULT_PASSCODE = 20202021
DEFAULT_SALT = b"SPAKE2P Key Salt"
DEFAULT_ITERATIONS = 1000
DEFAULT_SEED = 7
"""The seed of the gate's seeded runs (and of the README's published transcript)."""

# MRP constants, Matter Core Specification 1.3, section 4.12.8 (parameters and
# constants) with the default active session interval of section 2.12.5.
#: SESSION_ACTIVE_INTERVAL default: a peer's first retransmission interval.
MRP_ACTIVE_INTERVAL_MS = 300
#: MRP_BACKOFF_MARGIN.
MRP_BACKOFF_MARGIN = 1.1
#: MRP_BACKOFF_JITTER (the random factor is in [0, 1]).
MRP_BACKOFF_JITTER = 0.25
#: Scheduling and network slack on top of the peer's backoff (a loaded host, a real LAN).
LINGER_SLACK_MS = 100
#: How long a peer stays up after its session's outcome is known. The peer's first
#: retransmission of an unacknowledged message comes at most
#: ``mrpBackoffTime(n=0) = i * MRP_BACKOFF_MARGIN * (1 + MRP_BACKOFF_JITTER)`` after it
#: sent it (section 4.12.2.1, with ``i`` the active interval), so lingering that long plus
#: slack answers one retransmission of the last message if our acknowledgement was lost:
#: ceil(300 * 1.1 * 1.25) + 100 = 513 ms.
DEFAULT_LINGER_MS = (
    math.ceil(MRP_ACTIVE_INTERVAL_MS * MRP_BACKOFF_MARGIN * (1 + MRP_BACKOFF_JITTER))
    + LINGER_SLACK_MS
)


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
