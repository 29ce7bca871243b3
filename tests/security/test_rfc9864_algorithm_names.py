"""RFC 9864's fully-specified EdDSA names (``Ed25519``, ``Ed448``) for JWTs and DPoP proofs,
and the algorithm-confusion attempts they open: a name must fit the key's curve. Against a
Guard fetching its keys from a live MockPingOne."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519

from p1guard import InvalidDPoPProof, InvalidToken, Presentation
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.binding import access_token_hash
from p1guard._web.resource_metadata import ResourceMetadata
from p1guard.testing import MockPingOne

URL = "https://api.example.com/orders"
EdKey = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def proof(private: EdKey, alg: str, token: str) -> str:
    """A DPoP proof signed with ``cryptography`` directly: PyJWT only knows ``EdDSA``."""
    jwk = DPoPKey(private).public_jwk
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": jwk}
    body: dict[str, Any] = {
        "jti": f"jti-{time.monotonic_ns()}",
        "htm": "GET",
        "htu": URL,
        "iat": int(time.time()),
        "ath": access_token_hash(token),
    }
    signing_input = ".".join(b64(json.dumps(part).encode()) for part in (header, body))
    return f"{signing_input}.{b64(private.sign(signing_input.encode()))}"


def presented(private: EdKey, alg: str, token: str) -> Presentation:
    return Presentation("DPoP", "GET", URL, (proof(private, alg, token),))


def test_ed25519_alg_name_is_accepted_for_jwts_and_dpop_proofs(pingone_mock: MockPingOne) -> None:
    guard = pingone_mock.guard()
    # JWTs: a key published as Ed25519, and one published as EdDSA with tokens naming Ed25519.
    assert guard.verify(pingone_mock.issue_token(alg="Ed25519")).subject == "user-1"
    named = pingone_mock.issue_token(alg="EdDSA", header={"alg": "Ed25519"})
    assert guard.verify(named).subject == "user-1"
    assert guard.verify(pingone_mock.issue_token(alg="EdDSA")).subject == "user-1"
    assert guard.verify(pingone_mock.issue_token(alg="Ed448")).subject == "user-1"
    # DPoP proofs: Ed25519 (and EdDSA) with an Ed25519 key; Ed448 (and EdDSA) with an Ed448 key.
    for private, alg in [
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
        (ed448.Ed448PrivateKey.generate(), "Ed448"),
        (ed448.Ed448PrivateKey.generate(), "EdDSA"),
    ]:
        token = pingone_mock.issue_token(dpop_jkt=DPoPKey(private).thumbprint)
        assert guard.verify(token, presentation=presented(private, alg, token)).subject == "user-1"
    # The names are offered to clients: the challenge's algs="…" and RFC 9728 metadata.
    dpop_guard = pingone_mock.guard(dpop="required")
    challenge = dpop_guard.challenge(InvalidToken("x")).www_authenticate
    assert 'algs="ES256 ES384 ES512 Ed25519 Ed448 EdDSA PS256' in challenge
    document = ResourceMetadata.for_guard(dpop_guard).document()
    assert {"Ed25519", "Ed448", "EdDSA"} <= set(document["dpop_signing_alg_values_supported"])


@pytest.mark.parametrize(("key_alg", "claimed"), [("Ed448", "Ed25519"), ("Ed25519", "Ed448")])
def test_ed25519_alg_on_ed448_key_is_refused(
    pingone_mock: MockPingOne, key_alg: str, claimed: str
) -> None:
    """A fully-specified name is a promise about the curve: the other curve's key must not
    verify it, even where the polymorphic EdDSA would."""
    guard = pingone_mock.guard()
    lying = pingone_mock.issue_token(alg=key_alg, header={"alg": claimed})
    with pytest.raises(InvalidToken) as info:
        guard.verify(lying)
    assert info.value.reason == "alg_key_mismatch"

    private: EdKey = (
        ed448.Ed448PrivateKey.generate()
        if key_alg == "Ed448"
        else ed25519.Ed25519PrivateKey.generate()
    )
    token = pingone_mock.issue_token(dpop_jkt=DPoPKey(private).thumbprint)
    with pytest.raises(InvalidDPoPProof) as refused:
        guard.verify(token, presentation=presented(private, claimed, token))
    assert refused.value.reason == "dpop_alg_key_mismatch"
