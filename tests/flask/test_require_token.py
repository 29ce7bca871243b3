"""@p1.require_token on sync and async Flask views, against a live MockPingOne."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_helpers import bearer, body
from werkzeug.test import Client, TestResponse

from p1guard import Guard, InsufficientScope
from p1guard.testing import MockPingOne
from p1guard.wsgi import BearerTokenMiddleware
from p1guard_flask import P1Guard, current_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@pytest.fixture
def guard(pingone_mock: MockPingOne) -> Guard:
    return pingone_mock.guard()


def _token_json() -> dict[str, Any]:
    return {"sub": current_token.subject, "scopes": sorted(current_token.scopes)}


def build(guard: Guard, **config: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    p1 = P1Guard(app, guard=guard)

    @app.get("/items")
    @p1.require_token("read")
    def items() -> dict[str, Any]:
        return _token_json()

    @app.get("/async/items")
    @p1.require_token("read")
    async def async_items() -> dict[str, Any]:
        await asyncio.sleep(0)
        return _token_json()

    @app.post("/items")
    @p1.require_token("read", "write")
    def create() -> tuple[dict[str, Any], int]:
        return _token_json(), 201

    @app.get("/any")
    @p1.require_token("admin", "write", match="any")
    def any_of() -> dict[str, Any]:
        return _token_json()

    @app.get("/me")
    @p1.require_token()
    def me() -> dict[str, Any]:
        return _token_json()

    @app.get("/bare")
    @p1.require_token
    def bare() -> dict[str, Any]:
        return _token_json()

    @app.get("/async/bare")
    @p1.require_token
    async def async_bare() -> dict[str, Any]:
        return _token_json()

    @app.get("/raises")
    @p1.require_token()
    def raises() -> dict[str, Any]:
        raise InsufficientScope(["admin"])

    @app.get("/crash")
    @p1.require_token()
    def crash() -> dict[str, Any]:
        raise ValueError("secret internals")

    return app


@pytest.fixture
def client(guard: Guard) -> FlaskClient:
    return build(guard).test_client()


PATHS = ["/items", "/async/items"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/items"), ("GET", "/any")])
def test_missing_scope_403_names_the_scope(
    client: FlaskClient, pingone_mock: MockPingOne, method: str, path: str
) -> None:
    response = client.open(path, method=method, headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 403
    assert body(response)["error"] == "insufficient_scope"
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert ('scope="read write"' if path == "/items" else 'scope="admin write"') in challenge
    assert "write" in body(response)["error_description"]


def test_async_view_missing_scope_403(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/async/items", headers=bearer(pingone_mock.issue_token(["write"])))
    assert response.status_code == 403
    assert 'scope="read"' in response.headers["WWW-Authenticate"]


def test_match_any_accepts_one_of_the_scopes(
    client: FlaskClient, pingone_mock: MockPingOne
) -> None:
    response = client.get("/any", headers=bearer(pingone_mock.issue_token(["write"])))
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/me", "/bare", "/async/bare"])
def test_any_valid_token_without_scopes(
    client: FlaskClient, pingone_mock: MockPingOne, path: str
) -> None:
    response = client.get(path, headers=bearer(pingone_mock.issue_token([], sub=None)))
    assert response.status_code == 200
    assert body(response) == {"sub": None, "scopes": []}


def test_view_may_raise_auth_errors(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/raises", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 403
    assert 'scope="admin"' in response.headers["WWW-Authenticate"]


def test_other_exceptions_are_not_echoed(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/crash", headers=bearer(pingone_mock.issue_token()))
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)


def test_realm_of_the_guard_is_in_challenges(pingone_mock: MockPingOne) -> None:
    client = build(pingone_mock.guard(realm="orders")).test_client()
    assert client.get("/items").headers["WWW-Authenticate"] == 'Bearer realm="orders"'
    malformed = client.get("/items", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400
    assert 'realm="orders"' in malformed.headers["WWW-Authenticate"]


# -- how the token is sent -------------------------------------------------------------------


def test_query_token_allowed_by_config(guard: Guard, pingone_mock: MockPingOne) -> None:
    client = build(guard, P1GUARD_ALLOW_QUERY_TOKEN="true").test_client()
    token = pingone_mock.issue_token(["read"])
    assert client.get("/items", query_string={"access_token": token}).status_code == 200
    both = client.get("/items", query_string={"access_token": token}, headers=bearer(token))
    assert both.status_code == 400


# -- the same rules (and log line) as the core WSGI middleware -------------------------------


def _core_app(guard: Guard, allow_query: bool) -> Client:
    def ok(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    return Client(BearerTokenMiddleware(ok, guard=guard, allow_query_token=allow_query))


def _outcome(response: TestResponse) -> tuple[int, str | None, str | None]:
    error = body(response)["error"] if response.status_code != 200 else None
    return response.status_code, error, response.headers.get("WWW-Authenticate")


@pytest.mark.parametrize("allow_query", [False, True])
@pytest.mark.parametrize(
    "how",
    ["none", "basic", "bearer", "lowercase", "two_tokens", "empty", "merged", "query", "both"],
)
def test_bearer_extraction_matches_the_core_rules(
    pingone_mock: MockPingOne, how: str, allow_query: bool
) -> None:
    guard = pingone_mock.guard(realm="api")
    token = pingone_mock.issue_token(["read"])
    headers, query = {
        "none": ({}, {}),
        "basic": ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
        "bearer": (bearer(token), {}),
        "lowercase": ({"Authorization": f"bearer   {token}"}, {}),
        "two_tokens": ({"Authorization": f"Bearer {token} {token}"}, {}),
        "empty": ({"Authorization": "Bearer "}, {}),
        "merged": ({"Authorization": f"Bearer {token}, Bearer {token}"}, {}),
        "query": ({}, {"access_token": token}),
        "both": (bearer(token), {"access_token": token}),
    }[how]
    flask_client = build(guard, P1GUARD_ALLOW_QUERY_TOKEN=allow_query).test_client()
    ours = flask_client.get("/items", headers=headers, query_string=query)
    core = _core_app(guard, allow_query).get("/items", headers=headers, query_string=query)
    assert _outcome(ours) == _outcome(core)


def test_refusal_log_line_matches_the_core_middleware(
    guard: Guard, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="p1guard"):
        client.get("/items", headers={"Authorization": "Bearer a b"})
        _core_app(guard, False).get("/items", headers={"Authorization": "Bearer a b"})
    lines = {record.name: record.getMessage() for record in caplog.records}
    assert lines["p1guard.flask"] == lines["p1guard.wsgi"]
    assert lines["p1guard.flask"] == "rejected GET '/items': malformed_authorization (400)"
