"""Userinfo refusing the token, over real HTTP to MockPingOne.

A revoked, scope-less or wrongly-proved token is the token's fault: a typed 401/403 carrying
PingOne's error, never a 503 "PingOne is down" that makes an app retry a dead token (or treat
a revoked session as a passing outage).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from p1guard import InsufficientScope, InvalidToken, ProviderUnavailable
from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Request, Response, drive
from p1guard.rp import (
    LoginError,
    RelyingParty,
    UserinfoInsufficientScope,
    UserinfoInvalidToken,
)
from p1guard.rp._messages import read_userinfo
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"


def rp_for(op: MockPingOne, key: DPoPKey | None = None) -> RelyingParty:
    app: Any = op.register_client(redirect_uris=[CALLBACK])
    return RelyingParty(
        op.pingone(),
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=CALLBACK,
        dpop_key=key,
    )


@pytest.mark.parametrize("where", ["both", "header", "body"])
def test_userinfo_refusing_a_revoked_token_is_invalid_token_not_an_outage(
    pingone_mock: MockPingOne, where: Any
) -> None:
    pingone_mock.userinfo_errors_in = where
    rp = rp_for(pingone_mock)
    token = pingone_mock.issue_token(["openid", "profile"])
    assert rp.userinfo(token)["sub"] == "user-1"
    pingone_mock.revoke(token)
    with pytest.raises(InvalidToken) as info:
        rp.userinfo(token)
    err = info.value
    assert isinstance(err, UserinfoInvalidToken)
    assert not isinstance(err, ProviderUnavailable)
    assert err.status_code == 401 and err.reason == "userinfo_invalid_token"
    assert err.provider_error == "invalid_token"
    assert err.provider_description == "the access token is invalid"
    assert err.url == pingone_mock.userinfo_endpoint
    assert pingone_mock.userinfo_endpoint in err.description
    assert err.www_authenticate.startswith('Bearer error="invalid_token"')
    assert token not in repr(err) and token not in err.description


@pytest.mark.parametrize("where", ["both", "header", "body"])
async def test_userinfo_refusing_a_revoked_token_is_invalid_token_not_an_outage_async(
    pingone_mock: MockPingOne, where: Any
) -> None:
    pingone_mock.userinfo_errors_in = where
    rp = rp_for(pingone_mock)
    token = pingone_mock.issue_token(["openid"])
    pingone_mock.revoke(token)
    with pytest.raises(UserinfoInvalidToken) as info:
        await rp.auserinfo(token)
    assert info.value.provider_error == "invalid_token"
    await rp.pingone.aclose()


@pytest.mark.parametrize("where", ["both", "header", "body"])
def test_userinfo_insufficient_scope_is_typed(pingone_mock: MockPingOne, where: Any) -> None:
    pingone_mock.userinfo_errors_in = where
    rp = rp_for(pingone_mock)
    with pytest.raises(InsufficientScope) as info:
        rp.userinfo(pingone_mock.issue_token(["read"]))  # no openid
    err = info.value
    assert isinstance(err, UserinfoInsufficientScope)
    assert err.status_code == 403 and err.reason == "userinfo_insufficient_scope"
    assert err.provider_error == "insufficient_scope"
    assert err.required == ("openid",)
    assert 'scope="openid"' in err.www_authenticate


def test_userinfo_with_another_dpop_key_is_invalid_token_after_the_nonce_retry(
    pingone_mock: MockPingOne,
) -> None:
    """A stolen DPoP token replayed with the thief's key: refused, typed, DPoP scheme."""
    pingone_mock.require_dpop_nonce = True
    owner, thief = DPoPKey.generate(), DPoPKey.generate()
    token = pingone_mock.issue_token(["openid"], dpop_jkt=owner.thumbprint)
    rp = rp_for(pingone_mock, thief)
    pingone_mock.reset_calls()
    with pytest.raises(UserinfoInvalidToken) as info:
        rp.userinfo(token)
    assert pingone_mock.calls["userinfo"] == 2  # the use_dpop_nonce retry still happens once
    assert info.value.provider_error == "invalid_token"
    assert info.value.scheme == "DPoP"
    assert info.value.www_authenticate.startswith('DPoP error="invalid_token"')
    assert rp_for(pingone_mock, owner).userinfo(token)["sub"] == "user-1"


@pytest.mark.parametrize("mode", ["error", "down", "ratelimit", "garbage"])
def test_userinfo_outage_stays_provider_unavailable_naming_the_url(
    pingone_mock: MockPingOne, mode: Any
) -> None:
    rp = rp_for(pingone_mock)
    token = pingone_mock.issue_token(["openid"])
    pingone_mock.fail("userinfo", mode)
    with pytest.raises(ProviderUnavailable) as info:
        rp.userinfo(token)
    assert info.value.status_code == 503
    assert pingone_mock.userinfo_endpoint in info.value.description


def test_userinfo_refusal_text_is_parsed_not_searched_and_capped() -> None:
    """The challenge is parsed (a quoted comma or a fake error= inside a value is data) and
    PingOne's text is truncated and printable, whatever it sends."""
    url = "https://auth.pingone.com/env/as/userinfo?debug=1"
    header = (
        'Bearer realm="x, error=\\"forged\\"", error="invalid_token", '
        f'error_description="\u00e9{"A" * 5000}", DPoP algs="ES256"'
    )
    answer = Response(401, {"www-authenticate": header}, b"")
    with pytest.raises(UserinfoInvalidToken) as info:
        read_userinfo(answer, url)
    err = info.value
    assert err.provider_error == "invalid_token"
    assert err.provider_description == "A" * 200
    assert err.url == "https://auth.pingone.com/env/as/userinfo"  # no query
    long_error = Response(401, {}, b'{"error": "' + b"e" * 500 + b'"}')
    with pytest.raises(UserinfoInvalidToken) as info:
        read_userinfo(long_error, url)
    assert info.value.provider_error == "e" * 64
    junk = Response(401, {"www-authenticate": 'Bearer error="unterminated'}, b"<html>")
    with pytest.raises(UserinfoInvalidToken) as info:
        read_userinfo(junk, url)
    assert info.value.provider_error is None


def test_sign_in_whose_fresh_token_userinfo_refuses_is_a_login_error(
    pingone_mock: MockPingOne,
) -> None:
    """complete(userinfo=True): the token revoked between the code exchange and userinfo
    fails the sign-in with a LoginError (a 400 page), not a 503 and not an escaping 401."""
    rp = rp_for(pingone_mock)
    start = rp.begin()
    with httpx.Client() as browser:
        location = browser.get(start.url).headers["location"]
    query = dict(httpx.URL(location).params)

    def respond(request: Request) -> Response:
        if request.purpose == "userinfo":  # PingOne revokes the grant in between
            pingone_mock.revoke(request.headers["Authorization"].split(" ", 1)[1])
        return rp.pingone.transport.send(request)

    with pytest.raises(LoginError) as info:
        drive(rp.complete_flow(query, start.transaction, userinfo=True), respond)
    assert info.value.error == "invalid_token"
    assert info.value.reason == "userinfo_invalid_token"
