"""PingOneBearer.from_env: P1GUARD_* variables, and ConfigErrors that name the variable.

No ``from __future__ import annotations``: the route lives inside ``app_with`` (see
test_fastapi_dependency.py).
"""

import warnings
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security

from p1guard import ConfigError
from p1guard.testing import MockPingOne
from p1guard_fastapi import PingOneBearer

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ENV_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
BASE = {"P1GUARD_ENV_ID": ENV_ID, "P1GUARD_AUDIENCE": "https://api.example.com"}


def mock_env(op: MockPingOne, **extra: str) -> dict[str, str]:
    return {"P1GUARD_ISSUER": op.issuer, "P1GUARD_AUDIENCE": op.audience, **extra}


def app_with(auth: PingOneBearer) -> FastAPI:
    app = FastAPI()

    async def items(token: Annotated[Any, Security(auth, scopes=["read"])]) -> Any:
        return {"sub": token.subject}

    app.add_api_route("/items", items)
    return app


def test_from_env_protects_routes(pingone_mock: MockPingOne) -> None:
    auth = PingOneBearer.from_env(mock_env(pingone_mock))
    with TestClient(app_with(auth)) as http:
        token = pingone_mock.issue_token(["read"])
        ok = http.get("/items", headers={"Authorization": f"Bearer {token}"})
        missing = http.get("/items")
    assert ok.json() == {"sub": "user-1"}
    assert missing.status_code == 401


def test_from_env_introspection_mode_with_opaque_token(pingone_mock: MockPingOne) -> None:
    env = mock_env(
        pingone_mock,
        P1GUARD_MODE="introspect",
        P1GUARD_CLIENT_ID=pingone_mock.resource_id,
        P1GUARD_CLIENT_SECRET=pingone_mock.resource_secret,
    )
    with TestClient(app_with(PingOneBearer.from_env(env))) as http:
        token = pingone_mock.issue_token(["read"], opaque=True)
        response = http.get("/items", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P1GUARD_ISSUER", raising=False)
    for name, value in {**BASE, "P1GUARD_REGION": "EU", "P1GUARD_REALM": "items"}.items():
        monkeypatch.setenv(name, value)
    auth = PingOneBearer.from_env()
    assert auth.guard.pingone.issuer == f"https://auth.pingone.eu/{ENV_ID}/as"
    assert auth.guard.realm == "items"


def test_from_env_options_and_variables() -> None:
    env = {
        **BASE,
        "P1GUARD_AUDIENCE": "https://a.example, https://b.example",
        "P1GUARD_SWAGGER_CLIENT_ID": "spa-client",
        "P1GUARD_ALLOW_QUERY_TOKEN": "true",
        "P1GUARD_STRICT_TYP": "yes",
        "P1GUARD_LEEWAY": "5",
        "P1GUARD_TIMEOUT": "2.5",
    }
    auth = PingOneBearer.from_env(env, scheme_name="Items", auto_error=False)
    assert (auth.scheme_name, auth.auto_error) == ("Items", False)
    assert auth.swagger_client_id == "spa-client"
    assert auth.allow_query_token is True
    policy = auth.guard.policy
    assert policy.audiences == frozenset({"https://a.example", "https://b.example"})
    assert (policy.strict_typ, policy.leeway) == (True, 5.0)
    assert auth.guard.pingone.timeout == 2.5
    assert PingOneBearer.from_env(env, swagger_client_id=None).swagger_client_id is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"P1GUARD_ENV_ID": ENV_ID}, "P1GUARD_AUDIENCE"),
        ({**BASE, "P1GUARD_AUDIENCE": " , "}, "P1GUARD_AUDIENCE"),
        ({"P1GUARD_AUDIENCE": "https://api.example.com"}, "P1GUARD_ENV_ID"),
        ({**BASE, "P1GUARD_ENV_ID": "not-a-uuid"}, "P1GUARD_ENV_ID"),
        ({**BASE, "P1GUARD_REGION": "XX"}, "P1GUARD_REGION"),
        ({**BASE, "P1GUARD_ISSUER": "http://login.example.com/as"}, "P1GUARD_ISSUER"),
        ({**BASE, "P1GUARD_MODE": "trust-me"}, "P1GUARD_MODE"),
        ({**BASE, "P1GUARD_MODE": "introspect"}, "P1GUARD_CLIENT_ID"),
        ({**BASE, "P1GUARD_CHECK_REVOCATION": "true"}, "P1GUARD_CLIENT_ID"),
        ({**BASE, "P1GUARD_CLIENT_SECRET": "s3cret"}, "P1GUARD_CLIENT_ID"),
        ({**BASE, "P1GUARD_CHECK_REVOCATION": "maybe"}, "P1GUARD_CHECK_REVOCATION"),
        ({**BASE, "P1GUARD_ALLOW_QUERY_TOKEN": "sure"}, "P1GUARD_ALLOW_QUERY_TOKEN"),
        ({**BASE, "P1GUARD_LEEWAY": "soon"}, "P1GUARD_LEEWAY"),
        ({**BASE, "P1GUARD_LEEWAY": "-1"}, "P1GUARD_LEEWAY"),
        ({**BASE, "P1GUARD_TIMEOUT": "0"}, "P1GUARD_TIMEOUT"),
    ],
)
def test_bad_environment_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        PingOneBearer.from_env(env)
    assert info.value.field == variable


def test_config_error_does_not_echo_the_secret() -> None:
    with pytest.raises(ConfigError) as info:
        PingOneBearer.from_env({**BASE, "P1GUARD_CLIENT_SECRET": "s3cret-value"})
    assert "s3cret-value" not in str(info.value)
