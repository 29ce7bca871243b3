"""examples/fastapi_api.py: the items API, its OpenAPI document, and the demo's probes."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from p1guard import ConfigError
from p1guard._cli.demo_probes import GARBAGE_TOKEN, PROBES, challenge_error
from p1guard.testing import MockPingOne

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_api.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_api_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(pingone_mock: MockPingOne) -> Iterator[TestClient]:
    with TestClient(load_example().create_app(pingone_mock.guard())) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_is_public(client: TestClient) -> None:
    response = client.get("/health")
    assert response.json() == {"status": "ok"}


def test_items_need_read(client: TestClient, pingone_mock: MockPingOne) -> None:
    listed = client.get("/items", headers=bearer(pingone_mock.issue_token(["read"])))
    assert listed.json() == {"items": [{"name": "first item", "id": 1, "owner": None}]}
    denied = client.get("/items", headers=bearer(pingone_mock.issue_token(["write"])))
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"].endswith('scope="read"')
    assert client.get("/items").status_code == 401


def test_create_item_needs_write(client: TestClient, pingone_mock: MockPingOne) -> None:
    writer = bearer(pingone_mock.issue_token(["read", "write"], sub=None))
    created = client.post("/items", json={"name": "  coffee "}, headers=writer)
    assert created.status_code == 201
    assert created.json() == {"name": "coffee", "id": 2, "owner": "mock-client"}
    assert client.get("/items", headers=writer).json()["items"][1]["name"] == "coffee"
    reader = bearer(pingone_mock.issue_token(["read"]))
    denied = client.post("/items", json={"name": "tea"}, headers=reader)
    assert denied.status_code == 403
    assert denied.json()["detail"]["error"] == "insufficient_scope"


def test_invalid_item_is_422_only_with_a_token(
    client: TestClient, pingone_mock: MockPingOne
) -> None:
    writer = bearer(pingone_mock.issue_token(["write"]))
    assert client.post("/items", json={"name": " "}, headers=writer).status_code == 422
    assert client.post("/items", json={"name": " "}).status_code == 401
    # FastAPI decodes JSON before running dependencies (documented in the README).
    garbled = {"Content-Type": "application/json"}
    assert client.post("/items", content=b"{oops", headers=garbled).status_code == 422


def test_me_describes_any_valid_token(client: TestClient, pingone_mock: MockPingOne) -> None:
    response = client.get("/me", headers=bearer(pingone_mock.issue_token([])))
    body = response.json()
    assert (body["subject"], body["client_id"], body["scopes"]) == ("user-1", "mock-client", [])
    assert body["expires_at"].endswith("Z") or body["expires_at"].endswith("+00:00")
    expired = client.get("/me", headers=bearer(pingone_mock.issue_token(expires_in=-600)))
    assert expired.status_code == 401


def test_openapi_documents_the_scopes(client: TestClient, pingone_mock: MockPingOne) -> None:
    document = client.get("/openapi.json").json()
    flow = document["components"]["securitySchemes"]["PingOne"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{pingone_mock.issuer}/authorize"
    assert flow["scopes"] == {"read": "List items", "write": "Create items"}
    assert document["paths"]["/items"]["post"]["security"] == [{"PingOne": ["write"]}]


def test_demo_probes_pass(client: TestClient, pingone_mock: MockPingOne) -> None:
    tokens = {
        "read": pingone_mock.issue_token(["read"]),
        "write": pingone_mock.issue_token(["read", "write"], sub=None),
        "garbage": GARBAGE_TOKEN,
    }
    for probe in PROBES:
        headers = bearer(tokens[probe.sends]) if probe.sends in tokens else {}
        response = client.request(probe.method, probe.path, headers=headers, json=probe.json)
        assert response.status_code == probe.expect_status, probe.label
        challenge = challenge_error(response.headers.get("www-authenticate"))
        assert challenge == probe.expect_error, probe.label


def test_module_level_app_is_built_from_environment(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("P1GUARD_ENV_ID", raising=False)
    monkeypatch.setenv("P1GUARD_ISSUER", pingone_mock.issuer)
    monkeypatch.setenv("P1GUARD_AUDIENCE", pingone_mock.audience)
    monkeypatch.setenv("P1GUARD_SWAGGER_CLIENT_ID", "spa-client")
    module = load_example()
    assert module.app is module.app
    with TestClient(module.app) as http:
        ok = http.get("/items", headers=bearer(pingone_mock.issue_token(["read"])))
        docs = http.get("/docs").text
    assert ok.status_code == 200
    assert '"clientId": "spa-client"' in docs


def test_module_level_app_without_audience_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:

    monkeypatch.setenv("P1GUARD_ENV_ID", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    monkeypatch.delenv("P1GUARD_AUDIENCE", raising=False)
    module = load_example()
    with pytest.raises(ConfigError, match="P1GUARD_AUDIENCE"):
        _ = module.app
    with pytest.raises(AttributeError):
        _ = module.missing
