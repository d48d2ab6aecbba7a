# Recipes for the Matter verified-core composition harness.
# Set-up is `python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'` (see README);
# every recipe uses the tools of that virtualenv.

export PATH := justfile_directory() + "/.venv/bin:" + env_var("PATH")

# list the recipes
default:
    @just --list

# interop tests against independent Matter implementations: CircuitMatter (a device) and the
# CHIP reference controller; installs the CHIP wheels and the Debian libraries they need
interop:
    dpkg -s libnl-3-200 libnl-route-3-200 >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends libnl-3-200 libnl-route-3-200)
    pip install -q -e '.[dev,interop]'
    MATTER_HARNESS_REQUIRE_INTEROP=1 pytest -q -m interop -rs

# Debian's chromium and its driver, for the HTML report's browser test (no browser download)
browser-deps:
    command -v chromium >/dev/null && command -v chromedriver >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver)

# the HTML report in headless Chromium at 1280 px, required; screenshot in evidence/
browser: browser-deps
    MATTER_HARNESS_REQUIRE_BROWSER=1 pytest -q -m browser -rs

# lint, type-check and run every test
test: lint typecheck
    pytest -q

# quick tests only (no component builds)
test-quick:
    pytest -q -m "not slow"

# ruff: lint and formatting
lint:
    ruff check conftest.py components harness tests benchmarks
    ruff format --check conftest.py components harness tests benchmarks

# mypy --strict over the core and the harness
typecheck:
    mypy

# build the components
build:
    matter-harness build

# the main job: PASE inside the core component, deterministic from a seed
run seed="7":
    matter-harness run --seed {{seed}}

# benchmarks (medians and ratios measured side by side, printed; the cold path's four
# figures next to their targets, with the machine and its load)
bench:
    python benchmarks/bench_startup.py
    python benchmarks/bench_core_crypto.py
    python benchmarks/bench_components.py
    python benchmarks/bench_composition.py
    python benchmarks/bench_runtimes.py
    python benchmarks/bench_faults.py
    python benchmarks/bench_transport.py
    python benchmarks/bench_coldpath.py

# quick benchmarks (fewer repetitions; the cold-path figures without the gate)
bench-quick:
    python benchmarks/bench_startup.py --quick
    python benchmarks/bench_core_crypto.py
    python benchmarks/bench_components.py --quick
    python benchmarks/bench_composition.py --quick
    python benchmarks/bench_runtimes.py --quick
    python benchmarks/bench_faults.py --quick
    python benchmarks/bench_transport.py --quick
    python benchmarks/bench_coldpath.py --quick --skip-gate

# our peer-mode commissioner vs the CHIP controller, both against CircuitMatter (needs the
# interop extras and root for the sandbox; says so and exits 0 without them)
bench-peer repeat="10":
    python benchmarks/bench_peer.py --repeat {{repeat}}

# the CI gate: evidence per claim, Markdown report
gate:
    matter-harness gate --report evidence/report.md

# fuzz campaigns, claim E2 (large budget; numbers printed): coverage-guided native core
# (atheris), then the core component and the composed graph, differential against native
fuzz seed="7":
    matter-harness fuzz --target native --cases 100000 --seed {{seed}}
    matter-harness fuzz --target component --cases 10000 --seed {{seed}}
    matter-harness fuzz --target composed --cases 1000 --seed {{seed}}

# a quick fuzz round on every target
fuzz-quick seed="7":
    matter-harness fuzz --target native --cases 2000 --seed {{seed}}
    matter-harness fuzz --target component --cases 200 --seed {{seed}}
    matter-harness fuzz --target composed --cases 60 --seed {{seed}}

# mutation testing of matter_core (claim E1): the full campaign, the score per module
# printed and recorded in the ledger (hours on a 2-core machine; the gate runs a sample)
mutation *args:
    matter-harness mutation --ledger evidence/ledger.jsonl {{args}}
