"""Hypothesis profiles for the fuzz suite: `ci` by default, `long` via HYPOTHESIS_PROFILE."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_BASE = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)
# `ci`: derandomized (the same cases every run), sized so tests/fuzz stays within ~3 minutes on 2 cores.
settings.register_profile("ci", _BASE, max_examples=300, derandomize=True, database=None)
# `long`: random, ~33 times as many cases per target; failures are saved in .hypothesis/ to replay.
settings.register_profile("long", _BASE, max_examples=10_000)  # ~33x ci
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "long"):
    PROFILE = "ci"


def fuzz_settings(scale: float = 1.0) -> settings:
    """The selected profile with `scale` times its case count (targets differ in cost per case)."""
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=max(10, round(base.max_examples * scale)))
