"""PingOneTokenAuthentication and HasScopes / HasAnyScope through DRF's APIClient."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django_support import TEST_SETTINGS, Use
from rest_framework.test import APIClient

from p1guard.testing import MockPingOne
from p1guard_django.drf import TokenRequired, api_exception


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_valid_token_sets_request_auth_and_user(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    response = api.get("/drf/items", **auth(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200
    assert response.json() == {
        "auth": "AccessToken",
        "sub": "user-1",
        "user": "TokenUser",
        "username": "user-1",
    }


def test_no_token_is_401_not_403(p1guard: Use, api: APIClient) -> None:
    p1guard(REALM="items")
    response = api.get("/drf/items")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="items"'
    assert response.json() == {
        "error": "unauthorized",
        "error_description": "An access token is required",
    }
    assert response["Cache-Control"] == "no-store"  # from p1guard_django.drf.exception_handler


def test_per_method_scopes(p1guard: Use, api: APIClient, pingone_mock: MockPingOne) -> None:
    reader = auth(pingone_mock.issue_token(["read"]))
    assert api.get("/drf/items", **reader).status_code == 200
    denied = api.post("/drf/items", {}, format="json", **reader)
    assert denied.status_code == 403
    assert denied["WWW-Authenticate"] == (
        'Bearer error="insufficient_scope", '
        'error_description="The access token lacks the scope: write", scope="write"'
    )
    assert denied.json()["error"] == "insufficient_scope"
    writer = auth(pingone_mock.issue_token(["write"]))
    assert api.post("/drf/items", {}, format="json", **writer).status_code == 201
    assert api.get("/drf/items", **writer).status_code == 403


def test_method_missing_from_scope_mapping_is_405_with_allow(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read", "write", "admin"])
    response = api.delete("/drf/items", **auth(token))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"  # not DRF's default (every handler)
    assert response["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response
    assert response.json() == {
        "error": "method_not_allowed",
        "error_description": "No scope grants this method on this resource",
    }
    assert api.delete("/drf/items").status_code == 401  # the token is checked first


def test_method_missing_from_scope_mapping_is_405_with_drf_default_handler(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    plain = {**TEST_SETTINGS["REST_FRAMEWORK"]}
    del plain["EXCEPTION_HANDLER"]
    with override_settings(REST_FRAMEWORK=plain):
        response = api.delete("/drf/items", **auth(pingone_mock.issue_token(["read"])))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert response.json()["error"] == "method_not_allowed"


def test_has_any_scope(p1guard: Use, api: APIClient, pingone_mock: MockPingOne) -> None:
    assert api.get("/drf/any", **auth(pingone_mock.issue_token(["admin"]))).status_code == 200
    denied = api.get("/drf/any", **auth(pingone_mock.issue_token(["read"])))
    assert denied.status_code == 403
    assert 'scope="admin write"' in denied["WWW-Authenticate"]


def test_view_without_required_scopes_is_a_configuration_error(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    with pytest.raises(ImproperlyConfigured, match="required_scopes"):
        api.get("/drf/misconfigured", **auth(pingone_mock.issue_token(["read"])))


def test_introspection_mode_opaque_token(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    p1guard(MODE="introspect")
    token = pingone_mock.issue_token(["read"], opaque=True)
    response = api.get("/drf/items", **auth(token))
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"


def test_works_without_the_middleware(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    without = [m for m in TEST_SETTINGS["MIDDLEWARE"] if "p1guard" not in m]
    with override_settings(MIDDLEWARE=without):
        assert api.get("/drf/items").status_code == 401
        token = pingone_mock.issue_token(["read"])
        assert api.get("/drf/items", **auth(token)).status_code == 200


def test_default_drf_exception_handler_still_renders_the_challenge(
    p1guard: Use, api: APIClient, pingone_mock: MockPingOne
) -> None:
    plain = {**TEST_SETTINGS["REST_FRAMEWORK"]}
    del plain["EXCEPTION_HANDLER"]
    with override_settings(REST_FRAMEWORK=plain):
        denied = api.post("/drf/items", **auth(pingone_mock.issue_token(["read"])))
        missing = api.get("/drf/items")
    assert denied.status_code == 403
    assert 'scope="write"' in denied["WWW-Authenticate"]
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == "Bearer"


def test_api_exception_maps_errors() -> None:
    from p1guard import InsufficientScope, InvalidToken, MissingToken, ProviderUnavailable

    assert isinstance(api_exception(MissingToken()), TokenRequired)
    assert api_exception(InvalidToken()).status_code == 401
    assert api_exception(InsufficientScope(["read"])).status_code == 403
    unavailable = api_exception(ProviderUnavailable(retry_after=7.2))
    assert (unavailable.status_code, getattr(unavailable, "wait", None)) == (503, 8)
