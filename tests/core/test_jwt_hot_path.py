"""The Guard's hot paths (verify_compact in one call; parse_compact + verify_jws in two) answer
exactly as the step functions (parse_jws, verify_signature, decode_payload, check_claims) do,
for every shape."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from jwt_support import AUDIENCE, ISSUER, Mint

from p1guard._tokens.jwt import (
    MAX_LIFETIME,
    JwtPolicy,
    check_claims,
    decode_payload,
    header_rules,
    parse_compact,
    parse_jws,
    verify_compact,
    verify_jws,
    verify_signature,
)
from p1guard._tokens.keys import SigningKey, parse_jwks
from p1guard.errors import InvalidToken

POLICY = JwtPolicy(issuers=frozenset({ISSUER}), audiences=frozenset({AUDIENCE}))
REQUIRED = JwtPolicy(issuers=POLICY.issuers, audiences=POLICY.audiences, required_claims=("sid",))
NOW = int(time.time())


@pytest.fixture
def mint(mint: Mint) -> Mint:
    """The core tests' minter with times from NOW (the suite may run long after collection)."""

    def make(claims: dict[str, Any] | None = None, **options: Any) -> str:
        return mint({"iat": NOW, "exp": NOW + 300, **(claims or {})}, **options)

    return make


def outcome(run: Any) -> object:
    try:
        return run()
    except InvalidToken as exc:
        return exc.reason


def step_by_step(token: str, jwks: dict[str, Any], policy: JwtPolicy, now: float) -> object:
    def run() -> dict[str, Any]:
        jws = parse_jws(token, policy, header_rules(policy))
        verify_signature(jws, parse_jwks(jwks)[jws.kid])
        claims = decode_payload(jws)
        check_claims(claims, policy, now)
        return claims

    return outcome(run)


class Keys:
    """A key source as the Guard's JWKS cache is one: fresh keys by kid."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.keys = parse_jwks(jwks)

    def fresh_key(self, kid: str, now: float) -> SigningKey | None:
        return self.keys.get(kid)


def hot_path(token: str, jwks: dict[str, Any], policy: JwtPolicy, now: float) -> object:
    """Both hot paths, which must agree with each other (and the caller checks the steps)."""

    def two_calls() -> dict[str, Any]:
        jws = parse_compact(token.encode("ascii"), policy, header_rules(policy))
        return verify_jws(jws, parse_jwks(jwks)[jws.kid], policy, now)

    def one_call() -> dict[str, Any] | None:
        return verify_compact(token.encode("ascii"), policy, header_rules(policy), Keys(jwks), now)

    answer = outcome(two_calls)
    assert outcome(one_call) == answer
    return answer


def test_unknown_kid_leaves_the_key_fetch_to_the_caller(
    mint: Mint, jwks_doc: dict[str, Any]
) -> None:
    token = mint(kid="rotated-away").encode()
    assert verify_compact(token, POLICY, header_rules(POLICY), Keys(jwks_doc), NOW) is None
    # ...but only once rules 1 and 2 passed: a bad token is refused before any key lookup.
    with pytest.raises(InvalidToken) as refused:
        verify_compact(
            mint(alg="HS256", key=b"k" * 32).encode(),
            POLICY,
            header_rules(POLICY),
            Keys(jwks_doc),
            NOW,
        )
    assert refused.value.reason == "bad_alg"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(rsa_key: Any, body: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = b64(json.dumps({"alg": "RS256", "kid": "rsa-1"}).encode())
    signing_input = f"{header}.{b64(body)}"
    signature = rsa_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'"text"', b'{"iss": "\xff\xfe"}'])
def test_payload_must_be_a_json_object(rsa_key: Any, jwks_doc: dict[str, Any], body: bytes) -> None:
    token = signed(rsa_key, body)
    assert step_by_step(token, jwks_doc, POLICY, NOW) == "malformed"
    assert hot_path(token, jwks_doc, POLICY, NOW) == "malformed"


def test_duplicate_payload_members_keep_the_last(rsa_key: Any, jwks_doc: dict[str, Any]) -> None:
    body = f'{{"iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{NOW + 60},"aud":"x"}}'.encode()
    assert hot_path(signed(rsa_key, body), jwks_doc, POLICY, NOW) == "wrong_audience"


# Values around every bound of the one-expression fast check, and shapes it leaves to
# check_claims: floats, bools, strings, integers too large for a float, negatives.
TIME_VALUES: list[object] = [
    NOW,
    NOW + 60,
    NOW - 29,
    NOW - 30,
    NOW - 31,
    NOW + 29,
    NOW + 30,
    NOW + 31,
    NOW + 60.5,
    NOW - 120,
    -5,
    0,
    10**400,
    -(10**400),
    int(NOW + MAX_LIFETIME),
    int(NOW + MAX_LIFETIME) + 1,
    True,
    "1700000000",
    None,
    [NOW],
]


@pytest.fixture(params=["installed", "stdlib"])
def payload_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The payload parser in use (orjson reads no integer beyond 64 bits) and the stdlib one."""
    import p1guard._tokens.jwt as rules

    if request.param == "stdlib":
        monkeypatch.setattr(rules, "_payload_loads", rules._stdlib_loads)
    return str(request.param)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", TIME_VALUES, ids=repr)
@pytest.mark.parametrize("policy", [POLICY, REQUIRED], ids=["plain", "required_sid"])
def test_time_claims_answer_as_check_claims(
    mint: Mint,
    jwks_doc: dict[str, Any],
    claim: str,
    value: object,
    policy: JwtPolicy,
    payload_parser: str,
) -> None:
    token = mint({claim: value, "exp": NOW + 300} if claim != "exp" else {claim: value})
    expected = step_by_step(token, jwks_doc, policy, NOW)
    assert hot_path(token, jwks_doc, policy, NOW) == expected


def test_time_values_reach_every_outcome(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    # The comparison above is only worth something if the values hit every branch.
    seen = set()
    for policy in (POLICY, REQUIRED):
        for claim in ("exp", "nbf", "iat"):
            for value in TIME_VALUES:
                token = mint({claim: value, "exp": NOW + 300} if claim != "exp" else {claim: value})
                result = hot_path(token, jwks_doc, policy, NOW)
                seen.add(result if isinstance(result, str) else "accepted")
    assert {
        "accepted",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "bad_exp",
        "bad_nbf",
        "bad_iat",
        "no_exp",
        "missing_claim",
    } <= seen


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": [AUDIENCE]},
        {"aud": ["https://other", AUDIENCE]},
        {"aud": ["https://other"]},
        {"aud": "https://other"},
        {"aud": {"x": AUDIENCE}},
        {"aud": 7},
        {"aud": None},
        {"iss": None},
        {"iss": ["x"]},
        {"iss": "https://evil.example.com/as"},
        {"iss": None, "exp": NOW - 600},  # the issuer is reported first, as before
        {"aud": "https://other", "exp": None},
        {"sid": "s1"},
        {"scope": ["read", "write"]},
    ],
    ids=repr,
)
@pytest.mark.parametrize("policy", [POLICY, REQUIRED], ids=["plain", "required_sid"])
def test_issuer_audience_and_required_claims_answer_as_check_claims(
    mint: Mint, jwks_doc: dict[str, Any], claims: dict[str, Any], policy: JwtPolicy
) -> None:
    token = mint(claims)
    expected = step_by_step(token, jwks_doc, policy, NOW)
    assert hot_path(token, jwks_doc, policy, NOW) == expected


def test_float_times_are_checked_exactly(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    # Floats leave the fast check: check_claims accepts a fractional expiry in the future...
    token = mint({"exp": NOW + 0.5, "iat": NOW - 0.5})
    claims = hot_path(token, jwks_doc, POLICY, NOW)
    assert isinstance(claims, dict) and claims["exp"] == NOW + 0.5
    # ...and refuses it once it lies beyond the leeway in the past.
    assert hot_path(token, jwks_doc, POLICY, NOW + 31) == "expired"


def test_signature_and_algorithm_refusals(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    header, _, signature = mint().split(".")
    other = mint({"sub": "attacker"}).split(".")[1]
    assert hot_path(f"{header}.{other}.{signature}", jwks_doc, POLICY, NOW) == "bad_signature"
    # An RS256 header naming the EC key: the key does not verify that algorithm.
    rs_on_ec = mint(kid="ec-1")
    assert hot_path(rs_on_ec, jwks_doc, POLICY, NOW) == "alg_key_mismatch"
    assert step_by_step(rs_on_ec, jwks_doc, POLICY, NOW) == "alg_key_mismatch"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h, p, s: f"{h}.{p}.{s}=",  # padding
        lambda h, p, s: f"{h}.{p}=.{s}",
        lambda h, p, s: f"{h}.{p}.{s[:-2]}+/",  # the standard alphabet is not base64url
        lambda h, p, s: f"{h}.{p[:5]}/{p[6:]}.{s}",
        lambda h, p, s: f"{h}.{p}.{s[:10]} {s[11:]}",
        lambda h, p, s: f"{h}.{p}.{s}.",  # a fourth (empty) segment
        lambda h, p, s: f"{h}.{p}.{s}.{s}",
        lambda h, p, s: f"{h}.{p}",
        lambda h, p, s: f"{h}..{s}",
        lambda h, p, s: f".{p}.{s}",
        lambda h, p, s: f"{h}.{p}.",
        lambda h, p, s: f"{h}.{p}.{s[:-2]}!",
        lambda h, p, s: f"{h}.{p}.{s[: len(s) // 4 * 4 - 3]}",  # impossible length (4k + 1)
    ],
)
def test_malformed_compact_tokens(mint: Mint, jwks_doc: dict[str, Any], mutate: Any) -> None:
    token = mutate(*mint().split("."))
    assert step_by_step(token, jwks_doc, POLICY, NOW) == "malformed"
    assert hot_path(token, jwks_doc, POLICY, NOW) == "malformed"


def test_non_ascii_bytes_are_malformed() -> None:
    rules = header_rules(POLICY)
    for data in (b"\xc3\xa9a.b.c", b"a.b.c\x80", b"a.b\x00.c"):
        with pytest.raises(InvalidToken) as info:
            parse_compact(data, POLICY, rules)
        assert info.value.reason == "malformed"


def test_shape_is_checked_before_the_header(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    # Rule 1 before rule 2: a bad character anywhere wins over a refused header.
    bad = b64(json.dumps({"alg": "none", "kid": "rsa-1"}).encode())
    _, payload, signature = mint().split(".")
    assert hot_path(f"{bad}.{payload}.{signature}", jwks_doc, POLICY, NOW) == "bad_alg"
    assert hot_path(f"{bad}.{payload}.{signature}~", jwks_doc, POLICY, NOW) == "malformed"


def test_header_memo_serves_only_identical_segments(mint: Mint, jwks_doc: dict[str, Any]) -> None:
    rules = header_rules(POLICY)
    keys = parse_jwks(jwks_doc)
    token = mint()
    jws = parse_compact(token.encode(), POLICY, rules)
    assert len(rules.memo) == 1
    assert verify_jws(jws, keys[jws.kid], POLICY, NOW)["sub"] == "user-1"
    # Same header, once more: served from the memo, still fully verified.
    again = parse_compact(mint({"sub": "user-2"}).encode(), POLICY, rules)
    assert again.header is jws.header
    assert verify_jws(again, keys[again.kid], POLICY, NOW)["sub"] == "user-2"
    # A refused header is never remembered.
    with pytest.raises(InvalidToken):
        parse_compact(mint(header={"typ": "dpop+jwt"}).encode(), POLICY, rules)
    assert len(rules.memo) == 1
