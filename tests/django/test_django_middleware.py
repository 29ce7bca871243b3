"""BearerTokenMiddleware (sync and async chains) against a live MockPingOne."""

from __future__ import annotations

import json

import pytest
from django.test import AsyncClient, Client
from django_support import Use, bearer

from p1guard.testing import MockPingOne


def body(response: object) -> dict[str, object]:
    return json.loads(response.content)  # type: ignore[attr-defined,no-any-return]


def forge_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{payload}.{flipped}"


@pytest.fixture(params=["bad_signature", "expired", "wrong_audience"])
def bad_token(request: pytest.FixtureRequest, pingone_mock: MockPingOne) -> str:
    if request.param == "bad_signature":
        return forge_signature(pingone_mock.issue_token(["read"]))
    if request.param == "expired":
        return pingone_mock.issue_token(["read"], expires_in=-300)
    return pingone_mock.issue_token(["read"], audience="https://other.example.com")


# -- protected paths -------------------------------------------------------------------------


def test_valid_token_attached_on_protected_path(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    response = client.get("/api/plain", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200
    assert body(response) == {  # without USER_MAPPING, request.user is the session's
        "token": "user-1",
        "user": "SimpleLazyObject",
        "username": "AnonymousUser",
        "authenticated": False,
    }


def test_no_token_on_protected_path_is_401_with_bare_challenge(
    p1guard: Use, client: Client
) -> None:
    p1guard(REALM="items-api")
    response = client.get("/api/plain")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="items-api"'
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"] == "application/json"
    assert body(response)["error"] == "unauthorized"


@pytest.mark.parametrize(
    "path", ["/x/../api/plain", "/open/..\\api/plain", "/open/..%2Fapi/plain", "/api"]
)
def test_path_tricks_do_not_escape_protection(p1guard: Use, client: Client, path: str) -> None:
    assert client.get(path).status_code == 401


def test_introspection_mode_accepts_opaque_token(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(MODE="introspect")
    token = pingone_mock.issue_token(["read"], opaque=True)
    response = client.get("/api/plain", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["token"] == "user-1"


def test_revoked_token_refused_with_check_revocation(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(CHECK_REVOCATION=True)
    token = pingone_mock.issue_token(["read"])
    pingone_mock.revoke(token)
    response = client.get("/api/plain", headers=bearer(token))
    assert response.status_code == 401
    assert body(response)["error"] == "invalid_token"


# -- unprotected paths -----------------------------------------------------------------------


def test_unprotected_path_without_token_runs_view_with_none(p1guard: Use, client: Client) -> None:
    response = client.get("/open/plain")
    assert response.status_code == 200
    assert body(response)["token"] is None
    assert body(response)["user"] == "SimpleLazyObject"  # the session user is left alone


def test_unprotected_path_attaches_valid_token(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    response = client.get("/open/plain", headers=bearer(pingone_mock.issue_token(["read"])))
    assert body(response)["token"] == "user-1"


def test_forged_token_on_unprotected_path_is_not_attached(
    p1guard: Use, client: Client, bad_token: str
) -> None:
    response = client.get("/open/plain", headers=bearer(bad_token))
    assert response.status_code == 200
    assert body(response)["token"] is None
    assert body(response)["authenticated"] is False


def test_provider_down_on_unprotected_path_attaches_nothing(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read"])
    pingone_mock.stop()
    response = client.get("/open/plain", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["token"] is None


# -- async middleware chain ------------------------------------------------------------------


async def test_async_chain_valid_token(
    async_client: AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read"])
    response = await async_client.get("/api/async", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["token"] == "user-1"
    assert body(response)["async"] is True


async def test_async_chain_no_token_is_401(async_client: AsyncClient) -> None:
    response = await async_client.get("/api/async")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


async def test_async_chain_bad_token_is_401(async_client: AsyncClient, bad_token: str) -> None:
    response = await async_client.get("/api/async", headers=bearer(bad_token))
    assert response.status_code == 401
    assert body(response)["error"] == "invalid_token"


async def test_async_chain_provider_down_is_503(
    async_client: AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read"])
    pingone_mock.stop()
    response = await async_client.get("/api/async", headers=bearer(token))
    assert response.status_code == 503
    assert response["Retry-After"]


async def test_async_chain_opaque_token_introspected(
    async_client: AsyncClient, p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(MODE="introspect")
    token = pingone_mock.issue_token(["read"], opaque=True)
    response = await async_client.get("/api/async", headers=bearer(token))
    assert response.status_code == 200


async def test_async_chain_forged_token_on_unprotected_path_is_not_attached(
    async_client: AsyncClient, bad_token: str
) -> None:
    response = await async_client.get("/open/async", headers=bearer(bad_token))
    assert response.status_code == 200
    assert body(response)["token"] is None


# -- PROTECTED_PATHS entries: the PUBLIC_PATHS syntax ----------------------------------------


def test_protected_paths_star_entry_protects_the_prefix(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(PROTECTED_PATHS=["/api/*"])
    assert client.get("/api/plain").status_code == 401
    assert client.get("/api").status_code == 401
    assert client.get("/api/health").status_code == 200  # PUBLIC_PATHS still win
    assert client.get("/open/plain").status_code == 200
    token = pingone_mock.issue_token(["read"])
    assert client.get("/api/plain", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "path", ["/x/../api/plain", "/open/..\\api/plain", "/open/..%2Fapi/plain", "/open/.//../api/x"]
)
def test_protected_paths_star_entry_resists_path_tricks(
    p1guard: Use, client: Client, path: str
) -> None:
    p1guard(PROTECTED_PATHS=["/api/*"])
    assert client.get(path).status_code == 401


def test_protected_paths_exact_entry_protects_only_that_path(p1guard: Use, client: Client) -> None:
    p1guard(PROTECTED_PATHS=["/open/plain"])
    assert client.get("/open/plain").status_code == 401
    assert client.get("/open/async").status_code == 200
    assert client.get("/api/plain").status_code == 200


async def test_protected_paths_star_entry_in_async_chain(
    async_client: AsyncClient, p1guard: Use
) -> None:
    p1guard(PROTECTED_PATHS=["/api/*"])
    assert (await async_client.get("/api/async")).status_code == 401
    assert (await async_client.get("/open/async")).status_code == 200
