"""Claim rules on @p1.require_token, with Flask's test client."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_helpers import bearer, body

from p1guard import Contains
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, current_token


def test_require_token_claims(pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=pingone_mock.guard())

    @app.post("/orders")
    @p1.require_token("read", claims=[Contains("p1.permissions", "orders:write")])
    def create() -> dict[str, Any]:
        return {"sub": current_token.subject}

    client = app.test_client()
    allowed = pingone_mock.issue_token(claims={"p1.permissions": ["orders:write"]})
    assert client.post("/orders", headers=bearer(allowed)).status_code == 200
    refused = client.post("/orders", headers=bearer(pingone_mock.issue_token()))
    assert refused.status_code == 403
    assert body(refused)["error"] == "access_denied"
    assert "p1.permissions contains 'orders:write'" in body(refused)["error_description"]
    assert refused.headers["WWW-Authenticate"].startswith('Bearer error="access_denied"')
