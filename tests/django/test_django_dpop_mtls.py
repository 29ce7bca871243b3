"""p1guard-django with sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens
(RFC 8705) through the middleware, ``@require_token`` and DRF, with Django's test clients
against a live MockPingOne; and the ``CLIENT_CERTIFICATES`` setting's system check."""

from __future__ import annotations

import urllib.parse

import pytest
from django.core import checks
from django.test import AsyncClient, Client, override_settings
from django_support import Use

from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.testing import MockPingOne, client_certificate
from p1guard_django.auth import bearer_rules
from p1guard_django.conf import get_options

BASE = "http://testserver"


def client_cert_pem() -> tuple[bytes, str]:
    cert = client_certificate()
    return cert.der, cert.pem


def dpop(key: DPoPKey, token: str, path: str, method: str = "GET") -> dict[str, str]:
    proof = key.proof(method, BASE + path, access_token=token)
    return {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}


@pytest.fixture
def bound(pingone_mock: MockPingOne) -> tuple[DPoPKey, str]:
    key = DPoPKey.generate()
    return key, pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)


@pytest.mark.parametrize("path", ["/api/plain", "/open/read", "/drf/items"])
def test_dpop_bound_token_with_its_proof(
    p1guard: Use, client: Client, bound: tuple[DPoPKey, str], path: str
) -> None:
    key, token = bound
    response = client.get(path, **dpop(key, token, path))  # type: ignore[arg-type]
    assert response.status_code == 200
    assert "user-1" in response.content.decode()


async def test_dpop_async_views(
    p1guard: Use, async_client: AsyncClient, bound: tuple[DPoPKey, str]
) -> None:
    key, token = bound
    for path in ("/api/async", "/open/async-me"):
        proof = key.proof("GET", BASE + path, access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        response = await async_client.get(path, headers=headers)
        assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/plain", "/open/read", "/drf/items"])
def test_proof_for_another_url_or_method_is_refused(
    p1guard: Use, client: Client, bound: tuple[DPoPKey, str], path: str
) -> None:
    """Attack: a proof captured for one endpoint replayed against another (htu/htm)."""
    key, token = bound
    for headers in (dpop(key, token, "/admin"), dpop(key, token, path, method="POST")):
        refused = client.get(path, **headers)  # type: ignore[arg-type]
        assert refused.status_code == 401
        challenge = refused["WWW-Authenticate"]
        assert challenge.startswith("DPoP ")
        assert 'error="invalid_dpop_proof"' in challenge


def test_dpop_request_lacking_a_scope_gets_the_dpop_challenge(
    p1guard: Use, client: Client, bound: tuple[DPoPKey, str]
) -> None:
    key, token = bound
    for path in ("/open/any", "/drf/any"):
        denied = client.get(path, **dpop(key, token, path))  # type: ignore[arg-type]
        assert denied.status_code == 403
        assert denied["WWW-Authenticate"].startswith('DPoP error="insufficient_scope"')


def test_drf_answers_the_dpop_challenge_when_dpop_is_required(
    p1guard: Use, client: Client, bound: tuple[DPoPKey, str]
) -> None:
    p1guard(GUARD_OPTIONS={"dpop": "required", "dpop_algorithms": ["ES256"]})
    missing = client.get("/drf/items")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"] == 'DPoP algs="ES256"'
    key, token = bound
    assert client.get("/drf/items", **dpop(key, token, "/drf/items")).status_code == 200  # type: ignore[arg-type]


def test_certificate_bound_token_from_a_trusted_proxy(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    der, pem = client_cert_pem()
    token = pingone_mock.issue_token(
        ["read"], claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}}
    )
    # The test client's REMOTE_ADDR is 127.0.0.1: here, the TLS-terminating proxy.
    p1guard(CLIENT_CERTIFICATES={"HEADER": "X-Client-Cert", "TRUSTED_PROXIES": ["127.0.0.1"]})
    forwarded = {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_CLIENT_CERT": urllib.parse.quote(pem),
    }
    for path in ("/api/plain", "/open/read", "/drf/items"):
        assert client.get(path, **forwarded).status_code == 200  # type: ignore[arg-type]
    assert client.get("/api/plain", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_certificate_header_from_an_untrusted_peer_is_ignored(
    p1guard: Use, client: Client, pingone_mock: MockPingOne
) -> None:
    """Attack: a client forging the proxy's certificate header to use a stolen bound token."""
    der, pem = client_cert_pem()
    token = pingone_mock.issue_token(
        ["read"], claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}}
    )
    forged = {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_CLIENT_CERT": urllib.parse.quote(pem),
    }
    p1guard(CLIENT_CERTIFICATES={"HEADER": "X-Client-Cert", "TRUSTED_PROXIES": ["10.0.0.0/8"]})
    refused = client.get("/api/plain", **forged)  # type: ignore[arg-type]
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    p1guard(CLIENT_CERTIFICATES=None)  # no source: a bound token cannot be used at all
    assert client.get("/api/plain", **forged).status_code == 401  # type: ignore[arg-type]


def test_client_certificates_setting_is_normalised(p1guard: Use) -> None:
    p1guard(CLIENT_CERTIFICATES={"HEADER": "Client-Cert", "TRUSTED_PROXIES": ["10.0.0.1"]})
    source = get_options().client_certificates
    assert isinstance(source, ClientCertificates)
    assert source.header == "client-cert"
    given = ClientCertificates()
    p1guard(CLIENT_CERTIFICATES=given)
    assert get_options().client_certificates is given


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"HEADER": "X-Client-Cert"}, "TRUSTED_PROXIES"),
        ({"HEADER": "X-Client-Cert", "TRUSTED_PROXIES": ["0.0.0.0/0"]}, "trusts every address"),
        ({"HEADER": "X-Client-Cert", "PROXIES": ["10.0.0.1"]}, "unknown key 'PROXIES'"),
        ("X-Client-Cert", "must be a dict"),
    ],
)
def test_bad_client_certificates_is_a_system_check_error(value: object, fragment: str) -> None:
    settings = {
        "ENV_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "AUDIENCE": "https://api.example.com",
        "CLIENT_CERTIFICATES": value,
    }
    with override_settings(P1GUARD=settings):
        found = checks.run_checks(tags=["p1guard"])
    assert [m.id for m in found] == ["p1guard.E014"]
    assert fragment in found[0].msg


PUBLIC = "https://api.example.com"


@pytest.mark.parametrize("path", ["/api/plain", "/open/read", "/drf/items"])
def test_behind_a_proxy_the_proof_is_for_the_public_url(
    p1guard: Use, client: Client, bound: tuple[DPoPKey, str], path: str
) -> None:
    """Behind a proxy Django sees ``http://testserver``; the client signed ``htu`` for the public
    URL. With ``PUBLIC_URL`` the proof for the public URL is accepted (the same pipeline as the
    ASGI/WSGI middlewares, :meth:`BearerRules.presentation`) and one for the internal URL — a
    proof minted for another origin — is refused."""
    p1guard(PUBLIC_URL=PUBLIC)
    assert bearer_rules().public_url == PUBLIC
    key, token = bound
    public = key.proof("GET", PUBLIC + path, access_token=token)
    accepted = client.get(path, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=public)
    assert accepted.status_code == 200
    internal = key.proof("GET", BASE + path, access_token=token)
    refused = client.get(path, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=internal)
    assert refused.status_code == 401
    assert 'error="invalid_dpop_proof"' in refused["WWW-Authenticate"]


@pytest.mark.parametrize(
    "value", ["https://api.example.com/v1", "ftp://api.example.com", "api.example.com", 42]
)
def test_public_url_that_is_no_origin_is_a_system_check_error(p1guard: Use, value: object) -> None:
    p1guard(PUBLIC_URL=value)
    found = checks.run_checks(tags=["p1guard"])
    assert [m.id for m in found] == ["p1guard.E015"]
    assert "PUBLIC_URL" in found[0].msg
