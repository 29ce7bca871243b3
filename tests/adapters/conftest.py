"""The ``adapter`` fixture: the contract suite runs once per adapter (see adapter_drivers).

Django is configured from tests/django's settings (one configuration per pytest process, and
these folders may run together), so that folder's helpers are put on the import path.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

DJANGO_TESTS = str(Path(__file__).resolve().parents[1] / "django")
if DJANGO_TESTS not in sys.path:
    sys.path.append(DJANGO_TESTS)

from adapter_drivers import ADAPTERS, Driver, drive  # noqa: E402
from django_support import configure_django  # noqa: E402

from p1guard.testing import MockPingOne  # noqa: E402

configure_django()


@pytest.fixture(scope="session")
def shared_pingone() -> Iterator[MockPingOne]:
    with MockPingOne() as op:
        yield op


@pytest.fixture
def pingone_mock(shared_pingone: MockPingOne) -> Iterator[MockPingOne]:
    """One live mock for the folder (its RSA keys are slow to make); every adapter builds a new
    Guard, so caches are fresh, and faults and stops are undone after each test."""
    shared_pingone.start()
    yield shared_pingone
    shared_pingone.clear_faults()
    shared_pingone.start()


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, pingone_mock: MockPingOne) -> Iterator[Driver]:
    with drive(request.param, pingone_mock) as driver:
        yield driver
