"""Swagger UI's "Authorize" button against PingOne: PKCE settings and the dialog's scope list.

FastAPI already puts :class:`~p1guard_fastapi.PingOneBearer` in the OpenAPI document as an
OAuth 2.0 authorization-code scheme (``{issuer}/authorize``, ``{issuer}/token``) and lists
each operation's scopes under ``security``. Two things are left to the app:

* Swagger UI must know the PingOne application to log in with, and use PKCE (no secret in a
  browser): :func:`swagger_ui_init_oauth` builds FastAPI's ``swagger_ui_init_oauth`` setting.
* The dialog shows the scopes of the scheme's ``scopes`` map. :func:`add_operation_scopes` adds
  every scope the operations require, so nobody keeps that list in sync by hand.
  :meth:`PingOneBearer.configure_docs <p1guard_fastapi.PingOneBearer.configure_docs>` does
  both for an app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["add_operation_scopes", "swagger_ui_init_oauth"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def swagger_ui_init_oauth(
    client_id: str, *, scopes: Iterable[str] = (), app_name: str | None = None
) -> dict[str, Any]:
    """Swagger UI ``initOAuth`` options to log in with PingOne's authorization code + PKCE.

    ``client_id`` is a PingOne *Single-Page* application (token endpoint authentication
    ``None``, PKCE required) whose redirect URIs include ``https://<your-api>/docs/oauth2-redirect``
    and whose CORS settings allow your API's origin. ``scopes`` are preselected in the dialog.

    >>> swagger_ui_init_oauth("0a1b2c3d-spa-client")
    {'clientId': '0a1b2c3d-spa-client', 'usePkceWithAuthorizationCodeGrant': True}
    >>> app = FastAPI(swagger_ui_init_oauth=swagger_ui_init_oauth("0a1b2c3d-spa-client"))
    ... # doctest: +SKIP
    """
    options: dict[str, Any] = {"clientId": client_id, "usePkceWithAuthorizationCodeGrant": True}
    selected = [scopes] if isinstance(scopes, str) else list(scopes)
    if selected:
        options["scopes"] = " ".join(selected)
    if app_name:
        options["appName"] = app_name
    return options


def _flows(schema: Mapping[str, Any], scheme_name: str) -> list[dict[str, Any]]:
    scheme = schema.get("components", {}).get("securitySchemes", {}).get(scheme_name)
    if not isinstance(scheme, dict) or scheme.get("type") != "oauth2":
        return []
    return [flow for flow in scheme.get("flows", {}).values() if isinstance(flow, dict)]


def _operation_scopes(schema: Mapping[str, Any], scheme_name: str) -> list[str]:
    found: list[str] = []
    for path_item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            for requirement in operation.get("security", ()):
                for scope in requirement.get(scheme_name, ()):
                    if scope not in found:
                        found.append(scope)
    return found


def add_operation_scopes(
    schema: dict[str, Any], scheme_name: str, descriptions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Add every scope the operations require to the ``scheme_name`` flows' ``scopes`` map.

    Scopes already in the map keep their description; new ones get ``descriptions[scope]``
    or their own name. Changes ``schema`` in place (and returns it); running it twice is
    harmless.

    >>> schema = {
    ...     "paths": {"/items": {"get": {"security": [{"PingOne": ["read"]}]}}},
    ...     "components": {"securitySchemes": {"PingOne": {
    ...         "type": "oauth2", "flows": {"authorizationCode": {"scopes": {}}}}}}}
    >>> add_operation_scopes(schema, "PingOne")["components"]["securitySchemes"]["PingOne"]
    {'type': 'oauth2', 'flows': {'authorizationCode': {'scopes': {'read': 'read'}}}}
    """
    flows = _flows(schema, scheme_name)
    if not flows:
        return schema
    described = descriptions or {}
    for scope in _operation_scopes(schema, scheme_name):
        for flow in flows:
            flow.setdefault("scopes", {}).setdefault(scope, described.get(scope, scope))
    return schema
