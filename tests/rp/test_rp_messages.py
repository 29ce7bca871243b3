"""Pure login-flow rules: PKCE, transactions, return_to, authorize params, callback checks."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from p1guard._http.flow import Response
from p1guard.rp import LoginError, LoginTransaction, PushedAuthorizationError, safe_return_to
from p1guard.rp._messages import (
    authorization_params,
    new_transaction,
    read_callback,
    read_par_response,
)
from p1guard.rp._pkce import new_secret, s256_challenge

ISSUER = "https://auth.pingone.com/env/as"


def test_pkce_s256_matches_rfc7636_example() -> None:
    assert s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    verifier = new_secret()
    assert 43 <= len(verifier) <= 128
    assert new_secret() != verifier


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/orders", "/orders"),
        ("/orders?page=2#top", "/orders?page=2#top"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
        ("/\r\nLocation: x", "/"),
        ("javascript:alert(1)", "/"),
        ("orders", "/"),
        ("", "/"),
        (None, "/"),
        (["/a"], "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_return_to_is_same_origin_only(value: object, expected: str) -> None:
    assert safe_return_to(value) == expected


def test_transaction_round_trip_and_expiry() -> None:
    txn = new_transaction(
        "https://app/cb", return_to="https://evil", max_age=300, acr_values=["mfa"]
    )
    assert txn.return_to == "/"
    again = LoginTransaction.from_dict(json.loads(json.dumps(txn.to_dict())))
    assert again == txn
    assert not txn.expired()
    assert replace(txn, created_at=time.time() - 601).expired()
    assert "state" not in repr(txn)
    assert txn.state not in repr(txn)
    with pytest.raises(ValueError, match="transaction"):
        LoginTransaction.from_dict({"state": "x"})


def test_authorization_params_always_use_pkce_state_nonce() -> None:
    txn = new_transaction("https://app/cb", max_age=60, acr_values=["Multi_Factor"])
    params = authorization_params(
        txn,
        client_id="app",
        scopes=["openid", "profile", "openid"],
        extra={"prompt": "login", "ui_locales": None},
    )
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == s256_challenge(txn.code_verifier)
    assert params["state"] == txn.state
    assert params["nonce"] == txn.nonce
    assert params["scope"] == "openid profile"
    assert params["max_age"] == "60"
    assert params["acr_values"] == "Multi_Factor"
    assert params["prompt"] == "login"
    assert "ui_locales" not in params
    assert txn.code_verifier not in params.values()


@pytest.mark.parametrize("name", ["state", "nonce", "code_challenge", "redirect_uri", "client_id"])
def test_extra_params_cannot_override_security_params(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        authorization_params(
            new_transaction("https://app/cb"), client_id="a", scopes=["openid"], extra={name: "x"}
        )


def callback(txn: LoginTransaction, **query: object) -> str:
    return read_callback(query, txn, issuer=ISSUER, iss_required=True)


def test_good_callback_gives_code() -> None:
    txn = new_transaction("https://app/cb")
    assert callback(txn, code="abc", state=txn.state, iss=ISSUER) == "abc"
    assert callback(txn, code=["abc"], state=[txn.state], iss=ISSUER) == "abc"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"code": "c", "state": "other", "iss": ISSUER}, "state_mismatch"),
        ({"code": "c", "iss": ISSUER}, "state_mismatch"),
        ({"code": "c", "state": "STATE"}, "iss_missing"),
        ({"code": "c", "state": "STATE", "iss": "https://evil/as"}, "iss_mismatch"),
        ({"state": "STATE", "iss": ISSUER}, "no_code"),
        ({"error": "access_denied", "state": "STATE", "iss": ISSUER}, "provider_error"),
        ({"code": ["a", "b"], "state": "STATE", "iss": ISSUER}, "repeated_param"),
    ],
)
def test_bad_callbacks_rejected(query: dict[str, object], reason: str) -> None:
    txn = replace(new_transaction("https://app/cb"), state="STATE")
    with pytest.raises(LoginError) as info:
        read_callback(query, txn, issuer=ISSUER, iss_required=True)
    assert info.value.reason == reason
    assert info.value.status_code == 400


def test_provider_error_before_state_check_is_a_state_error() -> None:
    txn = new_transaction("https://app/cb")
    with pytest.raises(LoginError) as info:
        callback(txn, error="access_denied", state="forged", iss=ISSUER)
    assert info.value.error == "invalid_state"


def test_expired_transaction_rejected() -> None:
    txn = replace(new_transaction("https://app/cb"), created_at=time.time() - 3600)
    with pytest.raises(LoginError) as info:
        callback(txn, code="c", state=txn.state, iss=ISSUER)
    assert info.value.reason == "expired"


def response(status: int, body: object) -> Response:
    return Response(status, {}, json.dumps(body).encode())


def test_par_response_rules() -> None:
    assert read_par_response(response(201, {"request_uri": "urn:x", "expires_in": 60})) == (
        "urn:x",
        60,
    )
    with pytest.raises(PushedAuthorizationError) as info:
        read_par_response(
            response(400, {"error": "invalid_redirect_uri", "error_description": "no"})
        )
    assert info.value.error == "invalid_redirect_uri"
    for bad in ({"request_uri": "", "expires_in": 60}, {"request_uri": "u", "expires_in": 0}, {}):
        with pytest.raises(PushedAuthorizationError):
            read_par_response(response(201, bad))
    from p1guard import ProviderUnavailable

    with pytest.raises(ProviderUnavailable):
        read_par_response(response(503, {}))
