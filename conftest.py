"""Hypothesis profiles for the whole test suite (here, at the root, because a conftest.py
in tests/ would put tests/ on the import path, where tests/harness/ shadows the package).

* ``ci`` (selected by ``HYPOTHESIS_PROFILE=ci``, and whenever ``CI`` is set, as
  ``.ci/run`` has it): derandomized, so a run is the same on every machine; no deadline
  and no ``too_slow`` health check, whose verdicts depend on how loaded the machine is
  (a loaded 2-core runner failed ``test_tlv.py::test_round_trip`` on one); 100 examples
  unless a test asks for its own count.
* ``dev`` (the default elsewhere): random, as Hypothesis is meant to explore; no
  deadline either, for the same reason.

* ``mutation`` (what ``matter-harness mutation`` selects): ``ci`` without the shrink and
  explain phases. A mutant is killed when a test fails; the generate phase finds the same
  failing example either way (derandomized), and shrinking it to a minimal one, which can
  take longer than the whole test, only makes the report nicer.

Tests that set ``@settings(max_examples=...)`` keep their count; the rest comes from
the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
settings.register_profile("dev", deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
