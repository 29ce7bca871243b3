"""The client-credentials flow, driven by hand (no network)."""

from __future__ import annotations

import json
from base64 import b64decode
from collections.abc import Callable

import pytest

from p1guard import ProviderUnavailable
from p1guard._client.auth import ClientAuth
from p1guard._client.credentials import TokenRequestError, client_credentials_flow
from p1guard._http.flow import Request, Response, drive
from p1guard._tokens.discovery import ProviderMetadata

ENDPOINT = "https://auth.pingone.com/env/as/token"
SECRET = "s3cret+value/with=chars"
OK = {"access_token": "at-123", "token_type": "Bearer", "expires_in": 3600, "scope": "read"}


def _answer(
    status: int, body: object, headers: dict[str, str] | None = None
) -> Callable[[Request], Response]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: Response(status, headers or {}, content)


def _basic() -> ClientAuth:
    return ClientAuth("app-1", client_secret=SECRET)


def test_request_shape_with_client_secret_basic() -> None:
    flow = client_credentials_flow(ENDPOINT, _basic(), ["read", "write", "read"])
    request = next(flow)
    assert (request.method, request.url, request.purpose) == ("POST", ENDPOINT, "token")
    assert dict(request.form or {}) == {"grant_type": "client_credentials", "scope": "read write"}
    scheme, _, credentials = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert b64decode(credentials).decode().startswith("app-1:")
    assert SECRET not in repr(request)


def test_request_shape_with_client_secret_post_and_no_scope() -> None:
    auth = ClientAuth("app-1", client_secret=SECRET, method="client_secret_post")
    request = next(client_credentials_flow(ENDPOINT, auth))
    assert dict(request.form or {}) == {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": SECRET,
    }
    assert "Authorization" not in request.headers


def test_scopes_as_one_string() -> None:
    request = next(client_credentials_flow(ENDPOINT, _basic(), "read  write"))
    assert (request.form or {})["scope"] == "read write"


def test_endpoint_comes_from_metadata() -> None:
    metadata = ProviderMetadata(
        issuer="https://i/as", jwks_uri="https://i/as/jwks", token_endpoint=ENDPOINT
    )
    assert next(client_credentials_flow(metadata, _basic())).url == ENDPOINT


def test_metadata_without_token_endpoint_is_provider_unavailable() -> None:
    metadata = ProviderMetadata(issuer="https://i/as", jwks_uri="https://i/as/jwks")
    with pytest.raises(ProviderUnavailable) as caught:
        next(client_credentials_flow(metadata, _basic()))
    assert caught.value.reason == "no_token_endpoint"


def test_success_returns_the_token_response() -> None:
    assert drive(client_credentials_flow(ENDPOINT, _basic()), _answer(200, OK)) == OK


@pytest.mark.parametrize("status", [400, 401, 403])
def test_oauth_error_is_token_request_error(status: int) -> None:
    body = {"error": "invalid_client", "error_description": "client authentication failed"}
    with pytest.raises(TokenRequestError) as caught:
        drive(client_credentials_flow(ENDPOINT, _basic()), _answer(status, body))
    err = caught.value
    assert (err.error, err.description, err.status_code) == (
        "invalid_client",
        "client authentication failed",
        status,
    )
    assert str(err) == (
        f"token request refused (HTTP {status} invalid_client): client authentication failed"
    )


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_secret_echoed_by_the_provider_is_redacted(method: str) -> None:
    auth = ClientAuth("app-1", client_secret=SECRET, method=method)  # type: ignore[arg-type]
    body = {"error": "invalid_client", "error_description": f"bad secret {SECRET}!"}
    with pytest.raises(TokenRequestError) as caught:
        drive(client_credentials_flow(ENDPOINT, auth), _answer(401, body))
    err = caught.value
    assert err.description == "bad secret [redacted]!"
    assert SECRET not in str(err) + repr(err)


def test_error_description_is_printable_and_bounded() -> None:
    body = {"error": "invalid_request", "error_description": "line\nbreak\x1b[31m" + "x" * 1000}
    with pytest.raises(TokenRequestError) as caught:
        drive(client_credentials_flow(ENDPOINT, _basic()), _answer(400, body))
    description = caught.value.description or ""
    assert "\n" not in description
    assert "\x1b" not in description
    assert len(description) <= 300


def test_error_without_description() -> None:
    with pytest.raises(TokenRequestError) as caught:
        drive(client_credentials_flow(ENDPOINT, _basic()), _answer(400, {"error": "invalid_scope"}))
    assert caught.value.description is None
    assert str(caught.value) == "token request refused (HTTP 400 invalid_scope)"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, {"error": "server_error"}, "token_http_500"),
        (429, {"error": "too_many_requests"}, "token_http_429"),
        (400, b"<html>Bad Request</html>", "token_http_400"),
        (401, {"message": "no OAuth error member"}, "token_http_401"),
        (200, b"not json", "token_malformed"),
        (200, {"token_type": "Bearer"}, "token_malformed"),
        (200, {"access_token": "at", "token_type": "DPoP"}, "token_malformed"),
        (200, {"access_token": "at"}, "token_malformed"),
    ],
)
def test_unexpected_answers_are_provider_unavailable(
    status: int, body: object, reason: str
) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        drive(client_credentials_flow(ENDPOINT, _basic()), _answer(status, body))
    assert caught.value.reason == reason


def test_rate_limit_keeps_retry_after() -> None:
    answer = _answer(429, {}, {"retry-after": "7"})
    with pytest.raises(ProviderUnavailable) as caught:
        drive(client_credentials_flow(ENDPOINT, _basic()), answer)
    assert caught.value.retry_after == 7
