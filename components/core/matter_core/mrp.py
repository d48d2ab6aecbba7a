"""Message Reliability Protocol: constants, session parameters and the backoff schedule.

Matter Core Specification 1.3, section 4.12 Message Reliability Protocol (MRP). A sender
sets the R flag on a reliable message, keeps it, and retransmits it on the backoff
schedule of section 4.12.2.1 Retransmissions until it is acknowledged or
:data:`MRP_MAX_TRANSMISSIONS` transmissions have gone out. A receiver acknowledges a
message that asks for it by piggybacking the acknowledgement on a message it sends on
the same exchange anyway, or else with a standalone acknowledgement within
:data:`MRP_STANDALONE_ACK_TIMEOUT_MS` (section 4.12.2.2 Acknowledgements).

The retransmission interval comes from the *peer's* session parameters (its idle and
active intervals and active threshold, exchanged in PBKDFParamRequest/Response; section
4.12.8 defines their defaults). The jitter term of the backoff is drawn through the
entropy seam, one byte per computation, in fixed point as CHIP's
``ReliableMessageMgr::GetBackoff`` does it, so a seeded run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

from matter_core.entropy import EntropySource
from matter_core.pase_messages import SessionParameters

__all__ = [
    "JITTER_BASE",
    "LOCAL_SESSION_PARAMETERS",
    "MRP_BACKOFF_BASE",
    "MRP_BACKOFF_JITTER",
    "MRP_BACKOFF_MARGIN",
    "MRP_BACKOFF_THRESHOLD",
    "MRP_MAX_TRANSMISSIONS",
    "MRP_STANDALONE_ACK_TIMEOUT_MS",
    "SESSION_ACTIVE_INTERVAL_MS",
    "SESSION_ACTIVE_THRESHOLD_MS",
    "SESSION_IDLE_INTERVAL_MS",
    "PeerTiming",
    "backoff_ms",
    "draw_jitter",
]

# -- Matter Core Specification 1.3, section 4.12.8 Parameters and Constants (the MRP
#    parameter table; CHIP's ReliableMessageMgr.cpp cites the same values).

MRP_MAX_TRANSMISSIONS = 5
"""Transmissions of one reliable message, the first included: 4 retransmissions."""

MRP_BACKOFF_BASE = (16, 10)
"""1.6 as a fraction: the base of the exponential backoff."""

MRP_BACKOFF_JITTER = 0.25
"""The largest jitter factor added to a backoff interval (section 4.12.8)."""

JITTER_BASE = 1024
"""Fixed-point denominator of the jitter: a random byte r gives the factor
``(JITTER_BASE + r) / JITTER_BASE``, 1.0 to 1.249, i.e. up to :data:`MRP_BACKOFF_JITTER`
(CHIP's ``MRP_BACKOFF_JITTER_BASE``)."""

MRP_BACKOFF_MARGIN = (1127, 1024)
"""1.1 as a fraction (1.1006, CHIP's fixed-point value): margin over the peer's interval."""

MRP_BACKOFF_THRESHOLD = 1
"""Retransmissions before the backoff turns exponential."""

MRP_STANDALONE_ACK_TIMEOUT_MS = 200
"""How long a receiver may wait for a message to piggyback an acknowledgement on."""

# -- Default session parameters (section 4.12.8; CHIP's GetDefaultMRPConfig cites the
#    same section): what a peer that sends no session parameters is assumed to use.

SESSION_IDLE_INTERVAL_MS = 500
"""Base retransmission interval towards an idle peer."""

SESSION_ACTIVE_INTERVAL_MS = 300
"""Base retransmission interval towards an active peer."""

SESSION_ACTIVE_THRESHOLD_MS = 4000
"""A peer heard from within this long is active."""

LOCAL_SESSION_PARAMETERS = SessionParameters(
    idle_interval_ms=SESSION_IDLE_INTERVAL_MS,
    active_interval_ms=SESSION_ACTIVE_INTERVAL_MS,
    active_threshold_ms=SESSION_ACTIVE_THRESHOLD_MS,
)
"""The session parameters both roles send (tag 5 of PBKDFParamRequest/Response): the
core is never sleepy, so it announces the specification's defaults."""

_MAX_EXPONENT = 4
"""CHIP caps the exponent after 5 tries; with MRP_MAX_TRANSMISSIONS = 5 it is never hit."""


@dataclass(frozen=True, slots=True)
class PeerTiming:
    """The peer's MRP parameters: what our retransmission intervals are computed from."""

    idle_interval_ms: int = SESSION_IDLE_INTERVAL_MS
    active_interval_ms: int = SESSION_ACTIVE_INTERVAL_MS
    active_threshold_ms: int = SESSION_ACTIVE_THRESHOLD_MS

    @classmethod
    def from_parameters(cls, params: SessionParameters | None) -> PeerTiming:
        """The peer's announced values, each absent one replaced by its default."""
        if params is None:
            return cls()
        return cls(
            idle_interval_ms=_or_default(params.idle_interval_ms, SESSION_IDLE_INTERVAL_MS),
            active_interval_ms=_or_default(params.active_interval_ms, SESSION_ACTIVE_INTERVAL_MS),
            active_threshold_ms=_or_default(
                params.active_threshold_ms, SESSION_ACTIVE_THRESHOLD_MS
            ),
        )

    def base_interval(self, now_ms: int, last_heard_ms: int | None) -> int:
        """The base interval i of section 4.12.2.1: the active interval when the peer was
        heard from within its active threshold, else the idle interval."""
        if last_heard_ms is not None and now_ms - last_heard_ms < self.active_threshold_ms:
            return self.active_interval_ms
        return self.idle_interval_ms


def _or_default(value: int | None, default: int) -> int:
    return default if value is None else value


def draw_jitter(entropy: EntropySource) -> int:
    """One jitter draw: a random byte, 0..255 (one entropy draw of 1 byte)."""
    return entropy.random_bytes(1)[0]


def backoff_ms(base_interval_ms: int, send_count: int, jitter: int) -> int:
    """The retransmission timeout after a transmission, ``send_count`` retransmissions
    made so far (0 after the first transmission, 1 after the first retransmission...).

    Section 4.12.2.1: ``t = i * MRP_BACKOFF_MARGIN * MRP_BACKOFF_BASE^max(0, n -
    MRP_BACKOFF_THRESHOLD) * (1 + random(0, 1) * MRP_BACKOFF_JITTER)``, with ``n`` =
    ``send_count``, computed in integer fixed point as CHIP does.
    """
    if not 0 <= jitter <= 0xFF:
        raise ValueError(f"jitter {jitter} is not a byte")
    if base_interval_ms < 0 or send_count < 0:
        raise ValueError("backoff of a negative interval or send count")
    interval = base_interval_ms * MRP_BACKOFF_MARGIN[0] // MRP_BACKOFF_MARGIN[1]
    exponent = min(max(0, send_count - MRP_BACKOFF_THRESHOLD), _MAX_EXPONENT)
    numerator, denominator = MRP_BACKOFF_BASE
    backoff: int = interval * pow(numerator, exponent) // pow(denominator, exponent)
    return backoff * (JITTER_BASE + jitter) // JITTER_BASE
