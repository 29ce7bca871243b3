"""Guard: the policy that turns a raw bearer token into a verified :class:`AccessToken`.

Order of work for ``verify(token, requirements)``:

1. No token → :class:`MissingToken`.
2. Verified-token cache (SHA-256 of the token, entry dropped at ``exp``): a hit skips to 5b.
3. Route by ``mode``: ``"jwt"`` validates locally (:mod:`p1guard._tokens.jwt` with keys from
   :mod:`p1guard._tokens.jwks`); ``"introspect"`` asks PingOne
   (:mod:`p1guard._tokens.introspection`);
   ``"auto"`` validates locally when the token is a JWS naming our issuer, else introspects.
   A JWS whose key is not cached has its (unverified) ``iss`` read first: a foreign issuer
   is refused as ``wrong_issuer`` at once and never costs a JWKS fetch.
4. Local success is cached until ``exp``.
5. Revocation.

   a. ``check_revocation`` (on the Guard or per call): a locally valid token must also be
      active at introspection (cached for ``introspection_ttl``), since a revoked PingOne
      JWT still verifies.
   b. Denials (:meth:`Guard.deny`, :mod:`p1guard._tokens.revocation`), once any exists or with
      ``denylist=True``, on every call, cache hit or not: the token's revocation identity
      (``iss`` + ``jti``, else its canonical signature — never its spelling) must not be
      denied here, nor in Redis with ``denylist=True``. Redis failing is a 503
      (``reason="denylist_unavailable"``, with ``Retry-After``) unless
      ``denylist_fail_open=True``.
6. Sender constraints: the rules of :mod:`p1guard._sender.rules` (a–d, and the challenge rule),
   on every call, cache hit or not, when the call passes a ``presentation``, the token has a
   ``cnf`` claim, or the Guard requires DPoP or mTLS (else they cost one check).
7. What the route requires (a :class:`~p1guard.Requirements`, or the keywords that build
   one): scopes, then step-up (RFC 9470, with the Guard's ``acr_values``/``max_age`` as the
   fallback), then claim rules — the order of :meth:`Requirements.authorize`, written once in
   :mod:`p1guard._requirements`. A call requiring nothing, on a Guard without step-up, pays
   one test.
8. With ``PingOne(metrics=…)``, each call counts one ``VERIFICATIONS`` (outcome, reason,
   source) and its cache lookups (``CACHE``); without, the hot path pays one ``is None`` check.

9. Every refusal passes ``_finish``, which logs one INFO line on ``p1guard.guard`` naming the
   failed check with expected vs. actual values (issuer, audience, kid, typ, clock skew) and the
   token's short hash — never the token. At most one line per reason per
   :data:`~p1guard._guard_log.DIAGNOSTIC_INTERVAL` seconds per Guard; the next line counts the
   ones held back (:mod:`p1guard._guard_log`).

Sync and async share every step; only the HTTP pump differs (:mod:`p1guard._http.transport`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from p1guard._client.auth import AuthMethod, ClientAuth
from p1guard._guard_log import Diagnostics, measure
from p1guard._guard_steps import MODES, Mode, TokenSteps, Via
from p1guard._http.flow import Flow
from p1guard._pingone import PingOne
from p1guard._requirements import UNSET, Match, Requirements, step_up_options
from p1guard._sender.binding import Presentation
from p1guard._sender.dpop import DEFAULT_DPOP_ALGORITHMS, DPoPNonces, DPoPPolicy
from p1guard._sender.replay import ReplayCache
from p1guard._sender.rules import (
    DPOP_MODES,
    MTLS_MODES,
    DPoPMode,
    MtlsMode,
    sender_flow,
    stamp_scheme,
)
from p1guard._tokens.cache import VerifiedTokenCache, token_digest
from p1guard._tokens.claims import ClaimRule
from p1guard._tokens.introspection import (
    IntrospectionCache,
    IntrospectionPolicy,
)
from p1guard._tokens.jwt import (
    MAX_TOKEN_SIZE,
    JwtPolicy,
    as_frozenset,
    canonical_spelling,
    header_rules,
)
from p1guard._tokens.keys import ALGORITHMS
from p1guard._tokens.revocation import Denylist, denial_until, revocation_id
from p1guard._tokens.shared_cache import RedisCache
from p1guard._tokens.tokens import AccessToken
from p1guard._values import Seconds, check_url, to_seconds
from p1guard.errors import (
    AuthError,
    ConfigError,
    InvalidToken,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    from p1guard._observe.metrics import Metrics

__all__ = ["Guard", "Mode"]

#: What a call that requires nothing more of the token checks (the Guard's step-up, if any).
_NOTHING = Requirements()


class Guard(TokenSteps):
    """Verifies PingOne access tokens for one API (audience) — see the module docstring.

    >>> pingone = PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="EU")
    >>> guard = Guard(pingone, audience="https://api.example.com")
    >>> guard.mode, guard.realm
    ('jwt', None)

    Then ``guard.verify(raw_token, scopes=["read"])`` returns an :class:`AccessToken` or raises an
    :class:`AuthError` that knows its HTTP status and ``WWW-Authenticate`` header;
    ``await guard.averify(…)`` is the async twin.

    ``client_id``/``client_secret`` are the custom resource's credentials, needed for
    ``mode="introspect"``/``"auto"`` and ``check_revocation``. ``leeway`` allows clock skew on
    ``exp``/``nbf``/``iat``; ``strict_typ`` demands ``typ: at+jwt``; ``required_claims`` lists
    claims every token must carry; ``cache_size`` bounds both token caches;
    ``shared_cache`` (a :class:`~p1guard.RedisCache`) shares introspection answers
    between workers and hosts; ``denylist=True`` also shares the tokens :meth:`deny` refuses
    (one Redis lookup per request; if Redis cannot be read the request gets a 503, unless
    ``denylist_fail_open=True`` accepts it meanwhile). ``denial_limit`` bounds the live
    denials this process keeps (each until its token's ``exp``; :meth:`deny` raises
    :class:`~p1guard.errors.DenylistFull` rather than forget one). ``resource_metadata_url`` (see
    :class:`~p1guard.ResourceMetadata`) is added to 401 challenges.
    ``extra_issuers`` widens the accepted ``iss`` values (e.g. your PingOne custom domain,
    ``https://auth.example.com/as``) — keys still come from ``pingone``'s JWKS, since a custom
    domain of the same environment signs with the same keys.

    Sender-constrained tokens (step 6; pass ``presentation=`` to :meth:`verify`): ``dpop``
    is ``"allowed"`` (both schemes; DPoP-bound tokens need their proof), ``"required"``
    (DPoP-bound tokens only) or ``"disabled"``; ``dpop_algorithms`` the proof algorithms
    accepted (default: every asymmetric one); ``dpop_window`` how old a proof may be (plus
    ``leeway``); ``dpop_nonces`` (:class:`~p1guard.DPoPNonces`) makes proofs carry a
    server nonce; ``dpop_replay_size`` bounds the in-process replay record (with
    ``shared_cache`` Redis holds it instead); ``dpop_challenge=True`` also offers
    ``DPoP algs="…"`` beside the ``Bearer`` challenge of 401s to Bearer requests (off by
    default, so Bearer-only clients see unchanged challenges). ``mtls="required"`` accepts
    certificate-bound tokens (RFC 8705) only.
    """

    def __init__(
        self,
        pingone: PingOne,
        *,
        audience: str | Iterable[str],
        mode: Mode = "jwt",
        check_revocation: bool = False,
        client_id: str | None = None,
        client_secret: str | None = None,
        auth_method: AuthMethod | None = None,
        private_key: object = None,
        leeway: Seconds = 30,
        realm: str | None = None,
        algorithms: Iterable[str] | None = None,
        strict_typ: bool = False,
        required_claims: Iterable[str] = (),
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        max_token_size: int = MAX_TOKEN_SIZE,
        cache_size: int = 10_000,
        introspection_ttl: Seconds = 60,
        negative_ttl: Seconds = 10,
        shared_cache: RedisCache | None = None,
        denylist: bool = False,
        denylist_fail_open: bool = False,
        denial_limit: int = 100_000,
        resource_metadata_url: str | None = None,
        extra_issuers: Iterable[str] = (),
        dpop: DPoPMode = "allowed",
        dpop_algorithms: Iterable[str] | None = None,
        dpop_nonces: DPoPNonces | None = None,
        dpop_window: Seconds = 60,
        dpop_replay_size: int = 100_000,
        dpop_challenge: bool = False,
        mtls: MtlsMode = "allowed",
    ) -> None:
        if not isinstance(pingone, PingOne):
            raise ConfigError("pingone", "pass a p1guard.PingOne instance")
        if mode not in MODES:
            raise ConfigError("mode", f"use one of {', '.join(MODES)}, got {mode!r}")
        if not isinstance(max_token_size, int) or max_token_size < 1024:
            raise ConfigError("max_token_size", "must be an integer of at least 1024")
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError("cache_size", "must be a non-negative integer")
        if dpop not in DPOP_MODES:
            raise ConfigError("dpop", f"use one of {', '.join(DPOP_MODES)}, got {dpop!r}")
        if mtls not in MTLS_MODES:
            raise ConfigError("mtls", f"use one of {', '.join(MTLS_MODES)}, got {mtls!r}")
        if dpop_nonces is not None and not isinstance(dpop_nonces, DPoPNonces):
            raise ConfigError("dpop_nonces", "pass a p1guard._sender.dpop.DPoPNonces instance")
        self.pingone = pingone
        self.mode: Mode = mode
        self.check_revocation = check_revocation
        self.realm = realm
        #: RFC 9728 metadata URL put in 401 challenges as ``resource_metadata="…"``.
        self.resource_metadata_url = (
            None
            if resource_metadata_url is None
            else check_url("resource_metadata_url", resource_metadata_url, allow_query=True)
        )
        if isinstance(extra_issuers, str):
            extra_issuers = (extra_issuers,)
        issuers = frozenset(
            {pingone.issuer, *(check_url("extra_issuers", url) for url in extra_issuers)}
        )
        self.issuers = issuers
        self._diagnostics = Diagnostics()  # rule 9
        audiences = as_frozenset("audience", audience)
        leeway_s = to_seconds("leeway", leeway, maximum=300)  # more would disable expiry
        self.policy = JwtPolicy(
            issuers=issuers,
            audiences=audiences,
            algorithms=frozenset(ALGORITHMS if algorithms is None else algorithms),
            leeway=leeway_s,
            max_size=max_token_size,
            strict_typ=strict_typ,
            required_claims=tuple(required_claims),
            environment=pingone.environment_id,
        )
        self._rules = header_rules(self.policy)
        # Step-up (RFC 9470) for every call that does not pass its own acr_values/max_age.
        self.acr_values, self.max_age = step_up_options(acr_values, max_age)
        self._step_up = self.acr_values is not None or self.max_age is not None
        self._verified: VerifiedTokenCache[AccessToken] = VerifiedTokenCache(cache_size)
        self.introspection_policy = IntrospectionPolicy(
            issuers=issuers,
            audiences=audiences,
            leeway=leeway_s,
            ttl=to_seconds("introspection_ttl", introspection_ttl),
            negative_ttl=to_seconds("negative_ttl", negative_ttl),
        )
        self._introspected = IntrospectionCache(cache_size)
        self.shared_cache = shared_cache
        if denylist and shared_cache is None:
            raise ConfigError("denylist", "the shared denylist needs shared_cache=RedisCache(...)")
        self.denylist = denylist
        #: With ``denylist=True``: accept tokens while Redis cannot be read (a loud opt-out).
        self.denylist_fail_open = bool(denylist_fail_open)
        self._denials = Denylist(
            denial_limit, shared_cache if denylist else None, self.denylist_fail_open
        )
        # Step 5b runs once a denial exists or with the shared denylist; else one test.
        self._revocable = denylist
        # Shared answers depend on who asked whom: PingOne environment and client credentials.
        scope = f"{pingone.issuer}|{client_id or ''}".encode()
        self._shared_scope = hashlib.sha256(scope).digest()[:8]
        self._metrics: Metrics | None = pingone.metrics
        # Sender constraints (step 6).
        self.dpop: DPoPMode = dpop
        self.mtls: MtlsMode = mtls
        self.dpop_policy = DPoPPolicy(
            algorithms=DEFAULT_DPOP_ALGORITHMS if dpop_algorithms is None else dpop_algorithms,
            window=to_seconds("dpop_window", dpop_window, minimum=1, maximum=3600),
            leeway=leeway_s,
        )
        #: The ``algs="…"`` of DPoP challenges (none when DPoP is disabled).
        self.dpop_algs: tuple[str, ...] = (
            () if dpop == "disabled" else tuple(self.dpop_policy.algorithms)
        )
        self.dpop_nonces = dpop_nonces
        self.dpop_challenge = bool(dpop_challenge)
        self._replays = ReplayCache(dpop_replay_size)
        replay_scope = "|".join([pingone.issuer, *sorted(audiences)]).encode()
        self._replay_scope = hashlib.sha256(replay_scope).digest()[:8]
        # Whether step 6 must run even for an unbound token without a presentation.
        self._sender_required = dpop == "required" or mtls == "required"
        self._client_auth: ClientAuth | None = None
        if client_id is not None:
            self._client_auth = ClientAuth(
                client_id,
                client_secret=client_secret,
                method=auth_method,
                private_key=private_key,
            )
        elif client_secret is not None or private_key is not None:
            raise ConfigError("client_id", "client credentials need the client_id too")
        if (mode != "jwt" or check_revocation) and self._client_auth is None:
            raise ConfigError(
                "client_id",
                f"mode={mode!r} / check_revocation needs the custom resource's client_id and "
                "client_secret (PingOne console: Applications > Resources > your API)",
            )

    # -- public API ------------------------------------------------------------------------

    def verify(
        self,
        token: str | None,
        requirements: Requirements | None = None,
        *,
        scopes: str | Iterable[str] | None = None,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
        presentation: Presentation | None = None,
    ) -> AccessToken:
        """Verify ``token`` and what the route requires; raise an :class:`AuthError` subclass
        on any doubt.

        ``requirements`` (:class:`~p1guard.Requirements`, built once per route), or its keywords
        for this call (not both: :class:`ConfigError`): ``scopes`` (a list or one
        space-separated string), ``match``, ``check_revocation``, ``acr_values``/``max_age``
        (step-up, RFC 9470: override the Guard's; ``acr_values=()`` lifts its ``acr``
        requirement) and ``claims``, rules checked last (403 :class:`InsufficientClaims`)::

            needs = Requirements(scopes="orders:write", claims=[Contains("groups", "staff")])
            guard.verify(raw, needs)

        ``presentation`` (:class:`~p1guard.Presentation`) tells how the request
        presented the token — scheme, method, URL, ``DPoP`` proofs, client certificate — for
        the sender-constraint checks (step 6). Without it, sender-constrained tokens are
        refused, since nothing proves the caller holds their key or certificate::

            guard.verify(raw, presentation=Presentation("DPoP", "GET", url, (proof,)))
        """
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = _NOTHING if requirements is None else requirements
        if loose != UNSET:
            needs = Requirements.resolve(requirements, loose)
        via: Via = "flow"  # until _start tells
        try:
            raw, digest, via, access = self._start(token, needs.check_revocation)
            if access is None:
                access = self.pingone.transport.run(self._flow(raw, digest, via))
            if self._revocable:
                self.pingone.transport.run(self._denial_flow(access, raw))
            # Step 6 runs only when it can refuse: a presentation to check, a Guard that
            # requires binding, or a bound token (its cnf claim). Else: this one test.
            if presentation is not None or self._sender_required or "cnf" in access._claims:
                self.pingone.transport.run(self._sender_flow(access, raw, presentation))
            if self._step_up or not needs._idle:
                access = self._authorize(access, needs)
        except AuthError as exc:
            raise self._finish(exc, token, via, presentation) from None
        if self._metrics is not None:
            measure(self._metrics, access, token, via == "cache", self._is_local)
        return access

    async def averify(
        self,
        token: str | None,
        requirements: Requirements | None = None,
        *,
        scopes: str | Iterable[str] | None = None,
        match: Match = "all",
        check_revocation: bool | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
        presentation: Presentation | None = None,
    ) -> AccessToken:
        """Async twin of :meth:`verify`."""
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        needs = _NOTHING if requirements is None else requirements
        if loose != UNSET:
            needs = Requirements.resolve(requirements, loose)
        via: Via = "flow"  # until _start tells
        try:
            raw, digest, via, access = self._start(token, needs.check_revocation)
            if access is None:
                access = await self.pingone.transport.arun(self._flow(raw, digest, via))
            if self._revocable:
                await self.pingone.transport.arun(self._denial_flow(access, raw))
            # Step 6 runs only when it can refuse: a presentation to check, a Guard that
            # requires binding, or a bound token (its cnf claim). Else: this one test.
            if presentation is not None or self._sender_required or "cnf" in access._claims:
                await self.pingone.transport.arun(self._sender_flow(access, raw, presentation))
            if self._step_up or not needs._idle:
                access = self._authorize(access, needs)
        except AuthError as exc:
            raise self._finish(exc, token, via, presentation) from None
        if self._metrics is not None:
            measure(self._metrics, access, token, via == "cache", self._is_local)
        return access

    def _authorize(self, access: AccessToken, needs: Requirements) -> AccessToken:
        """Step 7 for both twins (:meth:`Requirements.authorize`), the Guard's step-up values
        as the fallback."""
        return needs.authorize(access, self.acr_values, self.max_age, self.policy.leeway)

    def challenge(self, err: AuthError, scheme: str | None = None) -> AuthError:
        """Stamp this Guard's challenge on ``err``: realm (unless set), RFC 9728 metadata URL,
        and the DPoP scheme and ``algs="…"`` (RFC 9449 §7.1) — for errors an adapter raised
        before the Guard saw the request (no token, a malformed header). ``scheme`` is the
        ``Authorization`` scheme the request used (``"Bearer"``, ``"DPoP"`` or ``None``).

        >>> from p1guard.errors import MissingToken
        >>> pingone = PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", region="EU")
        >>> guard = Guard(pingone, audience="https://api.example.com", dpop="required",
        ...               dpop_algorithms=["ES256"])
        >>> guard.challenge(MissingToken()).www_authenticate
        'DPoP algs="ES256"'
        """
        if err.realm is None:
            err.realm = self.realm
        if self.resource_metadata_url is not None and err.resource_metadata is None:
            err.resource_metadata = self.resource_metadata_url
        self._stamp_scheme(err, scheme)
        return err

    def _stamp_scheme(self, err: AuthError, scheme: str | None) -> None:
        """Step 6's challenge rule (:func:`~p1guard._sender.rules.stamp_scheme`)."""
        stamp_scheme(err, scheme, self.dpop, self.dpop_algs, self.dpop_challenge)

    def dpop_nonce(self) -> str | None:
        """The current DPoP nonce to send as ``DPoP-Nonce`` (RFC 9449 §9), or ``None`` when
        the Guard has no ``dpop_nonces``; adapters may add it to successful responses."""
        return None if self.dpop_nonces is None else self.dpop_nonces.current()

    @property
    def can_introspect(self) -> bool:
        """Whether the Guard has client credentials for introspection (and ``check_revocation``)."""
        return self._client_auth is not None

    def forget(self, token: str) -> None:
        """Drop ``token`` from both in-process caches."""
        digest = token_digest(token)
        self._verified.discard(digest)
        self._introspected.discard(digest)

    def deny(self, token: str) -> None:
        """Refuse ``token`` from now on in this process and, with ``denylist=True``, in every
        worker sharing the Redis cache (e.g. after the app revoked it at sign-out).

        The token is verified first (from the cache, else as :meth:`verify` would, without
        the route's requirements): one this Guard would refuse anyway is not recorded, so a
        forged copy cannot deny a real token. The denial holds against every spelling of the
        token (it is keyed by ``iss`` + ``jti``, else the canonical signature) until its
        verified ``exp`` plus leeway (:mod:`p1guard._tokens.revocation`). Raises
        :class:`~p1guard.errors.DenylistFull` when ``denial_limit`` live denials are held, and
        :class:`~p1guard.errors.ProviderUnavailable` when the shared denylist cannot be
        written (unless ``denylist_fail_open=True``); the local denial holds in both cases
        where there was room; :class:`~p1guard.errors.ProviderUnavailable` too when PingOne is
        needed to verify the token and cannot be reached."""
        self.pingone.transport.run(self._deny_flow(token))

    async def adeny(self, token: str) -> None:
        """Async twin of :meth:`deny`."""
        await self.pingone.transport.arun(self._deny_flow(token))

    def _denial_flow(self, access: AccessToken, token: str) -> Flow[None]:
        """Step 5b (:meth:`~p1guard._tokens.revocation.Denylist.check`)."""
        identity = revocation_id(token, access._claims if access.source == "jwt" else None)
        return self._denials.check(identity, time.time())

    def _deny_flow(self, token: str) -> Flow[None]:
        """:meth:`deny` (rules of :mod:`p1guard._tokens.revocation`): record the token's identity
        until it could no longer be accepted, here and, with ``denylist=True``, in Redis."""
        if not isinstance(token, str) or not token:
            raise ConfigError("token", "deny() needs the token string")
        access = None
        for spelling in dict.fromkeys((token, canonical_spelling(token))):
            digest = token_digest(spelling)
            try:
                access = self._verified.get(digest, time.time())
                if access is None:
                    access = yield from self._flow(spelling, digest, "flow")
                break
            except InvalidToken as exc:
                if exc.reason != "non_canonical_base64url":
                    break
                # A respelled copy: next, the canonical spelling of the token it copies.
        if access is None:
            # Refused here anyway: nothing to deny. Trusting its unverified iss/jti/exp would
            # let a forged copy deny a real token, or crowd real denials out of the store.
            return
        token = spelling
        now = time.time()
        identity = revocation_id(token, access._claims if access.source == "jwt" else None)
        until = denial_until(access.exp, now, self.policy.leeway)
        self._verified.discard(digest)
        self._introspected.discard(digest)
        self._revocable = True
        yield from self._denials.record(identity, until, now)

    def close(self) -> None:
        """Close the PingOne HTTP clients."""
        self.pingone.close()

    async def aclose(self) -> None:
        """Close the PingOne HTTP clients (async)."""
        await self.pingone.aclose()

    def _sender_flow(
        self, access: AccessToken, token: str, presentation: Presentation | None
    ) -> Flow[None]:
        """Step 6 (:func:`~p1guard._sender.rules.sender_flow`) with this Guard's options."""
        return sender_flow(
            access.claims,
            token,
            presentation,
            dpop=self.dpop,
            mtls=self.mtls,
            policy=self.dpop_policy,
            nonces=self.dpop_nonces,
            replays=self._replays,
            replay_scope=self._replay_scope,
            shared_cache=self.shared_cache,
        )

    def _finish(
        self,
        exc: AuthError,
        token: str | None,
        via: Via,
        presentation: Presentation | None = None,
    ) -> AuthError:
        exc.realm = self.realm
        if self.resource_metadata_url is not None:
            exc.resource_metadata = self.resource_metadata_url
        self._stamp_scheme(exc, None if presentation is None else presentation.scheme)
        if not isinstance(exc, ProviderUnavailable):
            self._diagnostics.refused(exc, token)
        if self._metrics is not None:
            measure(self._metrics, exc, token, via == "cache", self._is_local)
        return exc

    def __repr__(self) -> str:
        audience = sorted(self.policy.audiences)
        return f"Guard(issuer={self.pingone.issuer!r}, audience={audience!r}, mode={self.mode!r})"
