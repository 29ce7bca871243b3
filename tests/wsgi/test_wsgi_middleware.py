"""p1guard.wsgi.BearerTokenMiddleware against a live MockPingOne, with plain Werkzeug apps."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from p1guard import Guard
from p1guard.testing import MockPingOne
from p1guard.wsgi import ENVIRON_KEY, BearerTokenMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


class App:
    """A plain WSGI app that echoes the attached token and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.calls += 1
        token = environ[ENVIRON_KEY]
        request = Request(environ)
        body = {
            "path": request.path,
            "sub": token.subject if token else None,
            "scopes": sorted(token.scopes) if token else None,
        }
        return Response(json.dumps(body), content_type="application/json")(environ, start_response)


def make(guard: Guard, **options: Any) -> tuple[Client, App]:
    app = App()
    return Client(BearerTokenMiddleware(app, guard=guard, **options)), app


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Client:
    return make(pingone_mock.guard(), public_paths=["/health", "/static/*"])[0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response.get_data())
    return data


def test_missing_token_is_401_with_bare_challenge(pingone_mock: MockPingOne) -> None:
    client, app = make(pingone_mock.guard())
    response = client.get("/items")
    assert response.status == "401 Unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert app.calls == 0


def test_realm_is_in_the_challenge(pingone_mock: MockPingOne) -> None:
    client, _ = make(pingone_mock.guard(realm="orders"))
    assert client.get("/items").headers["WWW-Authenticate"] == 'Bearer realm="orders"'
    malformed = client.get("/items", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400
    assert 'realm="orders"' in malformed.headers["WWW-Authenticate"]


def test_token_in_query_string_allowed_when_opted_in(pingone_mock: MockPingOne) -> None:
    client, _ = make(pingone_mock.guard(), allow_query_token=True)
    response = client.get("/items", query_string={"access_token": pingone_mock.issue_token()})
    assert response.status_code == 200
    assert body(response)["sub"] == "user-1"


@pytest.mark.parametrize("path", ["/health", "/static", "/static/app.js"])
def test_public_path_needs_no_token(client: Client, path: str) -> None:
    response = client.get(path, headers={"Authorization": "Bearer not-verified"})
    assert response.status_code == 200
    assert body(response)["sub"] is None


@pytest.mark.parametrize("path", ["/health/../items", "/static/../items", "/static/%2e%2e/items"])
def test_traversal_out_of_public_path_needs_a_token(client: Client, path: str) -> None:
    assert client.get(path).status_code == 401


def test_required_false_lets_anonymous_requests_through(pingone_mock: MockPingOne) -> None:
    client, _ = make(pingone_mock.guard(), required=False)
    anonymous = client.get("/items")
    assert anonymous.status_code == 200
    assert body(anonymous)["sub"] is None
    assert client.get("/items", headers={"Authorization": "Basic dTpw"}).status_code == 200
    valid = client.get("/items", headers=bearer(pingone_mock.issue_token()))
    assert body(valid)["sub"] == "user-1"
    assert client.get("/items", headers=bearer("not.a.jwt")).status_code == 401
    assert client.get("/items", headers={"Authorization": "Bearer a b"}).status_code == 400
