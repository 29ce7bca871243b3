"""RelyingParty: sign users in with PingOne (authorization code + PKCE, PAR, refresh, logout).

Each step is a flow (see :mod:`p1guard._http.transport`) with a sync and an async shell of the same
name
(``begin``/``abegin``, ``complete``/``acomplete``…); the rules live in :mod:`.messages` and
:mod:`.id_token`.

DPoP (RFC 9449), with ``dpop_key``:

1. Authorization requests carry ``dpop_jkt``, the key's thumbprint, so the code can only be
   redeemed with that key (§10).
2. Code exchange and refresh carry a fresh proof of the key; a ``use_dpop_nonce`` answer is
   retried once with the server's nonce, which is remembered for later calls
   (:func:`~p1guard._client.dpop_auth.dpop_flow`).
3. The answer must be ``token_type: DPoP``. A Bearer token where a bound one was asked for is
   refused (fail closed: :class:`~p1guard.errors.ProviderUnavailable`,
   ``reason="token_not_bound"``) — the application asked for sender-constrained tokens and
   silently getting bearer ones would remove the protection it relies on.
4. Userinfo calls with a DPoP token send ``Authorization: DPoP`` and a proof with ``ath``
   (the nonce retry of rule 2 applies). A refusal of the token is typed, not an outage
   (:func:`~.messages.read_userinfo`, rules of :mod:`.messages`).
5. Refresh tokens are bound to the key: keep the same key (e.g. load it from a PEM) for as
   long as the refresh tokens live.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Literal, overload
from urllib.parse import urlsplit

from p1guard._client.auth import AuthMethod, ClientAuth
from p1guard._client.credentials import TokenRequestError, parse_token_response
from p1guard._client.dpop_auth import NonceMemory, dpop_flow
from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Flow, Request, provider_error, without_query
from p1guard._pingone import PingOne
from p1guard._tokens.discovery import ProviderMetadata
from p1guard._tokens.tokens import TokenSet, parse_scopes
from p1guard._values import Seconds, is_loopback, to_seconds
from p1guard.errors import ConfigError, ProviderUnavailable
from p1guard.rp._errors import LoginError, UserinfoInsufficientScope, UserinfoInvalidToken
from p1guard.rp._id_token import IdTokenChecks, validate_id_token
from p1guard.rp._messages import (
    authorization_params,
    authorization_url,
    new_transaction,
    read_callback,
    read_par_response,
    read_userinfo,
)
from p1guard.rp._piflow import PiFlow, begin_pi_flow
from p1guard.rp._transaction import LoginStart, LoginTransaction

__all__ = ["RelyingParty"]

ParMode = bool | Literal["auto"]


class RelyingParty:
    """A PingOne application that signs users in.

    >>> pingone = PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    >>> rp = RelyingParty(pingone, client_id="app", client_secret="s", redirect_uri="https://app/cb")
    >>> rp.scopes
    ('openid', 'profile', 'email')

    ``start = rp.begin(return_to="/orders")`` → redirect to ``start.url`` and keep
    ``start.transaction``; on the callback ``tokens = rp.complete(query, transaction)``.
    ``par``: ``True`` always pushes the request (RFC 9126), ``False`` never, ``"auto"`` when
    PingOne advertises a PAR endpoint or ``require_par=True``.
    ``dpop_key``: a :class:`~p1guard.DPoPKey` makes every token DPoP-bound to it
    (module rules 1–5).
    """

    def __init__(
        self,
        pingone: PingOne,
        *,
        client_id: str,
        redirect_uri: str,
        client_secret: str | None = None,
        scopes: Iterable[str] = ("openid", "profile", "email"),
        par: ParMode = "auto",
        require_par: bool = False,
        auth_method: AuthMethod | None = None,
        private_key: object = None,
        post_logout_redirect_uri: str | None = None,
        leeway: Seconds = 30,
        dpop_key: DPoPKey | None = None,
    ) -> None:
        if not isinstance(pingone, PingOne):
            raise ConfigError("pingone", "pass a p1guard.PingOne instance")
        if dpop_key is not None and not isinstance(dpop_key, DPoPKey):
            raise ConfigError("dpop_key", "pass a p1guard._client.dpop_key.DPoPKey (or None)")
        #: The key DPoP-bound tokens are bound to (``None``: Bearer tokens).
        self.dpop_key = dpop_key
        self._nonces = NonceMemory()
        self.pingone = pingone
        self.auth = ClientAuth(
            client_id, client_secret=client_secret, method=auth_method, private_key=private_key
        )
        self.client_id = client_id
        insecure_ok = pingone.allow_insecure_http
        self.redirect_uri = _absolute_url("redirect_uri", redirect_uri, insecure_ok)
        self.post_logout_redirect_uri = (
            None
            if post_logout_redirect_uri is None
            else _absolute_url("post_logout_redirect_uri", post_logout_redirect_uri, insecure_ok)
        )
        self.scopes = tuple(dict.fromkeys(scopes))
        if "openid" not in self.scopes:
            raise ConfigError("scopes", "include 'openid': sign-in needs an ID token")
        if par not in (True, False, "auto"):
            raise ConfigError("par", "use True, False or 'auto'")
        if par is False and require_par:
            raise ConfigError("par", "par=False contradicts require_par=True")
        self.par: ParMode = par
        self.require_par = require_par
        self.leeway = to_seconds("leeway", leeway)

    # -- flows -----------------------------------------------------------------------------

    def begin_flow(
        self,
        return_to: object = "/",
        *,
        method: Literal["GET", "POST"] = "GET",
        max_age: int | None = None,
        acr_values: Iterable[str] = (),
        **extra: Any,
    ) -> Flow[LoginStart]:
        """Build the authorization request (pushed to PingOne when PAR applies)."""
        metadata = yield from self.pingone.discovery.flow()
        endpoint = _need(metadata.authorization_endpoint, "authorization")
        transaction = new_transaction(
            self.redirect_uri, return_to=return_to, max_age=max_age, acr_values=acr_values
        )
        try:
            params = authorization_params(
                transaction,
                client_id=self.client_id,
                scopes=self.scopes,
                extra=extra,
                dpop_jkt=None if self.dpop_key is None else self.dpop_key.thumbprint,
            )
        except ValueError as exc:
            raise ConfigError("extra", str(exc)) from None
        if self._use_par(metadata):
            par_endpoint = _need(metadata.par_endpoint, "pushed authorization request")
            headers, form = self.auth.apply(params, endpoint=par_endpoint)
            response = yield Request("POST", par_endpoint, "par", headers=headers, form=form)
            request_uri, _expires_in = read_par_response(response)
            params = {"client_id": self.client_id, "request_uri": request_uri}
        if method == "POST":
            return LoginStart(endpoint, transaction, "POST", params)
        return LoginStart(authorization_url(endpoint, params), transaction)

    def complete_flow(
        self, query: Mapping[str, Any], transaction: LoginTransaction, *, userinfo: bool = False
    ) -> Flow[TokenSet]:
        """Check the callback, exchange the code, validate the ID token."""
        metadata = yield from self.pingone.discovery.flow()
        iss_required = metadata.raw.get("authorization_response_iss_parameter_supported") is True
        code = read_callback(
            query, transaction, issuer=self.pingone.issuer, iss_required=iss_required
        )
        document = yield from self._token_request(
            metadata,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": transaction.redirect_uri,
                "code_verifier": transaction.code_verifier,
            },
        )
        tokens = yield from self._token_set(
            document,
            nonce=transaction.nonce,
            max_age=transaction.max_age,
            acr_values=transaction.acr_values,
            require_id_token=True,
        )
        if userinfo:
            try:
                info = yield from self.userinfo_flow(
                    tokens.access_token, subject=tokens.subject, token_type=tokens.token_type
                )
            except (UserinfoInvalidToken, UserinfoInsufficientScope) as exc:
                # During a sign-in the refusal of the fresh token fails the sign-in (400).
                raise LoginError(
                    exc.error or "invalid_token", exc.description, reason=exc.reason
                ) from exc
            tokens = _with_claims(tokens, {**info, **tokens.claims})
        return tokens

    def refresh_flow(
        self, refresh_token: str, *, previous: TokenSet | None = None
    ) -> Flow[TokenSet]:
        """New tokens for a refresh token; keeps the old refresh token if PingOne sends none."""
        metadata = yield from self.pingone.discovery.flow()
        document = yield from self._token_request(
            metadata, {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        subject = previous.subject if previous is not None else None
        tokens = yield from self._token_set(document, subject=subject)
        if tokens.refresh_token is None:
            tokens.refresh_token = refresh_token
        if not tokens.claims and previous is not None:
            tokens = _with_claims(tokens, previous.claims)
        return tokens

    def revoke_flow(self, token: str, hint: str = "refresh_token") -> Flow[None]:
        """Revoke ``token`` at PingOne (RFC 7009); an already invalid token is not an error."""
        metadata = yield from self.pingone.discovery.flow()
        endpoint = _need(metadata.revocation_endpoint, "revocation")
        headers, form = self.auth.apply(
            {"token": token, "token_type_hint": hint}, endpoint=endpoint
        )
        response = yield Request("POST", endpoint, "revocation", headers=headers, form=form)
        if response.status_code != 200:
            raise provider_error(response, "revocation")

    def userinfo_flow(
        self, access_token: str, *, subject: str | None = None, token_type: str | None = None
    ) -> Flow[dict[str, Any]]:
        """The user's claims from the userinfo endpoint (``sub`` must match ``subject``).

        ``token_type`` (``"Bearer"`` or ``"DPoP"``, as in :attr:`TokenSet.token_type`) says how
        to present the token; by default ``"DPoP"`` when the RP has a ``dpop_key``.
        """
        metadata = yield from self.pingone.discovery.flow()
        endpoint = _need(metadata.userinfo_endpoint, "userinfo")
        kind = token_type or ("Bearer" if self.dpop_key is None else "DPoP")
        scheme = "DPoP" if kind.lower() == "dpop" else "Bearer"
        try:
            if scheme == "DPoP":
                if self.dpop_key is None:
                    raise ConfigError("dpop_key", "a DPoP token needs the RelyingParty's dpop_key")
                request = Request("GET", endpoint, "userinfo")
                response = yield from dpop_flow(
                    request, self.dpop_key, self._nonces, access_token=access_token
                )
            else:
                headers = {"Authorization": f"Bearer {access_token}"}
                response = yield Request("GET", endpoint, "userinfo", headers=headers)
        except ProviderUnavailable as exc:  # transport failure or open breaker: name the URL
            raise ProviderUnavailable(
                f"{exc.description.rstrip('.')} ({without_query(endpoint)})",
                reason=exc.reason,
                retry_after=exc.retry_after,
            ) from exc
        claims = read_userinfo(response, endpoint, scheme=scheme)
        if subject is not None and claims.get("sub") != subject:
            raise LoginError(
                "invalid_userinfo", "The userinfo answer is for another user", reason="sub_mismatch"
            )
        return claims

    def logout_url_flow(
        self,
        *,
        id_token_hint: str | None = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
    ) -> Flow[str]:
        """The PingOne signoff URL to send the browser to."""
        metadata = yield from self.pingone.discovery.flow()
        endpoint = _need(metadata.end_session_endpoint, "signoff")
        params: dict[str, str] = {}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        redirect = post_logout_redirect_uri or self.post_logout_redirect_uri
        if redirect:
            params["post_logout_redirect_uri"] = redirect
        if state:
            params["state"] = state
        return authorization_url(endpoint, params) if params else endpoint

    # -- sync and async shells -------------------------------------------------------------

    @overload
    def begin(
        self, return_to: object = ..., *, response_mode: Literal["pi.flow"], **kwargs: Any
    ) -> PiFlow: ...
    @overload
    def begin(self, return_to: object = ..., **kwargs: Any) -> LoginStart: ...
    def begin(self, return_to: object = "/", **kwargs: Any) -> LoginStart | PiFlow:
        """Start a login: see :meth:`begin_flow`.

        With ``response_mode="pi.flow"`` the request is sent to PingOne at once and the
        answer is a redirectless sign-on: a :class:`~p1guard.rp.PiFlow` to drive with
        :class:`~p1guard.rp.PiFlowClient` and finish with :meth:`complete` (see
        :mod:`p1guard.rp._piflow`).
        """
        if kwargs.get("response_mode") == "pi.flow":
            return self.pingone.transport.run(begin_pi_flow(self, return_to, **kwargs))
        return self.pingone.transport.run(self.begin_flow(return_to, **kwargs))

    @overload
    async def abegin(
        self, return_to: object = ..., *, response_mode: Literal["pi.flow"], **kwargs: Any
    ) -> PiFlow: ...
    @overload
    async def abegin(self, return_to: object = ..., **kwargs: Any) -> LoginStart: ...
    async def abegin(self, return_to: object = "/", **kwargs: Any) -> LoginStart | PiFlow:
        """Async twin of :meth:`begin`."""
        if kwargs.get("response_mode") == "pi.flow":
            return await self.pingone.transport.arun(begin_pi_flow(self, return_to, **kwargs))
        return await self.pingone.transport.arun(self.begin_flow(return_to, **kwargs))

    def complete(
        self, query: Mapping[str, Any], transaction: LoginTransaction, **kwargs: Any
    ) -> TokenSet:
        """Finish a login: see :meth:`complete_flow`."""
        return self.pingone.transport.run(self.complete_flow(query, transaction, **kwargs))

    async def acomplete(
        self, query: Mapping[str, Any], transaction: LoginTransaction, **kwargs: Any
    ) -> TokenSet:
        """Async twin of :meth:`complete`."""
        return await self.pingone.transport.arun(self.complete_flow(query, transaction, **kwargs))

    def refresh(self, refresh_token: str, *, previous: TokenSet | None = None) -> TokenSet:
        """Refresh tokens: see :meth:`refresh_flow`."""
        return self.pingone.transport.run(self.refresh_flow(refresh_token, previous=previous))

    async def arefresh(self, refresh_token: str, *, previous: TokenSet | None = None) -> TokenSet:
        """Async twin of :meth:`refresh`."""
        return await self.pingone.transport.arun(
            self.refresh_flow(refresh_token, previous=previous)
        )

    def revoke(self, token: str, hint: str = "refresh_token") -> None:
        """Revoke a token: see :meth:`revoke_flow`."""
        self.pingone.transport.run(self.revoke_flow(token, hint))

    async def arevoke(self, token: str, hint: str = "refresh_token") -> None:
        """Async twin of :meth:`revoke`."""
        await self.pingone.transport.arun(self.revoke_flow(token, hint))

    def userinfo(
        self, access_token: str, *, subject: str | None = None, token_type: str | None = None
    ) -> dict[str, Any]:
        """Fetch userinfo: see :meth:`userinfo_flow`."""
        flow = self.userinfo_flow(access_token, subject=subject, token_type=token_type)
        return self.pingone.transport.run(flow)

    async def auserinfo(
        self, access_token: str, *, subject: str | None = None, token_type: str | None = None
    ) -> dict[str, Any]:
        """Async twin of :meth:`userinfo`."""
        flow = self.userinfo_flow(access_token, subject=subject, token_type=token_type)
        return await self.pingone.transport.arun(flow)

    def logout_url(self, **kwargs: Any) -> str:
        """The signoff URL: see :meth:`logout_url_flow`."""
        return self.pingone.transport.run(self.logout_url_flow(**kwargs))

    async def alogout_url(self, **kwargs: Any) -> str:
        """Async twin of :meth:`logout_url`."""
        return await self.pingone.transport.arun(self.logout_url_flow(**kwargs))

    # -- steps -----------------------------------------------------------------------------

    def _use_par(self, metadata: ProviderMetadata) -> bool:
        if self.par is True or self.require_par or metadata.require_par:
            return True
        return self.par == "auto" and metadata.par_endpoint is not None

    def _token_request(
        self, metadata: ProviderMetadata, form: dict[str, str]
    ) -> Flow[dict[str, Any]]:
        endpoint = _need(metadata.token_endpoint, "token")
        headers, body = self.auth.apply(form, endpoint=endpoint)
        request = Request("POST", endpoint, "token", headers=headers, form=body)
        if self.dpop_key is None:
            response = yield request
        else:
            response = yield from dpop_flow(request, self.dpop_key, self._nonces)
        try:
            return parse_token_response(
                response,
                sent=[v for k, v in body.items() if k != "grant_type"],
                token_type="Bearer" if self.dpop_key is None else "DPoP",
            )
        except TokenRequestError as exc:
            raise LoginError(exc.error, exc.description, reason="token_refused") from None

    def _token_set(
        self,
        document: dict[str, Any],
        *,
        nonce: str | None = None,
        max_age: int | None = None,
        acr_values: Iterable[str] = (),
        subject: str | None = None,
        require_id_token: bool = False,
    ) -> Flow[TokenSet]:
        access_token = document["access_token"]
        id_token = document.get("id_token")
        claims: dict[str, Any] = {}
        if isinstance(id_token, str) and id_token:
            checks = IdTokenChecks.for_client(
                self.pingone.issuer,
                self.client_id,
                self.leeway,
                nonce=nonce,
                access_token=access_token,
                max_age=max_age,
                acr_values=tuple(acr_values),
                subject=subject,
            )
            claims = yield from validate_id_token(id_token, checks, self.pingone)
        elif require_id_token:
            raise LoginError(
                "invalid_id_token", "PingOne returned no ID token", reason="no_id_token"
            )
        else:
            id_token = None
        refresh_token = document.get("refresh_token")
        expires_in = document.get("expires_in")
        expires_at = (
            time.time() + float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
            else None
        )
        return TokenSet(
            access_token=access_token,
            id_token=id_token,
            refresh_token=refresh_token
            if isinstance(refresh_token, str) and refresh_token
            else None,
            expires_at=expires_at,
            scopes=parse_scopes(document.get("scope")),
            claims=claims,
            token_type="DPoP" if str(document.get("token_type")).lower() == "dpop" else "Bearer",
        )

    def __repr__(self) -> str:
        return f"RelyingParty(client_id={self.client_id!r}, issuer={self.pingone.issuer!r})"


def _need(endpoint: str | None, name: str) -> str:
    if endpoint is None:
        raise ProviderUnavailable(
            f"The authorization server advertises no {name} endpoint", reason="endpoint_missing"
        )
    return endpoint


def _absolute_url(field_name: str, value: str, insecure_ok: bool) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.fragment
    ):
        raise ConfigError(field_name, "must be an absolute https URL without a fragment")
    if parts.scheme == "http" and not (is_loopback(parts.hostname) or insecure_ok):
        raise ConfigError(field_name, "http is only accepted for loopback hosts; use https")
    return value


def _with_claims(tokens: TokenSet, claims: Mapping[str, Any]) -> TokenSet:
    return TokenSet(
        access_token=tokens.access_token,
        id_token=tokens.id_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
        scopes=tokens.scopes,
        claims=claims,
        token_type=tokens.token_type,
    )
