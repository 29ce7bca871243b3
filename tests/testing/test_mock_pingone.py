"""MockPingOne over real HTTP: endpoints, keys, client auth, faults, lifecycle."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import p1guard.testing
from p1guard.testing import MockPingOne

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
HTTP = httpx.Client()  # one client: building one per request costs ~20 ms of TLS setup


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _verify(op: MockPingOne, token: str, alg: str = "RS256") -> dict[str, Any]:
    keys = HTTP.get(op.jwks_uri).json()["keys"]
    kid = _segment(token, 0)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    return jwt.decode(
        token, jwt.PyJWK(jwk).key, algorithms=[alg], audience=op.audience, issuer=op.issuer
    )


def _introspect(op: MockPingOne, token: str, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("auth", (op.resource_id, op.resource_secret))
    data = {"token": token, **kwargs.pop("data", {})}
    return HTTP.post(op.introspection_endpoint, data=data, **kwargs)


def _assertion(op: MockPingOne, key: ec.EllipticCurvePrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": op.resource_id,
        "sub": op.resource_id,
        "aud": op.introspection_endpoint,
        "iat": now,
        "exp": now + 60,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="ES256")


# -- exports and plugin ------------------------------------------------------------------------


def test_all_exports_resolve() -> None:
    for name in p1guard.testing.__all__:
        assert getattr(p1guard.testing, name) is not None
    with pytest.raises(AttributeError):
        _ = p1guard.testing.Nope


def test_plugin_import_does_not_load_werkzeug() -> None:
    code = (
        "import sys, p1guard.testing.plugin; "
        "assert 'werkzeug' not in sys.modules, 'werkzeug imported'; "
        "assert 'p1guard.testing._mock' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- discovery and keys ------------------------------------------------------------------------


def test_discovery_document_shape_and_issuer(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    assert op.issuer == f"http://127.0.0.1:{op.port}/{op.env_id}/as"
    assert str(uuid.UUID(op.env_id)) == op.env_id
    doc = HTTP.get(op.discovery_url).json()
    assert doc["issuer"] == op.issuer
    assert doc["jwks_uri"] == f"{op.issuer}/jwks"
    for name, path in [
        ("token_endpoint", "token"),
        ("introspection_endpoint", "introspect"),
        ("revocation_endpoint", "revoke"),
        ("pushed_authorization_request_endpoint", "par"),
        ("end_session_endpoint", "signoff"),
        ("authorization_endpoint", "authorize"),
        ("userinfo_endpoint", "userinfo"),
    ]:
        assert doc[name] == f"{op.issuer}/{path}"
    assert doc["response_modes_supported"] == ["pi.flow", "query", "fragment", "form_post"]
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert doc["request_uri_parameter_supported"] is False
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "read", "write"} <= set(doc["scopes_supported"])


def test_unknown_path_is_404_json(pingone_mock: MockPingOne) -> None:
    for url in (f"{pingone_mock.issuer}/nope", f"http://127.0.0.1:{pingone_mock.port}/"):
        response = HTTP.get(url)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_wrong_method_is_405(pingone_mock: MockPingOne) -> None:
    response = HTTP.get(pingone_mock.token_endpoint)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_jwks_publishes_active_kid(pingone_mock: MockPingOne) -> None:
    response = HTTP.get(pingone_mock.jwks_uri)
    assert response.headers["content-type"] == "application/json"
    (key,) = response.json()["keys"]
    assert key["kid"] == pingone_mock.active_kid()
    assert {"kty": "RSA", "use": "sig", "alg": "RS256"}.items() <= key.items()
    assert "d" not in key
    assert response.json() == pingone_mock.public_jwks()


def test_token_verifies_with_pyjwkclient(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(scopes=["read", "write"])
    client = jwt.PyJWKClient(pingone_mock.jwks_uri)
    key = client.get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=pingone_mock.audience)
    assert claims["scope"] == "read write"
    assert claims["sub"] == "user-1"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "ES384", "ES512"])
def test_other_algorithms_verify_with_their_own_key(pingone_mock: MockPingOne, alg: str) -> None:
    token = pingone_mock.issue_token(alg=alg)
    assert _segment(token, 0)["alg"] == alg
    assert _verify(pingone_mock, token, alg)["sub"] == "user-1"
    published = {k["alg"]: k["kid"] for k in pingone_mock.public_jwks()["keys"]}
    assert published[alg] == pingone_mock.active_kid(alg) != published["RS256"]


def test_token_shape_like_pingone(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    token = op.issue_token(scopes=["read"])
    assert _segment(token, 0) == {"alg": "RS256", "kid": op.active_kid(), "typ": "at+jwt"}
    claims = _verify(op, token)
    assert claims["iss"] == op.issuer
    assert claims["aud"] == "https://api.example.com"
    assert claims["client_id"] == op.client_id
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["env"] == op.env_id
    assert claims["acr"] == "Single_Factor"
    assert {"jti", "sid", "auth_time"} <= claims.keys()
    service = _segment(op.issue_token(sub=None, audience=["a", "b"]), 1)
    assert "sub" not in service
    assert "sid" not in service
    assert service["aud"] == ["a", "b"]


def test_claims_and_header_overrides(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(
        claims={"custom": {"x": 1}, "env": None},
        header={"x5t": "abc", "kid": None},
        typ=None,
        not_before=1000,
        issued_at=900,
        expires_in=10,
    )
    assert _segment(token, 0) == {"alg": "RS256", "x5t": "abc"}
    payload = _segment(token, 1)
    assert payload["custom"] == {"x": 1}
    assert "env" not in payload
    assert (payload["iat"], payload["nbf"], payload["exp"]) == (900, 1000, 910)
    lying = pingone_mock.issue_token(kid="unknown-kid", header={"alg": "HS256"})
    assert _segment(lying, 0)["kid"] == "unknown-kid"
    assert _segment(lying, 0)["alg"] == "HS256"


def test_alg_none_token_is_unsigned(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(alg="none")
    assert token.endswith(".")
    assert _segment(token, 0)["alg"] == "none"
    with pytest.raises(ValueError, match="unsupported"):
        pingone_mock.issue_token(alg="HS256")


def test_signing_key_signs_tokens_the_jwks_verifies(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    crafted = jwt.encode(
        {"iss": op.issuer, "aud": op.audience},
        op.signing_key("ES256"),
        algorithm="ES256",
        headers={"kid": op.active_kid("ES256")},
    )
    assert _verify(op, crafted, "ES256")["iss"] == op.issuer


def test_rotate_keys_publishes_new_kid_and_keeps_old(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    old_kid = op.active_kid()
    old_token = op.issue_token()
    new_kid = op.rotate_keys()
    assert new_kid == op.active_kid() != old_kid
    kids = [k["kid"] for k in HTTP.get(op.jwks_uri).json()["keys"]]
    assert kids == [new_kid, old_kid]
    assert _segment(op.issue_token(), 0)["kid"] == new_kid
    assert _verify(op, old_token)["sub"] == "user-1"
    newest = op.rotate_keys(keep_old=False)
    assert [k["kid"] for k in op.public_jwks()["keys"]] == [newest]


def _kids(op: MockPingOne) -> list[str]:
    return [k["kid"] for k in HTTP.get(op.jwks_uri).json()["keys"]]


def test_stage_next_key_publishes_without_signing(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    current = op.active_kid()
    assert op.staged_kid() is None
    staged = op.stage_next_key()
    assert staged != current
    assert op.staged_kid() == staged
    assert op.active_kid() == current
    assert _kids(op) == [current, staged]
    before = op.issue_token()
    assert _segment(before, 0)["kid"] == current
    assert _verify(op, before)["sub"] == "user-1"
    assert op.rotate_keys() == staged
    assert (op.active_kid(), op.staged_kid()) == (staged, None)
    assert _kids(op) == [staged, current]
    after = op.issue_token()
    assert _segment(after, 0)["kid"] == staged
    assert _verify(op, after)["sub"] == "user-1"
    assert _verify(op, before)["sub"] == "user-1"


def test_rotate_without_staging_still_generates_a_key(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    first = op.active_kid()
    staged = op.stage_next_key()
    assert op.rotate_keys() == staged
    emergency = op.rotate_keys()  # nothing staged any more: a brand-new key
    assert emergency not in (first, staged)
    assert _kids(op) == [emergency, staged, first]


def test_staging_per_algorithm_and_replacing(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    rs256 = op.active_kid()
    replaced = op.stage_next_key("ES256")  # creates the current ES256 key too
    es256 = op.active_kid("ES256")
    staged = op.stage_next_key("ES256")
    assert staged != replaced
    assert op.staged_kid("ES256") == staged
    assert op.staged_kid() is None
    assert _kids(op) == [rs256, es256, staged]
    assert op.rotate_keys(alg="ES256") == staged
    assert op.active_kid() == rs256
    token = op.issue_token(alg="ES256")
    assert _segment(token, 0)["kid"] == staged
    assert _verify(op, token, "ES256")["sub"] == "user-1"
    with pytest.raises(ValueError, match="unsupported"):
        op.stage_next_key("HS256")
    assert op.staged_kid("HS256") is None


def test_rotate_all_algorithms_uses_what_is_staged(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.issue_token(alg="EdDSA")
    staged = op.stage_next_key("EdDSA")
    old_rs256 = op.active_kid()
    new_rs256 = op.rotate_keys()
    assert op.active_kid("EdDSA") == staged
    assert new_rs256 == op.active_kid() != old_rs256
    assert op.staged_kid("EdDSA") is None


def test_rotate_staged_key_without_keeping_old(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.rotate_keys()  # leaves a retired key behind
    staged = op.stage_next_key()
    assert op.rotate_keys(keep_old=False) == staged
    assert _kids(op) == [staged]


def test_guard_knows_a_staged_key_before_it_signs(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    guard = op.guard(pingone=op.pingone(jwks_cooldown=3600))
    op.stage_next_key()
    assert guard.verify(op.issue_token()).subject == "user-1"  # the one JWKS fetch
    op.rotate_keys()
    assert guard.verify(op.issue_token()).subject == "user-1"  # no unknown kid, no fetch
    assert op.calls["jwks"] == 1


# -- token endpoint ----------------------------------------------------------------------------


def test_client_credentials_grant(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    basic = HTTP.post(
        op.token_endpoint,
        data={"grant_type": "client_credentials", "scope": "read"},
        auth=(op.client_id, op.client_secret),
    )
    assert basic.status_code == 200
    assert basic.headers["cache-control"] == "no-store"
    body = basic.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read"
    claims = _verify(op, body["access_token"])
    assert claims["client_id"] == op.client_id
    assert "sub" not in claims
    post = HTTP.post(
        op.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": op.client_id,
            "client_secret": op.client_secret,
        },
    )
    assert post.json()["scope"] == "read write admin"


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("mock-client", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, "app", 400, "unsupported_grant_type"),
        ({}, "app", 400, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "root"}, "app", 400, "invalid_scope"),
        ({"grant_type": "client_credentials"}, "resource", 400, "unauthorized_client"),
    ],
)
def test_token_errors(
    pingone_mock: MockPingOne, data: dict[str, str], auth: Any, status: int, error: str
) -> None:
    op = pingone_mock
    if auth == "app":
        auth = (op.client_id, op.client_secret)
    elif auth == "resource":
        auth = (op.resource_id, op.resource_secret)
    response = HTTP.post(op.token_endpoint, data=data, auth=auth)
    assert response.status_code == status
    assert response.json()["error"] == error
    if isinstance(auth, tuple) and status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


def test_token_bad_client_post_has_no_basic_challenge(pingone_mock: MockPingOne) -> None:
    data = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    response = HTTP.post(pingone_mock.token_endpoint, data=data)
    assert response.status_code == 401
    assert "www-authenticate" not in response.headers


# -- introspection and revocation --------------------------------------------------------------


def test_introspection_active_with_resource_and_app_credentials(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    token = op.issue_token(scopes=["read"])
    body = _introspect(op, token).json()
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert (body["scope"], body["sub"], body["client_id"]) == ("read", "user-1", op.client_id)
    assert (body["aud"], body["iss"]) == (op.audience, op.issuer)
    assert {"exp", "iat", "jti"} <= body.keys()
    post = _introspect(
        op, token, auth=None, data={"client_id": op.client_id, "client_secret": op.client_secret}
    )
    assert post.json()["active"] is True


def test_introspection_inactive_cases(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    assert _introspect(op, "not-a-token").json() == {"active": False}
    assert _introspect(op, op.issue_token(expires_in=-1)).json() == {"active": False}
    assert _introspect(op, op.issue_token(not_before=time.time() + 600)).json() == {"active": False}
    revoked = op.issue_token()
    op.revoke(revoked)
    assert _introspect(op, revoked).json() == {"active": False}


def test_opaque_token_introspects(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(opaque=True, scopes=["write"])
    assert token.count(".") == 0
    body = _introspect(pingone_mock, token).json()
    assert (body["active"], body["scope"]) == (True, "write")


def test_revoke_endpoint(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    token = op.issue_token()
    app = (op.client_id, op.client_secret)
    response = HTTP.post(op.revocation_endpoint, data={"token": token}, auth=app)
    assert (response.status_code, response.content) == (200, b"")
    assert _introspect(op, token).json() == {"active": False}
    unauth = HTTP.post(op.revocation_endpoint, data={"token": token})
    assert unauth.status_code == 401
    assert op.calls["revoke"] == 2


def test_introspection_requires_client_auth(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    token = op.issue_token()
    assert _introspect(op, token, auth=None).status_code == 401
    wrong = _introspect(op, token, auth=(op.resource_id, "nope"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    missing = HTTP.post(
        op.introspection_endpoint, data={}, auth=(op.resource_id, op.resource_secret)
    )
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")


def test_private_key_jwt_introspection(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    key = ec.generate_private_key(ec.SECP256R1())
    op.register_client_key(op.resource_id, key.public_key())
    token = op.issue_token()

    def call(assertion: str) -> httpx.Response:
        data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
        return _introspect(op, token, auth=None, data=data)

    good = _assertion(op, key)
    assert call(good).json()["active"] is True
    assert call(good).status_code == 401  # jti replay
    assert call(_assertion(op, key, aud=op.issuer)).status_code == 200
    assert call(_assertion(op, key, aud="https://elsewhere")).status_code == 401
    assert call(_assertion(op, key, exp=int(time.time()) + 7200)).status_code == 401
    assert call(_assertion(op, key, exp=int(time.time()) - 60)).status_code == 401
    assert call(_assertion(op, key, sub="someone-else")).status_code == 401
    other = ec.generate_private_key(ec.SECP256R1())
    assert call(_assertion(op, other)).status_code == 401


# -- faults ------------------------------------------------------------------------------------


def test_fault_down_drops_the_connection(pingone_mock: MockPingOne) -> None:
    pingone_mock.fail("jwks", "down")
    with pytest.raises(httpx.TransportError):
        HTTP.get(pingone_mock.jwks_uri)
    assert HTTP.get(pingone_mock.discovery_url).status_code == 200


def test_fault_slow_times_out_the_client(pingone_mock: MockPingOne) -> None:
    pingone_mock.fail("discovery", "slow", delay=1.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        HTTP.get(pingone_mock.discovery_url, timeout=0.1)
    pingone_mock.fail("discovery", "slow", delay=0.05, times=1)
    assert HTTP.get(pingone_mock.discovery_url, timeout=2).json()["issuer"]


def test_fault_ratelimit_and_error(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.fail("introspect", "ratelimit", retry_after=7)
    limited = _introspect(op, "x")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert "error" in limited.json()
    op.fail("introspect", "error")
    assert _introspect(op, "x").status_code == 500


def test_fault_garbage_and_truncated(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.fail("jwks", "garbage", times=1)
    garbage = HTTP.get(op.jwks_uri)
    assert garbage.status_code == 200
    assert garbage.headers["content-type"].startswith("text/html")
    assert garbage.text == "<html>oops</html>"
    normal = HTTP.get(op.jwks_uri).content
    op.fail("jwks", "truncated", times=1)
    truncated = HTTP.get(op.jwks_uri)
    assert truncated.headers["content-type"] == "application/json"
    assert truncated.content == normal[: len(normal) // 2]
    with pytest.raises(json.JSONDecodeError):
        truncated.json()


def test_fault_wrong_issuer_and_empty_keys(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.fail("discovery", "wrong_issuer")
    op.fail("jwks", "empty_keys")
    assert HTTP.get(op.discovery_url).json()["issuer"] != op.issuer
    assert HTTP.get(op.jwks_uri).json() == {"keys": []}
    with pytest.raises(ValueError, match="only applies"):
        op.fail("token", "empty_keys")
    with pytest.raises(ValueError, match="unknown endpoint"):
        op.fail("device_authorization", "down")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        op.fail("jwks", "error", times=0)


def test_fault_times_clears_itself_and_star_applies_everywhere(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.fail("*", "error", times=2)
    assert HTTP.get(op.jwks_uri).status_code == 500
    assert HTTP.get(op.discovery_url).status_code == 500
    assert HTTP.get(op.jwks_uri).status_code == 200
    op.fail("*", "empty_keys")  # jwks-only mode: other endpoints answer normally
    assert HTTP.get(op.discovery_url).status_code == 200
    assert HTTP.get(op.jwks_uri).json() == {"keys": []}
    op.clear_faults()
    assert HTTP.get(op.jwks_uri).json()["keys"]
    assert op.calls["jwks"] == 4


# -- lifecycle and counters --------------------------------------------------------------------


def test_stop_and_start_on_the_same_port(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    port, issuer = op.port, op.issuer
    op.stop()
    assert not op.running
    with pytest.raises(httpx.ConnectError):
        HTTP.get(op.jwks_uri)
    op.start()
    assert (op.port, op.issuer) == (port, issuer)
    assert HTTP.get(op.jwks_uri).status_code == 200


def test_stop_cuts_slow_requests_in_flight(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    op.fail("jwks", "slow", delay=30)
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            HTTP.get(op.jwks_uri, timeout=10)
        except httpx.HTTPError as exc:
            errors.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    while op.calls["jwks"] == 0:
        time.sleep(0.01)
    started = time.monotonic()
    op.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert len(errors) == 1


def test_call_counters_are_thread_safe(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    HTTP.get(op.discovery_url)
    op.reset_calls()
    assert op.calls == {}
    threads = [threading.Thread(target=HTTP.get, args=(op.jwks_uri,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert op.calls["jwks"] == 20
    assert op.calls["discovery"] == 0


def test_repr_hides_secrets(pingone_mock: MockPingOne) -> None:
    text = repr(pingone_mock)
    assert pingone_mock.issuer in text
    assert pingone_mock.client_secret not in text
    assert pingone_mock.resource_secret not in text


def test_pingone_and_guard_helpers(pingone_mock: MockPingOne) -> None:
    op = pingone_mock
    assert op.pingone().issuer == op.issuer
    guard = op.guard()
    token = guard.verify(op.issue_token(scopes=["read"]), scopes=["read"])
    assert token.subject == "user-1"
