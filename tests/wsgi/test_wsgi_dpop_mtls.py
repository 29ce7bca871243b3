"""p1guard.wsgi.BearerTokenMiddleware with sender-constrained tokens: DPoP (RFC 9449) and
certificate-bound tokens (RFC 8705), against a live MockPingOne over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from p1guard import DPoPNonces, Guard
from p1guard._client.dpop_auth import DPoPAuth
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.testing import MockPingOne, client_certificate
from p1guard.wsgi import ENVIRON_KEY, BearerTokenMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

BASE = "http://localhost"  # werkzeug's test Client default
SECRET = b"a-shared-nonce-secret-of-32-bytes"


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    token = environ[ENVIRON_KEY]
    body = {"sub": token.subject, "method": environ["REQUEST_METHOD"]}
    return Response(json.dumps(body), content_type="application/json")(environ, start_response)


def make(guard: Guard, **options: Any) -> BearerTokenMiddleware:
    return BearerTokenMiddleware(app, guard=guard, **options)


def dpop(key: DPoPKey, token: str, method: str, url: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token)}


def pem_certificate(name: str = "client") -> tuple[str, bytes]:
    cert = client_certificate(name)
    return cert.pem.replace("\n", " ").strip(), cert.der


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_dpop_bound_token_with_its_proof_is_accepted(
    pingone_mock: MockPingOne, method: str
) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    client = Client(make(pingone_mock.guard()))
    response = client.open(
        "/orders?page=2", method=method, headers=dpop(key, token, method, f"{BASE}/orders")
    )
    assert response.status_code == 200
    assert response.json == {"sub": "user-1", "method": method}


def test_path_is_percent_encoded_as_the_client_sent_it(pingone_mock: MockPingOne) -> None:
    # PATH_INFO is latin-1-decoded bytes; the URL must be re-encoded for htu to match.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    url = f"{BASE}/app/caf%C3%A9"
    headers = dpop(key, token, "GET", url)
    response = Client(make(pingone_mock.guard())).get(
        "/caf%C3%A9", headers=headers, base_url=f"{BASE}/app/"
    )
    assert response.status_code == 200


def test_public_url_behind_a_tls_proxy(pingone_mock: MockPingOne) -> None:
    # The app sees http://internal:8000, the client signed https://api.example.com.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard()
    internal = "http://internal:8000/"
    public = "https://api.example.com/orders"
    proxied = Client(make(guard, public_url="https://api.example.com"))
    plain = Client(make(guard))
    ok = proxied.get("/orders", headers=dpop(key, token, "GET", public), base_url=internal)
    inner = proxied.get(
        "/orders", headers=dpop(key, token, "GET", f"{internal}orders"), base_url=internal
    )
    refused = plain.get("/orders", headers=dpop(key, token, "GET", public), base_url=internal)
    assert ok.status_code == 200
    assert inner.status_code == 401
    assert refused.status_code == 401
    assert 'error="invalid_dpop_proof"' in refused.headers["WWW-Authenticate"]


def test_nonce_challenge_then_retry(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    wsgi_app = make(guard)
    first = Client(wsgi_app).get("/orders", headers=dpop(key, token, "GET", f"{BASE}/orders"))
    assert first.status_code == 401
    assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
    assert first.headers["DPoP-Nonce"] == guard.dpop_nonce()
    with httpx.Client(
        transport=httpx.WSGITransport(app=wsgi_app), base_url=BASE, auth=DPoPAuth(key, token)
    ) as client:
        response = client.post("/orders", content=b"{}")
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "method": "POST"}
    assert response.headers["DPoP-Nonce"] == guard.dpop_nonce()


def test_no_nonce_header_without_nonces(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    response = Client(make(pingone_mock.guard())).get(
        "/orders", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response.headers


PROXY = {"REMOTE_ADDR": "127.0.0.1"}  # the request came through the trusted proxy


def proxy_certificates() -> ClientCertificates:
    return ClientCertificates(header="X-Client-Cert", trusted_proxies=["127.0.0.1/32"])


def test_certificate_bound_token_with_its_certificate(pingone_mock: MockPingOne) -> None:
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    client = Client(make(pingone_mock.guard(), client_certificates=proxy_certificates()))
    headers = {"Authorization": f"Bearer {token}", "X-Client-Cert": pem}
    response = client.get("/orders", headers=headers, environ_overrides=PROXY)
    assert response.status_code == 200
    assert response.json is not None and response.json["sub"] == "user-1"


def test_certificate_bound_token_with_another_certificate(pingone_mock: MockPingOne) -> None:
    # Attack: a stolen certificate-bound token used over a connection with another cert.
    _, der = pem_certificate("victim")
    other, _ = pem_certificate("attacker")
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    client = Client(make(pingone_mock.guard(), client_certificates=proxy_certificates()))
    wrong = client.get(
        "/orders",
        headers={"Authorization": f"Bearer {token}", "X-Client-Cert": other},
        environ_overrides=PROXY,
    )
    none = client.get(
        "/orders", headers={"Authorization": f"Bearer {token}"}, environ_overrides=PROXY
    )
    assert wrong.status_code == 401
    assert none.status_code == 401


def test_spoofed_certificate_header_from_untrusted_peer(pingone_mock: MockPingOne) -> None:
    # Attack: a client not behind the proxy forges the proxy's certificate header.
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    client = Client(make(pingone_mock.guard(), client_certificates=proxy_certificates()))
    response = client.get(
        "/orders",
        headers={"Authorization": f"Bearer {token}", "X-Client-Cert": pem},
        environ_overrides={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 401


def test_certificate_from_the_servers_tls_layer(pingone_mock: MockPingOne) -> None:
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    client = Client(make(pingone_mock.guard(), client_certificates=ClientCertificates()))
    multiline = (
        pem.replace(" ", "\n").replace("BEGIN\nCERT", "BEGIN CERT").replace("END\nCERT", "END CERT")
    )
    tls = {"SSL_CLIENT_CERT": multiline, "SSL_CLIENT_VERIFY": "SUCCESS"}
    headers = {"Authorization": f"Bearer {token}"}
    ok = client.get("/orders", headers=headers, environ_overrides=tls)
    failed = client.get(
        "/orders", headers=headers, environ_overrides={**tls, "SSL_CLIENT_VERIFY": "FAILED:x"}
    )
    assert ok.status_code == 200
    assert failed.status_code == 401


def test_dpop_disabled_answers_a_bare_bearer_challenge(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    client = Client(make(pingone_mock.guard(dpop="disabled")))
    response = client.get("/orders", headers=dpop(key, token, "GET", f"{BASE}/orders"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
