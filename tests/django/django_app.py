"""Views and URLs the p1guard_django tests run against (``ROOT_URLCONF``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views import View
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from p1guard_django import RequiredScopes, TokenRequiredMixin, require_token
from p1guard_django.drf import HasAnyScope


def describe(request: HttpRequest) -> dict[str, Any]:
    token = getattr(request, "access_token", "absent")
    user = getattr(request, "user", None)
    return {
        "token": token if token in (None, "absent") else token.subject or token.client_id,
        "user": type(user).__name__,
        "username": str(user),
        "authenticated": bool(getattr(user, "is_authenticated", False)),
    }


def plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


async def async_plain(request: HttpRequest) -> JsonResponse:
    return JsonResponse({**describe(request), "async": True})


@login_required
def django_login_required(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@permission_required("auth.view_user", raise_exception=True)
def django_permission_required(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@require_token("read")
def read_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@require_token("write", "admin", match="any")
def any_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


@require_token
async def async_me(request: HttpRequest) -> JsonResponse:
    user = await request.auser()
    return JsonResponse({**describe(request), "auser": type(user).__name__, "async": True})


@require_token("write")
async def async_write(request: HttpRequest) -> JsonResponse:
    return JsonResponse(describe(request))


class ItemsView(TokenRequiredMixin, View):
    required_scopes: ClassVar[RequiredScopes] = {"GET": ["read"], "POST": ["write"]}

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request))

    def post(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request), status=201)

    def delete(self, request: HttpRequest) -> JsonResponse:  # listed in no scope mapping
        return JsonResponse({"deleted": True})


class AsyncItemsView(TokenRequiredMixin, View):
    required_scopes: ClassVar[RequiredScopes] = ["read"]

    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({**describe(request), "async": True})


class AsyncMappedView(TokenRequiredMixin, View):
    required_scopes: ClassVar[RequiredScopes] = {"GET": ["read"]}

    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(describe(request))

    async def delete(self, request: HttpRequest) -> JsonResponse:  # listed in no scope mapping
        return JsonResponse({"deleted": True})


class DrfItems(APIView):
    required_scopes: ClassVar[RequiredScopes] = {"GET": ["read"], "POST": ["write"]}

    def get(self, request: Request) -> Response:
        return Response(drf_describe(request))

    def post(self, request: Request) -> Response:
        return Response(drf_describe(request), status=201)

    def delete(self, request: Request) -> Response:
        return Response(status=204)


class DrfAny(APIView):
    permission_classes: ClassVar[list[Any]] = [HasAnyScope]
    required_scopes: ClassVar[RequiredScopes] = ["write", "admin"]

    def get(self, request: Request) -> Response:
        return Response(drf_describe(request))


class DrfMisconfigured(APIView):  # uses HasScopes but forgot required_scopes
    def get(self, request: Request) -> Response:
        return Response({})


def drf_describe(request: Request) -> dict[str, Any]:
    auth = request.auth
    return {
        "auth": type(auth).__name__,
        "sub": getattr(auth, "subject", None),
        "user": type(request.user).__name__,
        "username": str(request.user),
    }


urlpatterns = [
    path("api/health", plain),
    path("api/plain", plain),
    path("api/async", async_plain),
    path("api/items", ItemsView.as_view()),
    path("open/plain", plain),
    path("open/async", async_plain),
    path("open/read", read_view),
    path("open/any", any_view),
    path("open/async-me", async_me),
    path("open/async-write", async_write),
    path("open/items", ItemsView.as_view()),
    path("open/django-login-required", django_login_required),
    path("open/django-permission-required", django_permission_required),
    path("open/async-items", AsyncItemsView.as_view()),
    path("open/async-mapped", AsyncMappedView.as_view()),
    path("drf/items", DrfItems.as_view()),
    path("drf/any", DrfAny.as_view()),
    path("drf/misconfigured", DrfMisconfigured.as_view()),
]
