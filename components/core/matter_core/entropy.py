"""The entropy seam as the core sees it.

The core never draws ambient randomness (no ``random``, ``os.urandom`` or ``secrets``):
every random byte comes from an object the caller passes in. Natively that is whatever
the test or driver supplies; inside the component it is a thin wrapper over the WIT
``entropy`` import. Both only need to satisfy :class:`EntropySource`.
"""

from __future__ import annotations

from typing import Protocol


class EntropySource(Protocol):
    """Anything that hands out random bytes on request."""

    def random_bytes(self, n: int) -> bytes:
        """Return exactly ``n`` random bytes."""
        ...
