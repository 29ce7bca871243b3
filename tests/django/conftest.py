"""Django for the p1guard_django tests: configured once per pytest process, when first collected.

Other test folders never see Django configured unless this folder is collected too; settings
that tests change go through ``override_settings`` (the ``p1guard`` fixture), so nothing
leaks between tests. Helpers live in :mod:`django_support` (never import from ``conftest``).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings
from django_support import EXAMPLES, Use, configure_django

from p1guard.testing import MockPingOne

configure_django()
if str(EXAMPLES) not in sys.path:
    sys.path.append(str(EXAMPLES))


@pytest.fixture(scope="session")
def shared_pingone() -> Iterator[MockPingOne]:
    with MockPingOne() as op:
        yield op


@pytest.fixture
def pingone_mock(shared_pingone: MockPingOne) -> Iterator[MockPingOne]:
    """The plugin's live ``pingone_mock``, started once for this folder (its RSA keys are slow
    to make): each test still gets fresh p1guard caches, since ``p1guard`` builds a new Guard,
    and a mock that a test stopped or faulted is restarted and cleared afterwards."""
    shared_pingone.start()
    yield shared_pingone
    shared_pingone.clear_faults()
    shared_pingone.start()


@pytest.fixture
def p1guard(pingone_mock: MockPingOne) -> Iterator[Use]:
    """``settings.P1GUARD`` pointing at the mock; call it with keys to change for this test."""
    base: dict[str, Any] = {
        "ISSUER": pingone_mock.issuer,
        "AUDIENCE": pingone_mock.audience,
        "CLIENT_ID": pingone_mock.resource_id,
        "CLIENT_SECRET": pingone_mock.resource_secret,
        "PROTECTED_PATHS": ["/api/"],
        "PUBLIC_PATHS": ["/api/health"],
    }
    with ExitStack() as stack:

        def use(**changes: Any) -> dict[str, Any]:
            values = {**base, **changes}
            stack.enter_context(override_settings(P1GUARD=values))
            return values

        use()
        yield use


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
async def async_client(p1guard: Use) -> AsyncIterator[AsyncClient]:
    """Django's AsyncClient; closes the guard's async HTTP client of this test's loop."""
    from p1guard_django.conf import get_guard

    yield AsyncClient()
    await get_guard().aclose()
