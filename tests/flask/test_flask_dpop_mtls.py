"""p1guard-flask with sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens
(RFC 8705), through the Flask test client against a live MockPingOne."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from p1guard import ConfigError, Guard
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.testing import MockPingOne, client_certificate
from p1guard_flask import P1Guard, current_token

URL = "http://localhost/orders"


def client_cert_pem() -> tuple[bytes, str]:
    cert = client_certificate()
    return cert.der, cert.pem


def build(guard: Guard, proxies: list[str] | None = None) -> FlaskClient:
    app = Flask(__name__)
    certs = None
    if proxies is not None:
        certs = ClientCertificates(header="X-Client-Cert", trusted_proxies=proxies)
    p1 = P1Guard(app, guard=guard, client_certificates=certs)

    @app.route("/orders", methods=["GET", "POST"])
    @p1.require_token("read")
    def orders() -> dict[str, Any]:
        return {"sub": current_token.subject}

    @app.get("/async/orders")
    @p1.require_token("read")
    async def async_orders() -> dict[str, Any]:
        return {"sub": current_token.subject}

    return app.test_client()


@pytest.fixture
def dpop_setup(pingone_mock: MockPingOne) -> tuple[FlaskClient, DPoPKey, str]:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    return build(pingone_mock.guard()), key, token


def dpop_headers(key: DPoPKey, token: str, method: str = "GET", url: str = URL) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token)}


def test_dpop_bound_token_with_its_proof(dpop_setup: tuple[FlaskClient, DPoPKey, str]) -> None:
    client, key, token = dpop_setup
    assert client.get("/orders", headers=dpop_headers(key, token)).json == {"sub": "user-1"}
    posted = client.post("/orders", headers=dpop_headers(key, token, "POST"))
    assert posted.status_code == 200
    url = "http://localhost/async/orders"
    assert client.get("/async/orders", headers=dpop_headers(key, token, url=url)).status == (
        "200 OK"
    )


def test_dpop_nonce_reaches_the_client(pingone_mock: MockPingOne) -> None:
    from p1guard import DPoPNonces

    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(b"a-shared-nonce-secret-of-32-bytes"))
    client = build(guard)
    first = client.get("/orders", headers=dpop_headers(key, token))
    assert first.status_code == 401
    assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
    nonce = first.headers["DPoP-Nonce"]
    proof = key.proof("GET", URL, access_token=token, nonce=nonce)
    again = client.get("/orders", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert again.status_code == 200


def test_certificate_bound_token_from_a_trusted_proxy(pingone_mock: MockPingOne) -> None:
    der, pem = client_cert_pem()
    token = pingone_mock.issue_token(
        ["read"], claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}}
    )
    client = build(pingone_mock.guard(), proxies=["127.0.0.1"])  # the test client's address
    forwarded = {"Authorization": f"Bearer {token}", "X-Client-Cert": urllib.parse.quote(pem)}
    assert client.get("/orders", headers=forwarded).json == {"sub": "user-1"}
    _, other_pem = client_cert_pem()
    wrong = {"Authorization": f"Bearer {token}", "X-Client-Cert": urllib.parse.quote(other_pem)}
    assert client.get("/orders", headers=wrong).status_code == 401
    assert client.get("/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_certificate_header_from_an_untrusted_peer_is_ignored(
    pingone_mock: MockPingOne,
) -> None:
    """Attack: a client forging the proxy's certificate header to use a stolen bound token."""
    der, pem = client_cert_pem()
    token = pingone_mock.issue_token(
        ["read"], claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}}
    )
    client = build(pingone_mock.guard(), proxies=["10.0.0.0/8"])
    forged = {"Authorization": f"Bearer {token}", "X-Client-Cert": urllib.parse.quote(pem)}
    refused = client.get("/orders", headers=forged)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    # Without any certificate source configured, a bound token cannot be used at all.
    assert build(pingone_mock.guard()).get("/orders", headers=forged).status_code == 401


def test_plain_bearer_tokens_are_unaffected(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    client = build(pingone_mock.guard(), proxies=["127.0.0.1"])
    ok = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert ok.json == {"sub": "user-1"}
    missing = client.get("/orders")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")


def test_required_dpop_answers_with_the_dpop_challenge(pingone_mock: MockPingOne) -> None:
    client = build(pingone_mock.guard(dpop="required", dpop_algorithms=["ES256"]))
    missing = client.get("/orders")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'DPoP algs="ES256"'


def test_client_certificates_must_be_a_source() -> None:
    with pytest.raises(ConfigError) as bad:
        P1Guard(client_certificates="X-Client-Cert")  # type: ignore[arg-type]
    assert bad.value.field == "client_certificates"
