"""mutmut 3's ``run``, with a cheaper way to try each mutant (run as a script, in the workspace).

:mod:`harness.evidence.mutation_run` runs this file with ``python`` from the staged
workspace (it imports nothing of the harness): ``generate N`` writes every mutant and its
``.meta`` file, running no test; ``run N [--trusted-stats] [MUTANT...]`` is
``mutmut run --max-children=N [MUTANT...]``: mutmut's own ``_run`` (mutant generation,
the stats run that maps each test to the functions it reaches, the forced-fail check,
the order of the mutants, the timeouts, the ``.meta`` results), with a runner of its own
that changes how a mutant is tried, never what kills it:

* mutmut forks a child per mutant that calls ``pytest.main`` on the mutant's tests, so
  every mutant pays for a fresh pytest configuration and a new collection of the test
  files (about a second, most of a killed mutant's time). Here one server process holds a
  pytest session with every test collected (unmutated) and forks the child from it; the
  child runs the mutant's tests, fastest first, through pytest's own
  ``pytest_runtest_protocol`` and stops at the first failure (``-x``, as mutmut does);
  its exit code is pytest's (1 when a test failed, 0 when none did).
* Every call of a mutated function goes through mutmut's trampoline, which looks the
  active mutant up on each call; in pure-Python arithmetic that is most of a surviving
  mutant's time. The child rebinds every trampolined function but the one holding its
  mutant to the original (what the trampoline would call anyway), in the core's modules,
  in their classes and in the modules that imported them; class methods and anything it
  does not recognise keep their trampoline.
* mutmut runs the whole suite once more unmutated ("clean tests") after the stats run,
  which has just run the same tests on the same code and stops the campaign if one
  fails. With ``--trusted-stats`` (stats from this run or from the cache that
  :mod:`harness.evidence.mutation_run` only fills after such a run), that rerun is
  skipped.

Time limits: each child keeps mutmut's, a CPU-time rlimit and a wall-clock timeout
(SIGXCPU) of ``(estimate + timeout_constant) * timeout_multiplier`` for all its tests, the
estimate being their summed stats-run durations. Within them, each test gets the same
formula over its own duration as a CPU-time budget (``ITIMER_PROF``): a mutant caught in a
loop ends as a timeout (exit 36, a kill) once the test it hangs in has spent its budget,
instead of after the budget of every test the mutant reaches.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import resource
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import process_time
from types import CellType, FunctionType, ModuleType
from typing import Any

import pytest
from mutmut.configuration import config
from mutmut.mutation.trampoline import set_mutant_under_test, wrap_in_trampoline
from mutmut.runners.harness import ListAllTestsResult, PytestRunner
from mutmut.state import state
from mutmut.utils.file_utils import change_cwd
from mutmut.workers.timeout import register_timeout

# mutmut.__main__ (and mutmut.workers, which it imports) read the workspace's mutmut
# settings when imported, so this module, importable anywhere (its tests import it), only
# loads them in main(), and its runner implements mutmut's runner interface by its
# methods rather than by subclassing mutmut.workers.isolation.MutantRunner.
MUTMUT_MAIN = "mutmut.__main__"

#: The package whose modules are mutated.
PACKAGE = "matter_core"
#: Exit code of a child whose tests are not all in the session (mutmut: "suspicious").
MISSING_TESTS = 35


# --- Messages between the runner and its server --------------------------------------


def send_message(fd: int, payload: object) -> None:
    """Write one length-prefixed pickled message."""
    body = pickle.dumps(payload)
    view = memoryview(struct.pack("!I", len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise EOFError("pipe closed")
        data += chunk
    return bytes(data)


def recv_message(fd: int) -> Any:
    """Read one message written by :func:`send_message` (``EOFError`` at the end)."""
    (size,) = struct.unpack("!I", _read_exactly(fd, 4))
    return pickle.loads(_read_exactly(fd, size))


@dataclass
class MutantOutcome:
    """What mutmut's loop reads of a tried mutant (its ``MutantResult``)."""

    mutant_name: str
    exit_code: int
    duration: float


# --- Rebinding trampolines ------------------------------------------------------------


def _wrapper_codes() -> frozenset[Any]:
    """The code objects of mutmut's trampoline wrappers (plain and generator functions)."""

    def plain() -> None:
        return None

    def generator() -> Iterable[None]:
        yield None

    return frozenset(wrap_in_trampoline({})(f).__code__ for f in (plain, generator))


_WRAPPER_CODES = _wrapper_codes()


def _cell(function: FunctionType, name: str) -> Any:
    """The value of ``function``'s closure variable ``name`` (``KeyError`` if it has none)."""
    cells: tuple[CellType, ...] = function.__closure__ or ()
    return dict(zip(function.__code__.co_freevars, cells, strict=True))[name].cell_contents


def trampoline_target(value: object) -> tuple[str, dict[str, Any], Callable[..., Any]] | None:
    """For a mutmut trampoline wrapper: its module, mutants dict and original function.

    ``None`` for anything else, and for class-method trampolines (they look the method up
    on the class they are called on, which a rebinding would not reproduce).
    """
    if not isinstance(value, FunctionType) or value.__code__ not in _WRAPPER_CODES:
        return None
    try:
        trampoline = _cell(value, "trampoline")
        mutants = _cell(trampoline, "mutants_dict")
        if _cell(trampoline, "is_classmethod"):
            return None
        module = str(_cell(trampoline, "decorated_func").__module__)
        original = mutants["_mutmut_orig"]
    except (KeyError, ValueError, AttributeError, TypeError):
        return None
    if not isinstance(mutants, dict) or not callable(original):
        return None
    return module, mutants, original


def bypass_trampolines(mutant: str, modules: Iterable[ModuleType]) -> int:
    """Rebind, in ``modules`` and their classes, every trampoline not holding ``mutant``.

    A trampoline whose mutant is not active calls the original function, so calling the
    original directly computes the same; the one trampoline holding ``mutant`` (module
    ``matter_core.x``, key ``x_f__mutmut_3``) is left alone. Returns how many names were
    rebound.
    """
    mutant_module, _, mutant_key = mutant.rpartition(".")
    originals: dict[int, Callable[..., Any]] = {}

    def original_of(value: object) -> Callable[..., Any] | None:
        if id(value) in originals:
            return originals[id(value)]
        target = trampoline_target(value)
        if target is None:
            return None
        module, mutants, original = target
        if module == mutant_module and mutant_key in mutants:
            return None
        originals[id(value)] = original
        return original

    rebound = 0
    for module in modules:
        namespaces: list[Any] = [module]
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == module.__name__:
                namespaces.append(value)
        for namespace in namespaces:
            for name, value in list(vars(namespace).items()):
                original = original_of(value)
                if original is not None:
                    setattr(namespace, name, original)
                    rebound += 1
    return rebound


def _rebindable_modules(root: str) -> list[ModuleType]:
    """The core's modules and every module loaded from under ``root`` (the tests)."""
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) or ""
        if name == PACKAGE or name.startswith(PACKAGE + ".") or path.startswith(root):
            found.append(module)
    return found


# --- Trying mutants in one pytest session ---------------------------------------------


#: mutmut's exit code for a mutant that ran out of time (a kill).
TIMEOUT = 36


def _out_of_time(_signal: int, _frame: object) -> None:
    os._exit(TIMEOUT)


def run_items(
    session: pytest.Session, items: list[pytest.Item], limits: list[float] | None = None
) -> int:
    """Run ``items`` in order as ``pytest -x`` would; pytest's exit code (0 or 1).

    ``limits`` gives each item a CPU-time budget in seconds: an item that spends it ends
    the process with :data:`TIMEOUT` (a mutant caught in a loop is stopped in the test it
    hangs, not after the time all its tests would take).
    """
    if limits is not None:
        signal.signal(signal.SIGPROF, _out_of_time)
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        if limits is not None:
            signal.setitimer(signal.ITIMER_PROF, limits[index])
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=following)
        if limits is not None:
            signal.setitimer(signal.ITIMER_PROF, 0)
        if session.shouldfail or session.shouldstop:
            break
    return 1 if session.testsfailed else 0


class _Server:
    """A pytest plugin whose test loop forks one child per mutant it is sent."""

    def __init__(self, work: int, results: int, workers: int) -> None:
        self.work = work
        self.results = results
        self.workers = workers

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if session.testsfailed:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        items = {item.nodeid: item for item in session.items}
        root = os.getcwd() + os.sep
        running: dict[int, str] = {}
        # A child's exit wakes the select() below (the self-pipe trick).
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        signal.signal(signal.SIGCHLD, lambda _n, _f: _poke(wake_write))
        gc.freeze()
        more = True
        while more or running:
            self._reap(running)
            watched = [wake_read] + ([self.work] if more and len(running) < self.workers else [])
            ready, _, _ = select.select(watched, [], [], 1.0)
            if wake_read in ready:
                _drain(wake_read)
            if self.work not in ready:
                continue
            try:
                message = recv_message(self.work)
            except EOFError:
                message = None
            if message is None:
                more = False
                continue
            mutant, tests, cpu_limit, wall_limit = message
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os._exit(self._child(session, items, root, mutant, tests, cpu_limit))
            running[pid] = mutant
            register_timeout(pid, wall_limit)
        return True

    def _child(
        self,
        session: pytest.Session,
        items: dict[str, pytest.Item],
        root: str,
        mutant: str,
        tests: list[str],
        cpu_limit: int,
    ) -> int:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the child exits)
        limit = cpu_limit + int(process_time())
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
        set_mutant_under_test(mutant)
        if any(test not in items for test in tests):
            return MISSING_TESTS
        # Each rebinding is sound alone: should one fail, run with those made.
        with contextlib.suppress(Exception):
            bypass_trampolines(mutant, _rebindable_modules(root))
        try:
            cfg = config()
            durations = state().duration_by_test
            limits = [
                (durations.get(test, 0.0) + cfg.timeout_constant) * cfg.timeout_multiplier
                for test in tests
            ]
            return run_items(session, [items[test] for test in tests], limits)
        except BaseException:  # what escapes pytest is its internal error (exit 3)
            return 3

    def _reap(self, running: dict[int, str]) -> None:
        """Send the exit code of every child that has finished."""
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                running.clear()
                return
            if pid == 0:
                return
            mutant = running.pop(pid, None)
            if mutant is not None:
                send_message(self.results, (mutant, os.waitstatus_to_exitcode(status)))


def _poke(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, b"c")


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 1024):
            pass


class SessionRunner:
    """mutmut's runner interface (``MutantRunner``) over one pytest session in a server."""

    def __init__(self, workers: int, *, trusted_stats: bool) -> None:
        self.workers = workers
        self.trusted_stats = trusted_stats
        self.tests = PytestRunner()
        self.pending: dict[str, float] = {}
        self.untested: list[MutantOutcome] = []
        self.server: int | None = None
        self.work: int | None = None
        self.results: int | None = None

    # The surrounding test runs happen in this process, as mutmut's ForkRunner does.
    def collect_stats(self, tests: Iterable[str] | None) -> int:
        code = self.tests.run_stats(tests=tests or [])
        # A full stats run that passed has just run the whole suite on this code.
        self.trusted_stats = self.trusted_stats or (code == 0 and not tests)
        return code

    def run_clean_tests(self, tests: Iterable[str]) -> int:
        if self.trusted_stats:
            print("    skipped: the stats run passed the same tests on the same code")
            return 0
        return self.tests.run_tests(mutant_name=None, tests=tests)

    def run_forced_fail(self) -> int:
        return self.tests.run_forced_fail()

    def list_all_tests(self) -> ListAllTestsResult:
        return self.tests.list_all_tests()

    def startup(self) -> None:
        work_read, self.work = os.pipe()
        self.results, results_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(self.work)
            os.close(self.results)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the server exits)
            code = 1
            try:
                arguments = [
                    "--rootdir=.",
                    "--tb=native",
                    "-x",
                    "-q",
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:random-order",
                    *config().pytest_add_cli_args_test_selection,
                    *config().pytest_add_cli_args,
                ]
                server = _Server(work_read, results_write, self.workers)
                set_mutant_under_test("")
                with change_cwd("mutants"):
                    code = int(pytest.main(arguments, plugins=[server]))
            finally:
                os._exit(code)
        os.close(work_read)
        os.close(results_write)
        self.server = pid

    def submit(
        self, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float
    ) -> None:
        if not tests:
            self.untested.append(MutantOutcome(mutant_name, 33, 0.0))
            return
        assert self.work is not None, "startup() first"
        durations = state().duration_by_test
        ordered = sorted(tests, key=lambda test: durations.get(test, 0.0))
        cfg = config()
        wall = (estimated_time + cfg.timeout_constant) * cfg.timeout_multiplier
        send_message(self.work, (mutant_name, ordered, cpu_time_limit, wall))
        self.pending[mutant_name] = time.monotonic()

    def has_capacity(self) -> bool:
        return len(self.pending) < self.workers

    def wait_for_result(self, timeout: float | None = None) -> MutantOutcome:
        if self.untested:
            return self.untested.pop(0)
        assert self.results is not None, "startup() first"
        while True:
            ready, _, _ = select.select([self.results], [], [], 1.0)
            if ready:
                break
            self._check_server()
        try:
            mutant, code = recv_message(self.results)
        except EOFError as exc:
            pending = len(self.pending)
            raise RuntimeError(f"the mutant server stopped with {pending} pending") from exc
        started = self.pending.pop(mutant, time.monotonic())
        return MutantOutcome(mutant, int(code), time.monotonic() - started)

    def _check_server(self) -> None:
        if self.server is None:
            return
        pid, status = os.waitpid(self.server, os.WNOHANG)
        if pid == self.server:
            self.server = None
            raise RuntimeError(
                f"the mutant server exited ({os.waitstatus_to_exitcode(status)}) "
                f"with {len(self.pending)} mutants pending"
            )

    def pending_count(self) -> int:
        return len(self.pending) + len(self.untested)

    def signal_work_complete(self) -> None:
        if self.work is not None:
            os.close(self.work)
            self.work = None

    def stop_all_workers(self) -> None:
        if self.server is not None:
            os.kill(self.server, signal.SIGTERM)

    def shutdown(self) -> None:
        self.signal_work_complete()
        if self.server is not None:
            os.waitpid(self.server, 0)
            self.server = None
        if self.results is not None:
            os.close(self.results)
            self.results = None


# --- Entry points ---------------------------------------------------------------------


def generate(children: int) -> None:
    """mutmut's first step of ``run`` alone: copy the sources, write every mutant."""
    mutmut_main = importlib.import_module(MUTMUT_MAIN)
    set_mutant_under_test("mutant_generation")
    os.makedirs("mutants", exist_ok=True)
    mutmut_main.copy_src_dir()
    mutmut_main.copy_also_copy_files()
    mutmut_main.create_mutants(children)


def run(children: int, mutants: list[str], *, trusted_stats: bool) -> None:
    """``mutmut run --max-children=children mutants...`` with :class:`SessionRunner`."""
    mutmut_main = importlib.import_module(MUTMUT_MAIN)
    runner = SessionRunner(children, trusted_stats=trusted_stats)

    def get_runner(max_workers: int = 1) -> SessionRunner:
        runner.workers = max_workers
        return runner

    # _run looks the factory up in its module when it needs a runner.
    setattr(mutmut_main, "get_mutant_runner", get_runner)  # noqa: B010 (a ModuleType)
    mutmut_main._run(mutants, children)


def main(argv: list[str]) -> int:
    usage = "usage: mutmut_driver.py generate N | run N [--trusted-stats] [MUTANT...]"
    if len(argv) < 2 or argv[0] not in ("generate", "run") or not argv[1].isdigit():
        print(usage, file=sys.stderr)
        return 2
    children = max(1, int(argv[1]))
    if argv[0] == "generate":
        generate(children)
    else:
        rest = argv[2:]
        trusted = "--trusted-stats" in rest
        run(children, [m for m in rest if m != "--trusted-stats"], trusted_stats=trusted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
