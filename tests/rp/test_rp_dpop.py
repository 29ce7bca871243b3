"""RelyingParty with a DPoP key against MockPingOne over real HTTP: bound sign-in, refresh,
nonces, key mismatches, and the fail-closed answer to an unbound token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from p1guard import ConfigError, ProviderUnavailable
from p1guard._client.auth import ClientAuth
from p1guard._client.credentials import client_credentials_flow, parse_token_response
from p1guard._client.dpop_auth import NonceMemory
from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Response
from p1guard.rp import LoginError, LoginStart, RelyingParty, TokenSet
from p1guard.testing import MockPingOne

CALLBACK = "http://127.0.0.1:5000/auth/callback"


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False) as client:
        yield client


def app_of(op: MockPingOne) -> Any:
    return op.register_client(redirect_uris=[CALLBACK])


def rp_with(op: MockPingOne, app: Any, key: DPoPKey | None, **kwargs: Any) -> RelyingParty:
    return RelyingParty(
        op.pingone(),
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=CALLBACK,
        dpop_key=key,
        **kwargs,
    )


def callback(browser: httpx.Client, start: LoginStart) -> dict[str, str]:
    response = browser.get(start.url)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def cnf_of(token: str) -> Any:
    return jwt.decode(token, options={"verify_signature": False}).get("cnf")


@pytest.mark.parametrize("par", [True, False])
def test_sign_in_with_dpop_binds_tokens_to_the_key(
    pingone_mock: MockPingOne, browser: httpx.Client, par: bool
) -> None:
    key = DPoPKey.generate()
    rp = rp_with(pingone_mock, app_of(pingone_mock), key, par=par)
    start = rp.begin()
    pushed = pingone_mock.last_authorize_params
    query = callback(browser, start)
    sent = pushed if par else pingone_mock.last_authorize_params
    assert sent["dpop_jkt"] == key.thumbprint
    tokens = rp.complete(query, start.transaction, userinfo=True)
    assert tokens.token_type == "DPoP"
    assert cnf_of(tokens.access_token) == {"jkt": key.thumbprint}
    assert tokens.claims["email"] == "ada@example.com"  # userinfo over DPoP
    assert TokenSet.from_dict(tokens.to_dict()).token_type == "DPoP"
    refreshed = rp.refresh(tokens.refresh_token or "", previous=tokens)
    assert refreshed.token_type == "DPoP"
    assert cnf_of(refreshed.access_token) == {"jkt": key.thumbprint}
    assert rp.userinfo(refreshed.access_token)["sub"] == "user-1"


def test_without_key_tokens_stay_bearer(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    rp = rp_with(pingone_mock, app_of(pingone_mock), None)
    start = rp.begin()
    query = callback(browser, start)
    assert "dpop_jkt" not in pingone_mock.last_authorize_params
    tokens = rp.complete(query, start.transaction)
    assert tokens.token_type == "Bearer"
    assert cnf_of(tokens.access_token) is None


def test_nonce_retry_happens_exactly_once_and_is_remembered(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    pingone_mock.require_dpop_nonce = True
    rp = rp_with(pingone_mock, app_of(pingone_mock), DPoPKey.generate())
    start = rp.begin()
    pingone_mock.reset_calls()
    tokens = rp.complete(callback(browser, start), start.transaction)
    assert pingone_mock.calls["token"] == 2  # refused for the nonce, then accepted
    pingone_mock.reset_calls()
    tokens = rp.refresh(tokens.refresh_token or "", previous=tokens)
    assert pingone_mock.calls["token"] == 1  # the nonce was remembered
    pingone_mock.rotate_dpop_nonce()
    pingone_mock.reset_calls()
    tokens = rp.refresh(tokens.refresh_token or "", previous=tokens)
    assert pingone_mock.calls["token"] == 2
    assert tokens.token_type == "DPoP"
    pingone_mock.reset_calls()
    assert rp.userinfo(tokens.access_token)["sub"] == "user-1"
    assert pingone_mock.calls["userinfo"] == 1  # same origin: the nonce is known


def test_refresh_with_another_key_refused(pingone_mock: MockPingOne, browser: httpx.Client) -> None:
    """Refresh-token theft: without the bound key the stolen refresh token is useless."""
    app = app_of(pingone_mock)
    key = DPoPKey.generate()
    rp = rp_with(pingone_mock, app, key)
    start = rp.begin()
    tokens = rp.complete(callback(browser, start), start.transaction)
    thief = rp_with(pingone_mock, app, DPoPKey.generate())
    with pytest.raises(LoginError) as stolen:
        thief.refresh(tokens.refresh_token or "")
    assert stolen.value.error == "invalid_grant"
    bearer = rp_with(pingone_mock, app, None)
    with pytest.raises(LoginError) as unproven:
        bearer.refresh(tokens.refresh_token or "")
    assert unproven.value.error == "invalid_dpop_proof"
    # The refused attempts did not burn the token: the rightful holder still refreshes.
    assert cnf_of(rp.refresh(tokens.refresh_token or "").access_token) == {"jkt": key.thumbprint}


def test_code_exchange_with_another_key_than_dpop_jkt_refused(
    pingone_mock: MockPingOne, browser: httpx.Client
) -> None:
    """Code theft: a code bound with dpop_jkt cannot be redeemed under another key."""
    app = app_of(pingone_mock)
    victim = rp_with(pingone_mock, app, DPoPKey.generate(), par=False)
    start = victim.begin()
    thief = rp_with(pingone_mock, app, DPoPKey.generate(), par=False)
    with pytest.raises(LoginError) as info:
        thief.complete(callback(browser, start), start.transaction)
    assert info.value.error == "invalid_grant"


def test_dpop_jkt_cannot_be_overridden(pingone_mock: MockPingOne) -> None:
    rp = rp_with(pingone_mock, app_of(pingone_mock), DPoPKey.generate())
    with pytest.raises(ConfigError):
        rp.begin(dpop_jkt="A" * 43)


def test_dpop_key_type_checked(pingone_mock: MockPingOne) -> None:
    with pytest.raises(ConfigError) as info:
        rp_with(pingone_mock, app_of(pingone_mock), "not a key")  # type: ignore[arg-type]
    assert info.value.field == "dpop_key"


async def test_async_sign_in_with_dpop_and_nonce(pingone_mock: MockPingOne) -> None:
    pingone_mock.require_dpop_nonce = True
    key = DPoPKey.generate()
    rp = rp_with(pingone_mock, app_of(pingone_mock), key)
    start = await rp.abegin()
    async with httpx.AsyncClient() as browser:
        response = await browser.get(start.url)
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    tokens = await rp.acomplete(query, start.transaction, userinfo=True)
    assert cnf_of(tokens.access_token) == {"jkt": key.thumbprint}
    assert tokens.claims["name"] == "Ada Lovelace"
    refreshed = await rp.arefresh(tokens.refresh_token or "", previous=tokens)
    assert refreshed.token_type == "DPoP"
    assert (await rp.auserinfo(refreshed.access_token))["sub"] == "user-1"


# -- the fail-closed rule: a Bearer answer to a DPoP request -------------------------------


def _answer(status: int, body: bytes, **headers: str) -> Response:
    return Response(status, {k.lower().replace("_", "-"): v for k, v in headers.items()}, body)


def test_bearer_token_where_dpop_was_asked_is_refused() -> None:
    """Downgrade: an authorization server (or a proxy) that hands out a bearer token instead
    of the bound one requested must not silently strip the sender constraint."""
    answer = _answer(200, b'{"access_token": "at", "token_type": "Bearer"}')
    with pytest.raises(ProviderUnavailable) as info:
        parse_token_response(answer, token_type="DPoP")
    assert info.value.reason == "token_not_bound"
    assert parse_token_response(answer)["access_token"] == "at"


def test_client_credentials_downgrade_refused_by_hand_driven_flow() -> None:
    key = DPoPKey.generate()
    flow = client_credentials_flow(
        "https://auth.example.com/as/token", ClientAuth("app", client_secret="s"), dpop_key=key
    )
    request = next(flow)
    assert jwt.get_unverified_header(request.headers["DPoP"])["typ"] == "dpop+jwt"
    with pytest.raises(ProviderUnavailable) as info:
        flow.send(_answer(200, b'{"access_token": "at", "token_type": "Bearer"}'))
    assert info.value.reason == "token_not_bound"


def test_client_credentials_with_dpop_against_mock(pingone_mock: MockPingOne) -> None:
    pingone_mock.require_dpop_nonce = True
    key, nonces = DPoPKey.generate(), NonceMemory()
    pingone = pingone_mock.pingone()
    auth = ClientAuth(pingone_mock.client_id, client_secret=pingone_mock.client_secret)

    def token() -> dict[str, Any]:
        flow = client_credentials_flow(
            pingone_mock.token_endpoint, auth, ["read"], dpop_key=key, nonces=nonces
        )
        return pingone.transport.run(flow)

    first = token()
    assert first["token_type"] == "DPoP"
    assert cnf_of(first["access_token"]) == {"jkt": key.thumbprint}
    assert pingone_mock.calls["token"] == 2
    token()
    assert pingone_mock.calls["token"] == 3  # nonce remembered in the shared NonceMemory
