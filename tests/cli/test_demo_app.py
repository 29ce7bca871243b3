"""The Starlette demo app (``p1guard._cli.demo_app``, its probes in ``demo_probes``, served by
``demo_server``) and ``examples/starlette_api.py``."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from p1guard import ConfigError
from p1guard._cli import demo_app, demo_probes, demo_server
from p1guard._cli.common import MissingExtra
from p1guard._cli.demo_app import build_starlette_demo, demo_framework
from p1guard._cli.demo_probes import GARBAGE_TOKEN, challenge_error
from p1guard._cli.main import main
from p1guard.testing import MockPingOne

EXAMPLE = Path(__file__).parents[2] / "examples" / "starlette_api.py"


@asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """``app`` behind an in-memory transport, with its lifespan run (which closes the guard)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            yield client


@pytest.fixture
async def client(pingone_mock: MockPingOne) -> AsyncIterator[httpx.AsyncClient]:
    async with _serve(build_starlette_demo(pingone_mock.guard())) as test_client:
        yield test_client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_items_with_read_scope(client: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    response = await client.get("/items", headers=_bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 200
    assert response.json()["items"][0]["name"] == "first item"


async def test_missing_token_gets_bare_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/items")
    assert response.status_code == 401
    # No error code (RFC 6750 §3.1), only where to learn how to get a token (RFC 9728 §5.1).
    metadata = "https://api.example.com/.well-known/oauth-protected-resource"
    assert response.headers["www-authenticate"] == f'Bearer resource_metadata="{metadata}"'
    assert response.json()["error"] == "unauthorized"


async def test_write_without_scope_is_rfc6750_insufficient_scope(
    client: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read"])
    response = await client.post("/items", json={"name": "tea"}, headers=_bearer(token))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge_error(challenge) == "insufficient_scope"
    assert 'scope="write"' in challenge
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the scope: write",
    }
    assert response.headers["cache-control"] == "no-store"


async def test_write_with_scope_creates_an_item(
    client: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["write"], sub="carol")
    response = await client.post("/items", json={"name": " tea "}, headers=_bearer(token))
    assert response.status_code == 201
    assert response.json() == {"id": 2, "name": "tea", "owner": "carol"}
    listed = await client.get("/items", headers=_bearer(pingone_mock.issue_token(["read"])))
    assert [item["name"] for item in listed.json()["items"]] == ["first item", "tea"]


async def test_write_with_bad_body_is_400(
    client: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["write"])
    response = await client.post("/items", content=b"{not json", headers=_bearer(token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_me_shows_the_token(client: httpx.AsyncClient, pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read", "write"], sub="dave")
    body = (await client.get("/me", headers=_bearer(token))).json()
    assert body["subject"] == "dave"
    assert body["client_id"] == pingone_mock.client_id
    assert body["scopes"] == ["read", "write"]
    assert body["expires_at"].endswith("+00:00")


async def test_unknown_route_is_json_404_after_authentication(
    client: httpx.AsyncClient, pingone_mock: MockPingOne
) -> None:
    response = await client.get("/nope", headers=_bearer(pingone_mock.issue_token(["read"])))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_garbage_token_is_invalid_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/items", headers=_bearer(GARBAGE_TOKEN))
    assert response.status_code == 401
    assert challenge_error(response.headers["www-authenticate"]) == "invalid_token"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ('Bearer error="invalid_token", error_description="x, y"', "invalid_token"),
        ('Bearer realm="api", error="insufficient_scope", scope="a"', "insufficient_scope"),
        ('Bearer realm="api"', ""),
        ("Bearer", ""),
        ('Basic realm="x"', None),
        (None, None),
    ],
)
def test_challenge_error(header: str | None, error: str | None) -> None:
    assert challenge_error(header) == error


# -- registry and optional dependencies -------------------------------------------------------


def test_unknown_framework_is_refused() -> None:
    with pytest.raises(MissingExtra, match="no demo for 'bottle'"):
        demo_framework("bottle")


def test_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "uvicorn" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MissingExtra, match=r"pip install 'p1guard\[demo\]'"):
        demo_framework("starlette")
    assert main(["demo", "--check", "--port", "0"]) == 2
    assert "needs uvicorn: pip install 'p1guard[demo]'" in capsys.readouterr().err


# -- the example -------------------------------------------------------------------------------


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("starlette_api_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_serves_the_demo_from_environment(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("P1GUARD_ENV_ID", raising=False)
    monkeypatch.setenv("P1GUARD_ISSUER", pingone_mock.issuer)
    monkeypatch.setenv("P1GUARD_AUDIENCE", pingone_mock.audience)
    async with _serve(_load_example().create_app()) as client:
        token = pingone_mock.issue_token(["read"])
        assert (await client.get("/items", headers=_bearer(token))).status_code == 200
        assert (await client.get("/items")).status_code == 401
        assert (await client.get("/health")).status_code == 200
        refused = await client.post("/items", json={"name": "x"}, headers=_bearer(token))
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert refused.json()["error"] == "insufficient_scope"
        writer = pingone_mock.issue_token(["write"])
        created = await client.post("/items", json={"name": "x"}, headers=_bearer(writer))
        assert created.status_code == 201


def test_example_without_audience_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P1GUARD_AUDIENCE", raising=False)
    with pytest.raises(ConfigError, match="P1GUARD_AUDIENCE"):
        _load_example().create_app()


@pytest.mark.parametrize("module", [demo_app, demo_probes, demo_server])
def test_demo_module_imports_no_web_framework(module: ModuleType) -> None:
    source = Path(module.__file__ or "").read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "starlette" in line or "uvicorn" in line]
