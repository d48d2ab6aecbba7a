"""Resource limits for one store, with the measurements their defaults come from.

Pure data, no wasmtime: the CLI reads the defaults for its help text without loading the
engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: WebAssembly page size: linear memory grows in these steps.
WASM_PAGE = 65536


# Measured on the 2-core development machine (CPython 3.11.7, wasmtime 50.0.1, core
# built by componentize-py 0.25.1), seed 7, 1000 PBKDF2 iterations unless stated:
#
#   what                                           fuel            peak memory / table / instances
#   core component instantiation                   6.1 k
#   handshake + session probe, commissioner        205.1 M         201 pages (12.6 MiB) / 5674 / 38
#   handshake + session probe, commissionee        108.1 M         201 pages (12.6 MiB) / 5674 / 38
#   composed graph (both cores + loopback)         313.6 M         201 pages (12.6 MiB) / 5674 / 116
#   commissioner at 10,000 iterations              1.085 G
#   commissioner at 100,000 (the Matter maximum)   9.894 G         201 pages / 5674 / 38
#   composed graph at 100,000 iterations           10.06 G
#   conformance suite, one instance (C7)           3.347 G         201 pages / 5674 / 38
#   one PBKDF2 iteration in the core               97.8 k
#
# Peak memory is the largest single linear memory (the limit applies to each memory):
# every run above passes with the limit set to the size the core is instantiated with,
# so a handshake does not grow memory or tables at all. Wall time of the longest single
# guest call: 9 ms at 1000 iterations (a poll), 0.12 s in the conformance suite, 0.60 s
# at 100,000 iterations; a whole component handshake takes 35-65 ms.
#
# Defaults, with their margins:
#   fuel            2 x the costliest legitimate instance: the composed graph at 100,000
#                   iterations (10.06 G); about 100 x a default handshake's commissioner.
#                   A guest burns 2-10 G fuel per second, so a runaway stops in 2-10 s.
#   memory_bytes    2 x the peak (12.6 MiB), rounded up to a power of two: 32 MiB (2.5 x).
#   table_elements  2 x the largest table (5674), up to a power of two: 16384 (2.9 x).
#   instances       2 x the composed graph's 116, up to a power of two: 256 (2.2 x).
#   deadline_ms     per guest call, not per instance, so a long-lived instance (a
#                   listening peer) is never stopped for its age: 10 s, 16 x the longest
#                   call at 100,000 iterations, 80 x the longest at default parameters.
#   memory_budget_bytes
#                   all the linear memories of a run together. The core component has
#                   1 linear memory, the composed graph 3 (measured: instantiation
#                   fails with fewer allowed); a run has at most 2 stores. 2 x the
#                   composed graph's 3 memories at 32 MiB each: 192 MiB, 6 memories of
#                   the per-memory limit (a component run gives each of its 2 stores 3).
@dataclass(frozen=True)
class Limits:
    """Per-instance resource limits (one store per component instance; a composed graph
    is one instance). None means unlimited.

    ``memory_bytes`` and ``table_elements`` bound each linear memory and each table;
    ``memory_budget_bytes`` bounds them all together, across every store of a run (see
    :meth:`memories_allowed`);
    ``instances`` bounds the instances in the store (every core instance inside a
    component counts); ``deadline_ms`` is wall-clock time per guest call (and for
    instantiation), enforced by epoch interruption. The defaults come from measurement;
    the figures are in the comment above.
    """

    fuel: int | None = 20_000_000_000
    memory_bytes: int | None = 32 * 1024 * 1024
    table_elements: int | None = 16_384
    instances: int | None = 256
    deadline_ms: int | None = 10_000
    memory_budget_bytes: int | None = 192 * 1024 * 1024
    """All linear memories of a run together (every store of the run shares it)."""

    def memories_allowed(self, stores: int = 1) -> int | None:
        """How many linear memories one of ``stores`` stores sharing the run's budget may
        create: the budget is enforced as a count of memories of at most
        ``memory_bytes`` each (wasmtime's store limiter counts memories, and bounds each
        one's size). None when there is no budget; at least 1."""
        if self.memory_budget_bytes is None:
            return None
        per_memory = self.memory_bytes if self.memory_bytes is not None else 0
        per_memory = max(1, per_memory or self.memory_budget_bytes)
        return max(1, self.memory_budget_bytes // (per_memory * max(1, stores)))

    def memory_size(self, stores: int = 1) -> int | None:
        """The size limit of each linear memory in one of ``stores`` stores sharing the
        run's budget: ``memory_bytes``, but never more than that store's share of the
        budget. None when neither is set."""
        share = None
        if self.memory_budget_bytes is not None:
            share = self.memory_budget_bytes // max(1, stores)
        if self.memory_bytes is None:
            return share
        return self.memory_bytes if share is None else min(self.memory_bytes, share)

    def as_dict(self) -> dict[str, int | None]:
        """The limits as a plain mapping (for reports and the evidence ledger)."""
        return asdict(self)


#: How often the epoch ticker advances the engine's epoch.
EPOCH_TICK_MS = 10
#: An epoch deadline that never comes (wasmtime adds it to the current epoch: no overflow).
NO_DEADLINE_TICKS = 2**62


def deadline_ticks(deadline_ms: int) -> int:
    """Epoch ticks that cover at least ``deadline_ms``: the first tick may come at once."""
    return max(1, -(-deadline_ms // EPOCH_TICK_MS)) + 1
