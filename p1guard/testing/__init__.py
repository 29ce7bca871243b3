"""Test helpers: :class:`MockPingOne`, an embedded PingOne on ``127.0.0.1``, and a pytest plugin.

>>> from p1guard.testing import MockPingOne
>>> with MockPingOne() as op:                                   # doctest: +SKIP
...     op.guard().verify(op.issue_token(scopes=["read"])).scopes
frozenset({'read'})

With pytest, the ``pingone_mock`` fixture yields a started :class:`MockPingOne`.
:func:`~p1guard.testing.client_certificate` makes client certificates for
certificate-bound tokens.

Importing this package is cheap: ``MockPingOne`` (which needs Werkzeug, ``pip install
'p1guard[wsgi]'``) is loaded on first access, so the pytest plugin costs nothing in projects that
never use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p1guard.testing._certificates import ClientCertificate, client_certificate

if TYPE_CHECKING:
    from p1guard.testing._faults import ENDPOINTS, FAULT_MODES, Endpoint, FaultMode
    from p1guard.testing._mock import DEFAULT_USER, MockPingOne, RegisteredClient

__all__ = [
    "DEFAULT_USER",
    "ENDPOINTS",
    "FAULT_MODES",
    "ClientCertificate",
    "Endpoint",
    "FaultMode",
    "MockPingOne",
    "RegisteredClient",
    "client_certificate",
]
_LAZY = frozenset(__all__) - {"ClientCertificate", "client_certificate"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from p1guard.testing import _mock as mock
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if exc.name != "werkzeug" and not (exc.name or "").startswith("werkzeug."):
            raise
        raise ImportError(
            "p1guard.testing.MockPingOne needs Werkzeug: pip install 'p1guard[wsgi]'",
            name=exc.name,
        ) from exc
    return getattr(mock, name)
