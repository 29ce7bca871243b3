"""Step-up authentication (RFC 9470) on @p1.require_token, with Flask's test client."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from flask import Flask
from flask_helpers import bearer, body

from p1guard import ConfigError
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, current_token


def test_require_token_step_up(pingone_mock: MockPingOne) -> None:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=pingone_mock.guard())

    @app.get("/transfer")
    @p1.require_token("read", acr_values=["Multi_Factor"], max_age=300)
    def transfer() -> dict[str, Any]:
        return {"acr": current_token.claims["acr"]}

    @app.get("/async/transfer")
    @p1.require_token(acr_values=["Multi_Factor"])
    async def async_transfer() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"acr": current_token.claims["acr"]}

    client = app.test_client()
    weak = bearer(pingone_mock.issue_token())
    for path in ("/transfer", "/async/transfer"):
        refused = client.get(path, headers=weak)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith(
            'Bearer error="insufficient_user_authentication", error_description='
        )
        assert 'acr_values="Multi_Factor"' in refused.headers["WWW-Authenticate"]
        assert body(refused)["error"] == "insufficient_user_authentication"
    refused = client.get("/transfer", headers=weak)
    assert 'max_age="300"' in refused.headers["WWW-Authenticate"]

    stale = pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": 1})
    refused = client.get("/transfer", headers=bearer(stale))
    assert refused.status_code == 401
    assert "More recent authentication" in body(refused)["error_description"]

    strong = pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": int(time.time())})
    for path in ("/transfer", "/async/transfer"):
        ok = client.get(path, headers=bearer(strong))
        assert ok.status_code == 200
        assert body(ok) == {"acr": "Multi_Factor"}
    with pytest.raises(ConfigError):
        p1.require_token(max_age=-5)
