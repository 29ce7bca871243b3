"""Suite-wide settings: Hypothesis profiles (P1GUARD_FUZZ=default|deep)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# The deep run (>= 100k cases per property) is for people, outside the default suite:
#   P1GUARD_FUZZ=deep uv run pytest tests/security/test_fuzz.py
settings.register_profile(
    "deep",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("P1GUARD_FUZZ", "default"))
