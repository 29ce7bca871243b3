"""MockPingOne speaks DPoP (RFC 9449) like PingOne: proofs at the token endpoint and userinfo,
bound tokens, nonces, ``dpop_jkt`` — checked over real HTTP with hand-made proofs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import jwk_thumbprint
from p1guard.testing import MockPingOne


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey.generate()


def client_credentials(op: MockPingOne, proof: str | None, **headers: str) -> httpx.Response:
    if proof is not None:
        headers["DPoP"] = proof
    return httpx.post(
        op.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(op.client_id, op.client_secret),
        headers=headers,
    )


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_discovery_advertises_dpop_algorithms(pingone_mock: MockPingOne) -> None:
    document = httpx.get(pingone_mock.discovery_url).json()
    assert "ES256" in document["dpop_signing_alg_values_supported"]
    assert "HS256" not in document["dpop_signing_alg_values_supported"]


def test_client_credentials_with_proof_gives_bound_token(
    pingone_mock: MockPingOne, key: DPoPKey
) -> None:
    response = client_credentials(pingone_mock, key.proof("POST", pingone_mock.token_endpoint))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.thumbprint}
    introspected = pingone_mock.introspect(body["access_token"])
    assert introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": key.thumbprint}


def test_introspection_endpoint_shows_cnf(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    token = pingone_mock.issue_token(dpop_jkt=key.thumbprint)
    answer = httpx.post(
        pingone_mock.introspection_endpoint,
        data={"token": token},
        auth=(pingone_mock.resource_id, pingone_mock.resource_secret),
    ).json()
    assert answer["active"] is True
    assert answer["cnf"] == {"jkt": key.thumbprint}
    assert answer["token_type"] == "DPoP"


def test_without_proof_the_token_stays_bearer(pingone_mock: MockPingOne) -> None:
    body = client_credentials(pingone_mock, None).json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(body["access_token"])


def test_replayed_proof_rejected_at_token_endpoint(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    proof = key.proof("POST", pingone_mock.token_endpoint)
    assert client_credentials(pingone_mock, proof).status_code == 200
    replay = client_credentials(pingone_mock, proof)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_dpop_proof"


def _forged(key: DPoPKey, op: MockPingOne, kind: str) -> str:
    url = op.token_endpoint
    if kind == "wrong_htm":
        return key.proof("GET", url)
    if kind == "wrong_htu":
        return key.proof("POST", op.userinfo_endpoint)
    if kind == "stale_iat":
        return key.proof("POST", url, now=time.time() - 600)
    if kind == "future_iat":
        return key.proof("POST", url, now=time.time() + 600)
    claims = {"jti": "j-" + kind, "htm": "POST", "htu": url, "iat": int(time.time())}
    if kind == "hmac_alg":
        return jwt.encode(claims, "secret" * 8, "HS256", headers={"typ": "dpop+jwt"})
    if kind == "wrong_typ":
        return jwt.encode(claims, key._key, key.alg, headers={"typ": "JWT", "jwk": key.public_jwk})
    if kind == "private_jwk":
        private = jwt.algorithms.ECAlgorithm.to_jwk(key._key, as_dict=True)
        return jwt.encode(claims, key._key, key.alg, headers={"typ": "dpop+jwt", "jwk": private})
    if kind == "other_key_signed":
        other = DPoPKey.generate()
        return jwt.encode(
            claims, other._key, "ES256", headers={"typ": "dpop+jwt", "jwk": key.public_jwk}
        )
    if kind == "no_jti":
        del claims["jti"]
        return jwt.encode(
            claims, key._key, key.alg, headers={"typ": "dpop+jwt", "jwk": key.public_jwk}
        )
    if kind == "not_a_jwt":
        return "not-a-proof"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "wrong_htm",
        "wrong_htu",
        "stale_iat",
        "future_iat",
        "hmac_alg",
        "wrong_typ",
        "private_jwk",
        "other_key_signed",
        "no_jti",
        "not_a_jwt",
    ],
)
def test_forged_proof_rejected(pingone_mock: MockPingOne, key: DPoPKey, kind: str) -> None:
    response = client_credentials(pingone_mock, _forged(key, pingone_mock, kind))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_two_proofs_rejected(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    url = pingone_mock.token_endpoint
    response = httpx.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(pingone_mock.client_id, pingone_mock.client_secret),
        headers=[("DPoP", key.proof("POST", url)), ("DPoP", key.proof("POST", url))],
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_nonce_required_until_the_proof_carries_it(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    pingone_mock.require_dpop_nonce = True
    url = pingone_mock.token_endpoint
    refused = client_credentials(pingone_mock, key.proof("POST", url))
    assert refused.status_code == 400
    assert refused.json()["error"] == "use_dpop_nonce"
    nonce = refused.headers["DPoP-Nonce"]
    assert nonce == pingone_mock.dpop_nonce
    wrong = client_credentials(pingone_mock, key.proof("POST", url, nonce="stale"))
    assert wrong.json()["error"] == "use_dpop_nonce"
    accepted = client_credentials(pingone_mock, key.proof("POST", url, nonce=nonce))
    assert accepted.status_code == 200
    assert accepted.headers["DPoP-Nonce"] == nonce
    new = pingone_mock.rotate_dpop_nonce()
    assert new != nonce
    again = client_credentials(pingone_mock, key.proof("POST", url, nonce=nonce))
    assert again.json()["error"] == "use_dpop_nonce"
    assert again.headers["DPoP-Nonce"] == new


def test_issue_token_binding_parameters(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    both = claims_of(pingone_mock.issue_token(dpop_jkt=key.thumbprint, x5t_s256="abc"))
    assert both["cnf"] == {"jkt": key.thumbprint, "x5t#S256": "abc"}
    certificate = claims_of(pingone_mock.issue_token(x5t_s256="abc"))
    assert certificate["cnf"] == {"x5t#S256": "abc"}
    assert pingone_mock.introspect(pingone_mock.issue_token(x5t_s256="abc"))["token_type"] == (
        "Bearer"
    )
    overridden = claims_of(
        pingone_mock.issue_token(dpop_jkt=key.thumbprint, claims={"cnf": {"jkt": "other"}})
    )
    assert overridden["cnf"] == {"jkt": "other"}
    removed = claims_of(pingone_mock.issue_token(dpop_jkt=key.thumbprint, claims={"cnf": None}))
    assert "cnf" not in removed


def test_mock_thumbprint_agrees_with_rfc7638(key: DPoPKey) -> None:
    from p1guard.testing._dpop import thumbprint

    assert thumbprint(key.public_jwk) == jwk_thumbprint(key.public_jwk) == key.thumbprint


# -- userinfo -------------------------------------------------------------------------------


def userinfo(op: MockPingOne, token: str, scheme: str, proof: str | None) -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return httpx.get(op.userinfo_endpoint, headers=headers)


def test_userinfo_accepts_dpop_bound_token_with_proof(
    pingone_mock: MockPingOne, key: DPoPKey
) -> None:
    token = pingone_mock.issue_token(["openid", "email"], dpop_jkt=key.thumbprint)
    proof = key.proof("GET", pingone_mock.userinfo_endpoint, access_token=token)
    response = userinfo(pingone_mock, token, "DPoP", proof)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "ada@example.com"


def test_bound_token_as_bearer_refused(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    """Token theft: a bound token replayed as a plain bearer token is worthless."""
    token = pingone_mock.issue_token(["openid"], dpop_jkt=key.thumbprint)
    response = userinfo(pingone_mock, token, "Bearer", None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_userinfo_refuses_proof_of_another_key(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    """Token theft: the thief's own key cannot stand in for the bound one."""
    token = pingone_mock.issue_token(["openid"], dpop_jkt=key.thumbprint)
    thief = DPoPKey.generate()
    proof = thief.proof("GET", pingone_mock.userinfo_endpoint, access_token=token)
    response = userinfo(pingone_mock, token, "DPoP", proof)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("flaw", ["no_ath", "wrong_ath", "no_proof", "wrong_method"])
def test_userinfo_refuses_bad_proof(pingone_mock: MockPingOne, key: DPoPKey, flaw: str) -> None:
    token = pingone_mock.issue_token(["openid"], dpop_jkt=key.thumbprint)
    url = pingone_mock.userinfo_endpoint
    proof: str | None = {
        "no_ath": key.proof("GET", url),
        "wrong_ath": key.proof("GET", url, access_token="another-token"),
        "no_proof": None,
        "wrong_method": key.proof("POST", url, access_token=token),
    }[flaw]
    response = userinfo(pingone_mock, token, "DPoP", proof)
    assert response.status_code == 401
    assert 'error="invalid_dpop_proof"' in response.headers["WWW-Authenticate"]


def test_unbound_token_with_dpop_scheme_refused(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    token = pingone_mock.issue_token(["openid"])
    proof = key.proof("GET", pingone_mock.userinfo_endpoint, access_token=token)
    assert userinfo(pingone_mock, token, "DPoP", proof).status_code == 401
    assert userinfo(pingone_mock, token, "Bearer", None).status_code == 200


def test_userinfo_nonce_challenge(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    pingone_mock.require_dpop_nonce = True
    token = pingone_mock.issue_token(["openid"], dpop_jkt=key.thumbprint)
    url = pingone_mock.userinfo_endpoint
    refused = userinfo(pingone_mock, token, "DPoP", key.proof("GET", url, access_token=token))
    assert refused.status_code == 401
    challenge = refused.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP ") and 'error="use_dpop_nonce"' in challenge
    nonce = refused.headers["DPoP-Nonce"]
    proof = key.proof("GET", url, access_token=token, nonce=nonce)
    assert userinfo(pingone_mock, token, "DPoP", proof).status_code == 200


# -- authorization code binding (dpop_jkt, RFC 9449 §10) ----------------------------------

CALLBACK = "http://127.0.0.1:5000/cb"


def _code(op: MockPingOne, client_id: str, **params: str) -> str:
    query = {
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        **params,
    }
    response = httpx.get(op.authorization_endpoint, params=query)
    assert response.status_code == 302, response.text
    location = httpx.URL(response.headers["location"])
    return str(location.params["code"])


def _exchange(op: MockPingOne, app: Any, code: str, proof: str | None) -> httpx.Response:
    headers = {} if proof is None else {"DPoP": proof}
    return httpx.post(
        op.token_endpoint,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=(app.client_id, app.client_secret),
        headers=headers,
    )


def test_code_bound_by_dpop_jkt_needs_that_key(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    """Code theft: a code requested with dpop_jkt cannot be redeemed with the thief's key."""
    app = pingone_mock.register_client(redirect_uris=[CALLBACK])
    url = pingone_mock.token_endpoint
    code = _code(pingone_mock, app.client_id, dpop_jkt=key.thumbprint)
    thief = _exchange(pingone_mock, app, code, DPoPKey.generate().proof("POST", url))
    assert thief.status_code == 400
    assert thief.json()["error"] == "invalid_grant"
    no_proof = _exchange(
        pingone_mock, app, _code(pingone_mock, app.client_id, dpop_jkt=key.thumbprint), None
    )
    assert no_proof.json()["error"] == "invalid_grant"
    code = _code(pingone_mock, app.client_id, dpop_jkt=key.thumbprint)
    good = _exchange(pingone_mock, app, code, key.proof("POST", url))
    assert good.status_code == 200
    assert claims_of(good.json()["access_token"])["cnf"]["jkt"] == key.thumbprint


def test_refused_proof_does_not_use_up_the_code(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    app = pingone_mock.register_client(redirect_uris=[CALLBACK])
    pingone_mock.require_dpop_nonce = True
    url = pingone_mock.token_endpoint
    code = _code(pingone_mock, app.client_id, dpop_jkt=key.thumbprint)
    first = _exchange(pingone_mock, app, code, key.proof("POST", url))
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    second = _exchange(pingone_mock, app, code, key.proof("POST", url, nonce=nonce))
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "DPoP"


def test_malformed_dpop_jkt_refused(pingone_mock: MockPingOne) -> None:
    app = pingone_mock.register_client(redirect_uris=[CALLBACK])
    query = {
        "client_id": app.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "dpop_jkt": "not a thumbprint",
    }
    response = httpx.get(pingone_mock.authorization_endpoint, params=query)
    assert "error=invalid_request" in response.headers["location"]


def test_par_with_proof_binds_the_code(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    app = pingone_mock.register_client(redirect_uris=[CALLBACK])
    form = {
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
    }
    auth = (app.client_id, app.client_secret or "")
    par = pingone_mock.par_endpoint
    mismatch = httpx.post(
        par,
        data={**form, "dpop_jkt": DPoPKey.generate().thumbprint},
        auth=auth,
        headers={"DPoP": key.proof("POST", par)},
    )
    assert mismatch.json()["error"] == "invalid_dpop_proof"
    pushed = httpx.post(par, data=form, auth=auth, headers={"DPoP": key.proof("POST", par)})
    assert pushed.status_code == 201, pushed.text
    code = _code(pingone_mock, app.client_id, request_uri=pushed.json()["request_uri"])
    url = pingone_mock.token_endpoint
    assert (
        _exchange(pingone_mock, app, code, DPoPKey.generate().proof("POST", url)).json()["error"]
        == "invalid_grant"
    )
