"""RFC 9728 in p1guard-django: 401s without a token name ``resource_metadata`` when the Guard
has ``resource_metadata_url`` (middleware, decorator, DRF); ``metadata_path`` serves the
document."""

from __future__ import annotations

import doctest
import json

import pytest
from django.test import Client, override_settings
from django_support import Use

import p1guard_django.metadata as metadata_module
from p1guard._web.resource_metadata import ResourceMetadata
from p1guard_django.metadata import metadata_path

MD_URL = "https://api.example.com/.well-known/oauth-protected-resource"


@pytest.mark.parametrize("path", ["/api/plain", "/open/read", "/drf/items"])
def test_no_token_401_names_the_metadata(p1guard: Use, client: Client, path: str) -> None:
    p1guard(GUARD_OPTIONS={"resource_metadata_url": MD_URL})
    response = client.get(path)
    assert response.status_code == 401
    assert f'resource_metadata="{MD_URL}"' in response.headers["WWW-Authenticate"]


def test_without_metadata_url_the_challenge_is_unchanged(p1guard: Use, client: Client) -> None:
    response = client.get("/api/plain")
    assert response.status_code == 401
    assert "resource_metadata" not in response.headers["WWW-Authenticate"]


# -- serving the document ----------------------------------------------------------------------

DOCUMENT = ResourceMetadata(
    "https://api.example.com", "https://auth.pingone.eu/env/as", scopes_supported=["read"]
)
urlpatterns = [metadata_path(DOCUMENT)]


@override_settings(ROOT_URLCONF=__name__)
def test_metadata_path_serves_the_document(client: Client) -> None:
    response = client.get("/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert json.loads(response.content) == DOCUMENT.document()
    assert client.head("/.well-known/oauth-protected-resource").status_code == 200
    assert client.post("/.well-known/oauth-protected-resource").status_code == 405


def test_doctests() -> None:
    result = doctest.testmod(metadata_module)
    assert result.attempted and not result.failed
