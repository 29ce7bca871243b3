"""Claim rules on PingOneBearer, with FastAPI's TestClient.

No ``from __future__ import annotations``: FastAPI must resolve the route annotations.
"""

import warnings
from typing import Annotated, Any

from fastapi import FastAPI, Security

from p1guard import AccessToken, Equals
from p1guard.testing import MockPingOne
from p1guard_fastapi import AuthHTTPException, PingOneBearer, auth_error_handler

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def test_pingone_bearer_claims(pingone_mock: MockPingOne) -> None:
    prod = PingOneBearer(pingone_mock.guard(), claims=[Equals("stage", "prod")])
    app = FastAPI(exception_handlers={AuthHTTPException: auth_error_handler})

    @app.get("/deploy")
    async def deploy(token: Annotated[AccessToken, Security(prod, scopes=["read"])]) -> Any:
        return {"stage": token.claims["stage"]}

    with TestClient(app) as client:
        ok = pingone_mock.issue_token(claims={"stage": "prod"})
        assert client.get("/deploy", headers={"Authorization": f"Bearer {ok}"}).json() == {
            "stage": "prod"
        }
        other = pingone_mock.issue_token(claims={"stage": "dev"})
        refused = client.get("/deploy", headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 403
        assert refused.json() == {
            "error": "access_denied",
            "error_description": "The access token does not satisfy: stage equals 'prod'",
        }
