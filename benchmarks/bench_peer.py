"""Benchmark: our commissioner in ``peer`` mode vs the CHIP controller, both against the
same kind of CircuitMatter device, interleaved in one run.

Run: ``python benchmarks/bench_peer.py [--repeat 10] [--component]``. Needs the interop
extras (CircuitMatter, the CHIP controller wheels) and the private network namespace of
``tests/fixtures/interop/chip/sandbox.py`` (root); without them it says so and exits 0.

Each round starts a fresh CircuitMatter device (in its own process, so it never shares
an interpreter lock with the commissioner measured) and times one PASE handshake by each
client against it, in alternating order: our commissioner (``run_peer``, natively, and
with ``--component`` also the core component; the figure is the core's handshake from
PBKDFParamRequest to established, no lingering) and the CHIP controller (the wall time of
its ``EstablishPASESessionIP``, in a long-lived process so its stack start-up is not
counted). Prints the medians, the ratio (goal: at most 1.2) and the machine's load.

Both figures time the same span, the commissioner's handshake, most of which is the
commissioner's PBKDF2 at the device's iteration count (CircuitMatter's 10,000). So the
benchmark also times that PBKDF2 in each commissioner's own implementation, side by side
(ours: ``matter_core.kdf.pbkdf2_sha256``, OpenSSL's through ``hashlib`` natively; CHIP's:
the ``PKCS5_PBKDF2_HMAC`` of the BoringSSL in its library, checked to derive the same
bytes), and prints each handshake without it. Exit status 0 either way: this reports,
it does not gate.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

PROJECT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT), str(PROJECT / "components" / "core")]

from bench_components import machine_facts  # noqa: E402
from matter_core.kdf import pbkdf2_sha256  # noqa: E402
from peer_bench_helpers import PBKDF2_PASSCODE, PBKDF2_SALT, WS_LENGTH  # noqa: E402

from harness.drive.peer import run_peer  # noqa: E402
from harness.drive.peer_config import PeerConfig  # noqa: E402
from harness.runtime.engine import Runtime  # noqa: E402

SANDBOX = PROJECT / "tests" / "fixtures" / "interop" / "chip" / "sandbox.py"
HELPERS = Path(__file__).resolve().parent / "peer_bench_helpers.py"
EXIT_NO_SANDBOX = 70
INSIDE = "MATTER_HARNESS_BENCH_PEER_INSIDE"
RATIO_GOAL = 1.2
CHIP = "CHIP controller"
OURS = "ours (native core)"


def missing_extras() -> str | None:
    """Why the benchmark cannot run here, or None."""
    for module in ("circuitmatter", "chip", "chip.ChipDeviceCtrl"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            return f"{module} is not installed (the interop extras: `just interop` installs them)"
    return None


class Helper:
    """A helper process answering one JSON line per command line."""

    def __init__(self, role: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HELPERS), role],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=PROJECT,
        )

    def ask(self, line: str) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(line + "\n")
        stdin.flush()
        reply = stdout.readline()
        if not reply:
            raise SystemExit(f"the {HELPERS.name} helper ended unexpectedly")
        value: dict[str, Any] = json.loads(reply)
        return value

    def close(self) -> None:
        stdin: IO[str] | None = self.process.stdin
        if stdin is not None:
            stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ours(device: dict[str, Any], runtime: Runtime | None) -> float:
    """Our commissioner's handshake against ``device``, in seconds."""
    config = PeerConfig(
        role="commissioner",
        connect=(device["host"], device["port"]),
        listen=(device["host"], 0),
        passcode=device["passcode"],
        timeout_s=15,
        native=runtime is None,
        linger_ms=0,
    )
    result = run_peer(config, runtime=runtime)
    if not result.ok:
        raise SystemExit(f"our commissioner failed: {result.failure}")
    return result.timings["handshake"]


def our_pbkdf2(iterations: int) -> tuple[float, bytes]:
    """Our commissioner's PBKDF2 at ``iterations``: seconds, and the bytes derived."""
    password = PBKDF2_PASSCODE.to_bytes(4, "little")
    started = time.perf_counter()
    derived = pbkdf2_sha256(password, PBKDF2_SALT, iterations, WS_LENGTH)
    return time.perf_counter() - started, derived


def chip_pbkdf2(chip: Helper, iterations: int) -> float:
    """The CHIP library's PBKDF2 at ``iterations``, checked against ours."""
    reply = chip.ask(f"pbkdf2 {iterations}")
    if not reply["ok"]:
        raise SystemExit(f"the CHIP PBKDF2 could not be timed: {reply['error']}")
    if bytes.fromhex(reply["derived"]) != our_pbkdf2(iterations)[1]:
        raise SystemExit("the CHIP library's PBKDF2 derived other bytes than ours")
    return float(reply["seconds"])


def measure(
    repeat: int, component: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]], int]:
    """``repeat`` rounds; the handshake times per client, the PBKDF2 times per
    commissioner, and the device's iteration count."""
    samples: dict[str, list[float]] = {OURS: [], CHIP: []}
    pbkdf2: dict[str, list[float]] = {OURS: [], CHIP: []}
    iterations = 0
    if component:
        samples["ours (core component)"] = []
    runtime = Runtime(PROJECT / "build" / "cache") if component else None
    devices, chip = Helper("device"), Helper("chip")
    try:
        # One warm-up round each (imports, caches), not counted.
        for index in range(repeat + 1):
            clients = list(samples)
            if index % 2:
                clients.reverse()
            for client in clients:
                device = devices.ask("new")
                iterations = int(device["iterations"])
                if client == CHIP:
                    node = 0x1000 + index * 4 + clients.index(client)
                    line = f"{device['host']} {device['port']} {device['passcode']} {node}"
                    reply = chip.ask(line)
                    if not reply["ok"]:
                        raise SystemExit(f"the CHIP controller failed: {reply['error']}")
                    seconds = float(reply["seconds"])
                elif client == "ours (core component)":
                    seconds = ours(device, runtime)
                else:
                    seconds = ours(device, None)
                if index:
                    samples[client].append(seconds)
            if index:
                pbkdf2[CHIP].append(chip_pbkdf2(chip, iterations))
                pbkdf2[OURS].append(our_pbkdf2(iterations)[0])
    finally:
        devices.close()
        chip.close()
        if runtime is not None:
            runtime.close()
    return samples, pbkdf2, iterations


def report(
    samples: dict[str, list[float]], pbkdf2: dict[str, list[float]], iterations: int
) -> None:
    chip = statistics.median(samples[CHIP]) * 1e3
    print(f"{'client vs CircuitMatter':<30} {'median':>10} {'ratio to CHIP':>14}")
    for client, values in samples.items():
        median = statistics.median(values) * 1e3
        ratio = median / chip
        goal = "" if client == CHIP else ("  ok" if ratio <= RATIO_GOAL else "  over")
        print(f"{client:<30} {median:>8.1f} ms {ratio:>13.2f}x{goal}  (n={len(values)})")
    print(f"goal: ours at most {RATIO_GOAL}x the CHIP controller")
    print(f"of which the commissioner's PBKDF2-HMAC-SHA256, {iterations} iterations (median):")
    for client, implementation in ((OURS, "hashlib/OpenSSL"), (CHIP, "its BoringSSL")):
        spent = statistics.median(pbkdf2[client]) * 1e3
        rest = statistics.median(samples[client]) * 1e3 - spent
        print(
            f"  {client:<28} PBKDF2 {spent:>7.1f} ms ({implementation}), "
            f"handshake without it {rest:>6.1f} ms  (n={len(pbkdf2[client])})"
        )
    for line in machine_facts():
        print(line)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--component", action="store_true", help="also the core component")
    args = parser.parse_args(argv)
    reason = missing_extras()
    if reason is not None:
        print(f"bench_peer: skipped: {reason}")
        return 0
    if os.environ.get(INSIDE) != "1":
        # The CHIP stack must run in the private namespace; run this script there.
        env = dict(os.environ, **{INSIDE: "1"})
        done = subprocess.run(
            [sys.executable, str(SANDBOX), sys.executable, __file__, *argv],
            env=env,
            check=False,
        )
        if done.returncode == EXIT_NO_SANDBOX:
            print("bench_peer: skipped: no private network namespace here (needs root)")
            return 0
        return done.returncode
    report(*measure(args.repeat, args.component))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
