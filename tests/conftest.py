"""Suite-wide settings: Hypothesis profiles (P1GUARD_FUZZ=default|deep) and a real redis-server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
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

#: The system packages some tests start for real, by the fixture that needs each one.
SYSTEM_PACKAGES = {
    "redis_server": "redis-server",
    "private_redis": "redis-server",
    "browser": "chromium",
}
INSTALL_HINT = (
    "Debian/Ubuntu: sudo apt-get install -y redis-server chromium; "
    "macOS: brew install redis && brew install --cask chromium"
)


def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Stop with one message, before any test runs, when a collected test needs a system
    package that is not on PATH (rather than one error per test that needs it)."""
    needed = {
        SYSTEM_PACKAGES[name]
        for item in items
        for name in getattr(item, "fixturenames", ())
        if name in SYSTEM_PACKAGES
    }
    missing = sorted(binary for binary in needed if shutil.which(binary) is None)
    if missing:
        pytest.exit(
            f"these tests need {', '.join(missing)} on PATH ({INSTALL_HINT}); "
            "or run a subset that does not, e.g. uv run pytest tests/core",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@contextmanager
def start_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start a real ``redis-server`` on a free loopback port; yields its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real ``redis-server`` shared by the whole run (``.ci/run`` installs it); its URL."""
    with start_redis() as (url, _process):
        yield url


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ``redis-server`` of the test's own, which the test may kill."""
    with start_redis() as server:
        yield server
