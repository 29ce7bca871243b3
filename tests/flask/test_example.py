"""examples/flask_api.py: the demo routes, with the same probes as ``p1guard demo``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_helpers import bearer, body

from p1guard import ConfigError
from p1guard._cli.demo_probes import GARBAGE_TOKEN, PROBES, Probe, challenge_error
from p1guard.testing import MockPingOne

EXAMPLE = Path(__file__).parents[2] / "examples" / "flask_api.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_api_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(pingone_mock: MockPingOne) -> FlaskClient:
    app: Flask = _load().create_app(pingone_mock.guard())
    return app.test_client()


def _headers(op: MockPingOne, probe: Probe) -> dict[str, str]:
    if probe.sends == "read":
        return bearer(op.issue_token(["read"]))
    if probe.sends == "write":  # like the client-credentials token of `p1guard demo`
        return bearer(op.issue_token(["read", "write"], sub=None))
    if probe.sends == "garbage":
        return bearer(GARBAGE_TOKEN)
    return {}


@pytest.mark.parametrize("probe", PROBES, ids=lambda probe: probe.label)
def test_demo_probes(client: FlaskClient, pingone_mock: MockPingOne, probe: Probe) -> None:
    response = client.open(
        probe.path, method=probe.method, json=probe.json, headers=_headers(pingone_mock, probe)
    )
    assert response.status_code == probe.expect_status
    assert challenge_error(response.headers.get("WWW-Authenticate")) == probe.expect_error


def test_items_round_trip(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    writer = bearer(pingone_mock.issue_token(["read", "write"]))
    created = client.post("/items", json={"name": " tea "}, headers=writer)
    assert created.status_code == 201
    assert body(created) == {"id": 2, "name": "tea", "owner": "user-1"}
    listed = client.get("/items", headers=writer)
    assert [item["name"] for item in body(listed)["items"]] == ["first item", "tea"]
    invalid = client.post("/items", json={"name": ""}, headers=writer)
    assert invalid.status_code == 400
    assert body(invalid)["error"] == "invalid_request"


def test_me_describes_the_token(client: FlaskClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/me", headers=bearer(pingone_mock.issue_token(["read"])))
    data = body(response)
    assert data["subject"] == "user-1"
    assert data["client_id"] == pingone_mock.client_id
    assert data["scopes"] == ["read"]
    assert data["expires_at"].endswith("+00:00")


def test_create_app_reads_environment(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("P1GUARD_ISSUER", pingone_mock.issuer)
    monkeypatch.setenv("P1GUARD_AUDIENCE", pingone_mock.audience)
    app = _load().create_app()
    try:
        response = app.test_client().get(
            "/items", headers=bearer(pingone_mock.issue_token(["read"]))
        )
        assert response.status_code == 200
    finally:
        app.extensions["p1guard"].guard.close()


def test_create_app_without_configuration_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("P1GUARD_ENV_ID", "P1GUARD_ISSUER", "P1GUARD_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="P1GUARD_ENV_ID"):
        _load().create_app()
