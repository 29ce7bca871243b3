"""Protocol messages of the login flow: pure builders and readers, no I/O.

Rules:

1. Every authorization request uses ``response_type=code``, PKCE ``S256``, a fresh ``state``
   and ``nonce``. Extra parameters can add to the request but never override these.
2. The callback is trusted only after ``state`` matches (constant-time); then an RFC 9207
   ``iss`` must equal the issuer (and must be present when PingOne advertises it); then an
   ``error`` becomes :class:`LoginError`; only then is the ``code`` used.
3. A PAR answer must carry a ``request_uri`` string and a positive ``expires_in``.
4. A userinfo answer is a 200 JSON object. A 401 is the token's fault, not PingOne's:
   :class:`UserinfoInvalidToken`; a 403 :class:`UserinfoInsufficientScope`. Both carry
   PingOne's ``error`` and ``error_description``, read from the ``WWW-Authenticate``
   challenge of the scheme the token was sent with (RFC 6750 §3, parsed by
   :mod:`p1guard._http.www_authenticate`), else from the JSON body, and truncated. A 401 that still
   asks for a DPoP nonce after the retry, any other 4xx, a 5xx or a transport failure is
   :class:`~p1guard.ProviderUnavailable` naming the endpoint's URL.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from p1guard._http.flow import Response, json_object, provider_error, without_query
from p1guard._http.www_authenticate import parse_challenges
from p1guard.errors import ProviderUnavailable
from p1guard.rp._errors import (
    LoginError,
    PushedAuthorizationError,
    UserinfoInsufficientScope,
    UserinfoInvalidToken,
)
from p1guard.rp._pkce import new_secret, s256_challenge
from p1guard.rp._transaction import LoginTransaction, safe_return_to

__all__ = [
    "authorization_params",
    "authorization_url",
    "new_transaction",
    "query_value",
    "read_callback",
    "read_par_response",
    "read_userinfo",
]

_FIXED = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "request_uri",
        "dpop_jkt",
    }
)
_OPTIONAL = ("prompt", "login_hint", "ui_locales", "response_mode")


def new_transaction(
    redirect_uri: str,
    *,
    return_to: object = "/",
    max_age: int | None = None,
    acr_values: Iterable[str] = (),
) -> LoginTransaction:
    """A fresh login: random state, nonce and PKCE verifier (rule 1)."""
    return LoginTransaction(
        state=new_secret(),
        nonce=new_secret(),
        code_verifier=new_secret(),
        redirect_uri=redirect_uri,
        return_to=safe_return_to(return_to),
        max_age=max_age,
        acr_values=tuple(acr_values),
    )


def authorization_params(
    transaction: LoginTransaction,
    *,
    client_id: str,
    scopes: Iterable[str],
    extra: Mapping[str, Any] | None = None,
    dpop_jkt: str | None = None,
) -> dict[str, str]:
    """The authorization request parameters for ``transaction`` (rule 1).

    ``dpop_jkt`` binds the code to a DPoP key (RFC 9449 §10); like rule 1's parameters it
    cannot be set through ``extra``.
    """
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": transaction.redirect_uri,
        "scope": " ".join(dict.fromkeys(scopes)),
        "state": transaction.state,
        "nonce": transaction.nonce,
        "code_challenge": s256_challenge(transaction.code_verifier),
        "code_challenge_method": "S256",
    }
    if transaction.max_age is not None:
        params["max_age"] = str(transaction.max_age)
    if transaction.acr_values:
        params["acr_values"] = " ".join(transaction.acr_values)
    if dpop_jkt is not None:
        params["dpop_jkt"] = dpop_jkt
    for name, value in (extra or {}).items():
        if name in _FIXED:
            raise ValueError(f"{name} is set by p1guard and cannot be overridden")
        if value is None:
            continue
        params[name] = " ".join(value) if isinstance(value, list | tuple) else str(value)
    return params


def authorization_url(endpoint: str, params: Mapping[str, str]) -> str:
    """``endpoint`` with ``params`` in its query string."""
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


def read_par_response(response: Response) -> tuple[str, int]:
    """``(request_uri, expires_in)`` from a PAR answer (rule 3), or a typed error."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if response.status_code in (400, 401, 403) and isinstance(document, dict):
        raise PushedAuthorizationError(
            str(document.get("error") or "invalid_request"),
            str(document.get("error_description") or "PingOne refused the pushed request"),
            reason="par_refused",
        )
    if response.status_code not in (200, 201) or not isinstance(document, dict):
        raise provider_error(response, "par")
    request_uri, expires_in = document.get("request_uri"), document.get("expires_in")
    if not isinstance(request_uri, str) or not request_uri:
        raise PushedAuthorizationError("invalid_response", "The PAR answer has no request_uri")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise PushedAuthorizationError("invalid_response", "The PAR answer has no valid expires_in")
    return request_uri, expires_in


def query_value(query: Mapping[str, Any], name: str) -> str | None:
    """One query parameter's value (a repeated one is an ``invalid_request``)."""
    value = query.get(name)
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise LoginError(
                "invalid_request", f"The callback repeats {name}", reason="repeated_param"
            )
        value = value[0]
    return value if isinstance(value, str) else None


def read_callback(
    query: Mapping[str, Any],
    transaction: LoginTransaction,
    *,
    issuer: str,
    iss_required: bool,
) -> str:
    """The authorization ``code`` of a callback, after rule 2's checks."""
    if transaction.expired():
        raise LoginError(
            "expired_login", "The sign-in took too long; start again", reason="expired"
        )
    state = query_value(query, "state")
    if state is None or not hmac.compare_digest(state.encode(), transaction.state.encode()):
        raise LoginError(
            "invalid_state",
            "The sign-in response does not belong to this login",
            reason="state_mismatch",
        )
    iss = query_value(query, "iss")
    if iss is None and iss_required:
        raise LoginError(
            "invalid_issuer", "The sign-in response does not name its issuer", reason="iss_missing"
        )
    if iss is not None and iss != issuer:
        raise LoginError(
            "invalid_issuer", "The sign-in response came from another issuer", reason="iss_mismatch"
        )
    error = query_value(query, "error")
    if error is not None:
        raise LoginError(error, query_value(query, "error_description"), reason="provider_error")
    code = query_value(query, "code")
    if not code:
        raise LoginError("invalid_request", "The sign-in response has no code", reason="no_code")
    return code


def _refusal_params(response: Response, scheme: str) -> dict[str, str]:
    """PingOne's ``error``, ``error_description`` and ``scope`` of a refusal (rule 4)."""
    found: dict[str, str] = {}
    header = response.headers.get("www-authenticate")
    if header:
        try:
            challenges = parse_challenges(header)
        except ValueError:
            challenges = []
        pool = [c for c in challenges if c.scheme == scheme.lower()] or challenges
        chosen = next((c for c in pool if "error" in c.params), pool[0] if pool else None)
        if chosen is not None:
            found = {k: v for k, v in chosen.params.items() if k in _REFUSAL_PARAMS}
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict):
        for name in _REFUSAL_PARAMS:
            value = document.get(name)
            if name not in found and isinstance(value, str):
                found[name] = value
    return found


_REFUSAL_PARAMS = ("error", "error_description", "scope")


def read_userinfo(response: Response, url: str, *, scheme: str = "Bearer") -> dict[str, Any]:
    """The claims of a userinfo answer, or rule 4's typed refusal.

    ``scheme`` is how the token was sent (``"Bearer"`` or ``"DPoP"``).
    """
    status = response.status_code
    endpoint = without_query(url)
    if status in (401, 403):
        said = _refusal_params(response, scheme)
        error, description = said.get("error"), said.get("error_description")
        if status == 401 and error == "use_dpop_nonce":  # still, after the one retry
            raise ProviderUnavailable(
                f"The authorization server's userinfo endpoint {endpoint} kept asking for a "
                "new DPoP nonce (its nonces change faster than p1guard can use them)",
                reason="userinfo_nonce_churn",
            )
        if status == 401:
            raise UserinfoInvalidToken(
                endpoint, provider_error=error, provider_description=description, scheme=scheme
            )
        raise UserinfoInsufficientScope(
            endpoint,
            provider_error=error,
            provider_description=description,
            scopes=said.get("scope", "").split(),
            scheme=scheme,
        )
    return json_object(response, "userinfo", url=endpoint)
