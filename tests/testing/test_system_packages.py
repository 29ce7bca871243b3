"""A machine without redis-server or chromium gets one clear message naming the install
command, not one error per test that needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pytest_without_system_packages(test_file: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on ``test_file`` with a PATH holding neither redis-server nor chromium."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test_file],
        cwd=ROOT,
        env={**os.environ, "PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_redis_server_stops_the_run_with_one_install_message() -> None:
    result = pytest_without_system_packages("tests/guard/test_shared_cache.py")
    output = result.stdout + result.stderr
    assert result.returncode == 4, output  # pytest's usage error: nothing ran
    assert "need redis-server on PATH" in output
    assert "apt-get install -y redis-server chromium" in output
    assert "brew install redis" in output
    assert output.count("redis-server is not installed") == 0  # no per-test errors


def test_tests_without_system_packages_still_run_without_them() -> None:
    result = pytest_without_system_packages("tests/core/test_exports.py")
    assert result.returncode == 0, result.stdout + result.stderr
