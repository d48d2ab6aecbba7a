"""harness: the host side of the Matter verified-core composition harness.

Builds the components, provides the host seams (transport, clock, entropy), drives the
PASE handshake, and records evidence. Every ``wasmtime`` import lives in this package.
"""

__version__ = "0.1.0"
