"""RFC 9728 metadata served by p1guard.wsgi.BearerTokenMiddleware, against a live MockPingOne."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from werkzeug.test import Client

from p1guard import ConfigError
from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata
from p1guard.testing import MockPingOne
from p1guard.wsgi import BearerTokenMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MD_URL = f"https://api.example.com{WELL_KNOWN_PREFIX}"


class App:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def make(pingone_mock: MockPingOne, **options: object) -> tuple[Client, App]:
    guard = pingone_mock.guard()
    md = ResourceMetadata.for_guard(guard, scopes_supported=["read"], resource_name="Orders")
    app = App()
    middleware = BearerTokenMiddleware(app, guard=guard, resource_metadata=md, **options)  # type: ignore[arg-type]
    return Client(middleware), app


def test_metadata_is_served_without_a_token(pingone_mock: MockPingOne) -> None:
    client, app = make(pingone_mock)
    response = client.get(WELL_KNOWN_PREFIX)
    assert response.status == "200 OK"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert json.loads(response.data) == {
        "resource": "https://api.example.com",
        "authorization_servers": [pingone_mock.issuer],
        "scopes_supported": ["read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Orders",
    }
    assert client.head(WELL_KNOWN_PREFIX).data == b""
    post = client.post(WELL_KNOWN_PREFIX)
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    assert app.calls == 0


def test_401_challenge_includes_resource_metadata(pingone_mock: MockPingOne) -> None:
    client, app = make(pingone_mock)
    missing = client.get("/items")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == f'Bearer resource_metadata="{MD_URL}"'
    expired = client.get(
        "/items", headers={"Authorization": f"Bearer {pingone_mock.issue_token(expires_in=-600)}"}
    )
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert f'resource_metadata="{MD_URL}"' in expired.headers["WWW-Authenticate"]
    ok = client.get("/items", headers={"Authorization": f"Bearer {pingone_mock.issue_token()}"})
    assert ok.status_code == 200 and app.calls == 1


def test_403_does_not_include_it(pingone_mock: MockPingOne) -> None:
    client, _ = make(pingone_mock, scopes=["admin"])
    token = pingone_mock.issue_token(["read"])
    response = client.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "resource_metadata" not in response.headers["WWW-Authenticate"]


def test_bad_resource_url_is_config_error(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(audience="orders-api")
    with pytest.raises(ConfigError):
        ResourceMetadata.for_guard(guard)
    with pytest.raises(ConfigError):
        ResourceMetadata("http://api.example.com", pingone_mock.issuer)
