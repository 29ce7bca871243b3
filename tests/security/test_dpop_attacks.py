"""Attacks on sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705), each named after the
attack, against a Guard that fetches its keys from a live MockPingOne."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm, get_default_algorithms

from p1guard import (
    AuthError,
    DPoPNonces,
    Guard,
    InvalidDPoPProof,
    InvalidToken,
    Presentation,
    ProviderUnavailable,
    UseDPoPNonce,
)
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import access_token_hash, b64url, certificate_thumbprint
from p1guard._tokens.shared_cache import RedisCache
from p1guard.testing import MockPingOne, client_certificate

URL = "https://api.example.com/orders"


class Holder:
    """A DPoP key whose private half the test keeps, to forge proofs of every shape."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.key = DPoPKey(self.private)

    def proof(
        self,
        token: str | None,
        *,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        method: str = "GET",
        url: str = URL,
        alg: str = "ES256",
        signer: Any = None,
    ) -> str:
        body: dict[str, Any] = {
            "jti": f"jti-{time.monotonic_ns()}",
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if token is not None:
            body["ath"] = access_token_hash(token)
        body.update(claims or {})
        body = {name: value for name, value in body.items() if value is not None}
        headers = {"typ": "dpop+jwt", "jwk": self.key.public_jwk, **(header or {})}
        headers = {name: value for name, value in headers.items() if value is not None}
        return jwt.encode(body, self.private if signer is None else signer, alg, headers=headers)


@pytest.fixture
def holder() -> Holder:
    return Holder()


@pytest.fixture
def guard(pingone_mock: MockPingOne) -> Guard:
    return pingone_mock.guard()


def bound_token(op: MockPingOne, holder: Holder) -> str:
    return op.issue_token(["read"], dpop_jkt=holder.key.thumbprint)


def dpop(*proofs: str, method: str = "GET", url: str = URL) -> Presentation:
    return Presentation("DPoP", method, url, proofs)


def refusal(guard: Guard, token: str, presentation: Presentation | None) -> AuthError:
    with pytest.raises(AuthError) as info:
        guard.verify(token, presentation=presentation)
    assert info.value.status_code in (401, 503)
    return info.value


def self_signed_der() -> bytes:
    return client_certificate().der


# -- replay ---------------------------------------------------------------------------------


def test_proof_replay_same_proof_twice(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    presentation = dpop(holder.proof(token))
    assert guard.verify(token, presentation=presentation)
    err = refusal(guard, token, presentation)
    assert isinstance(err, InvalidDPoPProof)
    assert err.reason == "dpop_replay"
    assert err.www_authenticate.startswith('DPoP error="invalid_dpop_proof"')


def test_proof_replay_across_two_guards_sharing_redis(
    pingone_mock: MockPingOne, holder: Holder, redis_server: str
) -> None:
    first = pingone_mock.guard(shared_cache=RedisCache(redis_server, prefix="replay1:"))
    second = pingone_mock.guard(shared_cache=RedisCache(redis_server, prefix="replay1:"))
    token = bound_token(pingone_mock, holder)
    presentation = dpop(holder.proof(token))
    assert first.verify(token, presentation=presentation)
    assert refusal(second, token, presentation).reason == "dpop_replay"


def test_proof_replay_when_redis_is_down_fails_closed(
    pingone_mock: MockPingOne, holder: Holder, private_redis: tuple[str, Any]
) -> None:
    url, process = private_redis
    guard = pingone_mock.guard(shared_cache=RedisCache(url, prefix="replay2:"))
    token = bound_token(pingone_mock, holder)
    process.kill()
    process.wait(timeout=10)
    err = refusal(guard, token, dpop(holder.proof(token)))
    assert isinstance(err, ProviderUnavailable)
    assert err.reason == "replay_cache_unavailable"
    assert err.status_code == 503


def test_replay_record_full_of_live_proofs_evicts_rather_than_refuses(
    pingone_mock: MockPingOne,
) -> None:
    """A full record used to answer 503 replay_cache_full to every new proof."""
    guard = pingone_mock.guard(dpop_replay_size=2)
    holders = [Holder() for _ in range(3)]
    tokens = [bound_token(pingone_mock, each) for each in holders]
    for each, token in zip(holders[:2], tokens[:2], strict=True):
        assert guard.verify(token, presentation=dpop(each.proof(token)))
    third = dpop(holders[2].proof(tokens[2]))
    assert guard.verify(tokens[2], presentation=third)
    assert guard._replays.evictions == 1
    assert len(guard._replays) == 2
    err = refusal(guard, tokens[2], third)
    assert isinstance(err, InvalidDPoPProof)
    assert err.reason == "dpop_replay"


def test_proof_refused_for_another_reason_is_not_recorded(
    pingone_mock: MockPingOne, holder: Holder
) -> None:
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(b"0123456789abcdef0123456789abcdef"))
    token = bound_token(pingone_mock, holder)
    with pytest.raises(UseDPoPNonce) as asked:
        guard.verify(token, presentation=dpop(holder.proof(token, claims={"jti": "same"})))
    retry = holder.proof(token, claims={"jti": "same", "nonce": asked.value.nonce})
    assert guard.verify(token, presentation=dpop(retry))


# -- the proof does not fit the request -----------------------------------------------------


@pytest.mark.parametrize(
    ("htu", "name"),
    [
        ("https://evil.example.com/orders", "other host"),
        ("https://api.example.com/admin", "other path"),
        ("http://api.example.com/orders", "http instead of https"),
        ("https://api.example.com:8443/orders", "other port"),
        ("https://api.example.com/orders/", "trailing slash"),
        ("api.example.com/orders", "not absolute"),
        ("https://user@api.example.com/orders", "credentials"),
    ],
)
def test_wrong_htu(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, htu: str, name: str
) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(token, claims={"htu": htu})))
    assert err.reason == "dpop_htu_mismatch", name


def test_htu_normalised_before_comparing(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    proof = holder.proof(token, claims={"htu": "HTTPS://API.Example.com:443/orders?ignored#x"})
    assert guard.verify(token, presentation=dpop(proof, url="https://api.example.com/orders?a=1"))


def test_wrong_htm(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(token, method="GET"), method="DELETE"))
    assert err.reason == "dpop_htm_mismatch"


def test_stale_iat(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    old = int(time.time()) - 60 - 30 - 5  # window 60 + leeway 30, and then some
    err = refusal(guard, token, dpop(holder.proof(token, claims={"iat": old})))
    assert err.reason == "dpop_stale"


def test_future_iat(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    ahead = int(time.time()) + 30 + 5
    err = refusal(guard, token, dpop(holder.proof(token, claims={"iat": ahead})))
    assert err.reason == "dpop_future"


@pytest.mark.parametrize("iat", ["now", True, None, 1e400])
def test_non_numeric_iat(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, iat: object
) -> None:
    token = bound_token(pingone_mock, holder)
    claims: dict[str, Any] = {"iat": iat} if iat is not None else {"iat": None}
    if iat == 1e400:  # JSON cannot carry infinity; the proof says 1e400 literally
        claims = {"iat": 10**400}
    err = refusal(guard, token, dpop(holder.proof(token, claims=claims)))
    assert err.reason == "dpop_bad_iat"


@pytest.mark.parametrize("jti", [None, "", "x" * 257, 12])
def test_missing_or_absurd_jti(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, jti: object
) -> None:
    token = bound_token(pingone_mock, holder)
    claims = {"jti": jti} if jti is not None else {"jti": None}
    err = refusal(guard, token, dpop(holder.proof(token, claims=claims)))
    assert err.reason == "dpop_bad_jti"


# -- the proof does not fit the token -------------------------------------------------------


def test_thumbprint_mismatch_proof_from_another_key(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    thief = Holder()
    err = refusal(guard, token, dpop(thief.proof(token)))
    assert isinstance(err, InvalidToken)
    assert err.reason == "dpop_key_mismatch"
    assert err.www_authenticate.startswith(
        'DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="'
    )


def test_missing_ath(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(None)))
    assert err.reason == "dpop_no_ath"


def test_wrong_ath_proof_made_for_another_token(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    other = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(other)))
    assert err.reason == "dpop_ath_mismatch"


# -- forged or malformed proofs -------------------------------------------------------------


def test_alg_none_proof(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    unsigned = holder.proof(token, alg="none", signer="")
    assert unsigned.endswith(".")
    err = refusal(guard, token, dpop(unsigned))
    assert err.reason == "dpop_malformed"
    # Even with a signature segment glued on, alg none stays refused.
    err = refusal(guard, token, dpop(unsigned + "AAAA"))
    assert err.reason == "dpop_bad_alg"


def test_hs256_proof_signed_with_the_public_key(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    forged = holder.proof(token, alg="HS256", signer=holder.key.public_jwk["x"])
    err = refusal(guard, token, dpop(forged))
    assert err.reason == "dpop_bad_alg"


def test_alg_not_in_the_guards_list(pingone_mock: MockPingOne, holder: Holder) -> None:
    guard = pingone_mock.guard(dpop_algorithms=["PS256"])
    token = bound_token(pingone_mock, holder)
    assert refusal(guard, token, dpop(holder.proof(token))).reason == "dpop_bad_alg"


def test_alg_that_does_not_fit_the_key(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    # PyJWT will not sign ES384 with a P-256 key, so build the JWS by hand.
    header = {"typ": "dpop+jwt", "alg": "ES384", "jwk": holder.key.public_jwk}
    claims = {"jti": "j1", "htm": "GET", "htu": URL, "iat": int(time.time())}
    claims["ath"] = access_token_hash(token)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    signature = get_default_algorithms()["ES256"].sign(signing_input.encode(), holder.private)
    forged = f"{signing_input}.{b64url(signature)}"
    err = refusal(guard, token, dpop(forged))
    assert err.reason == "dpop_alg_key_mismatch"


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
def test_private_key_material_in_the_jwk_header(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, member: str
) -> None:
    token = bound_token(pingone_mock, holder)
    private_jwk = ECAlgorithm.to_jwk(holder.private, as_dict=True)
    leaked = {**holder.key.public_jwk, member: private_jwk["d"]}
    err = refusal(guard, token, dpop(holder.proof(token, header={"jwk": leaked})))
    assert err.reason == "dpop_private_key"


def test_symmetric_jwk_header(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    oct_key = {"kty": "oct", "k": "c2VjcmV0"}
    err = refusal(guard, token, dpop(holder.proof(token, header={"jwk": oct_key})))
    assert err.reason == "dpop_private_key"


def test_jwk_header_missing_or_not_an_object(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    for jwk_header in (None, "key", ["x"]):
        header = {"jwk": jwk_header}
        assert refusal(guard, token, dpop(holder.proof(token, header=header))).reason == (
            "dpop_no_jwk"
        )


def test_jwk_of_another_key_than_the_signer(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    other = Holder()
    # Claims the token's key in the header, but signed by someone else's key.
    forged = other.proof(token, header={"jwk": holder.key.public_jwk})
    assert refusal(guard, token, dpop(forged)).reason == "dpop_bad_signature"


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "DPOP+JWT"])
def test_wrong_typ(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, typ: str | None
) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(token, header={"typ": typ})))
    assert err.reason == "dpop_bad_typ"


@pytest.mark.parametrize(
    "proof",
    ["", "a.b", "a.b.c.d", "a..c", "not a jwt", "ey.ey.ey", "x" * 9000, "a.b.c\n"],
)
def test_malformed_proof(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder, proof: str
) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(proof))
    assert isinstance(err, InvalidDPoPProof)
    assert err.reason == "dpop_malformed"


def test_crit_header(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    proof = holder.proof(token, header={"crit": ["exp"], "exp": 1})
    assert refusal(guard, token, dpop(proof)).reason == "dpop_crit"


def test_two_dpop_proofs(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(token), holder.proof(token)))
    assert isinstance(err, InvalidDPoPProof)
    assert err.reason == "dpop_multiple_proofs"


def test_dpop_scheme_without_proof(pingone_mock: MockPingOne, guard: Guard, holder: Holder) -> None:
    token = bound_token(pingone_mock, holder)
    assert refusal(guard, token, dpop()).reason == "dpop_proof_missing"


# -- downgrades and scheme confusion --------------------------------------------------------


def test_dpop_bound_token_sent_as_bearer(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    proof = holder.proof(token)  # even with a valid proof beside it
    err = refusal(guard, token, Presentation("Bearer", "GET", URL, (proof,)))
    assert isinstance(err, InvalidToken)
    assert err.reason == "dpop_bound_as_bearer"
    assert err.www_authenticate.startswith('DPoP error="invalid_token"')


def test_dpop_bound_token_verified_without_presentation(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = bound_token(pingone_mock, holder)
    assert refusal(guard, token, None).reason == "dpop_binding_unchecked"


def test_dpop_scheme_with_an_unbound_token(
    pingone_mock: MockPingOne, guard: Guard, holder: Holder
) -> None:
    token = pingone_mock.issue_token(["read"])
    err = refusal(guard, token, dpop(holder.proof(token)))
    assert isinstance(err, InvalidToken)
    assert err.reason == "dpop_token_not_bound"
    assert err.www_authenticate.startswith('DPoP error="invalid_token"')


def test_dpop_required_with_a_bearer_token(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(dpop="required", dpop_algorithms=["ES256"])
    token = pingone_mock.issue_token(["read"])
    for presentation in (None, Presentation("Bearer", "GET", URL)):
        err = refusal(guard, token, presentation)
        assert err.reason == "dpop_required"
        assert err.www_authenticate == (
            'DPoP error="invalid_token", error_description="This API accepts DPoP-bound tokens '
            'only", algs="ES256"'
        )


def test_dpop_disabled_refuses_the_dpop_scheme_and_bound_tokens(
    pingone_mock: MockPingOne, holder: Holder
) -> None:
    guard = pingone_mock.guard(dpop="disabled")
    unbound = pingone_mock.issue_token(["read"])
    err = refusal(guard, unbound, dpop(holder.proof(unbound)))
    assert err.reason == "dpop_disabled"
    assert err.www_authenticate.startswith("Bearer ")
    assert "algs=" not in err.www_authenticate
    bound = bound_token(pingone_mock, holder)
    assert refusal(guard, bound, dpop(holder.proof(bound))).reason == "dpop_disabled"


# -- nonces ---------------------------------------------------------------------------------

SECRET = b"0123456789abcdef0123456789abcdef"


def test_use_dpop_nonce_when_no_nonce(pingone_mock: MockPingOne, holder: Holder) -> None:
    nonces = DPoPNonces(SECRET)
    guard = pingone_mock.guard(dpop_nonces=nonces)
    token = bound_token(pingone_mock, holder)
    err = refusal(guard, token, dpop(holder.proof(token)))
    assert isinstance(err, UseDPoPNonce)
    assert err.reason == "dpop_nonce_missing"
    assert err.body["error"] == "use_dpop_nonce"
    assert err.headers["DPoP-Nonce"] == nonces.current()
    assert err.www_authenticate.startswith('DPoP error="use_dpop_nonce"')


def test_use_dpop_nonce_when_nonce_expired(pingone_mock: MockPingOne, holder: Holder) -> None:
    nonces = DPoPNonces(SECRET, lifetime=60)
    guard = pingone_mock.guard(dpop_nonces=nonces)
    token = bound_token(pingone_mock, holder)
    expired = nonces.current(now=time.time() - 180)
    err = refusal(guard, token, dpop(holder.proof(token, claims={"nonce": expired})))
    assert isinstance(err, UseDPoPNonce)
    assert err.reason == "dpop_nonce_invalid"
    assert err.headers["DPoP-Nonce"] != expired


def test_use_dpop_nonce_when_nonce_from_another_secret(
    pingone_mock: MockPingOne, holder: Holder
) -> None:
    guard = pingone_mock.guard(dpop_nonces=DPoPNonces(SECRET))
    token = bound_token(pingone_mock, holder)
    foreign = DPoPNonces(b"another-secret-of-enough-length!").current()
    for nonce in (foreign, 42, "", "x" * 300):
        err = refusal(guard, token, dpop(holder.proof(token, claims={"nonce": nonce})))
        assert isinstance(err, UseDPoPNonce)
        assert err.reason == "dpop_nonce_invalid"


# -- certificate binding (RFC 8705) ---------------------------------------------------------


def test_certificate_mismatch(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(x5t_s256=certificate_thumbprint(self_signed_der()))
    stolen_with = Presentation("Bearer", "GET", URL, client_cert=self_signed_der())
    err = refusal(guard, token, stolen_with)
    assert err.reason == "mtls_certificate_mismatch"
    assert err.www_authenticate.startswith('Bearer error="invalid_token"')


def test_certificate_missing(pingone_mock: MockPingOne, guard: Guard) -> None:
    token = pingone_mock.issue_token(x5t_s256=certificate_thumbprint(self_signed_der()))
    err = refusal(guard, token, Presentation("Bearer", "GET", URL))
    assert err.reason == "mtls_certificate_missing"
    assert refusal(guard, token, None).reason == "mtls_binding_unchecked"


def test_mtls_required_with_an_unbound_token(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard(mtls="required")
    token = pingone_mock.issue_token(["read"])
    presentation = Presentation("Bearer", "GET", URL, client_cert=self_signed_der())
    assert refusal(guard, token, presentation).reason == "mtls_required"
    assert refusal(guard, token, None).reason == "mtls_required"


@pytest.mark.parametrize(
    "cnf",
    ["jkt", ["jkt"], 7, {"jkt": 7}, {"jkt": ""}, {"x5t#S256": ["a"]}, {"jkt": "é"}],
)
def test_malformed_cnf(pingone_mock: MockPingOne, guard: Guard, cnf: object) -> None:
    token = pingone_mock.issue_token(["read"], claims={"cnf": cnf})
    for presentation in (None, Presentation("Bearer", "GET", URL)):
        err = refusal(guard, token, presentation)
        assert isinstance(err, InvalidToken)
        assert err.reason == "bad_cnf"
