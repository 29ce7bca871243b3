"""The p1guard error family, split by who is at fault.

* :class:`ConfigError` — the developer: raised at construction, names the bad parameter.
* :class:`AuthError` subclasses — what an HTTP client is told. Each renders itself
  (``status_code``, ``www_authenticate``, ``headers``, ``body``) so framework adapters
  only convert it:

  ============================  ======  ========================  ==========================
  class                         status  ``error``                 when
  ============================  ======  ========================  ==========================
  :class:`InvalidRequest`       400     ``invalid_request``       malformed credentials
  :class:`MissingToken`         401     (none, RFC 6750 §3.1)     no credentials sent
  :class:`InvalidToken`         401     ``invalid_token``         bad, expired, revoked token
  :class:`InsufficientScope`    403     ``insufficient_scope``    token lacks a scope
  :class:`InsufficientClaims`   403     ``access_denied``         a route's claim rule failed
  :class:`ProviderUnavailable`  503     ``temporarily_unavailable`` PingOne down or wrong
  ============================  ======  ========================  ==========================

  :class:`InsufficientUserAuthentication` (401, ``insufficient_user_authentication``, RFC 9470):
  the user must sign in again with a stronger method (``acr``) or more recently (``auth_time``).

  DPoP (RFC 9449): :class:`InvalidDPoPProof` (401, ``invalid_dpop_proof``) refuses a bad proof;
  :class:`UseDPoPNonce` (401, ``use_dpop_nonce``) asks the client to retry with the nonce in
  its ``DPoP-Nonce`` header.

* Challenges: :attr:`AuthError.scheme` is ``"Bearer"`` (RFC 6750) or ``"DPoP"`` (RFC 9449
  §7.1), and :attr:`AuthError.dpop_algs` the DPoP algorithms to advertise. A ``DPoP`` error
  renders ``DPoP error="…", …, algs="ES256 …"``; a ``Bearer`` 401 with ``dpop_algs`` set gets a
  second challenge, ``Bearer …, DPoP algs="…"``. The Guard stamps both
  (:meth:`Guard.challenge <p1guard.Guard.challenge>`).

Messages never contain tokens, codes or secrets: callers pass fixed descriptions and,
at most, short hashes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

__all__ = [
    "AuthError",
    "ConfigError",
    "DenylistFull",
    "InsufficientClaims",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "MissingToken",
    "P1GuardError",
    "ProviderUnavailable",
    "UseDPoPNonce",
]


class P1GuardError(Exception):
    """Base class of every exception p1guard raises on purpose."""


class ConfigError(P1GuardError, ValueError):
    """A constructor or setting got a value p1guard cannot use safely.

    >>> raise ConfigError("region", "unknown region 'XX'; use one of NA, CA, EU, AU, AP, SG")
    Traceback (most recent call last):
    p1guard.errors.ConfigError: region: unknown region 'XX'; use one of NA, CA, EU, AU, AP, SG
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class DenylistFull(P1GuardError, RuntimeError):
    """:meth:`Guard.deny <p1guard.Guard.deny>` could not record a denial: the Guard's denial
    store is full of live denials (``Guard(denial_limit=…)``), and no live denial is ever
    forgotten to make room. The token was *not* denied in this process.

    >>> raise DenylistFull(3)
    Traceback (most recent call last):
    p1guard.errors.DenylistFull: The denylist is full (3 live denials); the token was not denied
    """

    def __init__(self, live: int) -> None:
        self.live = live
        super().__init__(f"The denylist is full ({live} live denials); the token was not denied")


def _quote(value: str) -> str:
    """Render an auth-param value as an RFC 7230 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sanitize(text: str) -> str:
    # error_description must be printable ASCII without '"' or '\' (RFC 6750 §3); drop the rest.
    return "".join(ch for ch in text if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\')


def _challenge(scheme: str, params: list[tuple[str, str]]) -> str:
    if not params:
        return scheme
    return scheme + " " + ", ".join(f"{name}={_quote(value)}" for name, value in params)


class AuthError(P1GuardError):
    """A request could not be authorised; render it with :attr:`status_code` and :attr:`headers`.

    ``reason`` is a short machine-readable code for logs and metrics (``"expired"``,
    ``"bad_signature"``…); ``description`` is safe to show to the client. ``detail`` holds
    expected and actual values (claims, header members, seconds of skew — never the token or
    its signature) for the Guard's diagnostic log line; it is never sent to the client.

    >>> err = InvalidToken("The access token expired", reason="expired")
    >>> err.status_code, err.www_authenticate
    (401, 'Bearer error="invalid_token", error_description="The access token expired"')
    """

    status_code: int = 401
    error: str | None = None
    default_description: str = "Authorization failed"
    #: Absolute URL of the RFC 9728 metadata document; 401 challenges then carry
    #: ``resource_metadata="…"`` (§5.1). Stamped by the Guard or middleware when configured.
    resource_metadata: str | None = None
    #: The challenge's auth scheme: ``"Bearer"`` (RFC 6750) or ``"DPoP"`` (RFC 9449 §7.1).
    scheme: str = "Bearer"
    #: DPoP algorithms to advertise as ``algs="…"``: in the ``DPoP`` challenge, or — for a
    #: ``Bearer`` 401 — in a second ``DPoP`` challenge. Empty: DPoP is not offered.
    dpop_algs: tuple[str, ...] = ()

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = None,
        realm: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        self.description = _sanitize(description or self.default_description)
        self.reason = reason or self.error or "unauthorized"
        self.realm = realm
        self.detail: Mapping[str, object] = detail or {}
        super().__init__(self.description)

    def challenge_params(self) -> list[tuple[str, str]]:
        """The auth-params of the ``Bearer`` challenge, in order."""
        params: list[tuple[str, str]] = []
        if self.realm:
            params.append(("realm", _sanitize(self.realm)))
        if self.error:
            params.append(("error", self.error))
            params.append(("error_description", self.description))
        if self.resource_metadata and self.status_code == 401:
            params.append(("resource_metadata", self.resource_metadata))
        return params

    @property
    def www_authenticate(self) -> str:
        """The ``WWW-Authenticate`` header value: RFC 6750 ``Bearer`` or RFC 9449 ``DPoP``.

        >>> err = InvalidToken("Invalid DPoP key binding")
        >>> err.scheme, err.dpop_algs = "DPoP", ("ES256", "PS256")
        >>> err.www_authenticate  # doctest: +NORMALIZE_WHITESPACE
        'DPoP error="invalid_token", error_description="Invalid DPoP key binding",
        algs="ES256 PS256"'
        >>> err.scheme = "Bearer"
        >>> MissingToken().www_authenticate, err.www_authenticate  # doctest: +NORMALIZE_WHITESPACE
        ('Bearer', 'Bearer error="invalid_token", error_description="Invalid DPoP key binding",
        DPoP algs="ES256 PS256"')
        """
        params = self.challenge_params()
        algs = ("algs", " ".join(self.dpop_algs))
        if self.scheme == "DPoP":
            return _challenge("DPoP", [*params, algs] if self.dpop_algs else params)
        value = _challenge("Bearer", params)
        if self.dpop_algs and self.status_code == 401:
            value += ", " + _challenge("DPoP", [algs])
        return value

    @property
    def headers(self) -> dict[str, str]:
        """Response headers: the challenge (for 401/403) and ``Cache-Control: no-store``."""
        return {
            "WWW-Authenticate": self.www_authenticate,
            "Cache-Control": "no-store",
        }

    @property
    def body(self) -> dict[str, str]:
        """The JSON body: ``{"error": …, "error_description": …}``."""
        return {"error": self.error or "unauthorized", "error_description": self.description}

    def json_bytes(self) -> bytes:
        """:attr:`body` encoded as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, reason={self.reason!r})"


class InvalidRequest(AuthError):
    """The request carried credentials in a malformed or forbidden way (400).

    Examples: two ``Authorization`` headers, a token in the query string, a header that is
    not ``Bearer <token>``.
    """

    status_code = 400
    error = "invalid_request"
    default_description = "The request is malformed"


class MissingToken(AuthError):
    """No access token was sent (401 with a bare ``Bearer`` challenge, RFC 6750 §3.1)."""

    status_code = 401
    error = None
    default_description = "An access token is required"

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = "missing_token",
        realm: str | None = None,
    ) -> None:
        super().__init__(description, reason=reason, realm=realm)


class InvalidToken(AuthError):
    """The token is malformed, expired, revoked, for another audience or badly signed (401)."""

    status_code = 401
    error = "invalid_token"
    default_description = "The access token is invalid"


class InsufficientScope(AuthError):
    """The token is valid but lacks a scope the route needs (403).

    ``required`` lists the scopes the route asked for (all of them, or any one, per ``match``);
    ``missing`` the ones the token lacks.
    """

    status_code = 403
    error = "insufficient_scope"
    default_description = "The access token lacks a required scope"

    def __init__(
        self,
        required: Iterable[str],
        missing: Iterable[str] = (),
        *,
        match: str = "all",
        description: str | None = None,
        realm: str | None = None,
    ) -> None:
        self.required = tuple(required)
        self.missing = tuple(missing) or self.required
        self.match = match
        if description is None:
            joined = " ".join(self.missing)
            description = (
                f"The access token needs one of the scopes: {joined}"
                if match == "any"
                else f"The access token lacks the scope: {joined}"
            )
        super().__init__(description, reason="insufficient_scope", realm=realm)

    def challenge_params(self) -> list[tuple[str, str]]:
        """Adds ``scope="…"`` (RFC 6750 §3) with the scopes the route requires."""
        return [*super().challenge_params(), ("scope", " ".join(self.required))]


class InsufficientClaims(AuthError):
    """The token is valid but a route's claim rule failed (403, ``error="access_denied"``).

    RFC 6750 defines no error code for this; ``insufficient_scope`` would send clients asking
    for scopes that cannot help, so p1guard answers with OAuth's generic ``access_denied``
    (RFC 6749 §4.1.2.1) and a description naming the failed rule. ``rule`` is that rule's
    text (e.g. ``"p1.permissions contains 'orders:write'"``).

    >>> err = InsufficientClaims("groups contains 'admins'")
    >>> err.status_code, err.body["error"], err.body["error_description"]
    (403, 'access_denied', "The access token does not satisfy: groups contains 'admins'")
    """

    status_code = 403
    error = "access_denied"
    default_description = "The access token does not satisfy the route's claim rules"

    def __init__(
        self,
        rule: str,
        *,
        detail: Mapping[str, object] | None = None,
        realm: str | None = None,
    ) -> None:
        self.rule = rule
        super().__init__(
            f"The access token does not satisfy: {rule}",
            reason="insufficient_claims",
            realm=realm,
            detail=detail,
        )


class InsufficientUserAuthentication(AuthError):
    """The token is valid but its user signed in too weakly or too long ago (401, RFC 9470).

    ``acr_values`` (the acceptable ``acr`` values, most preferred first) and ``max_age``
    (seconds) tell the client what to ask PingOne for when it sends the user back to sign in;
    they become the ``acr_values="…"`` and ``max_age="…"`` challenge parameters.

    >>> err = InsufficientUserAuthentication(acr_values=["Multi_Factor"])
    >>> err.status_code, err.www_authenticate  # doctest: +NORMALIZE_WHITESPACE
    (401, 'Bearer error="insufficient_user_authentication",
    error_description="A different authentication level is required",
    acr_values="Multi_Factor"')
    """

    status_code = 401
    error = "insufficient_user_authentication"
    default_description = "A different authentication level is required"

    def __init__(
        self,
        description: str | None = None,
        *,
        acr_values: Iterable[str] | None = None,
        max_age: int | None = None,
        reason: str | None = None,
        realm: str | None = None,
    ) -> None:
        self.acr_values = tuple(acr_values or ())
        self.max_age = max_age
        super().__init__(description, reason=reason or self.error, realm=realm)

    def challenge_params(self) -> list[tuple[str, str]]:
        """Adds ``acr_values="…"`` (space-separated) and/or ``max_age="…"`` (RFC 9470 §3)."""
        params = super().challenge_params()
        if self.acr_values:
            params.append(("acr_values", _sanitize(" ".join(self.acr_values))))
        if self.max_age is not None:
            params.append(("max_age", str(self.max_age)))
        return params


class InvalidDPoPProof(AuthError):
    """The request's DPoP proof is missing, malformed, replayed or does not fit it (401).

    RFC 9449 §7.1: rendered with the ``DPoP`` scheme. ``reason`` names the failed check
    (``"dpop_replay"``, ``"dpop_htu_mismatch"``, …).

    >>> err = InvalidDPoPProof("The DPoP proof was already used", reason="dpop_replay")
    >>> err.status_code, err.www_authenticate
    (401, 'DPoP error="invalid_dpop_proof", error_description="The DPoP proof was already used"')
    """

    status_code = 401
    error = "invalid_dpop_proof"
    default_description = "The DPoP proof is invalid"
    scheme = "DPoP"


class UseDPoPNonce(AuthError):
    """The DPoP proof lacks a valid server nonce; retry with ``nonce`` (401, RFC 9449 §9).

    The fresh nonce goes out in the ``DPoP-Nonce`` response header.

    >>> err = UseDPoPNonce("eyJ7S_zG.eyJH0-Z.HX4w-7v")
    >>> err.status_code, err.headers["DPoP-Nonce"], err.body["error"]
    (401, 'eyJ7S_zG.eyJH0-Z.HX4w-7v', 'use_dpop_nonce')
    """

    status_code = 401
    error = "use_dpop_nonce"
    default_description = "Resource server requires nonce in DPoP proof"
    scheme = "DPoP"

    def __init__(
        self,
        nonce: str,
        description: str | None = None,
        *,
        reason: str | None = None,
        realm: str | None = None,
    ) -> None:
        #: The nonce the client must put in its next proof.
        self.nonce = nonce
        super().__init__(description, reason=reason or "dpop_nonce_missing", realm=realm)

    @property
    def headers(self) -> dict[str, str]:
        """Adds ``DPoP-Nonce`` with the nonce to use."""
        headers = super().headers
        headers["DPoP-Nonce"] = self.nonce
        return headers


class ProviderUnavailable(AuthError):
    """PingOne could not be reached or answered wrongly, and no safe cached answer exists (503).

    Never a 401: the client did nothing wrong. ``retry_after`` (seconds) becomes the
    ``Retry-After`` header.
    """

    status_code = 503
    error = "temporarily_unavailable"
    default_description = "The authorization server is unavailable; try again later"

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = "provider_unavailable",
        retry_after: float | None = None,
        realm: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(description, reason=reason, realm=realm)

    def challenge_params(self) -> list[tuple[str, str]]:
        """A 503 carries no ``error`` in the challenge; RFC 6750 defines none for it."""
        return [("realm", _sanitize(self.realm))] if self.realm else []

    @property
    def headers(self) -> dict[str, str]:
        """Adds ``Retry-After`` (whole seconds, at least 1)."""
        headers = super().headers
        retry = 1 if self.retry_after is None else max(1, math.ceil(self.retry_after))
        headers["Retry-After"] = str(retry)
        return headers
