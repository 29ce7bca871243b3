"""The OAuth 2.0 client-credentials grant (RFC 6749 §4.4) as a sans-I/O flow.

>>> from p1guard._client.auth import ClientAuth
>>> auth = ClientAuth("my-app", client_secret="s3cret")
>>> flow = client_credentials_flow("https://auth.pingone.com/x/as/token", auth, ["read"])
>>> request = next(flow)
>>> request.method, request.url
('POST', 'https://auth.pingone.com/x/as/token')
>>> dict(request.form)
{'grant_type': 'client_credentials', 'scope': 'read'}

Pump it with ``pingone.transport.run(flow)`` (or ``await pingone.transport.arun(flow)``).

Rules:

1. The token endpoint comes from discovery (or is given); the flow never guesses it.
2. An RFC 6749 §5.2 error answer (``{"error": "invalid_client", …}`` with HTTP 400/401/403)
   raises :class:`TokenRequestError`: the caller's credentials or request are wrong.
3. Anything else unexpected (429, 5xx, non-JSON, no ``access_token``, a token type other than
   the one asked for) raises :class:`~p1guard.errors.ProviderUnavailable`.
4. Secrets never reach an exception: whatever credential was sent is cut out of the
   provider's ``error_description`` before it is kept.
5. With a ``dpop_key`` the request carries a DPoP proof (RFC 9449; one ``use_dpop_nonce`` retry,
   see :mod:`p1guard._client.dpop_auth`) and the answer must be ``token_type: DPoP``: a Bearer token
   where a bound one was asked for is refused (fail closed, ``reason="token_not_bound"``).
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from p1guard._client.auth import ClientAuth
from p1guard._client.dpop_auth import NonceMemory, dpop_flow
from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Flow, Request, Response, json_object, provider_error
from p1guard._tokens.discovery import ProviderMetadata
from p1guard.errors import P1GuardError, ProviderUnavailable

__all__ = ["TokenRequestError", "client_credentials_flow", "parse_token_response"]

_CLIENT_ERROR_STATUSES = (400, 401, 403)
_SENSITIVE_FIELDS = ("client_secret", "client_assertion")
_MAX_DESCRIPTION = 300


class TokenRequestError(P1GuardError):
    """The token endpoint refused the request with an OAuth error (RFC 6749 §5.2).

    ``error`` is the OAuth code (``invalid_client``, ``invalid_scope``, ``unauthorized_client``…),
    ``description`` PingOne's explanation (secrets removed), ``status_code`` the HTTP status.

    >>> str(TokenRequestError("invalid_client", "client authentication failed", status_code=401))
    'token request refused (HTTP 401 invalid_client): client authentication failed'
    """

    def __init__(self, error: str, description: str | None = None, *, status_code: int) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        message = f"token request refused (HTTP {status_code} {error})"
        super().__init__(f"{message}: {description}" if description else message)

    def __repr__(self) -> str:
        return (
            f"TokenRequestError({self.error!r}, {self.description!r}, "
            f"status_code={self.status_code})"
        )


def client_credentials_flow(
    metadata_or_endpoint: ProviderMetadata | str,
    auth: ClientAuth,
    scopes: str | Iterable[str] | None = None,
    *,
    dpop_key: DPoPKey | None = None,
    nonces: NonceMemory | None = None,
) -> Flow[dict[str, Any]]:
    """Request an access token for ``auth``'s client; returns the token response as a dict.

    ``metadata_or_endpoint`` is the discovery metadata (its ``token_endpoint`` is used) or the
    token endpoint URL itself. ``scopes`` may be a list or one space-separated string; without
    scopes PingOne grants the application's default ones. The result holds at least
    ``access_token`` and ``token_type``, usually ``expires_in`` and ``scope``.

    ``dpop_key`` asks for a DPoP-bound token (rule 5); keep one ``nonces`` per client across
    calls so the server's latest ``DPoP-Nonce`` is reused.
    """
    endpoint = _token_endpoint(metadata_or_endpoint)
    form = {"grant_type": "client_credentials"}
    scope = _scope_string(scopes)
    if scope:
        form["scope"] = scope
    headers, body = auth.apply(form, endpoint=endpoint)
    request = Request("POST", endpoint, "token", headers=headers, form=body)
    if dpop_key is None:
        response = yield request
    else:
        response = yield from dpop_flow(request, dpop_key, nonces or NonceMemory())
    expected = "Bearer" if dpop_key is None else "DPoP"
    return parse_token_response(response, sent=_secrets_sent(headers, body), token_type=expected)


def parse_token_response(
    response: Response,
    *,
    sent: Iterable[str] = (),
    token_type: str = "Bearer",  # noqa: S107 - the OAuth token type, not a secret
) -> dict[str, Any]:
    """Validate a token endpoint answer (rules 2–5); ``sent`` are secrets to keep out of errors.

    ``token_type`` is the type asked for: ``"Bearer"``, or ``"DPoP"`` after a DPoP proof.
    """
    if response.status_code in _CLIENT_ERROR_STATUSES:
        error = _oauth_error(response)
        if error is not None:
            code, description = error
            if description is not None:
                description = _printable(_redact(description, sent))
            raise TokenRequestError(
                _printable(code)[:64], description, status_code=response.status_code
            )
        raise provider_error(response, "token")
    document = json_object(response, "token")
    token = document.get("access_token")
    answered = document.get("token_type")
    if not isinstance(token, str) or not token:
        raise _malformed("has no access_token")
    if not isinstance(answered, str) or answered.lower() != token_type.lower():
        if token_type.lower() == "dpop" and isinstance(answered, str):
            raise ProviderUnavailable(
                "A DPoP-bound token was requested but the authorization server issued a "
                f"{_printable(answered)[:20]} token; enable DPoP for the application",
                reason="token_not_bound",
            )
        raise _malformed(f"is not a {token_type} token")
    return document


def _token_endpoint(value: ProviderMetadata | str) -> str:
    if isinstance(value, str):
        return value
    if value.token_endpoint is None:
        raise ProviderUnavailable(
            "The authorization server advertises no token endpoint",
            reason="no_token_endpoint",
        )
    return value.token_endpoint


def _scope_string(scopes: str | Iterable[str] | None) -> str:
    if scopes is None:
        return ""
    items = scopes.split() if isinstance(scopes, str) else list(scopes)
    return " ".join(dict.fromkeys(item for item in items if item))


def _oauth_error(response: Response) -> tuple[str, str | None] | None:
    try:
        document = response.json()
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    error, description = document.get("error"), document.get("error_description")
    if not isinstance(error, str) or not error:
        return None
    return error, description if isinstance(description, str) else None


def _printable(text: str) -> str:
    return "".join(ch for ch in text if 0x20 <= ord(ch) <= 0x7E)[:_MAX_DESCRIPTION]


def _secrets_sent(headers: Mapping[str, str], form: Mapping[str, str]) -> list[str]:
    """Every credential the request carried, as PingOne could echo it back."""
    found = [form[name] for name in _SENSITIVE_FIELDS if form.get(name)]
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            pair = b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            pair = ""
        secret = pair.partition(":")[2]
        found.extend(value for value in (secret, unquote_plus(secret)) if value)
    return found


def _redact(description: str, sent: Iterable[str]) -> str:
    for secret in sent:
        if secret:
            description = description.replace(secret, "[redacted]")
    return description


def _malformed(what: str) -> ProviderUnavailable:
    return ProviderUnavailable(
        f"The authorization server's token endpoint answer {what}",
        reason="token_malformed",
    )
