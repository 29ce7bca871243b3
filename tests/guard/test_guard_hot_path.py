"""Guard.verify's shortcuts for the common case keep every rule: the token is hashed and
parsed from one encoding, the sender step (step 6) and the authorization step (step 7) are
skipped only when they cannot refuse."""

from __future__ import annotations

import hashlib
import time

import pytest

from p1guard import ConfigError, InsufficientUserAuthentication, InvalidToken
from p1guard._sender.binding import Presentation, certificate_thumbprint
from p1guard._tokens.cache import token_digest
from p1guard._tokens.claims import Contains
from p1guard.testing import MockPingOne


def test_cache_key_is_token_digest(pingone_mock: MockPingOne) -> None:
    # The Guard hashes the bytes it parses; forget()/deny() use token_digest: same key.
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token()
    guard.verify(token)
    digest = token_digest(token)
    assert digest == hashlib.sha256(token.encode("ascii")).digest()
    assert guard._verified.get(digest, 0.0) is not None
    guard.forget(token)
    assert guard._verified.get(digest, 0.0) is None
    guard.verify(token)
    guard.deny(token)
    with pytest.raises(InvalidToken) as refused:
        guard.verify(token)
    assert refused.value.reason == "denied"


@pytest.mark.parametrize("cached", [False, True], ids=["new", "cache_hit"])
def test_bad_match_is_still_a_config_error(pingone_mock: MockPingOne, cached: bool) -> None:
    guard = pingone_mock.guard()
    token = pingone_mock.issue_token()
    if cached:
        guard.verify(token)
    with pytest.raises(ConfigError, match="match"):
        guard.verify(token, match="some")  # type: ignore[arg-type]


@pytest.mark.parametrize("cached", [False, True], ids=["new", "cache_hit"])
def test_per_call_step_up_and_claims_still_apply(pingone_mock: MockPingOne, cached: bool) -> None:
    guard = pingone_mock.guard()
    an_hour_ago = time.time() - 3600
    token = pingone_mock.issue_token(issued_at=an_hour_ago, expires_in=7200)  # Single_Factor
    if cached:
        guard.verify(token)
    with pytest.raises(InsufficientUserAuthentication) as weak:
        guard.verify(token, acr_values=["Multi_Factor"])
    assert weak.value.reason == "acr_not_accepted"
    with pytest.raises(InsufficientUserAuthentication) as old:
        guard.verify(token, max_age=60)
    assert old.value.reason == "auth_too_old"
    assert guard.verify(token, claims=[Contains("scope", "read")]).scopes == {"read"}


@pytest.mark.parametrize("cached", [False, True], ids=["new", "cache_hit"])
def test_bound_token_without_presentation_is_refused(
    pingone_mock: MockPingOne, cached: bool
) -> None:
    # Attack: replay a certificate-bound token as a plain bearer token (RFC 8705 §3); the
    # unbound shortcut must not apply to it, whether it is new or already cached.
    guard = pingone_mock.guard()
    cert = b"client certificate DER"
    token = pingone_mock.issue_token(x5t_s256=certificate_thumbprint(cert))
    if cached:
        guard.verify(token, presentation=Presentation(client_cert=cert))
    with pytest.raises(InvalidToken) as refused:
        guard.verify(token)
    assert refused.value.reason == "mtls_binding_unchecked"


@pytest.mark.parametrize("cached", [False, True], ids=["new", "cache_hit"])
async def test_required_binding_refuses_unbound_tokens(
    pingone_mock: MockPingOne, cached: bool
) -> None:
    guard = pingone_mock.guard(dpop="required")
    token = pingone_mock.issue_token()
    if cached:  # this Guard never accepts it: cache what a Guard that does accept it built
        guard._verified.put(token_digest(token), pingone_mock.guard().verify(token), 4e9)
    with pytest.raises(InvalidToken) as refused:
        await guard.averify(token)
    assert refused.value.reason == "dpop_required"
