"""pytest plugin of p1guard (entry point ``pytest11: p1guard``): the ``pingone_mock`` fixture.

Loaded in every project that installs p1guard, so it imports nothing but pytest up front.

>>> def test_my_api(pingone_mock):                              # doctest: +SKIP
...     token = pingone_mock.issue_token(scopes=["read"])
...     assert my_client(token).get("/items").status_code == 200
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from p1guard.testing._mock import MockPingOne

__all__ = ["pingone_mock"]


@pytest.fixture
def pingone_mock() -> Iterator[MockPingOne]:
    """A started :class:`~p1guard.testing.MockPingOne`, closed after the test.

    >>> def test_token(pingone_mock):                           # doctest: +SKIP
    ...     assert pingone_mock.introspect(pingone_mock.issue_token())["active"]
    """
    from p1guard.testing._mock import MockPingOne

    with MockPingOne() as op:
        yield op
