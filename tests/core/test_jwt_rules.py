"""The sans-I/O JWT rules (p1guard._tokens.jwt), driven directly with local keys."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from jwt_support import AUDIENCE, ISSUER, Mint

from p1guard._tokens.jwt import (
    JwtPolicy,
    check_claims,
    decode_payload,
    header_rules,
    parse_jws,
    peek_issuer,
    verify_signature,
)
from p1guard._tokens.keys import parse_jwks
from p1guard.errors import ConfigError, InvalidToken

POLICY = JwtPolicy(issuers=frozenset({ISSUER}), audiences=frozenset({AUDIENCE}))


def validate(token: str, jwks: dict[str, Any], policy: JwtPolicy = POLICY) -> dict[str, Any]:
    jws = parse_jws(token, policy, header_rules(policy))
    keys = parse_jwks(jwks)
    verify_signature(jws, keys[jws.kid])
    claims = decode_payload(jws)
    check_claims(claims, policy, time.time())
    return claims


def reason(token: str, jwks: dict[str, Any], policy: JwtPolicy = POLICY) -> str:
    with pytest.raises(InvalidToken) as info:
        validate(token, jwks, policy)
    return info.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_rs256_and_es256(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    assert validate(mint(), jwks_doc)["sub"] == "user-1"
    assert validate(mint(alg="ES256", kid="ec-1"), jwks_doc)["scope"] == "read write"


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "PS384", "PS512"])
def test_other_rsa_algorithms(mint: Mint, alg: str) -> None:
    from jwt_support import _RSA, jwk_of

    jwks = {"keys": [jwk_of(_RSA, "rsa-any")]}  # no alg on the JWK: every RSA alg fits
    assert validate(mint(alg=alg, kid="rsa-any"), jwks)["iss"] == ISSUER


def test_audience_list_is_accepted(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    token = mint({"aud": ["https://other", AUDIENCE]})
    assert validate(token, jwks_doc)["aud"][1] == AUDIENCE


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"iss": "https://evil.example.com/as"}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"iss": ["x"]}, "wrong_issuer"),
        ({"aud": "https://other"}, "wrong_audience"),
        ({"aud": ["https://other"]}, "wrong_audience"),
        ({"aud": {"x": AUDIENCE}}, "wrong_audience"),
        ({"exp": None}, "no_exp"),
        ({"exp": "9999999999"}, "bad_exp"),
        ({"exp": True}, "bad_exp"),
        ({"exp": -120}, "expired"),  # seconds from the test's own now (not collection time)
        ({"nbf": 120}, "not_yet_valid"),
        ({"iat": 120}, "issued_in_future"),
    ],
)
def test_claim_rules(
    mint: Mint, jwks_doc: dict[str, Any], claims: dict[str, Any], expected: str
) -> None:
    relative = expected in {"expired", "not_yet_valid", "issued_in_future"}
    if relative:
        claims = {name: int(time.time()) + offset for name, offset in claims.items()}
    assert reason(mint(claims), jwks_doc) == expected


def test_leeway_allows_small_clock_skew(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    token = mint({"exp": int(time.time()) - 10, "nbf": int(time.time()) + 10})
    assert validate(token, jwks_doc)["sub"] == "user-1"


def test_required_claims(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    policy = JwtPolicy(issuers=POLICY.issuers, audiences=POLICY.audiences, required_claims=("sid",))
    assert reason(mint(), jwks_doc, policy) == "missing_claim"
    assert validate(mint({"sid": "s"}), jwks_doc, policy)["sid"] == "s"


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "application/at+jwt"])
def test_typ_lenient_by_default(mint: Mint, jwks_doc: dict[str, Any], typ: str | None) -> None:
    assert validate(mint(header={"typ": typ}), jwks_doc)


def test_typ_of_other_kinds_rejected(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    assert reason(mint(header={"typ": "dpop+jwt"}), jwks_doc) == "bad_typ"
    assert reason(mint(header={"typ": 7}), jwks_doc) == "bad_typ"


def test_strict_typ_needs_at_jwt(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    policy = JwtPolicy(issuers=POLICY.issuers, audiences=POLICY.audiences, strict_typ=True)
    assert reason(mint(header={"typ": None}), jwks_doc, policy) == "bad_typ"
    assert reason(mint(header={"typ": "JWT"}), jwks_doc, policy) == "bad_typ"
    assert validate(mint(header={"typ": "at+jwt"}), jwks_doc, policy)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        "eyJ.eyJ.=",
        "a b.c.d",
        "é.b.c",
        "YQ==.YQ.YQ",
    ],
)
def test_malformed_shapes(token: str, jwks_doc: dict[str, Any]) -> None:
    assert reason(token, jwks_doc) == "malformed"


def test_header_not_json_or_not_object(jwks_doc: dict[str, Any]) -> None:
    assert reason(f"{b64(b'nope')}.{b64(b'{}')}.{b64(b'x')}", jwks_doc) == "malformed"
    assert reason(f"{b64(b'[1]')}.{b64(b'{}')}.{b64(b'x')}", jwks_doc) == "malformed"


def test_duplicate_header_member_rejected(jwks_doc: dict[str, Any]) -> None:
    header = b'{"alg":"RS256","kid":"rsa-1","alg":"none"}'
    assert reason(f"{b64(header)}.{b64(b'{}')}.{b64(b'x')}", jwks_doc) == "duplicate_member"


def signed(rsa_key: Any, body: str) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = b64(json.dumps({"alg": "RS256", "kid": "rsa-1"}).encode())
    payload = b64(body.encode())
    signature = rsa_key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{b64(signature)}"


@pytest.fixture(params=["installed", "stdlib"])
def payload_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the payload parser in use and with the stdlib fallback."""
    import p1guard._tokens.jwt as rules

    if request.param == "stdlib":
        monkeypatch.setattr(rules, "_payload_loads", rules._stdlib_loads)
    return str(request.param)


def test_duplicate_payload_member_uses_the_last(
    rsa_key: Any, jwks_doc: dict[str, Any], payload_parser: str
) -> None:
    exp = int(time.time()) + 60
    body = f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp},"aud":"x"}}'
    assert reason(signed(rsa_key, body), jwks_doc) == "wrong_audience"


@pytest.mark.parametrize("exp", ["Infinity", "NaN", "1e400", "-Infinity"])
def test_non_finite_numbers_rejected(
    rsa_key: Any, jwks_doc: dict[str, Any], payload_parser: str, exp: str
) -> None:
    body = f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{exp}}}'
    assert reason(signed(rsa_key, body), jwks_doc) in ("malformed", "bad_exp")


def test_payload_must_be_utf8_json_object(
    rsa_key: Any, jwks_doc: dict[str, Any], payload_parser: str
) -> None:
    assert reason(signed(rsa_key, "[1, 2]"), jwks_doc) == "malformed"
    assert reason(signed(rsa_key, "not json"), jwks_doc) == "malformed"


def test_oversized_token_rejected_before_parsing(jwks_doc: dict[str, Any]) -> None:
    assert reason("a" * (32 * 1024 + 1), jwks_doc) == "oversized"


def test_payload_signature_tamper_detected(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    header, _, signature = mint().split(".")
    forged = b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "exp": 9999999999}).encode())
    assert reason(f"{header}.{forged}.{signature}", jwks_doc) == "bad_signature"


def test_es256_signature_of_wrong_length(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    header, payload, _ = mint(alg="ES256", kid="ec-1").split(".")
    assert reason(f"{header}.{payload}.{b64(b'x' * 70)}", jwks_doc) == "bad_signature"


def test_alg_must_fit_key(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    # The RSA JWK names RS256, so a PS256 signature by the same key is refused.
    assert reason(mint(alg="PS256"), jwks_doc) == "alg_key_mismatch"


def test_unknown_algorithm_in_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="algorithms"):
        JwtPolicy(
            issuers=POLICY.issuers, audiences=POLICY.audiences, algorithms=frozenset({"HS256"})
        )


def test_peek_issuer(mint: Mint) -> None:
    assert peek_issuer(mint()) == ISSUER
    assert peek_issuer("opaque-token") is None
    assert peek_issuer("a.b.c") is None
