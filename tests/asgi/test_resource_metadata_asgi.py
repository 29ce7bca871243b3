"""RFC 9728 metadata served by p1guard.asgi.BearerTokenMiddleware, against a live MockPingOne."""

from __future__ import annotations

import warnings

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from p1guard import Guard
from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata
from p1guard.asgi import BearerTokenMiddleware
from p1guard.testing import MockPingOne

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

MD_URL = f"https://api.example.com{WELL_KNOWN_PREFIX}"


async def items(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def client_for(guard: Guard, **options: object) -> TestClient:
    app = Starlette(
        routes=[Route("/items", items), Route(WELL_KNOWN_PREFIX, items)],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard, **options)],
    )
    return TestClient(app)


def test_metadata_is_served_without_a_token(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    md = ResourceMetadata.for_guard(guard, scopes_supported=["read", "write"])
    client = client_for(guard, resource_metadata=md)
    response = client.get(WELL_KNOWN_PREFIX)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "max-age=3600"
    assert response.json() == {
        "resource": "https://api.example.com",
        "authorization_servers": [pingone_mock.issuer],
        "scopes_supported": ["read", "write"],
        "bearer_methods_supported": ["header"],
    }
    assert client.head(WELL_KNOWN_PREFIX).content == b""
    assert client.post(WELL_KNOWN_PREFIX).status_code == 405
    # a bad token sent along does not matter: the document is public
    assert client.get(WELL_KNOWN_PREFIX, headers={"Authorization": "Bearer x"}).status_code == 200


def test_401_challenges_point_to_the_metadata(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(realm="orders")
    client = client_for(guard, resource_metadata=ResourceMetadata.for_guard(guard))
    missing = client.get("/items")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == (
        f'Bearer realm="orders", resource_metadata="{MD_URL}"'
    )
    invalid = client.get("/items", headers={"Authorization": "Bearer not.a.jwt"})
    assert invalid.status_code == 401
    assert invalid.headers["www-authenticate"].endswith(f'resource_metadata="{MD_URL}"')
    ok = client.get("/items", headers={"Authorization": f"Bearer {pingone_mock.issue_token()}"})
    assert ok.status_code == 200


def test_403_and_400_do_not_carry_it(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    md = ResourceMetadata.for_guard(guard)
    client = client_for(guard, resource_metadata=md, scopes=["admin"])
    token = pingone_mock.issue_token(["read"])
    forbidden = client.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert forbidden.status_code == 403
    assert "resource_metadata" not in forbidden.headers["www-authenticate"]
    malformed = client.get("/items", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400
    assert "resource_metadata" not in malformed.headers["www-authenticate"]


def test_guard_option_alone_stamps_challenges(pingone_mock: MockPingOne) -> None:
    client = client_for(pingone_mock.guard(resource_metadata_url=MD_URL))
    assert client.get("/items").headers["www-authenticate"] == (
        f'Bearer resource_metadata="{MD_URL}"'
    )
    # not served: the middleware has no ResourceMetadata, so the app's route needs a token
    assert client.get(WELL_KNOWN_PREFIX).status_code == 401


def test_without_metadata_nothing_changes(pingone_mock: MockPingOne) -> None:
    client = client_for(pingone_mock.guard())
    assert client.get("/items").headers["www-authenticate"] == "Bearer"
    assert client.get(WELL_KNOWN_PREFIX).status_code == 401


def test_resource_with_a_path(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    md = ResourceMetadata("https://api.example.com/v1", pingone_mock.issuer)
    client = client_for(guard, resource_metadata=md)
    assert client.get(f"{WELL_KNOWN_PREFIX}/v1").json()["resource"] == md.resource
    assert client.get("/items").headers["www-authenticate"] == (
        f'Bearer resource_metadata="{MD_URL}/v1"'
    )
