"""RFC 9728 in p1guard-flask: a request without a token (refused before the Guard sees it)
gets ``resource_metadata`` in its 401 challenge when the Guard has ``resource_metadata_url``;
``metadata_blueprint`` serves the document."""

from __future__ import annotations

import doctest
from typing import Any

from flask import Flask

import p1guard_flask.metadata as metadata_module
from p1guard._web.resource_metadata import WELL_KNOWN_PREFIX, ResourceMetadata
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard
from p1guard_flask.metadata import metadata_blueprint

MD_URL = "https://api.example.com/.well-known/oauth-protected-resource"


def _app(pingone_mock: MockPingOne, **guard_options: Any) -> Flask:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=pingone_mock.guard(**guard_options))

    @app.get("/items")
    @p1.require_token("read")
    def items() -> dict[str, Any]:
        return {}

    @app.get("/async/items")
    @p1.require_token("read")
    async def async_items() -> dict[str, Any]:
        return {}

    return app


def test_no_token_401_names_the_metadata(pingone_mock: MockPingOne) -> None:
    client = _app(pingone_mock, resource_metadata_url=MD_URL).test_client()
    for path in ("/items", "/async/items"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].endswith(f'resource_metadata="{MD_URL}"')


def test_without_metadata_url_the_challenge_is_bare(pingone_mock: MockPingOne) -> None:
    response = _app(pingone_mock).test_client().get("/items")
    assert response.status_code == 401
    assert "resource_metadata" not in response.headers["WWW-Authenticate"]


def test_metadata_blueprint_serves_the_document(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(resource_metadata_url=MD_URL)
    document = ResourceMetadata.for_guard(guard, scopes_supported=["read"])
    app = _app(pingone_mock, resource_metadata_url=MD_URL)
    app.register_blueprint(metadata_blueprint(document))
    client = app.test_client()
    response = client.get(WELL_KNOWN_PREFIX)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "max-age=3600"
    assert response.get_json() == document.document()
    assert client.head(WELL_KNOWN_PREFIX).status_code == 200
    assert client.post(WELL_KNOWN_PREFIX).status_code == 405


def test_doctests() -> None:
    result = doctest.testmod(metadata_module)
    assert result.attempted and not result.failed
