"""Step-up (RFC 9470) and claim rules on TokenRequiredMixin and DRF's ``TokenRules`` permission,
with Django's test clients. This module is also the URLconf of its tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path
from django.views import View
from django_support import Use, bearer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from p1guard import ConfigError, Contains, Equals
from p1guard._tokens.claims import ClaimRule
from p1guard.testing import MockPingOne
from p1guard_django import TokenRequiredMixin
from p1guard_django.drf import HasScopes, TokenRules

CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A different authentication level is required", '
    'acr_values="Multi_Factor", max_age="300"'
)


class AdminView(TokenRequiredMixin, View):
    required_scopes = ("read",)
    acr_values = "Multi_Factor"
    max_age = 300
    claims: ClassVar[tuple[ClaimRule, ...]] = (Contains("groups", "admins"),)

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.access_token.subject})  # type: ignore[attr-defined]


class AsyncAdminView(AdminView):
    async def get(self, request: HttpRequest) -> JsonResponse:  # type: ignore[override]
        return JsonResponse({"sub": request.access_token.subject})  # type: ignore[attr-defined]


class DrfTransfer(APIView):
    permission_classes = (
        HasScopes,
        TokenRules(acr_values=["Multi_Factor"], max_age=300, claims=[Equals("stage", "prod")]),
    )
    required_scopes: ClassVar[list[str]] = ["read"]

    def get(self, request: Request) -> Response:
        return Response({"acr": request.auth.claims["acr"]})


urlpatterns = [
    path("cbv/admin", AdminView.as_view()),
    path("cbv/async-admin", AsyncAdminView.as_view()),
    path("cbv/override", AdminView.as_view(claims=[Equals("stage", "prod")])),
    path("drf/transfer", DrfTransfer.as_view()),
]


@pytest.fixture
def urls(p1guard: Use) -> Iterator[None]:
    p1guard(PROTECTED_PATHS=[])
    with override_settings(ROOT_URLCONF=__name__):
        yield


def token(op: MockPingOne, scopes: list[str] | None = None, **claims: Any) -> dict[str, str]:
    base = {"acr": "Multi_Factor", "auth_time": int(time.time())}
    return bearer(op.issue_token(scopes or ["read"], claims={**base, **claims}))


@pytest.mark.usefixtures("urls")
def test_mixin_step_up_then_claims(client: Client, pingone_mock: MockPingOne) -> None:
    weak = client.get("/cbv/admin", headers=bearer(pingone_mock.issue_token(["read"])))
    assert weak.status_code == 401
    assert weak["WWW-Authenticate"] == CHALLENGE
    not_admin = client.get("/cbv/admin", headers=token(pingone_mock, groups=["staff"]))
    assert not_admin.status_code == 403
    assert json.loads(not_admin.content)["error_description"] == (
        "The access token does not satisfy: groups contains 'admins'"
    )
    ok = client.get("/cbv/admin", headers=token(pingone_mock, groups=["admins"]))
    assert ok.status_code == 200
    # as_view(claims=…) replaces the class's rules for that route
    overridden = client.get("/cbv/override", headers=token(pingone_mock, groups=["admins"]))
    assert overridden.status_code == 403
    assert "stage equals 'prod'" in json.loads(overridden.content)["error_description"]
    assert client.get("/cbv/override", headers=token(pingone_mock, stage="prod")).status_code == 200


@pytest.mark.usefixtures("urls")
async def test_async_mixin_step_up_then_claims(
    async_client: AsyncClient, pingone_mock: MockPingOne
) -> None:
    weak = await async_client.get(
        "/cbv/async-admin", headers=bearer(pingone_mock.issue_token(["read"]))
    )
    assert weak.status_code == 401
    assert weak["WWW-Authenticate"] == CHALLENGE
    ok = await async_client.get("/cbv/async-admin", headers=token(pingone_mock, groups=["admins"]))
    assert ok.status_code == 200


def test_mixin_refuses_bad_rules_when_defined() -> None:
    with pytest.raises(ConfigError) as caught:

        class Bad(TokenRequiredMixin, View):
            claims = ("groups contains admins",)  # type: ignore[assignment]

    assert caught.value.field == "claims"
    with pytest.raises(ConfigError) as caught:
        AdminView.as_view(acr_values=["two words"])
    assert caught.value.field == "acr_values"


@pytest.mark.usefixtures("urls")
def test_drf_token_rules(client: Client, pingone_mock: MockPingOne) -> None:
    weak = client.get("/drf/transfer", headers=bearer(pingone_mock.issue_token(["read"])))
    assert weak.status_code == 401
    # DRF must not swap the step-up challenge for the plain one of the authentication class
    assert weak["WWW-Authenticate"] == CHALLENGE
    assert weak["Cache-Control"] == "no-store"
    assert weak.json()["error"] == "insufficient_user_authentication"

    stale = token(pingone_mock, stage="prod", auth_time=int(time.time()) - 3600)
    refused = client.get("/drf/transfer", headers=stale)
    assert refused.status_code == 401
    assert "More recent authentication" in refused["WWW-Authenticate"]

    dev = client.get("/drf/transfer", headers=token(pingone_mock, stage="dev"))
    assert dev.status_code == 403
    assert dev.json()["error"] == "access_denied"
    assert dev["WWW-Authenticate"].startswith('Bearer error="access_denied"')

    # HasScopes runs first: no "read" is 403 insufficient_scope, whatever the sign-in
    no_scope = client.get("/drf/transfer", headers=token(pingone_mock, ["write"], stage="prod"))
    assert no_scope.json()["error"] == "insufficient_scope"

    missing = client.get("/drf/transfer")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")

    ok = client.get("/drf/transfer", headers=token(pingone_mock, stage="prod"))
    assert ok.status_code == 200
    assert ok.json() == {"acr": "Multi_Factor"}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"acr_values": ["two words"]}, "acr_values"),
        ({"max_age": -1}, "max_age"),
        ({"claims": [("stage", "prod")]}, "claims"),
    ],
)
def test_drf_token_rules_refuse_bad_values(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        TokenRules(**options)
    assert caught.value.field == field
