"""harness: the host side of the Matter verified-core composition harness.

Builds the components, provides the host seams (transport, clock, entropy), drives the
PASE handshake, and records evidence. One sub-package per concern; imports flow one way,
from the top of this list to the bottom, never back:

* ``cli``: thin click commands; exit codes decided in one place.
* ``evidence``: ledger, traceability, gate, verifiers (one module per claim family), reports.
* ``drive``: the handshake driver, roles, placements (native, component, composed), peer.
* ``build``: componentize-py builds, graph files, the composer.
* ``supply``: keys, signatures, trust, capability policy, the verify-then-load facade.
* ``runtime`` and ``seams``: wasmtime (the only package that imports it); the host seams.
* ``errors``, ``project``, ``wit``, ``wasm_binary``, ``lazy``: the foundation.

Each sub-package names its public API in its ``__init__`` (``__all__``); other packages
import only that. ``tests/harness/test_architecture.py`` checks these rules.
"""

__version__ = "0.1.0"
