"""RFC 6750 rendering of the error family (p1guard.errors)."""

from __future__ import annotations

import json

from p1guard import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    ProviderUnavailable,
)


def test_missing_token_has_bare_challenge() -> None:
    err = MissingToken()
    assert err.status_code == 401
    assert err.www_authenticate == "Bearer"
    err.realm = "api"
    assert err.www_authenticate == 'Bearer realm="api"'


def test_invalid_token_challenge_and_body() -> None:
    err = InvalidToken("The token expired", reason="expired", realm="api")
    assert err.www_authenticate == (
        'Bearer realm="api", error="invalid_token", error_description="The token expired"'
    )
    assert json.loads(err.json_bytes()) == {
        "error": "invalid_token",
        "error_description": "The token expired",
    }
    assert err.headers["Cache-Control"] == "no-store"


def test_insufficient_scope_names_scopes() -> None:
    err = InsufficientScope(["read", "write"], ["write"])
    assert err.status_code == 403
    assert err.www_authenticate.endswith('scope="read write"')
    assert "write" in err.description
    assert InsufficientScope(["a", "b"], match="any").description.endswith("a b")


def test_invalid_request_is_400() -> None:
    assert InvalidRequest().status_code == 400
    assert 'error="invalid_request"' in InvalidRequest().www_authenticate


def test_provider_unavailable_is_503_with_retry_after() -> None:
    err = ProviderUnavailable(retry_after=2.2)
    assert err.status_code == 503
    assert err.headers["Retry-After"] == "3"
    assert ProviderUnavailable().headers["Retry-After"] == "1"
    assert "error=" not in err.www_authenticate


def test_descriptions_cannot_break_the_header() -> None:
    err = InvalidToken('bad "quote" \\ and\r\nnewline é')
    assert "\r" not in err.www_authenticate
    assert "\n" not in err.www_authenticate
    assert err.description == "bad quote  andnewline "


def test_repr_has_no_secrets() -> None:
    assert repr(InvalidToken("x", reason="expired")) == "InvalidToken('x', reason='expired')"
