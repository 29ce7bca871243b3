"""Step-up authentication (RFC 9470) on @require_token and TokenRequiredMixin, with Django's
test Client. This module is also the URLconf of its tests (``ROOT_URLCONF = __name__``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django.views import View
from django_support import Use, bearer

from p1guard import ConfigError
from p1guard.testing import MockPingOne
from p1guard_django import TokenRequiredMixin, require_token


@require_token("read", acr_values=["Multi_Factor"], max_age=300)
def transfer(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"acr": request.access_token.claims["acr"]})  # type: ignore[attr-defined]


class TransferView(TokenRequiredMixin, View):
    required_scopes = ("read",)
    acr_values: ClassVar[tuple[str, ...] | None] = ("Multi_Factor",)
    max_age: ClassVar[int | None] = 300

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"acr": request.access_token.claims["acr"]})  # type: ignore[attr-defined]


urlpatterns = [path("step-up/fn", transfer), path("step-up/cbv", TransferView.as_view())]


@pytest.fixture
def urls() -> Iterator[None]:
    with override_settings(ROOT_URLCONF=__name__):
        yield


@pytest.mark.usefixtures("urls")
def test_django_step_up(p1guard: Use, client: Client, pingone_mock: MockPingOne) -> None:
    p1guard(PROTECTED_PATHS=[])
    weak = bearer(pingone_mock.issue_token())
    stale = bearer(pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": 1}))
    strong = bearer(
        pingone_mock.issue_token(claims={"acr": "Multi_Factor", "auth_time": int(time.time())})
    )
    for url in ("/step-up/fn", "/step-up/cbv"):
        refused = client.get(url, headers=weak)
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"] == (
            'Bearer error="insufficient_user_authentication", '
            'error_description="A different authentication level is required", '
            'acr_values="Multi_Factor", max_age="300"'
        )
        assert json.loads(refused.content)["error"] == "insufficient_user_authentication"
        refused = client.get(url, headers=stale)
        assert refused.status_code == 401
        assert "More recent authentication" in refused["WWW-Authenticate"]
        ok = client.get(url, headers=strong)
        assert ok.status_code == 200
        assert json.loads(ok.content) == {"acr": "Multi_Factor"}
    with pytest.raises(ConfigError):
        require_token(acr_values=["two words"])
    with pytest.raises(ConfigError):

        class Bad(TokenRequiredMixin, View):
            max_age = -1
