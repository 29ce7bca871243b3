"""MockPingOne's login side over real HTTP: authorize, PKCE, PAR, tokens, userinfo, signoff."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from p1guard.testing import MockPingOne, RegisteredClient

CALLBACK = "http://127.0.0.1:8765/auth/callback"
LOGGED_OUT = "http://127.0.0.1:8765/bye"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
HTTP = httpx.Client()  # never follows redirects: each hop is checked by hand


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


@pytest.fixture
def op(pingone_mock: MockPingOne) -> MockPingOne:
    return pingone_mock


@pytest.fixture
def app(op: MockPingOne) -> RegisteredClient:
    return op.register_client(redirect_uris=[CALLBACK], post_logout_redirect_uris=[LOGGED_OUT])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, _b64url(hashlib.sha256(verifier.encode()).digest())


def _authorize(op: MockPingOne, client: RegisteredClient | str, **params: str) -> httpx.Response:
    client_id = client if isinstance(client, str) else client.client_id
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": CALLBACK}
    query.update(scope="openid profile email read", state="st-1")
    query.update(params)
    return HTTP.get(op.authorization_endpoint, params=query)


def _callback(response: httpx.Response, *, fragment: bool = False) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" in (CALLBACK, LOGGED_OUT)
    return dict(parse_qsl(location.fragment if fragment else location.query))


def _token(op: MockPingOne, client: RegisteredClient, **data: str) -> httpx.Response:
    if client.auth_method == "client_secret_basic":
        auth = (client.client_id, client.client_secret or "")
        return HTTP.post(op.token_endpoint, data=data, auth=auth)
    if client.auth_method == "client_secret_post":
        data.update(client_id=client.client_id, client_secret=client.client_secret or "")
    else:
        data.setdefault("client_id", client.client_id)
    return HTTP.post(op.token_endpoint, data=data)


def _sign_in(op: MockPingOne, client: RegisteredClient, **params: str) -> dict[str, Any]:
    """Authorize with S256 PKCE and redeem the code; the token answer."""
    verifier, challenge = _pkce()
    callback = _callback(
        _authorize(op, client, code_challenge=challenge, code_challenge_method="S256", **params)
    )
    data = {"code": callback["code"], "redirect_uri": CALLBACK, "code_verifier": verifier}
    response = _token(op, client, grant_type="authorization_code", **data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _id_claims(op: MockPingOne, id_token: str, client_id: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(HTTP.get(op.jwks_uri).json())
    key = keys[jwt.get_unverified_header(id_token)["kid"]]
    return jwt.decode(id_token, key, algorithms=["RS256"], audience=client_id, issuer=op.issuer)


def _active(op: MockPingOne, token: str) -> bool:
    auth = (op.resource_id, op.resource_secret)
    result: bool = HTTP.post(op.introspection_endpoint, data={"token": token}, auth=auth).json()[
        "active"
    ]
    return result


def _error(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    error: str = response.json()["error"]
    return error


# -- the code flow -----------------------------------------------------------------------------


def test_code_flow_with_s256_pkce(op: MockPingOne, app: RegisteredClient) -> None:
    verifier, challenge = _pkce()
    response = _authorize(
        op, app, nonce="n-0S6", code_challenge=challenge, code_challenge_method="S256"
    )
    callback = _callback(response)
    assert (callback["state"], callback["iss"]) == ("st-1", op.issuer)
    assert list(callback) == ["code", "state", "iss"]
    assert op.signed_in
    assert op.codes_issued == 1
    assert op.last_authorize_params["code_challenge"] == challenge
    data = {"code": callback["code"], "redirect_uri": CALLBACK, "code_verifier": verifier}
    answer = _token(op, app, grant_type="authorization_code", **data)
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    assert body["scope"] == "openid profile email read"
    assert body["refresh_token"]
    claims = _id_claims(op, body["id_token"], app.client_id)
    assert claims["nonce"] == "n-0S6"
    assert claims["sub"] == op.user["sub"] == "user-1"
    assert claims["at_hash"] == _b64url(hashlib.sha256(body["access_token"].encode()).digest()[:16])
    assert (claims["name"], claims["email"], claims["email_verified"]) == (
        "Ada Lovelace",
        "ada@example.com",
        True,
    )
    assert (claims["acr"], claims["amr"], claims["sid"]) == (
        "Single_Factor",
        ["pwd"],
        op.session_id,
    )
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["auth_time"] <= claims["iat"]
    access = op.guard().verify(body["access_token"], scopes=["read"])
    assert (access.subject, access.client_id, access.scopes) == (
        "user-1",
        app.client_id,
        frozenset({"read"}),
    )
    assert access.claims["sid"] == claims["sid"]
    assert access.claims["auth_time"] == claims["auth_time"]


def test_scopes_release_claims_and_no_openid_means_no_id_token(
    op: MockPingOne, app: RegisteredClient
) -> None:
    body = _sign_in(op, app, scope="openid")
    claims = _id_claims(op, body["id_token"], app.client_id)
    assert "name" not in claims
    assert "email" not in claims
    plain = _sign_in(op, app, scope="read write")
    assert "id_token" not in plain
    assert plain["scope"] == "read write"


def test_acr_values_and_prompt_none(op: MockPingOne, app: RegisteredClient) -> None:
    assert _callback(_authorize(op, app, prompt="none"))["error"] == "login_required"
    assert op.codes_issued == 0
    body = _sign_in(op, app, acr_values="MFA_Policy Single_Factor")
    assert _id_claims(op, body["id_token"], app.client_id)["acr"] == "MFA_Policy"
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["acr"] == (
        "MFA_Policy"
    )
    _, challenge = _pkce()
    again = _callback(_authorize(op, app, prompt="none", code_challenge=challenge))
    assert "code" in again
    assert _callback(_authorize(op, app, prompt="none login"))["error"] == "invalid_request"


def test_authorize_errors_before_redirect_uri_is_known_are_pages(
    op: MockPingOne, app: RegisteredClient
) -> None:
    assert _error(_authorize(op, "unknown-client")) == "invalid_request"
    other = _authorize(op, app, redirect_uri="http://127.0.0.1:8765/auth/callback/")
    assert _error(other) == "invalid_request"
    assert _error(_authorize(op, op.client_id)) == "invalid_request"  # default app: no URIs yet
    browser = HTTP.get(
        op.authorization_endpoint, params={"client_id": "nope"}, headers={"Accept": "text/html"}
    )
    assert browser.status_code == 400
    assert browser.headers["content-type"].startswith("text/html")
    op.add_redirect_uri(op.client_id, CALLBACK)
    assert "code" in _callback(_authorize(op, op.client_id))


AFTER_REDIRECT_URI_ERRORS: list[tuple[dict[str, str], str]] = [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": ""}, "invalid_request"),
    ({"scope": "openid root"}, "invalid_scope"),
    ({"scope": ""}, "invalid_scope"),
    ({"code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
    ({"code_challenge": "a" * 43, "code_challenge_method": "MD5"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"prompt": "sometimes"}, "invalid_request"),
    ({"request": "eyJ.x.y"}, "request_not_supported"),
    ({"response_mode": "web_message"}, "invalid_request"),
]


def test_authorize_errors_are_redirected_with_state_and_iss(
    op: MockPingOne, app: RegisteredClient
) -> None:
    for params, error in AFTER_REDIRECT_URI_ERRORS:
        callback = _callback(_authorize(op, app, **params))
        assert callback["error"] == error, params
        assert callback["error_description"]
        assert (callback["state"], callback["iss"]) == ("st-1", op.issuer)
        assert "code" not in callback
    assert op.codes_issued == 0


def test_form_post_and_fragment_response_modes(op: MockPingOne, app: RegisteredClient) -> None:
    page = _authorize(op, app, response_mode="form_post", state='a&b"<c>')
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<form method="post" action="{CALLBACK}">' in page.text
    assert '<input type="hidden" name="state" value="a&amp;b&quot;&lt;c&gt;">' in page.text
    assert f'name="iss" value="{op.issuer}"' in page.text
    assert 'name="code" value="' in page.text
    fragment = _callback(_authorize(op, app, response_mode="fragment"), fragment=True)
    assert fragment.keys() == {"code", "state", "iss"}


# -- PKCE --------------------------------------------------------------------------------------


def test_pkce_required_clients_refuse_missing_or_plain_challenge(op: MockPingOne) -> None:
    required = op.register_client(redirect_uris=[CALLBACK], pkce="required")
    assert _callback(_authorize(op, required))["error"] == "invalid_request"
    plain = _callback(_authorize(op, required, code_challenge="v" * 43))  # method defaults to plain
    verifier = "v" * 43
    data = {"code": plain["code"], "redirect_uri": CALLBACK, "code_verifier": verifier}
    assert _token(op, required, grant_type="authorization_code", **data).status_code == 200
    strict = op.register_client(redirect_uris=[CALLBACK], pkce="S256_required")
    refused = _authorize(op, strict, code_challenge="v" * 43, code_challenge_method="plain")
    assert _callback(refused)["error"] == "invalid_request"
    assert "id_token" in _sign_in(op, strict)


def test_bad_or_missing_verifier_is_invalid_grant(op: MockPingOne, app: RegisteredClient) -> None:
    _, challenge = _pkce()
    for verifier in (secrets.token_urlsafe(48), None):
        callback = _callback(_authorize(op, app, code_challenge=challenge))
        data = {"code": callback["code"], "redirect_uri": CALLBACK}
        if verifier is not None:
            data["code_verifier"] = verifier
        assert _error(_token(op, app, grant_type="authorization_code", **data)) == "invalid_grant"
    callback = _callback(_authorize(op, app))  # no challenge: a verifier is refused too
    data = {"code": callback["code"], "redirect_uri": CALLBACK, "code_verifier": "x" * 43}
    assert _error(_token(op, app, grant_type="authorization_code", **data)) == "invalid_grant"


# -- codes -------------------------------------------------------------------------------------


def test_code_replay_revokes_the_tokens_it_issued(op: MockPingOne, app: RegisteredClient) -> None:
    callback = _callback(_authorize(op, app))
    data = {"grant_type": "authorization_code", "code": callback["code"], "redirect_uri": CALLBACK}
    first = _token(op, app, **data).json()
    assert _active(op, first["access_token"])
    assert _error(_token(op, app, **data)) == "invalid_grant"
    assert not _active(op, first["access_token"])
    refresh = _token(op, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert _error(refresh) == "invalid_grant"


def test_code_is_bound_to_client_redirect_uri_and_lifetime(
    op: MockPingOne, app: RegisteredClient
) -> None:
    other = op.register_client(redirect_uris=[CALLBACK])
    cases: list[tuple[RegisteredClient, str]] = [
        (other, CALLBACK),
        (app, CALLBACK + "x"),
        (app, ""),
    ]
    for client, redirect_uri in cases:
        code = _callback(_authorize(op, app))["code"]
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        assert _error(_token(op, client, **data)) == "invalid_grant"
        data["redirect_uri"] = CALLBACK
        assert _error(_token(op, app, **data)) == "invalid_grant"  # consumed by the failure
    op.code_lifetime = 0.05
    code = _callback(_authorize(op, app))["code"]
    time.sleep(0.1)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    assert "expired" in _token(op, app, **data).json()["error_description"]
    assert _error(_token(op, app, **{**data, "code": "made-up"})) == "invalid_grant"


# -- PAR ---------------------------------------------------------------------------------------


def _par(op: MockPingOne, client: RegisteredClient, **params: str) -> httpx.Response:
    form = {"response_type": "code", "redirect_uri": CALLBACK, "scope": "openid", "state": "p-1"}
    form.update(params)
    auth = (client.client_id, client.client_secret or "")
    return HTTP.post(op.par_endpoint, data=form, auth=auth)


def test_par_flow_single_use_and_expiry(op: MockPingOne) -> None:
    app = op.register_client(redirect_uris=[CALLBACK], require_par=True)
    verifier, challenge = _pkce()
    pushed = _par(op, app, code_challenge=challenge, code_challenge_method="S256", nonce="n-par")
    assert pushed.status_code == 201
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    assert op.last_authorize_params["nonce"] == "n-par"
    query = {"client_id": app.client_id, "request_uri": body["request_uri"]}
    callback = _callback(HTTP.get(op.authorization_endpoint, params=query))
    assert (callback["state"], callback["iss"]) == ("p-1", op.issuer)
    assert op.last_authorize_params == query
    data = {"code": callback["code"], "redirect_uri": CALLBACK, "code_verifier": verifier}
    tokens = _token(op, app, grant_type="authorization_code", **data).json()
    assert _id_claims(op, tokens["id_token"], app.client_id)["nonce"] == "n-par"
    reused = HTTP.get(op.authorization_endpoint, params=query)
    assert _error(reused) == "invalid_request_uri"  # a page: never redirected
    op.par_lifetime = 0.05
    late = _par(op, app).json()
    assert late["expires_in"] == 0
    time.sleep(0.1)
    query["request_uri"] = late["request_uri"]
    assert _error(HTTP.get(op.authorization_endpoint, params=query)) == "invalid_request_uri"
    fresh = _par(op, app).json()["request_uri"]
    stolen = {"client_id": op.client_id, "request_uri": fresh}
    assert _error(HTTP.get(op.authorization_endpoint, params=stolen)) == "invalid_request_uri"


def test_require_par_client_refuses_plain_authorize(op: MockPingOne) -> None:
    app = op.register_client(redirect_uris=[CALLBACK], require_par=True)
    callback = _callback(_authorize(op, app))
    assert callback["error"] == "invalid_request"
    assert "PAR" in callback["error_description"]
    assert op.codes_issued == 0


def test_par_errors(op: MockPingOne, app: RegisteredClient) -> None:
    assert _error(_par(op, app, request_uri="urn:x")) == "invalid_request"
    assert _error(_par(op, app, redirect_uri="http://evil.example/cb")) == "invalid_request"
    assert _error(_par(op, app, response_type="token")) == "unsupported_response_type"
    assert _error(_par(op, app, scope="nope")) == "invalid_scope"
    strict = op.register_client(redirect_uris=[CALLBACK], pkce="S256_required")
    assert _error(_par(op, strict)) == "invalid_request"
    bad_secret = HTTP.post(op.par_endpoint, data={"scope": "openid"}, auth=(app.client_id, "x"))
    assert _error(bad_secret, 401) == "invalid_client"
    assert bad_secret.headers["www-authenticate"].startswith("Basic")
    resource = HTTP.post(
        op.par_endpoint, data={"scope": "openid"}, auth=(op.resource_id, op.resource_secret)
    )
    assert _error(resource) == "unauthorized_client"
    secret_kept_out = _par(op, app, client_secret="leak", client_id=app.client_id)
    assert _error(secret_kept_out) == "invalid_request"  # two authentication methods
    assert "client_secret" not in op.last_authorize_params


# -- refresh and revocation --------------------------------------------------------------------


def test_refresh_rotation_and_replay_revokes_the_chain(
    op: MockPingOne, app: RegisteredClient
) -> None:
    first = _sign_in(op, app, nonce="n-1")
    original = _id_claims(op, first["id_token"], app.client_id)
    second = _token(op, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["access_token"] != first["access_token"]
    renewed = _id_claims(op, body["id_token"], app.client_id)
    assert "nonce" not in renewed
    assert (renewed["sub"], renewed["sid"], renewed["auth_time"]) == (
        original["sub"],
        original["sid"],
        original["auth_time"],
    )
    narrowed = _token(
        op, app, grant_type="refresh_token", refresh_token=body["refresh_token"], scope="read"
    ).json()
    assert (narrowed["scope"], "id_token" in narrowed) == ("read", False)
    wider = _token(
        op, app, grant_type="refresh_token", refresh_token=narrowed["refresh_token"], scope="admin"
    )
    assert _error(wider) == "invalid_scope"
    replay = _token(op, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert _error(replay) == "invalid_grant"
    latest = _token(op, app, grant_type="refresh_token", refresh_token=narrowed["refresh_token"])
    assert _error(latest) == "invalid_grant"  # the whole chain is revoked
    for token in (first, body, narrowed):
        assert not _active(op, token["access_token"])


def test_refresh_token_is_bound_to_its_client(op: MockPingOne, app: RegisteredClient) -> None:
    tokens = _sign_in(op, app)
    other = op.register_client(redirect_uris=[CALLBACK])
    stolen = _token(op, other, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert _error(stolen) == "invalid_grant"
    mine = _token(op, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert mine.status_code == 200


def test_no_refresh_token_without_the_grant_type(op: MockPingOne) -> None:
    app = op.register_client(redirect_uris=[CALLBACK], grant_types=["authorization_code"])
    assert "refresh_token" not in _sign_in(op, app)
    cc = _token(op, app, grant_type="client_credentials")
    assert _error(cc) == "unauthorized_client"


def test_revoking_a_refresh_token_revokes_its_chain(op: MockPingOne, app: RegisteredClient) -> None:
    tokens = _sign_in(op, app)
    other = op.register_client()
    auth = (other.client_id, other.client_secret or "")
    data = {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    assert HTTP.post(op.revocation_endpoint, data=data, auth=auth).status_code == 200
    assert _active(op, tokens["access_token"])  # another client's revocation is ignored
    auth = (app.client_id, app.client_secret or "")
    assert HTTP.post(op.revocation_endpoint, data=data, auth=auth).status_code == 200
    assert not _active(op, tokens["access_token"])
    again = _token(op, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert _error(again) == "invalid_grant"
    later = _sign_in(op, app)
    op.revoke(later["refresh_token"])
    assert not _active(op, later["access_token"])


# -- userinfo ----------------------------------------------------------------------------------


def test_userinfo(op: MockPingOne, app: RegisteredClient) -> None:
    tokens = _sign_in(op, app, scope="openid profile read")
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = HTTP.get(op.userinfo_endpoint, headers=bearer)
    assert info.status_code == 200
    body = info.json()
    assert body["sub"] == "user-1"
    assert (body["name"], body["preferred_username"]) == ("Ada Lovelace", "ada")
    assert "email" not in body
    assert HTTP.post(op.userinfo_endpoint, headers=bearer).json() == body
    only_openid = _sign_in(op, app, scope="openid")["access_token"]
    assert HTTP.get(
        op.userinfo_endpoint, headers={"Authorization": f"Bearer {only_openid}"}
    ).json() == {"sub": "user-1"}
    bad = HTTP.get(op.userinfo_endpoint, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    missing = HTTP.get(op.userinfo_endpoint)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="PingOne"'
    no_openid = _sign_in(op, app, scope="read")["access_token"]
    forbidden = HTTP.get(op.userinfo_endpoint, headers={"Authorization": f"Bearer {no_openid}"})
    assert forbidden.status_code == 403
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]
    op.revoke(tokens["access_token"])
    assert HTTP.get(op.userinfo_endpoint, headers=bearer).status_code == 401
    crafted = op.issue_token(["openid", "email"])
    by_hand = HTTP.get(op.userinfo_endpoint, headers={"Authorization": f"Bearer {crafted}"})
    assert by_hand.json() == {"sub": "user-1", "email": "ada@example.com", "email_verified": True}


# -- signoff -----------------------------------------------------------------------------------


def test_signoff_with_registered_post_logout_redirect_uri(
    op: MockPingOne, app: RegisteredClient
) -> None:
    tokens = _sign_in(op, app)
    assert op.signed_in
    params = {"id_token_hint": tokens["id_token"], "state": "bye-1"}
    unregistered = HTTP.get(
        op.end_session_endpoint, params={**params, "post_logout_redirect_uri": CALLBACK}
    )
    assert _error(unregistered) == "invalid_request"
    assert op.signed_in
    out = HTTP.get(
        op.end_session_endpoint, params={**params, "post_logout_redirect_uri": LOGGED_OUT}
    )
    assert _callback(out) == {"state": "bye-1"}
    assert not op.signed_in
    assert op.session_id is None
    assert _callback(_authorize(op, app, prompt="none"))["error"] == "login_required"


def test_signoff_without_redirect_and_with_bad_hints(
    op: MockPingOne, app: RegisteredClient
) -> None:
    tokens = _sign_in(op, app)
    unknown = HTTP.get(op.end_session_endpoint, params={"id_token_hint": "eyJ.x.y"})
    assert _error(unknown) == "invalid_request"
    no_client = HTTP.get(op.end_session_endpoint, params={"post_logout_redirect_uri": LOGGED_OUT})
    assert _error(no_client) == "invalid_request"
    other = op.register_client()
    mismatch = {"id_token_hint": tokens["id_token"], "client_id": other.client_id}
    assert _error(HTTP.get(op.end_session_endpoint, params=mismatch)) == "invalid_request"
    by_client = {"client_id": app.client_id, "post_logout_redirect_uri": LOGGED_OUT}
    assert HTTP.post(op.end_session_endpoint, data=by_client).status_code == 302
    _sign_in(op, app)
    page = HTTP.post(op.end_session_endpoint, data={"id_token_hint": tokens["id_token"]})
    assert page.status_code == 200
    assert "Signed off" in page.text
    assert not op.signed_in


# -- tamper hooks ------------------------------------------------------------------------------


def test_tamper_next_callback(op: MockPingOne, app: RegisteredClient) -> None:
    op.tamper_next_callback(iss="https://evil.example.com/as", state=None)
    tampered = _callback(_authorize(op, app))
    assert tampered["iss"] == "https://evil.example.com/as"
    assert "state" not in tampered
    assert "code" in tampered
    op.tamper_next_callback(iss=None, code="forged")
    dropped = _callback(_authorize(op, app))
    assert (dropped["code"], "iss" in dropped) == ("forged", False)
    assert _callback(_authorize(op, app))["iss"] == op.issuer  # one shot


def test_tamper_next_id_token(op: MockPingOne, app: RegisteredClient) -> None:
    op.tamper_next_id_token(nonce="other", aud="someone-else", at_hash=None, exp=1)
    tokens = _sign_in(op, app, nonce="n-1")
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert (claims["nonce"], claims["aud"], claims["exp"]) == ("other", "someone-else", 1)
    assert "at_hash" not in claims
    with pytest.raises(jwt.ExpiredSignatureError):
        _id_claims(op, tokens["id_token"], app.client_id)
    clean = _sign_in(op, app, nonce="n-2")
    assert _id_claims(op, clean["id_token"], app.client_id)["nonce"] == "n-2"


# -- clients -----------------------------------------------------------------------------------


def test_public_client_with_none_auth(op: MockPingOne) -> None:
    spa = op.register_client(auth_method="none", redirect_uris=[CALLBACK])
    assert spa.client_secret is None
    assert spa.public
    assert _callback(_authorize(op, spa))["error"] == "invalid_request"  # PKCE is mandatory
    tokens = _sign_in(op, spa)
    renewed = _token(op, spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert renewed.status_code == 200
    anonymous = HTTP.post(
        op.token_endpoint,
        data={"grant_type": "refresh_token", "refresh_token": renewed.json()["refresh_token"]},
    )
    assert _error(anonymous, 401) == "invalid_client"
    with_secret = HTTP.post(
        op.token_endpoint,
        data={"grant_type": "client_credentials", "client_id": spa.client_id, "client_secret": "x"},
    )
    assert _error(with_secret, 401) == "invalid_client"
    public_par = HTTP.post(
        op.par_endpoint,
        data={"client_id": spa.client_id, "response_type": "code", "redirect_uri": CALLBACK,
              "scope": "openid", "code_challenge": _pkce()[1], "code_challenge_method": "S256"},
    )  # fmt: skip
    assert public_par.status_code == 201
    introspect = HTTP.post(
        op.introspection_endpoint, data={"token": "x", "client_id": spa.client_id}
    )
    assert introspect.status_code == 401


def test_client_must_use_its_auth_method(op: MockPingOne) -> None:
    post = op.register_client(auth_method="client_secret_post", redirect_uris=[CALLBACK])
    assert _sign_in(op, post)["access_token"]
    code = _callback(_authorize(op, post))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    basic = HTTP.post(op.token_endpoint, data=data, auth=(post.client_id, post.client_secret or ""))
    assert _error(basic, 401) == "invalid_client"
    keyed = op.register_client(auth_method="private_key_jwt", redirect_uris=[CALLBACK])
    key = ec.generate_private_key(ec.SECP256R1())
    op.register_client_key(keyed.client_id, key)
    code = _callback(_authorize(op, keyed))["code"]
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": keyed.client_id, "sub": keyed.client_id, "aud": op.token_endpoint,
         "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
        key,
        algorithm="ES256",
    )  # fmt: skip
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    assert HTTP.post(op.token_endpoint, data=data).status_code == 200


def test_register_client_validation(op: MockPingOne, app: RegisteredClient) -> None:
    assert app.auth_method == "client_secret_basic"
    assert app.client_secret
    assert app.client_secret not in repr(app)
    assert op.get_client(app.client_id) is app
    assert uuid.UUID(app.client_id)
    named = op.register_client("my-app", client_secret="s3cret")
    assert (named.client_id, named.client_secret) == ("my-app", "s3cret")
    with pytest.raises(ValueError, match="already in use"):
        op.register_client("my-app")
    with pytest.raises(ValueError, match="already in use"):
        op.register_client(op.client_id)
    with pytest.raises(ValueError, match="client_secret"):
        op.register_client(auth_method="none", client_secret="x")
    with pytest.raises(ValueError, match="client_credentials"):
        op.register_client(auth_method="none", grant_types=["client_credentials"])
    with pytest.raises(ValueError, match="redirect_uris"):
        op.register_client(redirect_uris=["/relative"])
    with pytest.raises(ValueError, match="scopes"):
        op.register_client(scopes=["openid", "root"])
    with pytest.raises(ValueError, match="pkce"):
        op.register_client(pkce="sometimes")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        op.add_redirect_uri("nobody", CALLBACK)
    op.add_redirect_uri(app.client_id, LOGGED_OUT + "2", post_logout=True)
    assert app.post_logout_redirect_uris == [LOGGED_OUT, LOGGED_OUT + "2"]
    limited = op.register_client(redirect_uris=[CALLBACK], scopes=["openid", "read"])
    assert _callback(_authorize(op, limited, scope="openid write"))["error"] == "invalid_scope"


def test_custom_user_must_have_sub() -> None:
    with pytest.raises(ValueError, match="sub"):
        MockPingOne(user={"name": "Nobody"})
    assert MockPingOne(user={"sub": "u-2"}).user == {"sub": "u-2"}


# -- discovery, counters, faults ---------------------------------------------------------------


def test_discovery_and_endpoint_properties(op: MockPingOne) -> None:
    doc = HTTP.get(op.discovery_url).json()
    assert doc["authorization_endpoint"] == op.authorization_endpoint
    assert doc["pushed_authorization_request_endpoint"] == op.par_endpoint
    assert doc["userinfo_endpoint"] == op.userinfo_endpoint
    assert doc["end_session_endpoint"] == op.end_session_endpoint
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["code_challenge_methods_supported"] == ["plain", "S256"]


def test_login_endpoints_are_counted_and_faultable(op: MockPingOne, app: RegisteredClient) -> None:
    op.fail("authorize", "error", times=1)
    assert _authorize(op, app).status_code == 500
    assert "code" in _callback(_authorize(op, app))
    op.fail("par", "ratelimit", times=1, retry_after=3)
    assert _par(op, app).headers["retry-after"] == "3"
    op.fail("userinfo", "down", times=1)
    with pytest.raises(httpx.TransportError):
        HTTP.get(op.userinfo_endpoint)
    op.fail("signoff", "garbage", times=1)
    assert HTTP.get(op.end_session_endpoint).text == "<html>oops</html>"
    assert HTTP.post(op.authorization_endpoint).status_code == 400  # not a form body
    assert HTTP.put(op.userinfo_endpoint).status_code == 405
    assert (op.calls["authorize"], op.calls["par"]) == (3, 1)
    assert (op.calls["userinfo"], op.calls["signoff"]) == (2, 1)
