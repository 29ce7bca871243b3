"""p1guard_fastapi.metadata: the RFC 9728 document route, against a live MockPingOne."""

from __future__ import annotations

import doctest
import warnings

from fastapi import FastAPI, Security

import p1guard_fastapi.metadata as metadata_module
from p1guard import AccessToken
from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata
from p1guard.testing import MockPingOne
from p1guard_fastapi import PingOneBearer
from p1guard_fastapi.metadata import metadata_router

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def test_metadata_route_and_challenge(pingone_mock: MockPingOne) -> None:
    md_url = f"https://api.example.com{WELL_KNOWN_PREFIX}"
    guard = pingone_mock.guard(resource_metadata_url=md_url)
    md = ResourceMetadata.for_guard(guard, scopes_supported=["read"])
    auth = PingOneBearer(guard)
    app = FastAPI()
    app.include_router(metadata_router(md))

    @app.get("/items")
    async def items(
        token: AccessToken = Security(auth, scopes=["read"]),  # noqa: B008
    ) -> dict[str, str]:
        return {"sub": token.subject or ""}

    client = TestClient(app)
    response = client.get(WELL_KNOWN_PREFIX)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=3600"
    assert response.json() == md.document()
    assert WELL_KNOWN_PREFIX not in client.get("/openapi.json").json()["paths"]
    invalid = client.get("/items", headers={"Authorization": "Bearer not.a.jwt"})
    assert invalid.status_code == 401
    assert f'resource_metadata="{md_url}"' in invalid.headers["www-authenticate"]


def test_doctests() -> None:
    result = doctest.testmod(metadata_module)
    assert result.attempted and not result.failed
