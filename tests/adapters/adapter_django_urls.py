"""The contract routes for p1guard_django (``ROOT_URLCONF`` while the ``django`` driver runs):
``@require_token`` views and DRF views (``PingOneTokenAuthentication`` + ``HasScopes``), all
under the middleware's protected ``/api/`` prefix, with ``/api/public`` a public path."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from p1guard_django import RequiredScopes, require_token


def claims(token: Any) -> dict[str, Any]:
    return {"sub": token.subject, "scopes": sorted(token.scopes)}


@require_token("read")
def read(request: HttpRequest) -> JsonResponse:
    return JsonResponse(claims(request.access_token))  # type: ignore[attr-defined]


def public(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"public": True})


class DrfWrite(APIView):
    required_scopes: ClassVar[RequiredScopes] = ["write"]

    def get(self, request: Request) -> Response:
        return Response(claims(request.auth))


class DrfDpop(APIView):
    required_scopes: ClassVar[RequiredScopes] = ["read"]

    def get(self, request: Request) -> Response:
        return Response(claims(request.auth))


urlpatterns = [
    path("api/read", read),
    path("api/write", DrfWrite.as_view()),
    path("api/public", public),
    path("api/dpop", DrfDpop.as_view()),
]
