"""Property-based fuzzing: every input ends in a typed answer, never an uncaught exception.

Run deeper with ``P1GUARD_FUZZ=deep uv run pytest tests/security/test_fuzz.py`` (100k cases
per property).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p1guard import AuthError, Guard
from p1guard._client.dpop_key import DPoPKey
from p1guard._tokens.introspection import IntrospectionPolicy, read_answer
from p1guard._tokens.keys import parse_jwks
from p1guard._tokens.tokens import AccessToken
from p1guard._web.credentials import extract_bearer
from p1guard.asgi import BearerTokenMiddleware
from p1guard.rp import LoginError
from p1guard.rp._messages import new_transaction, read_callback
from p1guard.testing import MockPingOne

TYPED_STATUSES = {400, 401, 403, 503}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockPingOne]:
    with MockPingOne() as op:
        yield op


@pytest.fixture(scope="module")
def guard(mock: MockPingOne) -> Guard:
    g = mock.guard()
    g.verify(mock.issue_token())  # keys cached; unknown kids then hit the cooldown
    return g


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "ES256", "none", "HS256", "EdDSA", "PS512"]) | json_values,
        "kid": st.text(max_size=40) | json_values,
        "typ": st.sampled_from(["at+jwt", "JWT", "jwt", "dpop+jwt"]) | json_values,
        "crit": json_values,
        "jku": st.just("https://evil.example/jwks"),
    },
)
segments = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.é ", max_size=60
)


@st.composite
def tokens(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=200))
    if kind == 1:
        return ".".join(draw(st.lists(segments, min_size=1, max_size=5)))
    header = b64(json.dumps(draw(headers)).encode())
    payload_obj = draw(json_values)
    payload = b64(json.dumps(payload_obj).encode()) if kind == 2 else draw(segments)
    return f"{header}.{payload}.{b64(draw(st.binary(max_size=300)))}"


@given(token=tokens())
def test_fuzzed_tokens_get_typed_errors(guard: Guard, token: str) -> None:
    try:
        result = guard.verify(token)
    except AuthError as err:
        assert err.status_code in TYPED_STATUSES
        assert token not in err.description or len(token) < 4
    else:  # pragma: no cover - a forged token passing would be a defect
        pytest.fail(f"fuzzed token accepted: {result!r}")


header_values = st.text(max_size=80) | st.builds(lambda t: f"Bearer {t}", st.text(max_size=80))


@given(values=st.lists(header_values, max_size=3), query=st.lists(st.text(max_size=20), max_size=2))
def test_fuzzed_authorization_headers(values: list[str], query: list[str]) -> None:
    try:
        token = extract_bearer(values, query_tokens=query)
    except AuthError as err:
        assert err.status_code in (400, 401)
    else:
        assert isinstance(token, str)
        assert token


@given(values=st.lists(st.binary(max_size=120), max_size=3))
def test_fuzzed_headers_through_asgi_never_500(guard: Guard, values: list[bytes]) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = BearerTokenMiddleware(app, guard=guard)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", v) for v in values],
    }
    asyncio.run(middleware(scope, receive, send))
    assert statuses
    assert statuses[0] in TYPED_STATUSES


introspection_docs = st.dictionaries(
    st.sampled_from(
        ["active", "exp", "iss", "aud", "scope", "token_type", "sub", "client_id", "nbf"]
    ),
    json_values | st.sampled_from([True, "true", 1, "https://api.example.com", "https://p1/as"]),
    max_size=8,
)


@given(document=introspection_docs)
def test_fuzzed_introspection_answers(document: dict[str, Any]) -> None:
    policy = IntrospectionPolicy(
        issuers=frozenset({"https://p1/as"}), audiences=frozenset({"https://api.example.com"})
    )
    answer, until = read_answer(document, policy, now=1000.0, token_id="t")
    assert isinstance(answer, AccessToken | AuthError)
    if isinstance(answer, AccessToken):
        assert document.get("active") is True
        assert until > 1000.0


@given(
    query=st.dictionaries(
        st.sampled_from(["code", "state", "iss", "error", "error_description", "x"]),
        st.text(max_size=30) | st.lists(st.text(max_size=10), max_size=3),
        max_size=6,
    )
)
def test_fuzzed_callback_queries(query: dict[str, Any]) -> None:
    txn = new_transaction("https://app/cb")
    try:
        read_callback(query, txn, issuer="https://p1/as", iss_required=True)
    except LoginError as err:
        assert err.status_code == 400
    else:  # pragma: no cover - random state cannot match 256 random bits
        pytest.fail("fuzzed callback accepted")


@given(document=json_values)
def test_fuzzed_jwks_documents(document: Any) -> None:
    try:
        keys = parse_jwks(document)
    except ValueError:
        return
    assert all(isinstance(kid, str) for kid in keys)


@pytest.fixture(scope="module")
def bound_token(mock: MockPingOne) -> str:
    """A DPoP-bound token, bound to a key nobody here holds."""
    return mock.issue_token(["read"], dpop_jkt=DPoPKey.generate().thumbprint)


@st.composite
def dpop_proofs(draw: st.DrawFn) -> bytes:
    """Junk, near-miss and structurally valid DPoP proofs (header fields fuzzed)."""
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return draw(tokens()).encode("utf-8", "surrogatepass")
    header = draw(headers) | {"typ": "dpop+jwt"}
    header["jwk"] = draw(
        json_values
        | st.fixed_dictionaries(
            {"kty": st.sampled_from(["EC", "RSA", "OKP", "oct"]) | json_values},
            optional={
                "crv": json_values,
                "x": json_values,
                "y": json_values,
                "d": json_values,
                "n": json_values,
                "e": json_values,
            },
        )
    )
    claims = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "jti": json_values,
                "htm": json_values,
                "htu": json_values,
                "iat": json_values | st.floats(),
                "ath": json_values,
                "nonce": json_values,
            },
        )
    )
    segments_ = (
        json.dumps(header).encode(),
        json.dumps(claims).encode(),
        draw(st.binary(max_size=80)),
    )
    return ".".join(b64(part) for part in segments_).encode()


@given(
    scheme=st.sampled_from([b"DPoP", b"dpop", b"Bearer"]),
    proofs=st.lists(dpop_proofs(), max_size=3),
    host=st.binary(max_size=40) | st.just(b"api.example.com"),
)
def test_fuzzed_dpop_requests_through_asgi_never_500(
    guard: Guard, bound_token: str, scheme: bytes, proofs: list[bytes], host: bytes
) -> None:
    """A DPoP-bound token with fuzzed proofs, schemes and Host headers: only typed refusals."""
    token = bound_token

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:  # pragma: no cover
        pytest.fail("a fuzzed proof reached the app")

    middleware = BearerTokenMiddleware(app, guard=guard)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers_ = [(b"authorization", scheme + b" " + token.encode()), (b"host", host)]
    scope = {
        "type": "http",
        "scheme": "https",
        "method": "GET",
        "path": "/items",
        "raw_path": b"/items",
        "query_string": b"",
        "root_path": "",
        "headers": headers_ + [(b"dpop", proof) for proof in proofs],
    }
    asyncio.run(middleware(scope, receive, send))
    assert statuses
    assert statuses[0] in TYPED_STATUSES
