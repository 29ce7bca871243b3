"""The adapter contract: what every adapter (ASGI and WSGI middleware, Flask, FastAPI, Django)
answers, through its framework's own test client, against a live MockPingOne.

Every refusal is checked for its status, its ``WWW-Authenticate`` challenge (RFC 6750, RFC 9449),
its JSON error body, and that the token is in neither the response nor the logs.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest
from adapter_drivers import Driver, Reply

from p1guard._client.dpop_key import DPoPKey
from p1guard.testing import MockPingOne


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dpop(key: DPoPKey, token: str, url: str, method: str = "GET") -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token)}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG):
        yield caplog


def assert_refused(
    reply: Reply,
    status: int,
    error: str,
    *,
    secrets: tuple[str, ...] = (),
    logs: pytest.LogCaptureFixture | None = None,
    adapter: Driver | None = None,
    logger: str | None = None,
) -> str:
    """Status, JSON error and no-store; no secret in the reply or the logs. The challenge."""
    assert reply.status == status, reply.text
    assert reply.json["error"] == error
    assert reply.json["error_description"]
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["content-type"].startswith("application/json")
    for secret in secrets:
        assert secret not in reply.text
        assert secret not in str(dict(reply.headers))
    if logs is not None:
        assert adapter is not None
        logger = logger or adapter.logger
        assert [r for r in logs.records if r.name == logger], f"no refusal logged by {logger}"
        for secret in secrets:
            assert secret not in logs.text
            assert secret[-20:] not in logs.text
    return reply.headers["www-authenticate"]


# -- the happy paths -----------------------------------------------------------------------------


def test_valid_token_reaches_the_view_with_its_claims(
    adapter: Driver, pingone_mock: MockPingOne
) -> None:
    token = pingone_mock.issue_token(["read", "write"])
    for path in ("/api/read", "/api/write"):
        reply = adapter.get(path, bearer(token))
        assert reply.status == 200, reply.text
        assert reply.json == {"sub": "user-1", "scopes": ["read", "write"]}


def test_public_path_needs_no_token(adapter: Driver) -> None:
    assert adapter.get("/api/public").json == {"public": True}
    # A public path is not checked at all: a bad token there is not refused.
    reply = adapter.get("/api/public", bearer("not.a.jwt"))
    assert (reply.status, reply.json) == (200, {"public": True})


def test_dpop_bound_token_with_its_proof_is_accepted(
    adapter: Driver, pingone_mock: MockPingOne
) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    reply = adapter.get("/api/dpop", dpop(key, token, adapter.url("/api/dpop")))
    assert reply.status == 200, reply.text
    assert reply.json == {"sub": "user-1", "scopes": ["read"]}


# -- refusals ------------------------------------------------------------------------------------


def test_missing_token_is_401_with_bare_challenge(
    adapter: Driver, logs: pytest.LogCaptureFixture
) -> None:
    reply = adapter.get("/api/read")
    assert_refused(reply, 401, "unauthorized")
    assert reply.headers["www-authenticate"] == "Bearer"


def test_basic_credentials_are_a_missing_token(adapter: Driver) -> None:
    reply = adapter.get("/api/read", {"Authorization": "Basic dXNlcjpwYXNz"})
    assert assert_refused(reply, 401, "unauthorized") == "Bearer"


def forged_signature(token: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{('A' if signature[0] != 'A' else 'B') + signature[1:]}"


def tampered(token: str) -> str:
    """The token with its payload's scope widened and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "read write admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


BAD_TOKENS = {
    "tampered_payload": lambda op: tampered(op.issue_token(["read"])),
    "garbage": lambda op: "not.a.jwt",
    "forged_signature": lambda op: forged_signature(op.issue_token(["read"])),
    "wrong_audience": lambda op: op.issue_token(["read"], audience="https://other.example"),
    "alg_none": lambda op: op.issue_token(["read"], alg="none"),
    "opaque_in_jwt_mode": lambda op: op.issue_token(["read"], opaque=True),
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_bad_token_is_401_invalid_token(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture, kind: str
) -> None:
    token = BAD_TOKENS[kind](pingone_mock)
    reply = adapter.get("/api/write", bearer(token))
    assert_refused(reply, 401, "invalid_token", secrets=(token,))
    reply = adapter.get("/api/read", bearer(token))
    challenge = assert_refused(
        reply, 401, "invalid_token", secrets=(token,), logs=logs, adapter=adapter
    )
    assert challenge.startswith('Bearer error="invalid_token"')
    assert "error_description=" in challenge


def test_expired_token_is_401(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture
) -> None:
    token = pingone_mock.issue_token(["read", "write"], expires_in=-600)
    assert_refused(adapter.get("/api/write", bearer(token)), 401, "invalid_token", secrets=(token,))
    reply = adapter.get("/api/read", bearer(token))
    challenge = assert_refused(
        reply, 401, "invalid_token", secrets=(token,), logs=logs, adapter=adapter
    )
    assert challenge.startswith('Bearer error="invalid_token"')
    assert "expired" in reply.json["error_description"].lower()


def test_missing_scope_is_403_insufficient_scope(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture
) -> None:
    token = pingone_mock.issue_token(["read"])
    reply = adapter.get("/api/write", bearer(token))
    challenge = assert_refused(
        reply,
        403,
        "insufficient_scope",
        secrets=(token,),
        logs=logs,
        adapter=adapter,
        logger=adapter.view_logger,
    )
    assert challenge.startswith('Bearer error="insufficient_scope"')
    assert challenge.endswith('scope="write"')
    assert "write" in reply.json["error_description"]
    assert adapter.get("/api/read", bearer(token)).status == 200


def test_two_authorization_headers_are_400(adapter: Driver, pingone_mock: MockPingOne) -> None:
    # Attack: smuggling a second credential past a proxy that checks only the first.
    token = pingone_mock.issue_token(["read"])
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")]
    assert_refused(adapter.get("/api/write", headers), 400, "invalid_request", secrets=(token,))
    challenge = assert_refused(
        adapter.get("/api/read", headers), 400, "invalid_request", secrets=(token,)
    )
    assert challenge.startswith('Bearer error="invalid_request"')


def test_malformed_authorization_header_is_400(adapter: Driver) -> None:
    reply = adapter.get("/api/read", {"Authorization": "Bearer a b"})
    challenge = assert_refused(reply, 400, "invalid_request")
    assert challenge.startswith('Bearer error="invalid_request"')


def test_token_in_query_is_refused(adapter: Driver, pingone_mock: MockPingOne) -> None:
    # RFC 6750 §2.3 is off by default: URLs end up in logs and Referer headers.
    token = pingone_mock.issue_token(["read"])
    for path in (f"/api/read?access_token={token}", f"/api/read?access%5Ftoken={token}"):
        reply = adapter.get(path)
        challenge = assert_refused(reply, 400, "invalid_request", secrets=(token,))
        assert challenge.startswith('Bearer error="invalid_request"')


def test_dpop_bound_token_sent_as_bearer_is_refused(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture
) -> None:
    # Attack: a stolen DPoP-bound token used as a plain bearer token (RFC 9449 §7.2).
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    url = adapter.url("/api/dpop")
    for headers in (
        bearer(token),
        {**bearer(token), "DPoP": key.proof("GET", url, access_token=token)},
    ):
        reply = adapter.get("/api/dpop", headers)
        challenge = assert_refused(
            reply,
            401,
            "invalid_token",
            secrets=(token,),
            logs=logs,
            adapter=adapter,
            logger=adapter.view_logger,
        )
        assert challenge.startswith('DPoP error="invalid_token"')
        assert "algs=" in challenge


def test_dpop_scheme_with_an_unbound_token_is_refused(
    adapter: Driver, pingone_mock: MockPingOne
) -> None:
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"])
    reply = adapter.get("/api/dpop", dpop(key, token, adapter.url("/api/dpop")))
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith("DPoP ")
    assert adapter.get("/api/dpop", bearer(token)).status == 200


@pytest.mark.parametrize("aim", ["another_url", "another_method"])
def test_proof_for_another_request_is_refused(
    adapter: Driver, pingone_mock: MockPingOne, aim: str
) -> None:
    # Attack: a proof captured for one endpoint (htu) or method (htm) used against another.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    url, method = adapter.url("/api/dpop"), "GET"
    if aim == "another_url":
        url = adapter.url("/api/admin")
    else:
        method = "POST"
    reply = adapter.get("/api/dpop", dpop(key, token, url, method))
    challenge = assert_refused(reply, 401, "invalid_dpop_proof", secrets=(token,))
    assert challenge.startswith('DPoP error="invalid_dpop_proof"')


def test_replayed_proof_is_refused(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture
) -> None:
    # Attack: a captured request (token and proof) sent again.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    headers = dpop(key, token, adapter.url("/api/dpop"))
    assert adapter.get("/api/dpop", headers).status == 200
    reply = adapter.get("/api/dpop", headers)
    secrets = (token, headers["DPoP"])
    challenge = assert_refused(
        reply,
        401,
        "invalid_dpop_proof",
        secrets=secrets,
        logs=logs,
        adapter=adapter,
        logger=adapter.view_logger,
    )
    assert challenge.startswith('DPoP error="invalid_dpop_proof"')


def test_two_proofs_in_one_header_are_refused(adapter: Driver, pingone_mock: MockPingOne) -> None:
    # Servers join repeated DPoP headers with commas: exactly one proof is allowed.
    key = DPoPKey.generate()
    token = pingone_mock.issue_token(["read"], dpop_jkt=key.thumbprint)
    url = adapter.url("/api/dpop")
    proofs = ", ".join(key.proof("GET", url, access_token=token) for _ in range(2))
    reply = adapter.get("/api/dpop", {"Authorization": f"DPoP {token}", "DPoP": proofs})
    assert reply.status in (400, 401)
    assert reply.headers["www-authenticate"].startswith("DPoP ")
    assert token not in reply.text


@pytest.mark.parametrize("fault", ["down", "error"])
def test_provider_down_is_503_with_retry_after(
    adapter: Driver, pingone_mock: MockPingOne, logs: pytest.LogCaptureFixture, fault: str
) -> None:
    token = pingone_mock.issue_token(["read"])
    pingone_mock.fail("*", fault)  # type: ignore[arg-type]
    write = adapter.get("/api/write", bearer(token))
    assert_refused(write, 503, "temporarily_unavailable", secrets=(token,))
    assert int(write.headers["retry-after"]) >= 1
    reply = adapter.get("/api/read", bearer(token))
    challenge = assert_refused(
        reply, 503, "temporarily_unavailable", secrets=(token,), logs=logs, adapter=adapter
    )
    assert int(reply.headers["retry-after"]) >= 1
    assert "error=" not in challenge  # not the client's fault: a bare challenge
