"""p1guard.asgi.BearerTokenMiddleware with sender-constrained tokens: DPoP (RFC 9449) and
certificate-bound tokens (RFC 8705), against a live MockPingOne over real HTTP."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from p1guard import DPoPNonces, Guard
from p1guard._client.dpop_auth import DPoPAuth
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.asgi import BearerTokenMiddleware, request_url
from p1guard.testing import MockPingOne, client_certificate

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

BASE = "http://testserver"
SECRET = b"a-shared-nonce-secret-of-32-bytes"


async def orders(request: Request) -> JSONResponse:
    token = request.state.access_token
    return JSONResponse({"sub": token.subject, "method": request.method})


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"sub": websocket.state.access_token.subject})
    await websocket.close()


def make_app(guard: Guard, **options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/orders", orders, methods=["GET", "POST"]),
            Route("/other", orders),
            WebSocketRoute("/ws", ws_endpoint),
        ],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard, **options)],
    )


def client_for(app: Starlette, base: str = BASE, **transport: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, **transport), base_url=base)


def dpop(key: DPoPKey, token: str, method: str, url: str) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token)}


def pem_certificate(name: str = "client") -> tuple[str, bytes]:
    cert = client_certificate(name)
    return cert.pem.replace("\n", " ").strip(), cert.der


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_dpop_bound_token_with_its_proof_is_accepted(
    pingone_mock: MockPingOne, method: str
) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    async with client_for(make_app(pingone_mock.guard())) as client:
        response = await client.request(
            method, "/orders?page=2", headers=dpop(key, token, method, f"{BASE}/orders")
        )
    assert response.status_code == 200
    assert response.json() == {"sub": "user-1", "method": method}


async def test_public_url_behind_a_tls_proxy(pingone_mock: MockPingOne) -> None:
    # The app sees http://internal:8000, the client signed https://api.example.com.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard()
    proxied = make_app(guard, public_url="https://api.example.com")
    plain = make_app(guard)
    internal = "http://internal:8000"
    async with client_for(proxied, internal) as client:
        ok = await client.get(
            "/orders", headers=dpop(key, token, "GET", "https://api.example.com/orders")
        )
        # A proof for the internal URL is not valid for the public API.
        inner = await client.get("/orders", headers=dpop(key, token, "GET", f"{internal}/orders"))
    async with client_for(plain, internal) as client:
        refused = await client.get(
            "/orders", headers=dpop(key, token, "GET", "https://api.example.com/orders")
        )
    assert ok.status_code == 200
    assert inner.status_code == 401
    assert refused.status_code == 401
    assert 'error="invalid_dpop_proof"' in refused.headers["WWW-Authenticate"]


async def test_nonce_challenge_then_retry(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    app = make_app(guard)
    async with client_for(app) as client:
        first = await client.get("/orders", headers=dpop(key, token, "GET", f"{BASE}/orders"))
    assert first.status_code == 401
    assert 'error="use_dpop_nonce"' in first.headers["WWW-Authenticate"]
    assert first.headers["DPoP-Nonce"] == guard.dpop_nonce()
    auth = DPoPAuth(key, token)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE, auth=auth
    ) as client:
        response = await client.get("/orders")
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"
    # Successful answers carry the current nonce too (RFC 9449 §8.2).
    assert response.headers["DPoP-Nonce"] == guard.dpop_nonce()


async def test_no_nonce_header_without_nonces(pingone_mock: MockPingOne) -> None:
    token = pingone_mock.issue_token(["read"])
    async with client_for(make_app(pingone_mock.guard())) as client:
        response = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert "DPoP-Nonce" not in response.headers


def proxy_certificates() -> ClientCertificates:
    return ClientCertificates(header="X-Client-Cert", trusted_proxies=["127.0.0.1/32"])


async def test_certificate_bound_token_with_its_certificate(pingone_mock: MockPingOne) -> None:
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    app = make_app(pingone_mock.guard(), client_certificates=proxy_certificates())
    headers = {"Authorization": f"Bearer {token}", "X-Client-Cert": pem}
    async with client_for(app) as client:  # ASGITransport's peer is 127.0.0.1
        response = await client.get("/orders", headers=headers)
    assert response.status_code == 200
    assert response.json()["sub"] == "user-1"


async def test_certificate_bound_token_with_another_certificate(
    pingone_mock: MockPingOne,
) -> None:
    # Attack: a stolen certificate-bound token used over a connection with another cert.
    _, der = pem_certificate("victim")
    other, _ = pem_certificate("attacker")
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    app = make_app(pingone_mock.guard(), client_certificates=proxy_certificates())
    async with client_for(app) as client:
        wrong = await client.get(
            "/orders", headers={"Authorization": f"Bearer {token}", "X-Client-Cert": other}
        )
        none = await client.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 401
    assert none.status_code == 401


async def test_spoofed_certificate_header_from_untrusted_peer(pingone_mock: MockPingOne) -> None:
    # Attack: a client not behind the proxy forges the proxy's certificate header.
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    app = make_app(pingone_mock.guard(), client_certificates=proxy_certificates())
    headers = {"Authorization": f"Bearer {token}", "X-Client-Cert": pem}
    async with client_for(app, client=("203.0.113.9", 4444)) as client:
        response = await client.get("/orders", headers=headers)
    assert response.status_code == 401


async def test_certificate_bound_token_without_client_certificates(
    pingone_mock: MockPingOne,
) -> None:
    pem, der = pem_certificate()
    token = pingone_mock.issue_token(["read"], x5t_s256=certificate_thumbprint(der))
    headers = {"Authorization": f"Bearer {token}", "X-Client-Cert": pem}
    async with client_for(make_app(pingone_mock.guard())) as client:
        response = await client.get("/orders", headers=headers)
    assert response.status_code == 401


async def test_dpop_disabled_answers_a_bare_bearer_challenge(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    app = make_app(pingone_mock.guard(dpop="disabled"))
    async with client_for(app) as client:
        response = await client.get("/orders", headers=dpop(key, token, "GET", f"{BASE}/orders"))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_websocket_with_dpop(pingone_mock: MockPingOne) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    with TestClient(make_app(pingone_mock.guard())) as client:
        # The handshake is a GET; htu uses http(s), not ws(s) (RFC 9449 §4.2).
        headers = dpop(key, token, "GET", f"{BASE}/ws")
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {"sub": "user-1"}
        wrong = dpop(key, token, "GET", f"{BASE}/other")
        with (
            pytest.raises(WebSocketDisconnect) as info,
            client.websocket_connect("/ws", headers=wrong),
        ):
            pass  # pragma: no cover - the handshake is refused
    assert info.value.code == 1008


def test_request_url_reconstruction() -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "scheme": "https",
        "server": ("::1", 443),
        "path": "/api/a b",
        "root_path": "/api",
        "headers": [],
    }
    assert request_url(scope) == "https://[::1]/api/a%20b"
    # A proxy stripped the mount prefix: raw_path lacks it, root_path puts it back.
    scope.update(raw_path=b"/caf%C3%A9", path="/api/café")
    assert (
        request_url(scope, "API.example.com:8443") == "https://API.example.com:8443/api/caf%C3%A9"
    )
    assert request_url({"scheme": "ws", "path": "/x"}) == "http:///x"  # no host: not absolute
