"""PingOneBearer as a FastAPI Security dependency, against a live MockPingOne.

No ``from __future__ import annotations``: the routes live inside ``make_app`` and FastAPI could
not resolve ``Security(auth, ...)`` from a string annotation.
"""

import warnings
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request, Security, WebSocket
from starlette.exceptions import HTTPException
from starlette.websockets import WebSocketDisconnect

from p1guard import AccessToken, ConfigError, Guard
from p1guard.testing import MockPingOne
from p1guard_fastapi import AuthHTTPException, PingOneBearer, auth_error_handler

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def make_app(guard: Guard, **options: Any) -> FastAPI:
    auth = PingOneBearer(guard, **options)
    optional = PingOneBearer(guard, auto_error=False)
    app = FastAPI()

    def reader(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> AccessToken:
        return token

    @app.get("/async")
    async def async_route(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> Any:
        return {"sub": token.subject, "scopes": sorted(token.scopes), "route": "async"}

    @app.get("/sync")
    def sync_route(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> Any:
        return {"sub": token.subject, "scopes": sorted(token.scopes), "route": "sync"}

    @app.get("/me")
    async def me(request: Request, token: Annotated[AccessToken, Security(auth)]) -> Any:
        return {"sub": token.subject, "same": request.state.access_token is token}

    @app.get("/nested")
    def nested(token: Annotated[AccessToken, Security(reader, scopes=["write"])]) -> Any:
        return {"scopes": sorted(token.scopes)}

    @app.get("/optional")
    async def maybe(token: Annotated[AccessToken | None, Security(optional)]) -> Any:
        return {"sub": token.subject if token else None}

    @app.get("/optional-admin")
    def maybe_admin(
        token: Annotated[AccessToken | None, Security(optional, scopes=["admin"])],
    ) -> Any:
        return {"sub": token.subject if token else None}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, token: Annotated[AccessToken, Depends(auth)]) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": token.subject})
        await websocket.close()

    return app


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Iterator[TestClient]:
    with TestClient(make_app(pingone_mock.guard())) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the happy path ---------------------------------------------------------------------


def test_token_without_scopes_is_enough_for_plain_security(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    response = client.get("/me", headers=bearer(pingone_mock.issue_token([])))
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "same": True}


def test_introspection_mode_accepts_opaque_token(pingone_mock: MockPingOne) -> None:
    with TestClient(make_app(pingone_mock.guard(mode="introspect"))) as http:
        response = http.get("/sync", headers=bearer(pingone_mock.issue_token(opaque=True)))
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"
    assert pingone_mock.calls["introspect"] == 1


def test_revoked_token_rejected_when_checking_revocation(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    pingone_mock.revoke(token)
    with TestClient(make_app(pingone_mock.guard(), check_revocation=True)) as http:
        response = http.get("/async", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"]["error"] == "invalid_token"


# --- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize(("scopes", "missing"), [(["read"], "write"), (["write"], "read")])
def test_nested_dependency_scopes_combine(
    client: TestClient, pingone_mock: MockPingOne, scopes: list[str], missing: str
) -> None:
    denied = client.get("/nested", headers=bearer(pingone_mock.issue_token(scopes)))
    assert denied.status_code == 403
    assert denied.json()["detail"]["error_description"].endswith(f"scope: {missing}")
    assert 'scope="read write"' in denied.headers["www-authenticate"]
    allowed = client.get("/nested", headers=bearer(pingone_mock.issue_token(["read", "write"])))
    assert allowed.json() == {"scopes": ["read", "write"]}


def test_scopes_match_any(pingone_mock: MockPingOne) -> None:
    with TestClient(make_app(pingone_mock.guard(), match="any")) as http:
        response = http.get("/nested", headers=bearer(pingone_mock.issue_token(["write"])))
    assert response.status_code == 200


def test_realm_is_in_every_challenge(pingone_mock: MockPingOne) -> None:
    with TestClient(make_app(pingone_mock.guard(realm="orders"))) as http:
        missing = http.get("/async")
        bad = http.get("/async", headers=bearer("not-a-jwt"))
    assert missing.headers["www-authenticate"] == 'Bearer realm="orders"'
    assert bad.headers["www-authenticate"].startswith(
        'Bearer realm="orders", error="invalid_token"'
    )


def test_token_in_query_string_allowed_when_opted_in(pingone_mock: MockPingOne) -> None:
    with TestClient(make_app(pingone_mock.guard(), allow_query_token=True)) as http:
        response = http.get("/async", params={"access_token": pingone_mock.issue_token()})
    assert response.status_code == 200


def test_flat_rfc6750_body_with_auth_error_handler(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard())
    app.add_exception_handler(AuthHTTPException, auth_error_handler)
    with TestClient(app) as http:
        response = http.get("/sync", headers=bearer(pingone_mock.issue_token(["write"])))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].endswith('scope="read"')
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the scope: read",
    }


def test_auth_error_handler_leaves_other_http_errors_alone(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard())
    app.add_exception_handler(HTTPException, auth_error_handler)
    with TestClient(app) as http:
        missing = http.get("/async")
        not_found = http.get("/nowhere")
    assert missing.json() == {
        "error": "unauthorized",
        "error_description": "An access token is required",
    }
    assert not_found.status_code == 404
    assert not_found.json() == {"detail": "Not Found"}


# --- auto_error=False -------------------------------------------------------------------


def test_optional_gives_none_without_credentials(client: TestClient) -> None:
    assert client.get("/optional").json() == {"sub": None}
    basic = client.get("/optional", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.json() == {"sub": None}
    assert client.get("/optional-admin").json() == {"sub": None}


def test_optional_still_verifies_a_sent_token(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    valid = client.get("/optional", headers=bearer(pingone_mock.issue_token()))
    assert valid.json() == {"sub": "user-1"}
    bad = client.get("/optional", headers=bearer(pingone_mock.issue_token(expires_in=-600)))
    assert bad.status_code == 401  # a sent token is never downgraded to anonymous
    malformed = client.get("/optional", headers={"Authorization": "Bearer a b"})
    assert malformed.status_code == 400
    no_admin = client.get("/optional-admin", headers=bearer(pingone_mock.issue_token(["read"])))
    assert no_admin.status_code == 403


# --- websockets and construction --------------------------------------------------------


def test_websocket_with_token_is_accepted(client: TestClient, pingone_mock: MockPingOne) -> None:
    with client.websocket_connect("/ws", headers=bearer(pingone_mock.issue_token())) as ws:
        assert ws.receive_json() == {"sub": "user-1"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}])
def test_websocket_without_valid_token_is_closed_1008(
    client: TestClient, headers: dict[str, str]
) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers=headers),
    ):
        pass
    assert info.value.code == 1008


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"match": "some"}, "match"), ({"scheme_name": ""}, "scheme_name")],
)
def test_bad_options_are_config_errors(
    pingone_mock: MockPingOne, kwargs: dict[str, Any], field: str
) -> None:

    with pytest.raises(ConfigError) as info:
        PingOneBearer(pingone_mock.guard(), **kwargs)
    assert info.value.field == field


def test_check_revocation_without_credentials_fails_at_construction(
    pingone_mock: MockPingOne,
) -> None:
    guard = pingone_mock.guard(client_id=None, client_secret=None)
    with pytest.raises(ConfigError) as info:
        PingOneBearer(guard, check_revocation=True)
    assert info.value.field == "check_revocation"
    PingOneBearer(guard, check_revocation=False)


def test_guard_must_be_a_guard() -> None:
    with pytest.raises(ConfigError, match="guard"):
        PingOneBearer("https://auth.pingone.com/x/as")  # type: ignore[arg-type]


def test_repr_names_issuer_not_secrets(pingone_mock: MockPingOne) -> None:
    text = repr(PingOneBearer(pingone_mock.guard()))
    assert pingone_mock.issuer in text
    assert pingone_mock.resource_secret not in text
