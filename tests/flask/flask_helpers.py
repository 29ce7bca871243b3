"""Helpers shared by the p1guard-flask tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from p1guard.testing import MockPingOne

#: ``configured_app(config, p1=None)``: the fixture in test_extension.py.
AppFactory = Callable[..., Flask]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: TestResponse) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.get_data())
    return data


def mock_config(op: MockPingOne, **extra: Any) -> dict[str, Any]:
    """The ``P1GUARD_*`` config of an app that trusts ``op``."""
    return {
        "P1GUARD_ISSUER": op.issuer,
        "P1GUARD_AUDIENCE": op.audience,
        "P1GUARD_CLIENT_ID": op.resource_id,
        "P1GUARD_CLIENT_SECRET": op.resource_secret,
        **extra,
    }
