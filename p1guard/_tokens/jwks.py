"""JWKS cache: signing keys by ``kid``, refreshed safely.

Rules:

1. Keys are looked up by ``kid`` only; a key set is fresh for ``max_age`` seconds.
2. An unknown ``kid`` triggers at most one fetch per ``cooldown`` (default 60 s): a storm of
   random ``kid`` values costs PingOne one call per window, and the tokens are refused with
   ``InvalidToken`` (or ``ProviderUnavailable`` while the last fetch failed). The cooldown
   starts only when a fetch got a key set without the ``kid`` it was made for, and a set was
   already known before it: the cold-start fetch, or a fetch that found its ``kid``, starts
   none, so a key PingOne starts using right after one of them is fetched on its first token.
3. When a fetch fails, known keys keep verifying for ``stale_if_error`` seconds past
   ``max_age``; later, or for unknown ``kid`` values, callers get ``ProviderUnavailable``. Failed
   fetches back off exponentially, so an outage is not hammered.
4. A set that parses to no usable key counts as a failed fetch: it never wipes good keys. A
   body over :data:`MAX_JWKS_BYTES` (512 KiB) is not read and counts as a failed fetch too;
   only its first :data:`~p1guard._tokens.keys.MAX_JWKS_KEYS` (100) keys are read, and keys outside
   :mod:`p1guard._tokens.keys`' bounds are ignored, with one warning per fetch naming the URL.
5. Concurrent fetches of the same URL share one call (single-flight in
   :mod:`p1guard._http.transport`).
"""

from __future__ import annotations

import logging
import time

from p1guard._http.backoff import Backoff
from p1guard._http.flow import Flow, Request, json_object
from p1guard._tokens.keys import SigningKey, parse_jwks
from p1guard.errors import InvalidToken, ProviderUnavailable

__all__ = ["MAX_JWKS_BYTES", "JwksCache"]

log = logging.getLogger("p1guard.jwks")

#: Largest JWKS body read (rule 4): 100 RSA-8192 keys with certificates fit; PingOne's is ~2 KiB.
MAX_JWKS_BYTES = 512 * 1024


def _unknown_kid(kid: str, keys: dict[str, SigningKey]) -> InvalidToken:
    """The refusal for a ``kid`` not in the key set, with the known kids for the diagnostics."""
    return InvalidToken(
        "The token was signed with an unknown key",
        reason="unknown_kid",
        detail={"expected": sorted(keys), "actual": kid},
    )


class JwksCache:
    """The trusted signing keys of one issuer (see the module rules). Pure state plus a flow."""

    def __init__(
        self,
        *,
        cooldown: float = 60.0,
        max_age: float = 900.0,
        stale_if_error: float = 3600.0,
    ) -> None:
        self.cooldown = cooldown
        self.max_age = max_age
        self.stale_if_error = stale_if_error
        self.keys: dict[str, SigningKey] = {}
        self.fetched_at: float | None = None
        self.last_attempt: float | None = None
        #: When a fetch last came back without the kid it was made for (rule 2's cooldown).
        self.last_unknown_fetch: float | None = None
        self.last_failed = False
        self.fetches = 0
        self.pending = 0  # fetches under way: callers join them instead of being refused
        self.backoff = Backoff(base=1.0, cap=max(1.0, cooldown))

    def fresh_key(self, kid: str, now: float) -> SigningKey | None:
        """The key for ``kid`` if the set is fresh (rule 1): the no-I/O fast path."""
        fetched = self.fetched_at
        if fetched is not None and now - fetched < self.max_age:
            return self.keys.get(kid)
        return None

    def _may_fetch(self, now: float, kid_known: bool) -> bool:
        if self.pending:
            return True  # joins the call under way (single-flight), costs PingOne nothing
        if self.backoff.wait(now) > 0:
            return False
        if kid_known or self.last_unknown_fetch is None or self.last_failed:
            return True  # after a failure the backoff above paces retries, not the cooldown
        return now - self.last_unknown_fetch >= self.cooldown

    def _fallback(self, kid: str, now: float, *, retry_after: float | None) -> SigningKey:
        key = self.keys.get(kid)
        if key is not None and self.fetched_at is not None:
            if now - self.fetched_at < self.max_age + self.stale_if_error:
                return key
            raise ProviderUnavailable(
                "The signing keys could not be refreshed for too long",
                reason="jwks_stale",
                retry_after=retry_after,
            )
        if self.last_failed or self.fetched_at is None:
            raise ProviderUnavailable(
                "The signing keys could not be fetched",
                reason="jwks_unavailable",
                retry_after=retry_after,
            )
        raise _unknown_kid(kid, self.keys)

    def flow(self, jwks_uri: str, kid: str) -> Flow[SigningKey]:
        """The key for ``kid``, fetching the set when rules 1–3 allow."""
        now = time.monotonic()
        key = self.fresh_key(kid, now)
        if key is not None:
            return key
        if not self._may_fetch(now, kid_known=kid in self.keys):
            wait = self.backoff.wait(now)
            if not wait and self.last_unknown_fetch is not None:
                wait = self.cooldown - (now - self.last_unknown_fetch)
            return self._fallback(kid, now, retry_after=max(wait, 1.0))
        if not self.pending:
            self.last_attempt = now
        cold = self.fetched_at is None
        self.pending += 1
        try:
            try:
                keys = yield from self._fetch(jwks_uri)
            except ProviderUnavailable as exc:
                self.last_failed = True
                self.backoff.failed(time.monotonic(), exc.retry_after, attempt_started=now)
                return self._fallback(kid, now, retry_after=self.backoff.wait(time.monotonic()))
            self.fetches += 1
            self.keys = keys
            self.fetched_at = time.monotonic()
            self.last_failed = False
            self.backoff.succeeded()
            key = keys.get(kid)
            if key is None and not cold:
                # Rule 2: the cold-start fetch, or one that found a new key, must not lock
                # out the next new key for a whole cooldown.
                self.last_unknown_fetch = self.fetched_at
        finally:
            # Only once the outcome is stored: no caller sees neither a fetch under way nor
            # its outcome (a kid storm would fetch again).
            self.pending -= 1
        if key is None:
            raise _unknown_kid(kid, self.keys)
        return key

    @staticmethod
    def _fetch(jwks_uri: str) -> Flow[dict[str, SigningKey]]:
        response = yield Request(
            "GET", jwks_uri, "jwks", flight_key=jwks_uri, retry=True, max_bytes=MAX_JWKS_BYTES
        )
        try:
            keys = parse_jwks(json_object(response, "jwks"), url=jwks_uri)
        except ValueError:
            keys = {}
        if not keys:
            log.warning(
                "JWKS %s answered no usable signing key; keeping the previous keys", jwks_uri
            )
            raise ProviderUnavailable(
                "The authorization server published no usable signing key",
                reason="jwks_malformed",
            )
        return keys
