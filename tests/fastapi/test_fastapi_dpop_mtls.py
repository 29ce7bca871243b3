"""PingOneBearer with sender-constrained tokens: DPoP (RFC 9449) and certificate-bound tokens
(RFC 8705), over httpx's ASGI transport (which lets the test choose the peer address) against a
live MockPingOne.

No ``from __future__ import annotations``: FastAPI reads the route annotations at runtime.
"""

import urllib.parse
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Security

from p1guard import AccessToken, ConfigError, DPoPNonces, Guard
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.testing import MockPingOne, client_certificate
from p1guard_fastapi import PingOneBearer

URL = "http://api.test/orders"


def client_cert_pem() -> tuple[bytes, str]:
    cert = client_certificate()
    return cert.der, cert.pem


def make_app(guard: Guard, **options: Any) -> FastAPI:
    auth = PingOneBearer(guard, **options)
    app = FastAPI()

    @app.api_route("/orders", methods=["GET", "POST"])
    async def orders(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> Any:
        return {"sub": token.subject}

    @app.get("/sync/orders")
    def sync_orders(token: Annotated[AccessToken, Security(auth, scopes=["read"])]) -> Any:
        return {"sub": token.subject}

    return app


def client_for(app: FastAPI, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api.test")


@pytest.fixture
async def guard(pingone_mock: MockPingOne) -> AsyncIterator[Guard]:
    guard = pingone_mock.guard()
    yield guard
    await guard.aclose()


def dpop_headers(key: DPoPKey, token: str, method: str = "GET", url: str = URL) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token)}


async def test_dpop_bound_token_with_its_proof(pingone_mock: MockPingOne, guard: Guard) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    async with client_for(make_app(guard)) as client:
        ok = await client.get("/orders", headers=dpop_headers(key, token))
        assert ok.json() == {"sub": "user-1"}
        posted = await client.post("/orders", headers=dpop_headers(key, token, "POST"))
        assert posted.status_code == 200
        sync_url = "http://api.test/sync/orders"
        sync = await client.get("/sync/orders", headers=dpop_headers(key, token, url=sync_url))
        assert sync.json() == {"sub": "user-1"}


async def test_dpop_nonce_reaches_the_client(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(b"a-shared-nonce-secret-of-32-bytes"))
    async with client_for(make_app(guard)) as client:
        first = await client.get("/orders", headers=dpop_headers(key, token))
        assert first.status_code == 401
        assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
        proof = key.proof("GET", URL, access_token=token, nonce=first.headers["DPoP-Nonce"])
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
        assert (await client.get("/orders", headers=headers)).status_code == 200
    await guard.aclose()


async def test_certificate_bound_token_from_a_trusted_proxy(
    pingone_mock: MockPingOne, guard: Guard
) -> None:
    der, pem = client_cert_pem()
    token = pingone_mock.issue_token(
        ["read"], claims={"cnf": {"x5t#S256": certificate_thumbprint(der)}}
    )
    certs = ClientCertificates(header="X-Client-Cert", trusted_proxies=["10.0.0.0/8"])
    app = make_app(guard, client_certificates=certs)
    forwarded = {"Authorization": f"Bearer {token}", "X-Client-Cert": urllib.parse.quote(pem)}
    async with client_for(app, peer="10.1.2.3") as proxy:
        assert (await proxy.get("/orders", headers=forwarded)).json() == {"sub": "user-1"}
        bare = await proxy.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert bare.status_code == 401
    # Attack: a client forging the proxy's header to use a stolen certificate-bound token.
    async with client_for(app, peer="203.0.113.9") as direct:
        forged = await direct.get("/orders", headers=forwarded)
        assert forged.status_code == 401
        assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    # Without a certificate source, bound tokens cannot be used at all.
    async with client_for(make_app(guard), peer="10.1.2.3") as unconfigured:
        assert (await unconfigured.get("/orders", headers=forwarded)).status_code == 401


async def test_plain_bearer_and_required_dpop_challenges(
    pingone_mock: MockPingOne, guard: Guard
) -> None:
    token = pingone_mock.issue_token(["read"])
    async with client_for(make_app(guard)) as client:
        ok = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert ok.json() == {"sub": "user-1"}
        missing = await client.get("/orders")
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    required = pingone_mock.guard(dpop="required", dpop_algorithms=["ES256"])
    async with client_for(make_app(required)) as client:
        refused = await client.get("/orders")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'DPoP algs="ES256"'
    await required.aclose()


def test_client_certificates_must_be_a_source(guard: Guard) -> None:
    with pytest.raises(ConfigError) as bad:
        PingOneBearer(guard, client_certificates="X-Client-Cert")  # type: ignore[arg-type]
    assert bad.value.field == "client_certificates"
