"""PingOneBearer in the OpenAPI document and Swagger UI's PKCE login.

No ``from __future__ import annotations``: the routes live inside ``make_app`` (see
test_fastapi_dependency.py).
"""

import copy
import warnings
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Security

from p1guard import AccessToken, ConfigError, Guard
from p1guard.testing import MockPingOne
from p1guard_fastapi import PingOneBearer, add_operation_scopes, swagger_ui_init_oauth

with warnings.catch_warnings():
    # Starlette >= 1.x prefers the `httpx2` package for its TestClient and warns when it falls
    # back to `httpx`; the fallback works, so silence only that warning, only for this import.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def make_app(guard: Guard, *, configure: bool = True, **options: Any) -> FastAPI:
    auth = PingOneBearer(guard, **options)
    app = FastAPI()

    def reader(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> AccessToken:
        return token

    @app.get("/items")
    async def items(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> Any:
        return []

    @app.post("/items")
    def create(token: Annotated[AccessToken, Security(auth, scopes=["write"])]) -> Any:
        return {}

    @app.delete("/items")
    def purge(token: Annotated[AccessToken, Security(reader, scopes=["admin"])]) -> Any:
        return {}

    @app.get("/me")
    async def me(token: Annotated[AccessToken, Security(auth)]) -> Any:
        return {}

    @app.get("/health")
    async def health() -> Any:
        return {}

    if configure:
        auth.configure_docs(app)
    return app


def openapi(app: FastAPI) -> dict[str, Any]:
    with TestClient(app) as http:
        response = http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_security_scheme_is_pingone_authorization_code(pingone_mock: MockPingOne) -> None:
    scheme = openapi(make_app(pingone_mock.guard()))["components"]["securitySchemes"]["PingOne"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{pingone_mock.issuer}/authorize"
    assert flow["tokenUrl"] == f"{pingone_mock.issuer}/token"
    assert list(scheme["flows"]) == ["authorizationCode"]


def test_operations_list_their_scopes(pingone_mock: MockPingOne) -> None:
    paths = openapi(make_app(pingone_mock.guard()))["paths"]
    assert paths["/items"]["get"]["security"] == [{"PingOne": ["read"]}]
    assert paths["/items"]["post"]["security"] == [{"PingOne": ["write"]}]
    assert paths["/me"]["get"]["security"] == [{"PingOne": []}]
    assert "security" not in paths["/health"]["get"]


def test_nested_dependency_scopes_combine_in_openapi(pingone_mock: MockPingOne) -> None:
    paths = openapi(make_app(pingone_mock.guard()))["paths"]
    assert sorted(paths["/items"]["delete"]["security"][0]["PingOne"]) == ["admin", "read"]


def test_configure_docs_lists_every_route_scope(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), scopes={"read": "List items", "extra": "Unused"})
    flow = openapi(app)["components"]["securitySchemes"]["PingOne"]["flows"]["authorizationCode"]
    assert flow["scopes"] == {
        "read": "List items",
        "extra": "Unused",
        "write": "write",
        "admin": "admin",
    }


def test_without_configure_docs_only_declared_scopes(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), configure=False, scopes=["read"])
    flow = openapi(app)["components"]["securitySchemes"]["PingOne"]["flows"]["authorizationCode"]
    assert flow["scopes"] == {"read": "read"}


def test_scheme_name_and_description_are_configurable(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), scheme_name="Orders", description="Orders API tokens")
    document = openapi(app)
    scheme = document["components"]["securitySchemes"]["Orders"]
    assert scheme["description"] == "Orders API tokens"
    assert document["paths"]["/items"]["get"]["security"] == [{"Orders": ["read"]}]
    assert scheme["flows"]["authorizationCode"]["scopes"]["write"] == "write"


def test_swagger_ui_uses_pkce_with_the_client_id(pingone_mock: MockPingOne) -> None:
    app = make_app(pingone_mock.guard(), swagger_client_id="spa-client-id")
    assert app.swagger_ui_init_oauth == {
        "clientId": "spa-client-id",
        "usePkceWithAuthorizationCodeGrant": True,
    }
    with TestClient(app) as http:
        page = http.get("/docs").text
    assert "ui.initOAuth" in page
    assert '"usePkceWithAuthorizationCodeGrant": true' in page
    assert '"clientId": "spa-client-id"' in page


def test_configure_docs_keeps_the_apps_own_init_oauth(pingone_mock: MockPingOne) -> None:
    own = {"clientId": "mine", "usePkceWithAuthorizationCodeGrant": True}
    auth = PingOneBearer(pingone_mock.guard(), swagger_client_id="other")
    app = FastAPI(swagger_ui_init_oauth=own)
    auth.configure_docs(app)
    assert app.swagger_ui_init_oauth is own


def test_swagger_ui_init_oauth_helper() -> None:
    assert swagger_ui_init_oauth("abc", scopes=["read", "write"], app_name="Items") == {
        "clientId": "abc",
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": "read write",
        "appName": "Items",
    }


def test_swagger_ui_init_oauth_needs_a_client_id(pingone_mock: MockPingOne) -> None:
    with pytest.raises(ConfigError) as info:
        PingOneBearer(pingone_mock.guard()).swagger_ui_init_oauth()
    assert info.value.field == "swagger_client_id"


def test_add_operation_scopes_is_idempotent_and_ignores_other_schemes() -> None:
    schema: dict[str, Any] = {
        "paths": {
            "/a": {"get": {"security": [{"PingOne": ["read"]}, {"ApiKey": []}]}},
            "/b": {"parameters": [], "post": {"security": [{"PingOne": ["read", "write"]}]}},
        },
        "components": {
            "securitySchemes": {
                "PingOne": {"type": "oauth2", "flows": {"authorizationCode": {"scopes": {}}}},
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Key"},
            }
        },
    }
    once = copy.deepcopy(add_operation_scopes(schema, "PingOne", {"read": "Read"}))
    assert add_operation_scopes(schema, "PingOne") == once
    assert once["components"]["securitySchemes"]["PingOne"]["flows"]["authorizationCode"] == {
        "scopes": {"read": "Read", "write": "write"}
    }
    assert add_operation_scopes(schema, "ApiKey") == once
    assert add_operation_scopes({"paths": {}}, "PingOne") == {"paths": {}}
