"""JWKS cache rules (p1guard._tokens.jwks), driven by hand with no network."""

from __future__ import annotations

import json
from typing import Any

import pytest

from p1guard._http.flow import Request, Response, drive
from p1guard._tokens.jwks import JwksCache
from p1guard.errors import InvalidToken, ProviderUnavailable

URI = "https://auth.example.com/as/jwks"


class FakePingOne:
    """Answers JWKS requests from a document (or fails) and counts them."""

    def __init__(self, document: Any) -> None:
        self.document = document
        self.calls = 0
        self.fail: ProviderUnavailable | None = None
        self.status = 200

    def __call__(self, request: Request) -> Response:
        assert request.method == "GET"
        assert request.url == URI
        self.calls += 1
        return Response(self.status, {}, json.dumps(self.document).encode())


def get(cache: JwksCache, server: FakePingOne, kid: str) -> Any:
    flow = cache.flow(URI, kid)
    if server.fail is not None:
        try:
            next(flow)
        except StopIteration as stop:
            return stop.value
        try:
            flow.throw(server.fail)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("flow did not finish")
    return drive(flow, server)


def age(cache: JwksCache, seconds: float) -> None:
    """Pretend ``seconds`` passed since the last fetch and attempt."""
    assert cache.fetched_at is not None
    assert cache.last_attempt is not None
    cache.fetched_at -= seconds
    cache.last_attempt -= seconds
    if cache.last_unknown_fetch is not None:
        cache.last_unknown_fetch -= seconds


def test_first_use_fetches_then_serves_from_cache(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(), FakePingOne(jwks_doc)
    assert get(cache, server, "rsa-1").kid == "rsa-1"
    assert get(cache, server, "ec-1").kid == "ec-1"
    assert server.calls == 1


def test_kid_storm_refetch_is_rate_limited(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(cooldown=60), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 61)  # cooldown over: one refetch allowed
    for i in range(1000):
        with pytest.raises(InvalidToken) as info:
            get(cache, server, f"random-{i}")
        assert info.value.reason == "unknown_kid"
    assert server.calls == 2


def test_rotated_key_picked_up_after_cooldown(jwks_doc: dict[str, Any], rsa_key: Any) -> None:
    from jwt_support import jwk_of

    cache, server = JwksCache(cooldown=60), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    server.document = {"keys": [*jwks_doc["keys"], jwk_of(rsa_key, "rsa-2")]}
    age(cache, 60)
    assert get(cache, server, "rsa-2").kid == "rsa-2"
    assert server.calls == 2


def test_expired_set_is_refreshed(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(max_age=100), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 101)
    get(cache, server, "rsa-1")
    assert server.calls == 2


def test_stale_keys_serve_while_endpoint_down(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(max_age=100, stale_if_error=1000), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 500)
    server.fail = ProviderUnavailable("down")
    assert get(cache, server, "rsa-1").kid == "rsa-1"
    # unknown kid while the endpoint is failing: 503, not 401
    with pytest.raises(ProviderUnavailable):
        get(cache, server, "new-kid")


def test_stale_bound_is_enforced(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(max_age=100, stale_if_error=1000), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 1101)
    server.fail = ProviderUnavailable("down")
    with pytest.raises(ProviderUnavailable) as info:
        get(cache, server, "rsa-1")
    assert info.value.reason == "jwks_stale"


def test_failures_back_off_instead_of_hammering(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(), FakePingOne(jwks_doc)
    server.status = 500
    for _ in range(50):
        with pytest.raises(ProviderUnavailable) as info:
            get(cache, server, "rsa-1")
    assert server.calls == 1
    assert info.value.retry_after is not None
    assert info.value.retry_after >= 0.5


@pytest.mark.parametrize(
    "document", [{"keys": []}, {"keys": [{"kty": "oct", "k": "x"}]}, "garbage"]
)
def test_unusable_set_never_replaces_good_keys(jwks_doc: dict[str, Any], document: Any) -> None:
    cache, server = JwksCache(max_age=100), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 101)
    server.document = document
    assert get(cache, server, "rsa-1").kid == "rsa-1"  # stale but good
    assert "rsa-1" in cache.keys


def test_first_fetch_failure_is_503(jwks_doc: dict[str, Any]) -> None:
    cache, server = JwksCache(), FakePingOne(jwks_doc)
    server.fail = ProviderUnavailable("down")
    with pytest.raises(ProviderUnavailable):
        get(cache, server, "rsa-1")


def test_routine_refresh_does_not_start_the_unknown_kid_cooldown(
    jwks_doc: dict[str, Any], rsa_key: Any
) -> None:
    from jwt_support import jwk_of

    cache, server = JwksCache(cooldown=60, max_age=100), FakePingOne(jwks_doc)
    get(cache, server, "rsa-1")
    age(cache, 101)  # the set expired: the next use refreshes it
    get(cache, server, "rsa-1")
    # PingOne starts signing with a new key right after that routine refresh:
    server.document = {"keys": [*jwks_doc["keys"], jwk_of(rsa_key, "rsa-new")]}
    assert get(cache, server, "rsa-new").kid == "rsa-new"
    assert server.calls == 3
