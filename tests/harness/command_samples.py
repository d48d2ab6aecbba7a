"""Small command components in component-model text, for the spike tests (imported by
name: ``tests/harness`` is on the path via its conftest).

Each exports ``wasi:cli/run@0.2.0``: its ``run`` returns the ``result`` whose
discriminant the core function returns (0 ``ok``, 1 ``err``). They import no WASI at all,
so they compile in milliseconds; the componentize-py spike (``components/spike``)
covers output and the capability policy.
"""

from __future__ import annotations

import wasmtime

RUN_EXPORT = "wasi:cli/run@0.2.0"


def command(body: str, *, imports: str = "") -> bytes:
    """A command whose ``run`` core function (``(result i32)``) has ``body``."""
    return bytes(
        wasmtime.wat2wasm(
            f"""(component
  {imports}
  (core module $m (func (export "run") (result i32) {body}))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "{RUN_EXPORT}" (instance $cli))
)"""
        )
    )


#: ``run`` returns ``ok``: exit status 0.
SUCCEEDS = command("i32.const 0")
#: ``run`` returns ``err``: exit status 1.
FAILS = command("i32.const 1")
#: ``run`` never returns: only fuel or the deadline stops it.
RUNAWAY = command("(loop $forever br $forever) i32.const 0")
#: A command that also imports an interface outside the wasi:cli/command world.
FOREIGN_IMPORT = "example:net/raw-socket@1.0.0"
WANTS_MORE = command("i32.const 0", imports=f'(import "{FOREIGN_IMPORT}" (instance))')
#: A component that exports no wasi:cli/run (a library, not a command).
LIBRARY = bytes(
    wasmtime.wat2wasm(
        """(component
  (core module $m (func (export "f") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (instance $lib (export "f" (func $f)))
  (export "example:lib/api@1.0.0" (instance $lib))
)"""
    )
)
#: A core module, not a component.
CORE_MODULE = bytes(wasmtime.wat2wasm('(module (func (export "_start")))'))
