"""Steps 1–4 of the :class:`~p1guard.Guard` (:mod:`p1guard._guard`): from the raw token to a
verified :class:`~p1guard._tokens.tokens.AccessToken` — the verified-token cache, local JWT
validation or introspection (step 3's routing), and the introspection that ``check_revocation``
adds (step 5a). The Guard inherits them; it sets every attribute declared here.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any, Literal

from p1guard._observe.metrics import CACHE
from p1guard._tokens.cache import VerifiedTokenCache
from p1guard._tokens.introspection import IntrospectionCache, IntrospectionPolicy, shared_or_fresh
from p1guard._tokens.jwt import (
    Jws,
    JwtPolicy,
    parse_compact,
    parse_jws,
    peek_issuer,
    unverified_issuer,
    verify_compact,
    verify_jws,
)
from p1guard._tokens.keys import SigningKey
from p1guard._tokens.tokens import AccessToken
from p1guard.errors import ConfigError, InvalidToken, MissingToken

if TYPE_CHECKING:
    from p1guard._client.auth import ClientAuth
    from p1guard._http.flow import Flow
    from p1guard._observe.metrics import Metrics
    from p1guard._pingone import PingOne
    from p1guard._tokens.jwt import _HeaderRules
    from p1guard._tokens.shared_cache import RedisCache

__all__ = ["MODES", "Mode", "TokenSteps", "Via"]

_sha256 = hashlib.sha256

Mode = Literal["jwt", "introspect", "auto"]
MODES = ("jwt", "introspect", "auto")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 §2.1
# How _start left a call: answered from the verified-token cache, or validated right there, or
# in need of the flow (with the revocation check). One slot, so a cache hit pays nothing extra.
Via = Literal["cache", "jwt", "flow", "revocation"]


class TokenSteps:
    """Steps 1–4 (and 5a's introspection), as methods of the Guard."""

    pingone: PingOne
    mode: Mode
    check_revocation: bool
    policy: JwtPolicy
    introspection_policy: IntrospectionPolicy
    shared_cache: RedisCache | None
    _rules: _HeaderRules
    _verified: VerifiedTokenCache[AccessToken]
    _introspected: IntrospectionCache
    _metrics: Metrics | None
    _client_auth: ClientAuth | None
    _shared_scope: bytes

    def _start(
        self, token: str | None, check_revocation: bool | None
    ) -> tuple[str, bytes, Via, AccessToken | None]:
        """Steps 1, 2 and — when no I/O is needed — 3 and 4, without building a flow.

        A hit of the verified-token cache is counted by the caller, with the outcome, so that
        it costs no metrics check of its own.
        """
        if not token:
            raise MissingToken()
        if not isinstance(token, str) or not token.isascii():
            raise InvalidToken("The token must be ASCII text", reason="malformed")
        revocation = self.check_revocation if check_revocation is None else check_revocation
        if revocation and self._client_auth is None:
            raise ConfigError("check_revocation", "needs client_id and client_secret on the Guard")
        # Encoded once: hashed here for the caches (= token_digest, the token being ASCII) and
        # parsed as is below.
        data = token.encode()
        digest = _sha256(data).digest()
        if revocation:
            return token, digest, "revocation", None
        now = time.time()
        access = self._verified.get(digest, now)
        if access is not None:
            return token, digest, "cache", access
        metrics = self._metrics
        if metrics is not None and self.mode != "introspect":
            metrics.count(CACHE, cache="verified", result="miss")
        if self.mode == "jwt":
            # The common miss: keys are cached, so the whole check runs here with no flow.
            if metrics is None:  # one call for rules 1–5; None: no fresh key, use the flow
                claims = verify_compact(data, self.policy, self._rules, self.pingone.jwks, now)
                if claims is not None:
                    return token, digest, "jwt", self._remember(claims, digest)
                return token, digest, "flow", None
            jws = parse_compact(data, self.policy, self._rules)
            key = self.pingone.jwks.fresh_key(jws.kid, time.monotonic())
            if key is not None:
                if metrics is not None:
                    metrics.count(CACHE, cache="jwks", result="hit")
                return token, digest, "jwt", self._accept(jws, key, digest, now)
        return token, digest, "flow", None

    def _is_local(self, token: str) -> bool:
        """Step 3's routing: validate ``token`` here (``True``) or introspect it."""
        return self.mode == "jwt" or (
            self.mode == "auto" and peek_issuer(token) in self.policy.issuers
        )

    def _flow(self, token: str, digest: bytes, via: Via) -> Flow[AccessToken]:
        revocation = via == "revocation"
        if not self._is_local(token):
            if len(token) > self.policy.max_size or _B64TOKEN.fullmatch(token) is None:
                # Never forward junk to PingOne: it costs rate limit and evicts good answers.
                raise InvalidToken("The token is malformed", reason="malformed")
            return (yield from self._introspect(token, digest))
        access = self._verified.get(digest, time.time())
        if revocation and self._metrics is not None:  # _start did not look: count it here
            result = "miss" if access is None else "hit"
            self._metrics.count(CACHE, cache="verified", result=result)
        if access is None:
            access = yield from self._verify_jwt(token, digest)
        if revocation:
            yield from self._introspect(token, digest)
        return access

    def _verify_jwt(self, token: str, digest: bytes) -> Flow[AccessToken]:
        jws = parse_jws(token, self.policy, self._rules)
        fresh = self.pingone.jwks.fresh_key(jws.kid, time.monotonic()) is not None
        if self._metrics is not None:
            self._metrics.count(CACHE, cache="jwks", result="hit" if fresh else "miss")
        if not fresh:
            # Step 3: a foreign token is no key problem, and must not cost a JWKS fetch.
            issuer = unverified_issuer(jws)
            if issuer not in self.policy.issuers:
                raise InvalidToken(
                    "The token was issued by another issuer",
                    reason="wrong_issuer",
                    detail={"expected": sorted(self.policy.issuers), "actual": issuer},
                )
        key = yield from self.pingone.key_flow(jws.kid)
        return self._accept(jws, key, digest, time.time())

    def _accept(self, jws: Jws, key: SigningKey, digest: bytes, now: float) -> AccessToken:
        """Signature, payload and claims (steps 3–4 after the key is known); cache the result."""
        return self._remember(verify_jws(jws, key, self.policy, now), digest)

    def _remember(self, claims: dict[str, Any], digest: bytes) -> AccessToken:
        """The verified token for ``claims``, cached until its ``exp``."""
        access = AccessToken._verified(claims, digest[:4].hex())  # = token_id(digest)
        self._verified.put(digest, access, float(claims["exp"]))
        return access

    def _introspect(self, token: str, digest: bytes) -> Flow[AccessToken]:
        answer = self._introspected.get(digest)
        if self._metrics is not None:
            result = "miss" if answer is None else "hit"
            self._metrics.count(CACHE, cache="introspection", result=result)
        if answer is None:
            answer = yield from shared_or_fresh(
                token,
                digest,
                cache=self._introspected,
                policy=self.introspection_policy,
                discovery=self.pingone.discovery,
                auth=self._client_auth,
                shared=self.shared_cache,
                shared_key=self._shared_scope + digest,
            )
        if isinstance(answer, InvalidToken):
            raise InvalidToken(answer.description, reason=answer.reason, detail=answer.detail)
        return answer
