"""Step-up (RFC 9470) and claim rules on p1.protect_blueprint, with Flask's test client."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask_helpers import bearer, body

from p1guard import ConfigError, Contains, Equals
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, current_token


def test_protect_blueprint_step_up_and_claims(pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=pingone_mock.guard())
    payments = Blueprint("payments", __name__, url_prefix="/payments")

    @payments.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @payments.post("/transfer")
    def transfer() -> dict[str, Any]:
        return {"acr": current_token.claims["acr"]}

    @payments.get("/async")
    async def async_transfer() -> dict[str, Any]:
        return {"acr": current_token.claims["acr"]}

    p1.protect_blueprint(
        payments,
        "read",
        public_endpoints=["health"],
        acr_values=["Multi_Factor"],
        max_age=300,
        claims=[Equals("stage", "prod")],
    )
    app.register_blueprint(payments)
    client = app.test_client()
    now = int(time.time())

    assert client.get("/payments/health").status_code == 200
    weak = bearer(pingone_mock.issue_token(["read"], claims={"stage": "prod"}))
    refused = client.post("/payments/transfer", headers=weak)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer error="insufficient_user_authentication", '
        'error_description="A different authentication level is required", '
        'acr_values="Multi_Factor", max_age="300"'
    )
    assert body(refused)["error"] == "insufficient_user_authentication"
    assert client.get("/payments/async", headers=weak).status_code == 401

    stale = pingone_mock.issue_token(
        ["read"], claims={"acr": "Multi_Factor", "auth_time": now - 3600, "stage": "prod"}
    )
    refused = client.post("/payments/transfer", headers=bearer(stale))
    assert refused.status_code == 401
    assert "More recent authentication" in body(refused)["error_description"]

    dev = pingone_mock.issue_token(
        ["read"], claims={"acr": "Multi_Factor", "auth_time": now, "stage": "dev"}
    )
    refused = client.post("/payments/transfer", headers=bearer(dev))
    assert refused.status_code == 403
    assert body(refused)["error"] == "access_denied"

    # scopes come before step-up: a strong sign-in without "read" is 403 insufficient_scope
    no_scope = pingone_mock.issue_token(
        ["write"], claims={"acr": "Multi_Factor", "auth_time": now, "stage": "prod"}
    )
    assert body(client.post("/payments/transfer", headers=bearer(no_scope)))["error"] == (
        "insufficient_scope"
    )

    strong = bearer(
        pingone_mock.issue_token(
            ["read"], claims={"acr": "Multi_Factor", "auth_time": now, "stage": "prod"}
        )
    )
    assert body(client.post("/payments/transfer", headers=strong)) == {"acr": "Multi_Factor"}
    assert body(client.get("/payments/async", headers=strong)) == {"acr": "Multi_Factor"}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acr_values": ["two words"]}, "acr_values"),
        ({"max_age": -5}, "max_age"),
        ({"claims": [("stage", "prod")]}, "claims"),
    ],
)
def test_protect_blueprint_refuses_bad_step_up_options(
    pingone_mock: MockPingOne, options: dict[str, Any], field: str
) -> None:
    p1 = P1Guard(guard=pingone_mock.guard())
    with pytest.raises(ConfigError) as caught:
        p1.protect_blueprint(Blueprint("bad", __name__), **options)
    assert caught.value.field == field


def test_require_token_accepts_a_space_separated_acr_string(pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=pingone_mock.guard())

    @app.get("/x")
    @p1.require_token(acr_values="Multi_Factor Passwordless", claims=[Contains("amr", "mfa")])
    def view() -> dict[str, Any]:
        return {"ok": True}

    client = app.test_client()
    refused = client.get("/x", headers=bearer(pingone_mock.issue_token()))
    assert 'acr_values="Multi_Factor Passwordless"' in refused.headers["WWW-Authenticate"]
    token = pingone_mock.issue_token(claims={"acr": "Passwordless", "amr": ["mfa"]})
    assert body(client.get("/x", headers=bearer(token))) == {"ok": True}
