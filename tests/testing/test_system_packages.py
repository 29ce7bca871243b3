"""A machine without redis-server or chromium gets one clear message naming the install
command, not one error per test that needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_missing_redis_server_stops_the_run_with_one_install_message() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}  # no redis-server, no chromium
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/guard/test_shared_cache.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output  # pytest's usage error: nothing ran
    assert "need redis-server on PATH" in output
    assert "apt-get install -y redis-server chromium" in output
    assert "brew install redis" in output
    assert output.count("redis-server is not installed") == 0  # no per-test errors


def test_tests_without_system_packages_still_run_without_them() -> None:
    env = {**os.environ, "PATH": "/nonexistent"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/core/test_exports.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
