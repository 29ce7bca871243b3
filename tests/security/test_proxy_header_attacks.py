"""Forged ``X-Forwarded-For`` against certificate headers, with a real uvicorn on loopback.

``ClientCertificates(header=…, trusted_proxies=…)`` trusts a certificate header only from a
proxy's address: the ASGI ``scope["client"]``. uvicorn rewrites that address from
``X-Forwarded-For`` by default (``proxy_headers=True``) for peers in ``forwarded_allow_ips``
(default ``127.0.0.1,::1``), so a client that reaches uvicorn from such an address (a local
proxy that passes the header on, a sidecar, any local process) can *claim* to be the trusted
proxy and present someone else's certificate. The README's safe configurations —
``--no-proxy-headers``, or ``--forwarded-allow-ips`` naming exactly the proxy — refuse it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from p1guard import Guard
from p1guard._cli.demo_server import bind
from p1guard._sender.binding import certificate_thumbprint
from p1guard._sender.certificates import ClientCertificates
from p1guard.asgi import BearerTokenMiddleware
from p1guard.testing import MockPingOne, client_certificate

PROXY_NETWORK = "10.0.0.0/8"  # where the TLS-terminating proxy lives
FORGED_PEER = "10.0.0.5"


async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.access_token.subject})


@contextmanager
def served(guard: Guard, **config: Any) -> Iterator[str]:
    """The protected app under a real uvicorn with ``config`` on a free loopback port."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await guard.aclose()

    certs = ClientCertificates(header="X-Client-Cert", trusted_proxies=[PROXY_NETWORK])
    app = Starlette(
        routes=[Route("/orders", orders)],
        middleware=[Middleware(BearerTokenMiddleware, guard=guard, client_certificates=certs)],
        lifespan=lifespan,
    )
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **config)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert server.started, "uvicorn did not start"
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _stolen_certificate_request(op: MockPingOne, url: str) -> httpx.Response:
    """A client on 127.0.0.1 replays a certificate-bound token with the victim's certificate
    in the proxy's header, and claims to be the proxy in X-Forwarded-For."""
    cert = client_certificate("victim-service")
    token = op.issue_token(["read"], x5t_s256=certificate_thumbprint(cert.der))
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Client-Cert": cert.escaped_pem,
        "X-Forwarded-For": FORGED_PEER,
    }
    return httpx.get(f"{url}/orders", headers=headers)


@pytest.mark.parametrize(
    "config",
    [
        {"proxy_headers": False},  # uvicorn --no-proxy-headers
        {"forwarded_allow_ips": "10.0.0.1"},  # --forwarded-allow-ips=<exactly the proxy>
    ],
    ids=["no-proxy-headers", "forwarded-allow-ips-exactly-the-proxy"],
)
def test_forged_forwarded_for_cannot_pass_as_the_certificate_proxy(
    pingone_mock: MockPingOne, config: dict[str, Any]
) -> None:
    with served(pingone_mock.guard(), **config) as url:
        response = _stolen_certificate_request(pingone_mock, url)
    assert response.status_code == 401
    assert "certificate" in response.json()["error_description"]


def test_uvicorn_defaults_let_a_loopback_client_claim_the_proxy_address(
    pingone_mock: MockPingOne,
) -> None:
    """Why the README says so: with uvicorn's defaults the same request is accepted."""
    with served(pingone_mock.guard()) as url:  # proxy_headers=True, trusts 127.0.0.1
        response = _stolen_certificate_request(pingone_mock, url)
    assert response.status_code == 200
