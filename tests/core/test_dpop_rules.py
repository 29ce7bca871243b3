"""DPoP proof rules without a Guard (p1guard._sender.dpop and .replay, sans-I/O): URL
normalisation, nonces, the in-process replay record, and one-off client keys
(p1guard._tokens.keys.public_key_from_jwk)."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from p1guard import ConfigError, InvalidDPoPProof, UseDPoPNonce
from p1guard._client.dpop_key import DPoPKey
from p1guard._sender.dpop import DPoPNonces, DPoPPolicy, check_proof, normalize_htu
from p1guard._sender.replay import ReplayCache, replay_key
from p1guard._tokens.keys import public_key_from_jwk

NOW = 1_700_000_000.0
URL = "https://api.example.com/orders"


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("https://api.example.com/orders", "https://api.example.com/orders"),
        ("HTTPS://API.EXAMPLE.COM/orders", "https://api.example.com/orders"),
        ("https://api.example.com:443/orders", "https://api.example.com/orders"),
        ("http://api.example.com:80/orders", "http://api.example.com/orders"),
        ("https://api.example.com:8443/orders", "https://api.example.com:8443/orders"),
        ("https://api.example.com", "https://api.example.com/"),
        ("https://api.example.com/orders?page=2#top", "https://api.example.com/orders"),
        ("https://api.example.com/%7Euser/a%2fb", "https://api.example.com/~user/a%2Fb"),
        ("https://[::1]:443/x", "https://[::1]/x"),
    ],
)
def test_normalize_htu(given: str, normal: str) -> None:
    assert normalize_htu(given) == normal


@pytest.mark.parametrize(
    "url",
    ["", "/orders", "ftp://api.example.com/", "https://", "https://a:99999/", "https://u:p@a/"],
)
def test_normalize_htu_refuses_unusable_urls(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_htu(url)


def test_path_case_is_significant() -> None:
    assert normalize_htu("https://a.example/Orders") != normalize_htu("https://a.example/orders")


def test_check_proof_accepts_every_key_type() -> None:
    keys = [
        DPoPKey.generate("ES256"),
        DPoPKey.generate("ES512"),
        DPoPKey(rsa.generate_private_key(65537, 2048), alg="PS256"),
        DPoPKey(ed25519.Ed25519PrivateKey.generate(), alg="EdDSA"),
    ]
    for key in keys:
        proof = key.proof("PATCH", URL, access_token="tok", now=NOW)
        checked = check_proof(
            proof, method="PATCH", url=URL, access_token="tok", policy=DPoPPolicy(), now=NOW
        )
        assert checked.jkt == key.thumbprint, key


def test_check_proof_iat_bounds_follow_window_and_leeway() -> None:
    key = DPoPKey.generate()
    policy = DPoPPolicy(window=10, leeway=5)
    for iat, ok in [(NOW - 15, True), (NOW - 16, False), (NOW + 5, True), (NOW + 6, False)]:
        proof = key.proof("GET", URL, now=iat)
        if ok:
            check_proof(proof, method="GET", url=URL, access_token=None, policy=policy, now=NOW)
        else:
            with pytest.raises(InvalidDPoPProof):
                check_proof(proof, method="GET", url=URL, access_token=None, policy=policy, now=NOW)


def test_check_proof_refuses_a_bad_request_url() -> None:
    proof = DPoPKey.generate().proof("GET", URL, now=NOW)
    with pytest.raises(InvalidDPoPProof) as info:
        check_proof(
            proof,
            method="GET",
            url="https://bad host:x/",
            access_token=None,
            policy=DPoPPolicy(),
            now=NOW,
        )
    assert info.value.reason == "dpop_bad_request_url"


def test_nonce_lifetime_slots() -> None:
    nonces = DPoPNonces(b"k" * 32, lifetime=100)
    nonce = nonces.current(now=1000)  # slot 10: valid through slot 11
    assert nonces.is_valid(nonce, now=1000)
    assert nonces.is_valid(nonce, now=1199)
    assert not nonces.is_valid(nonce, now=1200)
    assert not nonces.is_valid(nonce, now=999)  # not before its own slot
    assert not nonces.is_valid("é", now=1000)
    assert DPoPNonces(b"k" * 32, lifetime=100).current(now=1000) == nonce
    assert DPoPNonces().current(now=1000) != nonce
    assert "k" * 32 not in repr(nonces)


def test_nonce_missing_and_invalid_in_check_proof() -> None:
    key = DPoPKey.generate()
    nonces = DPoPNonces(b"k" * 32)
    policy = DPoPPolicy()
    with pytest.raises(UseDPoPNonce) as missing:
        check_proof(
            key.proof("GET", URL, now=NOW),
            method="GET",
            url=URL,
            access_token=None,
            policy=policy,
            now=NOW,
            nonces=nonces,
        )
    assert missing.value.nonce == nonces.current(NOW)
    good = key.proof("GET", URL, nonce=missing.value.nonce, now=NOW)
    assert check_proof(
        good, method="GET", url=URL, access_token=None, policy=policy, now=NOW, nonces=nonces
    )


def test_replay_cache_forgets_only_expired_entries_or_evicts_when_full() -> None:
    cache = ReplayCache(maxsize=2)
    assert cache.remember(b"a", until=10, now=0)
    assert cache.remember(b"b", until=20, now=0)
    assert not cache.remember(b"a", until=10, now=5)
    # Full of live entries: the new proof is recorded, the (only) owner's oldest goes.
    assert cache.remember(b"c", until=30, now=5)
    assert cache.evictions == 1
    assert b"a" not in cache and b"b" in cache
    assert not cache.remember(b"c", until=30, now=10)
    assert cache.remember(b"d", until=40, now=20)  # b expired at 20: room, nothing evicted
    assert cache.evictions == 1
    assert len(cache) == 2
    assert cache.remember(b"b", until=50, now=30)  # c expired; b may be used again
    assert not cache.remember(b"b", until=50, now=31)
    assert cache.evictions == 1


def test_replay_cache_evicts_the_busiest_owner_first() -> None:
    cache = ReplayCache(maxsize=4)
    assert cache.remember(b"honest", until=100, now=0, owner="honest")
    for n in range(3):
        assert cache.remember(b"flood-%d" % n, until=100, now=0, owner="flood")
    for n in range(3, 50):  # every one accepted; the flooder loses its own oldest proofs
        assert cache.remember(b"flood-%d" % n, until=100, now=1, owner="flood")
    assert cache.evictions == 47
    assert len(cache) == 4
    assert not cache.remember(b"honest", until=100, now=2, owner="honest")
    assert cache.remember(b"other", until=100, now=2, owner="other")
    assert [b"flood-%d" % n in cache for n in (47, 48, 49)] == [False, True, True]


def test_replay_cache_records_one_winner_under_threads() -> None:
    cache = ReplayCache()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        wins.append(cache.remember(b"same", until=100, now=1))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_replay_key_separates_keys_and_scopes() -> None:
    assert replay_key(b"s", "k1", "j") != replay_key(b"s", "k2", "j")
    assert replay_key(b"s1", "k", "j") != replay_key(b"s2", "k", "j")
    assert replay_key(b"s", "k", "\ud800") != replay_key(b"s", "k", "\ud801")


def test_public_key_from_jwk_refuses_weak_and_private_keys() -> None:
    weak = RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 1024).public_key(), as_dict=True)
    with pytest.raises(ValueError, match="under 2048 bits"):
        public_key_from_jwk(weak)
    private = OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate(), as_dict=True)
    with pytest.raises(ValueError, match="private"):
        public_key_from_jwk(private)
    with pytest.raises(ValueError, match="unusable"):
        public_key_from_jwk({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"})
    with pytest.raises(ValueError, match="unsupported"):
        public_key_from_jwk({"kty": "XYZ"})
    huge = {"kty": "RSA", "e": "AQAB", "n": "x" * 1500}
    with pytest.raises(ValueError, match="over 8192 bits"):
        public_key_from_jwk(huge)
    okp = OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), as_dict=True)
    assert public_key_from_jwk(okp).algorithms == {"EdDSA", "Ed25519"}


def test_policy_validation() -> None:
    with pytest.raises(ConfigError):
        DPoPPolicy(algorithms=["HS256"])
    with pytest.raises(ConfigError):
        DPoPPolicy(algorithms="ES256")
    assert DPoPPolicy(algorithms=["RS256", "EdDSA"]).algorithms == ("EdDSA", "RS256")
