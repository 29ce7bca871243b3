"""p1.protect_blueprint: every endpoint of a blueprint guarded by one before_request hook."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from flask_helpers import bearer, body

from p1guard import ConfigError, Guard
from p1guard.testing import MockPingOne
from p1guard_flask import P1Guard, current_token


@pytest.fixture
def guard(pingone_mock: MockPingOne) -> Guard:
    return pingone_mock.guard()


def _blueprint(name: str, prefix: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=prefix)

    @bp.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @bp.route("/items", methods=["GET", "POST"])
    def items() -> dict[str, Any]:
        return {"sub": current_token.subject}

    @bp.get("/async")
    async def async_view() -> dict[str, Any]:
        return {"sub": current_token.subject}

    return bp


@pytest.fixture
def client(guard: Guard) -> FlaskClient:
    app = Flask(__name__)
    p1 = P1Guard(app, guard=guard)
    api = _blueprint("api", "/api")
    p1.protect_blueprint(api, ["read"], public_endpoints=["health"])
    admin = _blueprint("admin", "/admin")
    p1.protect_blueprint(admin, "admin")
    nested_parent = Blueprint("v2", __name__, url_prefix="/v2")
    nested_parent.register_blueprint(_blueprint("inner", "/inner"))
    p1.protect_blueprint(nested_parent, public_endpoints=["v2.inner.health"])
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(nested_parent)

    @app.get("/open")
    def open_view() -> dict[str, str]:
        return {"status": "public"}

    return app.test_client()


def test_blueprint_endpoints_need_a_token(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    assert client.get("/api/items").status_code == 401
    response = client.get("/api/items", headers=bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200
    assert body(response) == {"sub": "user-1"}


def test_blueprint_async_view_sees_the_token(
    client: FlaskClient, pingone_mock: MockPingOne
) -> None:
    response = client.get("/api/async", headers=bearer(pingone_mock.issue_token(["read"])))
    assert body(response) == {"sub": "user-1"}


def test_blueprint_scopes_apply_to_every_method(
    client: FlaskClient, pingone_mock: MockPingOne
) -> None:
    response = client.post("/api/items", headers=bearer(pingone_mock.issue_token(["write"])))
    assert response.status_code == 403
    assert 'scope="read"' in response.headers["WWW-Authenticate"]


def test_public_endpoint_served_without_token(client: FlaskClient) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/open").status_code == 200


def test_public_endpoint_name_does_not_leak_to_other_blueprints(client: FlaskClient) -> None:
    # "health" was made public on `api` only; `admin.health` keeps needing a token.
    assert client.get("/admin/health").status_code == 401


def test_admin_blueprint_needs_admin_scope(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    reader = bearer(pingone_mock.issue_token(["read"]))
    assert client.get("/admin/items", headers=reader).status_code == 403
    admin = bearer(pingone_mock.issue_token(["admin"]))
    assert client.get("/admin/items", headers=admin).status_code == 200


def test_nested_blueprint_is_protected_with_dotted_public_names(
    client: FlaskClient, pingone_mock: MockPingOne
) -> None:
    assert client.get("/v2/inner/items").status_code == 401
    assert client.get("/v2/inner/health").status_code == 200
    token = bearer(pingone_mock.issue_token([]))
    assert client.get("/v2/inner/items", headers=token).status_code == 200


def test_cors_preflight_options_stays_public(client: FlaskClient) -> None:
    response = client.options("/api/items")
    assert response.status_code == 200
    assert "POST" in response.headers["Allow"]


def test_path_tricks_do_not_reach_public_endpoint(client: FlaskClient) -> None:
    # Public-ness is decided by the routed endpoint, never by the raw path.
    for path in (
        "/api/health/../items",
        "/api//items",
        "/api/items;health",
        "/api/health%2F..%2Fitems",
    ):
        assert client.get(path).status_code in (308, 401, 404)  # 308: slash merge


def test_bad_public_endpoints_config_is_refused(guard: Guard) -> None:
    p1 = P1Guard(guard=guard)
    bp = Blueprint("bp", __name__)
    with pytest.raises(ConfigError, match="public_endpoints"):
        p1.protect_blueprint(bp, public_endpoints="health")
    with pytest.raises(ConfigError, match="public_endpoints"):
        p1.protect_blueprint(bp, public_endpoints=[""])
    with pytest.raises(ConfigError, match="match"):
        p1.protect_blueprint(bp, match="some")  # type: ignore[arg-type]
