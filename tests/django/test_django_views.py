"""@require_token and TokenRequiredMixin on sync and async views, with and without middleware."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client, override_settings
from django.views import View
from django.views.generic import RedirectView, TemplateView
from django_support import TEST_SETTINGS, Use, bearer

from p1guard import ConfigError
from p1guard.testing import MockPingOne
from p1guard_django import RequiredScopes, TokenRequiredMixin, require_token


def body(response: object) -> dict[str, object]:
    return json.loads(response.content)  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def no_middleware() -> object:
    without = [m for m in TEST_SETTINGS["MIDDLEWARE"] if "p1guard" not in m]
    with override_settings(MIDDLEWARE=without):
        yield


# -- @require_token ------------------------------------------------------------------------


def test_decorator_valid_token_with_scope(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    response = client.get("/open/read", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200
    assert body(response)["token"] == "user-1"
    assert body(response)["user"] == "SimpleLazyObject"  # the session's (no USER_MAPPING)


def test_decorator_no_token_is_401(p1guard: Use, client: Client) -> None:
    response = client.get("/open/read")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_decorator_missing_scope_is_403_naming_it(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["write"])
    response = client.get("/open/read", headers=bearer(token))
    assert response.status_code == 403
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert 'scope="read"' in challenge
    assert body(response)["error"] == "insufficient_scope"


def test_decorator_reports_middleware_error_for_forged_token(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    forged = pingone_mock.issue_token(["read"], audience="https://evil.example.com")
    response = client.get("/open/read", headers=bearer(forged))
    assert response.status_code == 401
    assert body(response)["error"] == "invalid_token"


def test_decorator_match_any(p1guard: Use, client: Client, pingone_mock: MockPingOne) -> None:
    ok = client.get("/open/any", headers=bearer(pingone_mock.issue_token(["admin"])))
    assert ok.status_code == 200
    denied = client.get("/open/any", headers=bearer(pingone_mock.issue_token(["read"])))
    assert denied.status_code == 403
    assert 'scope="admin write"' in denied["WWW-Authenticate"]


def test_decorator_without_middleware_verifies_itself(
    p1guard: Use, no_middleware: None, client: Client, pingone_mock: MockPingOne
) -> None:
    assert client.get("/open/read").status_code == 401
    token = pingone_mock.issue_token(["read"])
    response = client.get("/open/read", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["token"] == "user-1"


def test_decorator_provider_down_is_503(
    p1guard: Use, no_middleware: None, client: Client, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read"])
    pingone_mock.stop()
    response = client.get("/open/read", headers=bearer(token))
    assert response.status_code == 503
    assert response["Retry-After"]


def test_decorated_views_skip_csrf_since_bearer_tokens_are_not_ambient(
    p1guard: Use, pingone_mock: MockPingOne
) -> None:
    strict = Client(enforce_csrf_checks=True)
    token = pingone_mock.issue_token(["write"])
    assert strict.post("/open/items", headers=bearer(token)).status_code == 201
    assert strict.post("/open/items").status_code == 401  # still no way in without a token


def test_async_view_via_sync_client(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    response = client.get("/open/async-me", headers=bearer(pingone_mock.issue_token([])))
    assert response.status_code == 200
    assert body(response)["token"] == "user-1"
    assert body(response)["auser"] == "AnonymousUser"  # the session's (no USER_MAPPING)


async def test_async_view_valid_token(async_client: AsyncClient, pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    response = await async_client.get("/open/async-me", headers=bearer(token))
    assert response.status_code == 200
    assert body(response) == {
        "token": "user-1",
        "user": "SimpleLazyObject",
        "username": "AnonymousUser",
        "authenticated": False,
        "auser": "AnonymousUser",
        "async": True,
    }


async def test_async_view_missing_scope_is_403(
    async_client: AsyncClient, pingone_mock: MockPingOne
) -> None:
    response = await async_client.get(
        "/open/async-write", headers=bearer(pingone_mock.issue_token(["read"]))
    )
    assert response.status_code == 403
    assert 'scope="write"' in response["WWW-Authenticate"]


async def test_async_view_without_middleware(
    async_client: AsyncClient, no_middleware: None, pingone_mock: MockPingOne
) -> None:
    assert (await async_client.get("/open/async-me")).status_code == 401
    token = pingone_mock.issue_token(["read"])
    assert (await async_client.get("/open/async-me", headers=bearer(token))).status_code == 200


def test_require_token_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        require_token("read write")
    with pytest.raises(ConfigError):
        require_token("read", match="most")  # type: ignore[call-overload]


# -- TokenRequiredMixin --------------------------------------------------------------------


def test_mixin_per_method_scopes(p1guard: Use, client: Client, pingone_mock: MockPingOne) -> None:
    reader = bearer(pingone_mock.issue_token(["read"]))
    assert client.get("/open/items", headers=reader).status_code == 200
    assert client.head("/open/items", headers=reader).status_code == 200  # HEAD is GET
    denied = client.post("/open/items", headers=reader)
    assert denied.status_code == 403
    assert 'scope="write"' in denied["WWW-Authenticate"]


def test_mixin_unlisted_method_is_405_with_allow_even_with_every_scope(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read", "write", "admin"])
    response = client.delete("/open/items", headers=bearer(token))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"  # DELETE is implemented but not mapped
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response
    assert body(response) == {
        "error": "method_not_allowed",
        "error_description": "No scope grants this method on this resource",
    }


async def test_async_mixin_unlisted_method_is_405_with_allow(
    async_client: AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read", "write"])
    response = await async_client.delete("/open/async-mapped", headers=bearer(token))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert body(response)["error"] == "method_not_allowed"
    assert (await async_client.delete("/open/async-mapped")).status_code == 401  # token first


def test_mixin_no_token_is_401(p1guard: Use, client: Client) -> None:
    assert client.delete("/open/items").status_code == 401


async def test_mixin_async_view(async_client: AsyncClient, pingone_mock: MockPingOne) -> None:
    ok = await async_client.get(
        "/open/async-items", headers=bearer(pingone_mock.issue_token(["read"]))
    )
    assert ok.status_code == 200
    assert body(ok)["async"] is True
    denied = await async_client.get(
        "/open/async-items", headers=bearer(pingone_mock.issue_token(["write"]))
    )
    assert denied.status_code == 403
    assert (await async_client.get("/open/async-items")).status_code == 401


# -- TokenRequiredMixin placed right of View -----------------------------------------------


def test_mixin_right_of_view_is_improperly_configured() -> None:
    with pytest.raises(ImproperlyConfigured, match="put TokenRequiredMixin left of View"):
        # class Unprotected(View, TokenRequiredMixin): View.dispatch would skip the check
        type("Unprotected", (View, TokenRequiredMixin), {})


@pytest.mark.parametrize("base", [TemplateView, RedirectView])
def test_mixin_right_of_a_generic_view_is_improperly_configured(base: type[View]) -> None:
    with pytest.raises(ImproperlyConfigured, match="TokenRequiredMixin"):
        type("Unprotected", (base, TokenRequiredMixin), {})


def test_mixin_subclass_right_of_view_is_improperly_configured() -> None:
    class ReadMixin(TokenRequiredMixin):  # not a view yet: fine
        required_scopes: ClassVar[RequiredScopes] = ["read"]

    with pytest.raises(ImproperlyConfigured):
        type("Unprotected", (View, ReadMixin), {})
    assert issubclass(type("Protected", (ReadMixin, View), {}), View)


def test_mixin_right_of_drf_api_view_is_improperly_configured() -> None:
    from rest_framework.views import APIView

    with pytest.raises(ImproperlyConfigured):
        type("Unprotected", (APIView, TokenRequiredMixin), {})


def test_mixin_left_of_view_and_subclasses_are_fine() -> None:
    class Items(TokenRequiredMixin, View):
        pass

    class MoreItems(Items):
        pass

    assert MoreItems.__mro__.index(TokenRequiredMixin) < MoreItems.__mro__.index(View)
