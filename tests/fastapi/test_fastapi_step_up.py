"""Step-up authentication (RFC 9470) on PingOneBearer, with FastAPI's TestClient.

No ``from __future__ import annotations``: FastAPI must resolve the route annotations.
"""

import time
import warnings
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security

from p1guard import AccessToken, ConfigError
from p1guard.testing import MockPingOne
from p1guard_fastapi import AuthHTTPException, PingOneBearer, auth_error_handler

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def test_pingone_bearer_step_up(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    mfa = PingOneBearer(guard, acr_values=["Multi_Factor"], max_age=300)
    app = FastAPI(exception_handlers={AuthHTTPException: auth_error_handler})

    @app.get("/transfer")
    async def transfer(token: Annotated[AccessToken, Security(mfa, scopes=["read"])]) -> Any:
        return {"acr": token.claims["acr"]}

    with TestClient(app) as client:
        weak = pingone_mock.issue_token()
        refused = client.get("/transfer", headers={"Authorization": f"Bearer {weak}"})
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A different authentication level is required", '
            'acr_values="Multi_Factor", max_age="300"'
        )
        assert refused.json()["error"] == "insufficient_user_authentication"
        stale = pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": 1})
        refused = client.get("/transfer", headers={"Authorization": f"Bearer {stale}"})
        assert refused.status_code == 401
        assert refused.json()["error_description"] == "More recent authentication is required"
        strong = pingone_mock.issue_token(
            claims={"acr": "Multi_Factor", "auth_time": int(time.time())}
        )
        ok = client.get("/transfer", headers={"Authorization": f"Bearer {strong}"})
        assert ok.status_code == 200
        assert ok.json() == {"acr": "Multi_Factor"}
    with pytest.raises(ConfigError):
        PingOneBearer(guard, acr_values=["two words"])
