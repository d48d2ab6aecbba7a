"""matter_core: Matter PASE (SPAKE2+ over P-256) in pure, sans-IO Python.

The same package runs natively (tests, the native driver) and inside the core
WebAssembly component built by componentize-py. It imports nothing outside the
standard library, never reads a clock and never draws ambient randomness: time and
entropy are always passed in.
"""

__version__ = "0.1.0"
