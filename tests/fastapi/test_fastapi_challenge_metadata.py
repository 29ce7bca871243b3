"""RFC 9728 in p1guard-fastapi: a request without a token (refused before the Guard sees it)
gets ``resource_metadata`` in its 401 challenge when the Guard has ``resource_metadata_url``."""

from __future__ import annotations

import warnings

from fastapi import FastAPI, Security

from p1guard import AccessToken
from p1guard.testing import MockPingOne
from p1guard_fastapi import PingOneBearer

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

MD_URL = "https://api.example.com/.well-known/oauth-protected-resource"


def _client(pingone_mock: MockPingOne, **guard_options: str) -> TestClient:
    auth = PingOneBearer(pingone_mock.guard(**guard_options))
    app = FastAPI()

    @app.get("/items")
    async def items(token: AccessToken = Security(auth, scopes=["read"])) -> dict[str, str]:  # noqa: B008
        return {"sub": token.subject or ""}

    return TestClient(app)


def test_missing_bearer_credentials_name_the_metadata(pingone_mock: MockPingOne) -> None:
    client = _client(pingone_mock, resource_metadata_url=MD_URL)
    missing = client.get("/items")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].endswith(f'resource_metadata="{MD_URL}"')
    other_scheme = client.get("/items", headers={"Authorization": "Basic abc"})  # no bearer
    assert other_scheme.status_code == 401
    assert f'resource_metadata="{MD_URL}"' in other_scheme.headers["www-authenticate"]


def test_without_metadata_url_the_challenge_is_bare(pingone_mock: MockPingOne) -> None:
    missing = _client(pingone_mock).get("/items")
    assert missing.status_code == 401
    assert "resource_metadata" not in missing.headers["www-authenticate"]
