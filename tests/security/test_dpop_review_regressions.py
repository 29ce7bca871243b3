"""Defects the DPoP/mTLS security review found, each pinned by a test named after it."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as WRequest
from werkzeug.wrappers import Response as WResponse

from p1guard import InvalidDPoPProof, InvalidToken, Presentation, ProviderUnavailable
from p1guard._client.dpop_auth import DPoPAuth
from p1guard._client.dpop_key import DPoPKey
from p1guard._tokens.keys import public_key_from_jwk
from p1guard.asgi import BearerTokenMiddleware as AsgiMiddleware
from p1guard.asgi import request_url
from p1guard.testing import MockPingOne
from p1guard.wsgi import BearerTokenMiddleware as WsgiMiddleware


async def _where(request: Request) -> JSONResponse:
    return JSONResponse({"route": request.url.path})


@pytest.mark.parametrize("public_url", [None, "https://api.example.com"])
async def test_host_header_cannot_move_the_htu_check_to_another_path(
    pingone_mock: MockPingOne, public_url: str | None
) -> None:
    """``Host: api.example.com/admin?`` made ``/orders`` look like ``/admin?/orders``."""
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    routes = [Route("/orders", _where), Route("/admin", _where)]
    middleware = [Middleware(AsgiMiddleware, guard=pingone_mock.guard(), public_url=public_url)]
    app = Starlette(routes=routes, middleware=middleware)
    stolen = key.proof("GET", "https://api.example.com/admin", access_token=token)
    # With the path lost to a refused Host, "/" must not stand in for it either.
    root = key.proof("GET", "https://api.example.com/", access_token=token)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.example.com") as c:
        headers = {
            "Authorization": f"DPoP {token}",
            "DPoP": stolen,
            "Host": "api.example.com/admin?",
        }
        response = await c.get("/orders", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("DPoP ")
        headers["DPoP"] = root
        assert (await c.get("/orders", headers=headers)).status_code == 401


def test_request_url_refuses_a_host_that_is_not_a_host() -> None:
    scope = {"scheme": "https", "raw_path": b"/orders", "path": "/orders"}
    assert request_url(scope, "evil.example/admin?") == "https://"
    assert request_url(scope, "api.example.com:8443") == "https://api.example.com:8443/orders"


@pytest.mark.parametrize("public_url", [None, "https://api.example.com"])
def test_wsgi_host_header_cannot_move_the_htu_check(
    pingone_mock: MockPingOne, public_url: str | None
) -> None:
    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        raise AssertionError("a forged Host must not reach the app")

    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    guarded = WsgiMiddleware(app, guard=pingone_mock.guard(), public_url=public_url)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/orders",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "HTTP_HOST": "api.example.com/admin?",
        "HTTP_AUTHORIZATION": f"DPoP {token}",
        "HTTP_DPOP": key.proof("GET", "https://api.example.com/admin", access_token=token),
        "wsgi.input": io.BytesIO(),
    }
    status: list[str] = []
    b"".join(guarded(environ, lambda s, h, e=None: status.append(s)))  # type: ignore[arg-type]
    assert status == ["401 Unauthorized"]


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_client_rsa_key_with_a_huge_exponent_is_refused_before_any_signature_check() -> None:
    """A huge ``e`` made each proof check up to 60 times slower, for anyone with a bound token."""
    n = rsa.generate_private_key(65537, 2048).private_numbers().public_numbers.n
    with pytest.raises(ValueError, match="exponent"):
        public_key_from_jwk({"kty": "RSA", "n": _b64(n), "e": _b64((1 << 2047) + 1)})
    assert public_key_from_jwk({"kty": "RSA", "n": _b64(n), "e": "AQAB"}) is not None


@pytest.fixture
def redirecting_servers() -> Iterator[tuple[str, str, list[str]]]:
    """Two real loopback servers: the API redirects to the other, which asks for a nonce."""
    seen: list[str] = []

    @WRequest.application
    def other(request: WRequest) -> WResponse:
        seen.append(f"other {request.headers.get('Authorization')}")
        challenge = {"WWW-Authenticate": 'DPoP error="use_dpop_nonce"', "DPoP-Nonce": "evil"}
        return WResponse("", status=401, headers=challenge)

    servers = [make_server("127.0.0.1", 0, other)]
    other_url = f"http://127.0.0.1:{servers[0].server_port}/steal"

    @WRequest.application
    def api(request: WRequest) -> WResponse:
        seen.append("api")
        return WResponse("", status=302, headers={"Location": other_url})

    servers.append(make_server("127.0.0.1", 0, api))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{servers[1].server_port}/orders", other_url, seen
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_dpop_auth_does_not_learn_or_retry_for_a_redirect_target(
    redirecting_servers: tuple[str, str, list[str]],
) -> None:
    api_url, other_url, seen = redirecting_servers
    auth = DPoPAuth(DPoPKey.generate(), "secret-access-token")
    with httpx.Client(auth=auth, follow_redirects=True, timeout=5) as client:
        response = client.get(api_url)
    assert response.status_code == 401
    assert seen == ["api", "other None"]  # no retry spent on the other origin's challenge
    assert auth.nonces.get(api_url) is None  # the other origin's nonce is not ours
    assert auth.nonces.get(other_url) == "evil"


URL = "https://api.example.com/orders"


def _dpop(key: DPoPKey, token: str) -> Presentation:
    return Presentation("DPoP", "GET", URL, (key.proof("GET", URL, access_token=token),))


@pytest.mark.parametrize(
    "cnf",
    [
        {"jwk": {"kty": "EC"}},
        {"kid": "k1"},
        {"jku": "https://attacker.example/jwks"},
        {"x5t": "abc"},
        {"JKT": "hAb4"},
        {"x5t#s256": "abc"},
        {},
    ],
)
def test_token_bound_by_an_unsupported_cnf_method_is_not_a_bearer_token(
    pingone_mock: MockPingOne, cnf: dict[str, object]
) -> None:
    """A binding the Guard cannot check used to be ignored: the token then passed as Bearer."""
    token = pingone_mock.issue_token(["read"], claims={"cnf": cnf})
    with pytest.raises(InvalidToken) as info:
        pingone_mock.guard().verify(token)
    assert info.value.reason in ("unsupported_cnf", "bad_cnf")


def test_one_key_flooding_proofs_cannot_lock_other_dpop_clients_out(
    pingone_mock: MockPingOne,
) -> None:
    """One bound token and its key could fill the replay record: 503 for every DPoP client."""
    guard = pingone_mock.guard(dpop_replay_size=200)
    attacker, victim = DPoPKey.generate(), DPoPKey.generate()
    flooding = pingone_mock.issue_token(["read"], dpop_jkt=attacker.thumbprint)
    honest = pingone_mock.issue_token(["read"], dpop_jkt=victim.thumbprint)
    refused = 0
    for _ in range(300):
        try:
            guard.verify(flooding, presentation=_dpop(attacker, flooding))
        except ProviderUnavailable:
            refused += 1
    assert refused == 0  # fresh proofs are never refused; the flooder evicts its own oldest
    assert guard._replays.evictions == 100
    presentation = _dpop(victim, honest)
    assert guard.verify(honest, presentation=presentation).subject == "user-1"
    assert guard._replays.evictions == 101
    with pytest.raises(InvalidDPoPProof):
        guard.verify(honest, presentation=presentation)


@pytest.mark.parametrize(
    "public_url",
    [
        "https://api.example.com/v1",
        "https://api.example.com/?x=1",
        "https://u@api.example.com",
        "api",
    ],
)
def test_public_url_must_be_an_origin_not_silently_cut(
    pingone_mock: MockPingOne, public_url: str
) -> None:
    """A path in public_url used to be dropped: proofs were then checked against another URL."""
    from p1guard import ConfigError

    async def app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
        raise AssertionError("not reached")

    with pytest.raises(ConfigError) as info:
        AsgiMiddleware(app, guard=pingone_mock.guard(), public_url=public_url)
    assert info.value.field == "public_url"
