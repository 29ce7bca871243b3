"""Views of the example project: plain Django (function, class-based, async) and DRF."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.http import HttpRequest, JsonResponse
from django.views import View
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from p1guard import AccessToken
from p1guard_django import RequiredScopes, TokenRequest, TokenRequiredMixin, require_token

ITEMS: list[dict[str, Any]] = [{"id": 1, "name": "first item"}]


def _summary(token: AccessToken) -> dict[str, Any]:
    expires_at = token.expires_at
    return {
        "subject": token.subject,
        "client_id": token.client_id,
        "scopes": sorted(token.scopes),
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


def _add_item(payload: object, token: AccessToken) -> dict[str, Any] | None:
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str) or not name.strip():
        return None
    item = {"id": len(ITEMS) + 1, "name": name.strip(), "owner": token.subject or token.client_id}
    ITEMS.append(item)
    return item


def _token(request: Request) -> AccessToken:
    assert isinstance(request.auth, AccessToken)  # HasScopes checked it
    return request.auth


_BAD_ITEM = {"error": "invalid_request", "error_description": 'Send JSON {"name": "..."}'}


def health(request: HttpRequest) -> JsonResponse:
    """Public (``PUBLIC_PATHS``): no token needed."""
    return JsonResponse({"status": "ok"})


class ItemsView(TokenRequiredMixin, View):
    """``GET`` needs ``read``, ``POST`` needs ``write``."""

    required_scopes: ClassVar[RequiredScopes] = {"GET": ["read"], "POST": ["write"]}

    def get(self, request: TokenRequest) -> JsonResponse:
        return JsonResponse({"items": ITEMS})

    def post(self, request: TokenRequest) -> JsonResponse:
        assert request.access_token is not None  # the mixin checked it
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = None
        item = _add_item(payload, request.access_token)
        if item is None:
            return JsonResponse(_BAD_ITEM, status=400)
        return JsonResponse(item, status=201)


@require_token
async def me(request: TokenRequest) -> JsonResponse:
    """Any valid token; an async view."""
    assert request.access_token is not None
    return JsonResponse(_summary(request.access_token))


class DrfItemsView(APIView):
    """The DRF flavour of ``/items``: ``HasScopes`` reads ``required_scopes`` per method."""

    required_scopes: ClassVar[RequiredScopes] = {"GET": ["read"], "POST": ["write"]}

    def get(self, request: Request) -> Response:
        return Response({"items": ITEMS})

    def post(self, request: Request) -> Response:
        item = _add_item(request.data, _token(request))
        if item is None:
            return Response(_BAD_ITEM, status=400)
        return Response(item, status=201)


class DrfMeView(APIView):
    """Any valid token: ``request.auth`` is the AccessToken, ``request.user`` a TokenUser."""

    required_scopes: ClassVar[RequiredScopes] = []  # any valid token

    def get(self, request: Request) -> Response:
        return Response({**_summary(_token(request)), "user": str(request.user)})
