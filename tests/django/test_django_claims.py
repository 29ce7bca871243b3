"""Claim rules on @require_token, with Django's test Client. This module is also the URLconf
of its test (``ROOT_URLCONF = __name__``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django_support import Use, bearer

from p1guard import Contains
from p1guard.testing import MockPingOne
from p1guard_django import require_token


@require_token("read", claims=[Contains("groups", "admins")])
def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.access_token.subject})  # type: ignore[attr-defined]


urlpatterns = [path("claims/admin", admin)]


@pytest.fixture
def urls() -> Iterator[None]:
    with override_settings(ROOT_URLCONF=__name__):
        yield


@pytest.mark.usefixtures("urls")
def test_django_require_token_claims(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    p1guard(PROTECTED_PATHS=[])
    ok = bearer(pingone_mock.issue_token(claims={"groups": ["staff", "admins"]}))
    assert client.get("/claims/admin", headers=ok).status_code == 200
    refused = client.get("/claims/admin", headers=bearer(pingone_mock.issue_token()))
    assert refused.status_code == 403
    assert json.loads(refused.content) == {
        "error": "access_denied",
        "error_description": "The access token does not satisfy: groups contains 'admins'",
    }
