"""DPoPAuth (httpx) and the shared DPoP request flow: real HTTP against MockPingOne's userinfo,
plus the nonce rules driven by hand."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest

from p1guard import ConfigError
from p1guard._client.dpop_auth import DPoPAuth, NonceMemory, dpop_flow, is_nonce_challenge
from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Request, Response
from p1guard._sender.binding import access_token_hash
from p1guard.testing import MockPingOne


@pytest.fixture
def key() -> DPoPKey:
    return DPoPKey.generate()


def bound_token(op: MockPingOne, key: DPoPKey) -> str:
    return op.issue_token(["openid", "email"], dpop_jkt=key.thumbprint)


def test_sync_client_calls_userinfo_with_bound_token(
    pingone_mock: MockPingOne, key: DPoPKey
) -> None:
    with httpx.Client(auth=DPoPAuth(key, bound_token(pingone_mock, key))) as client:
        response = client.get(pingone_mock.userinfo_endpoint)
        again = client.get(pingone_mock.userinfo_endpoint)  # a fresh proof each time
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "ada@example.com"
    assert again.status_code == 200
    proof = response.request.headers["DPoP"]
    claims = jwt.decode(proof, options={"verify_signature": False})
    assert claims["ath"] == access_token_hash(response.request.headers["Authorization"][5:])
    assert proof != again.request.headers["DPoP"]


async def test_async_client_calls_userinfo_with_bound_token(
    pingone_mock: MockPingOne, key: DPoPKey
) -> None:
    auth = DPoPAuth(key, bound_token(pingone_mock, key))
    async with httpx.AsyncClient(auth=auth) as client:
        responses = await asyncio.gather(
            *(client.get(pingone_mock.userinfo_endpoint) for _ in range(3))
        )
    assert [r.status_code for r in responses] == [200, 200, 200]


def test_nonce_challenge_retried_once_then_remembered(
    pingone_mock: MockPingOne, key: DPoPKey
) -> None:
    pingone_mock.require_dpop_nonce = True
    auth = DPoPAuth(key, bound_token(pingone_mock, key))
    with httpx.Client(auth=auth) as client:
        assert client.get(pingone_mock.userinfo_endpoint).status_code == 200
        assert pingone_mock.calls["userinfo"] == 2  # challenge + retry
        assert client.get(pingone_mock.userinfo_endpoint).status_code == 200
        assert pingone_mock.calls["userinfo"] == 3  # nonce remembered
        pingone_mock.rotate_dpop_nonce()
        assert client.get(pingone_mock.userinfo_endpoint).status_code == 200
        assert pingone_mock.calls["userinfo"] == 5
    assert auth.nonces.get(pingone_mock.userinfo_endpoint) == pingone_mock.dpop_nonce


async def test_async_nonce_challenge(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    pingone_mock.require_dpop_nonce = True
    auth = DPoPAuth(key, bound_token(pingone_mock, key))
    async with httpx.AsyncClient(auth=auth) as client:
        response = await client.post(pingone_mock.userinfo_endpoint, data={"x": "1"})
    assert response.status_code == 200
    assert pingone_mock.calls["userinfo"] == 2


def test_refused_token_is_not_retried(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    """A token bound to another key gets its 401 back after one call, no retry loop."""
    token = bound_token(pingone_mock, DPoPKey.generate())
    with httpx.Client(auth=DPoPAuth(key, token)) as client:
        response = client.get(pingone_mock.userinfo_endpoint)
    assert response.status_code == 401
    assert pingone_mock.calls["userinfo"] == 1


def test_access_token_can_be_replaced(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    auth = DPoPAuth(key, pingone_mock.issue_token(["openid"], dpop_jkt=key.thumbprint, sub="x"))
    with httpx.Client(auth=auth) as client:
        assert client.get(pingone_mock.userinfo_endpoint).json() == {"sub": "x"}
        auth.access_token = bound_token(pingone_mock, key)
        assert client.get(pingone_mock.userinfo_endpoint).json()["sub"] == "user-1"


def test_threads_share_one_auth(pingone_mock: MockPingOne, key: DPoPKey) -> None:
    pingone_mock.require_dpop_nonce = True
    auth = DPoPAuth(key, bound_token(pingone_mock, key))
    barrier = threading.Barrier(4)

    def call(_: int) -> int:
        with httpx.Client(auth=auth) as client:
            barrier.wait(timeout=5)
            return client.get(pingone_mock.userinfo_endpoint).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(call, range(4))) == [200] * 4


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        DPoPAuth("key", "token")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        DPoPAuth(DPoPKey.generate(), "")


# -- rules driven by hand --------------------------------------------------------------------

TOKEN_URL = "https://auth.example.com/env/as/token"
NONCE_400 = Response(400, {"dpop-nonce": "n-1"}, b'{"error": "use_dpop_nonce"}')


def test_dpop_flow_retries_exactly_once() -> None:
    """A server that keeps asking for a new nonce cannot make the client loop."""
    key, nonces = DPoPKey.generate(), NonceMemory()
    flow = dpop_flow(Request("POST", TOKEN_URL, "token", form={"a": "b"}), key, nonces)
    first = next(flow)
    assert "nonce" not in jwt.decode(first.headers["DPoP"], options={"verify_signature": False})
    second = flow.send(NONCE_400)
    claims = jwt.decode(second.headers["DPoP"], options={"verify_signature": False})
    assert claims["nonce"] == "n-1" and second.form == {"a": "b"}
    again = Response(400, {"dpop-nonce": "n-2"}, b'{"error": "use_dpop_nonce"}')
    with pytest.raises(StopIteration) as done:
        flow.send(again)
    assert done.value.value is again
    assert nonces.get(TOKEN_URL) == "n-2"


def test_dpop_flow_presents_token() -> None:
    key = DPoPKey.generate()
    flow = dpop_flow(
        Request("GET", "https://api.example.com/x?y=1", "api"),
        key,
        NonceMemory(),
        access_token="tok",
    )
    request = next(flow)
    assert request.headers["Authorization"] == "DPoP tok"
    claims = jwt.decode(request.headers["DPoP"], options={"verify_signature": False})
    assert claims["ath"] == access_token_hash("tok")
    assert claims["htu"] == "https://api.example.com/x"


def test_nonce_challenge_recognition() -> None:
    challenge = {"www-authenticate": 'DPoP error="use_dpop_nonce"', "dpop-nonce": "n"}
    assert is_nonce_challenge(401, challenge)
    assert is_nonce_challenge(
        401,
        httpx.Headers(
            {"WWW-Authenticate": 'Bearer, DPoP error="use_dpop_nonce"', "DPoP-Nonce": "n"}
        ),
    )
    assert not is_nonce_challenge(401, {"www-authenticate": 'DPoP error="use_dpop_nonce"'})
    assert not is_nonce_challenge(
        401, {"www-authenticate": 'Bearer error="invalid_token"', "dpop-nonce": "n"}
    )
    assert not is_nonce_challenge(403, challenge)
    assert is_nonce_challenge(400, {"dpop-nonce": "n"}, "use_dpop_nonce")


def test_nonce_memory_is_per_origin_bounded_and_strict() -> None:
    nonces = NonceMemory(max_origins=2)
    nonces.learn("https://a.example/x", "n-a")
    assert nonces.get("https://A.example:443/y") == "n-a"
    assert nonces.get("http://a.example/x") is None
    nonces.learn("https://a.example/x", 'bad "nonce"')  # not NQCHAR: ignored
    nonces.learn("https://a.example/x", "x" * 5000)  # absurdly long: ignored
    assert nonces.get("https://a.example/") == "n-a"
    nonces.learn("https://b.example/", "n-b")
    nonces.learn("https://c.example/", "n-c")
    assert nonces.get("https://a.example/") is None  # the oldest origin was dropped
    assert "n-" not in repr(nonces)
