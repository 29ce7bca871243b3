"""USER_MAPPING: request.user as a Django user (sqlite in memory), or a TokenUser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client
from django_support import Use, bearer
from rest_framework.test import APIClient

from p1guard import AccessToken
from p1guard.testing import MockPingOne
from p1guard_django import TokenUser

User = get_user_model()


@pytest.fixture(autouse=True)
def clean_users() -> Iterator[None]:
    yield
    User.objects.all().delete()


def body(response: Any) -> dict[str, Any]:
    return json.loads(response.content)  # type: ignore[no-any-return]


def user_for_token(token: AccessToken) -> Any:
    """A USER_MAPPING callable: users by the token's client id."""
    user, _ = User.objects.get_or_create(username=f"client:{token.client_id}")
    return user


def refuse_everyone(token: AccessToken) -> None:
    return None


def test_create_mapping_creates_the_user_once(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="create")
    token = pingone_mock.issue_token(["read"], sub="alice-sub")
    first = client.get("/api/plain", headers=bearer(token))
    assert body(first) == {
        "token": "alice-sub",
        "user": "User",
        "username": "alice-sub",
        "authenticated": True,
    }
    client.get("/api/plain", headers=bearer(pingone_mock.issue_token(["read"], sub="alice-sub")))
    user = User.objects.get(username="alice-sub")
    assert User.objects.count() == 1
    assert not user.has_usable_password()


def test_get_mapping_refuses_unknown_subject(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get")
    token = pingone_mock.issue_token(["read"], sub="stranger")
    response = client.get("/api/plain", headers=bearer(token))
    assert response.status_code == 401
    assert body(response)["error"] == "invalid_token"
    assert User.objects.count() == 0


def test_get_mapping_finds_existing_user_by_configured_field(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get", USER_FIELD="email")
    User.objects.create(username="bob", email="bob-sub")
    response = client.get(
        "/api/plain", headers=bearer(pingone_mock.issue_token(["read"], sub="bob-sub"))
    )
    assert body(response)["username"] == "bob"


def test_inactive_user_is_refused(p1guard: Use, client: Client, pingone_mock: MockPingOne) -> None:
    p1guard(USER_MAPPING="create")
    User.objects.create(username="carol", is_active=False)
    token = pingone_mock.issue_token(["read"], sub="carol")
    assert client.get("/api/plain", headers=bearer(token)).status_code == 401


def test_client_credentials_token_gets_token_user(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="create")
    token = pingone_mock.issue_token(["read"], sub=None)
    response = client.get("/api/plain", headers=bearer(token))
    assert body(response)["user"] == "TokenUser"
    assert body(response)["username"] == pingone_mock.client_id
    assert User.objects.count() == 0


def test_dotted_path_callable_mapping(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="test_django_users.user_for_token")
    response = client.get("/api/plain", headers=bearer(pingone_mock.issue_token(sub=None)))
    assert body(response)["username"] == f"client:{pingone_mock.client_id}"


def test_callable_returning_none_refuses(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING=refuse_everyone)
    assert client.get("/api/plain", headers=bearer(pingone_mock.issue_token())).status_code == 401


def test_unknown_subject_on_unprotected_path_attaches_nothing(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get")
    response = client.get("/open/plain", headers=bearer(pingone_mock.issue_token()))
    assert body(response)["token"] is None


def test_drf_returns_mapped_user(p1guard: Use, pingone_mock: MockPingOne) -> None:
    p1guard(USER_MAPPING="create")
    token = pingone_mock.issue_token(["read"], sub="dave")
    response = APIClient().get("/drf/items", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.json()["user"] == "User"
    assert response.json()["username"] == "dave"


async def test_async_chain_maps_user_in_a_worker_thread(
    async_client: AsyncClient, p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="create")
    token = pingone_mock.issue_token(["read"], sub="erin")
    response = await async_client.get("/open/async-me", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["user"] == "User"
    assert body(response)["auser"] == "User"
    assert await User.objects.filter(username="erin").aexists()


def test_token_user_looks_like_an_authenticated_anonymous_user() -> None:
    token = AccessToken({"sub": "u1", "scope": "read"}, token_id="ab12cd34")
    user = TokenUser(token)
    assert (user.is_authenticated, user.is_anonymous, user.pk, user.is_staff) == (
        True,
        False,
        None,
        False,
    )
    assert user.token is token
    assert user.get_username() == "u1"
    assert not user.has_perm("auth.view_user")
    assert user.get_all_permissions() == set()
    assert user == TokenUser(token)
    assert "u1" in repr(user)


# -- USER_FIELD that is not unique, or cannot hold the subject: 401, never a 500 -------------


def test_non_unique_user_field_is_401_not_500(
    p1guard: Use, client: Client, pingone_mock: MockPingOne, caplog: pytest.LogCaptureFixture
) -> None:
    p1guard(USER_MAPPING="get", USER_FIELD="email")  # auth.User.email is not unique
    User.objects.create(username="twin-1", email="shared-sub")
    User.objects.create(username="twin-2", email="shared-sub")
    token = pingone_mock.issue_token(["read"], sub="shared-sub")
    protected = client.get("/api/plain", headers=bearer(token))
    assert protected.status_code == 401
    assert body(protected)["error"] == "invalid_token"
    assert "p1guard.E006" in caplog.text
    unprotected = client.get("/open/plain", headers=bearer(token))
    assert unprotected.status_code == 200
    assert body(unprotected)["token"] is None


def test_non_unique_user_field_through_drf_is_401_not_500(
    p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="create", USER_FIELD="email")
    User.objects.create(username="twin-1", email="shared-sub")
    User.objects.create(username="twin-2", email="shared-sub")
    token = pingone_mock.issue_token(["read"], sub="shared-sub")
    response = APIClient().get("/drf/items", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert User.objects.count() == 2


def test_user_field_that_cannot_hold_the_subject_is_401_not_500(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get", USER_FIELD="id")  # an integer column; sub is a UUID
    token = pingone_mock.issue_token(["read"], sub="2a6b1e3c-not-a-number")
    assert client.get("/api/plain", headers=bearer(token)).status_code == 401


# -- request.user is only replaced when USER_MAPPING asks for it ----------------------------


def test_token_without_user_mapping_does_not_pass_django_login_required(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["anything"])
    response = client.get("/open/django-login-required", headers=bearer(token))
    assert response.status_code == 302  # Django's login_required: to LOGIN_URL
    denied = client.get("/open/django-permission-required", headers=bearer(token))
    assert denied.status_code == 403


def test_token_without_user_mapping_still_attaches_access_token(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    response = client.get("/open/plain", headers=bearer(pingone_mock.issue_token(["read"])))
    assert body(response)["token"] == "user-1"
    assert body(response)["user"] == "SimpleLazyObject"  # the session's, untouched
    assert body(response)["authenticated"] is False


def test_token_user_mapping_sets_request_user_explicitly(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="p1guard_django.TokenUser")
    response = client.get("/open/plain", headers=bearer(pingone_mock.issue_token(["read"])))
    assert body(response) == {
        "token": "user-1",
        "user": "TokenUser",
        "username": "user-1",
        "authenticated": True,
    }
    denied = client.get(
        "/open/django-permission-required", headers=bearer(pingone_mock.issue_token(["read"]))
    )
    assert denied.status_code == 403  # a TokenUser has no Django permissions


async def test_token_user_mapping_sets_auser_in_async_chain(
    async_client: AsyncClient, p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="p1guard_django.TokenUser")
    token = pingone_mock.issue_token(["read"])
    response = await async_client.get("/open/async-me", headers=bearer(token))
    assert (body(response)["user"], body(response)["auser"]) == ("TokenUser", "TokenUser")


def test_mapped_user_passes_django_login_required(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="create")
    token = pingone_mock.issue_token(["read"], sub="frank")
    response = client.get("/open/django-login-required", headers=bearer(token))
    assert response.status_code == 200
    assert body(response)["username"] == "frank"


# -- the 401 of an unknown or inactive mapped user names the realm ---------------------------


def test_unknown_mapped_user_401_names_the_realm(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get", REALM="items-api")
    token = pingone_mock.issue_token(["read"], sub="stranger")
    response = client.get("/api/plain", headers=bearer(token))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith(
        'Bearer realm="items-api", error="invalid_token"'
    )


def test_inactive_mapped_user_401_names_the_realm_through_drf(
    p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get", REALM="items-api")
    User.objects.create(username="gina", is_active=False)
    token = pingone_mock.issue_token(["read"], sub="gina")
    response = APIClient().get("/drf/items", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert 'realm="items-api"' in response["WWW-Authenticate"]


async def test_unknown_mapped_user_401_names_the_realm_in_async_chain(
    async_client: AsyncClient, p1guard: Use, pingone_mock: MockPingOne
) -> None:
    p1guard(USER_MAPPING="get", REALM="items-api")
    token = pingone_mock.issue_token(["read"], sub="stranger")
    response = await async_client.get("/api/async", headers=bearer(token))
    assert response.status_code == 401
    assert 'realm="items-api"' in response["WWW-Authenticate"]
