"""Authorization requests of the mock PingOne: validation of ``/authorize`` and ``/par`` input.

Pure functions: parameter dicts in, :class:`AuthorizeRequest` or
:class:`~p1guard.testing._http.OAuthError` out.

Rules:
1. The client and its exactly registered ``redirect_uri`` come first (:func:`client_redirect`):
   until both are known, errors must not be redirected (RFC 6749 §4.1.2.1).
2. PKCE: a public client or a ``required`` / ``S256_required`` client must send a
   ``code_challenge``; ``code_challenge_method`` defaults to ``plain`` (RFC 7636 §4.3).
   A ``code_verifier`` without a challenge is refused too (OAuth 2.1).
3. ``response_type`` is ``code`` only; ``request`` objects are not supported.
4. ``acr`` is the first of ``acr_values``, else ``Single_Factor``.
5. ``dpop_jkt`` (RFC 9449 §10), when present, is a base64url SHA-256 thumbprint; the code
   exchange must then prove that key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from p1guard.testing._http import OAuthError, required
from p1guard.testing._keys import b64url

if TYPE_CHECKING:
    from p1guard.testing._clients import RegisteredClient

__all__ = [
    "RESPONSE_MODES",
    "AuthorizeRequest",
    "check_authorize",
    "check_verifier",
    "client_redirect",
    "response_mode",
]

RESPONSE_MODES = ("query", "fragment", "form_post", "pi.flow")
_PROMPTS = ("none", "login", "consent", "select_account")
_PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_JKT_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url SHA-256


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorization request (from ``/authorize`` or a pushed one)."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: tuple[str, ...]
    max_age: int | None
    acr: str
    #: RFC 9449 §10: the thumbprint of the DPoP key the code exchange must prove.
    dpop_jkt: str | None = None


def client_redirect(
    client: RegisteredClient | None, params: Mapping[str, str]
) -> tuple[RegisteredClient, str]:
    """The client and its redirect URI; errors here are shown, never redirected (§4.1.2.1)."""
    if client is None:
        raise OAuthError(400, "invalid_request", "unknown or missing client_id")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        raise OAuthError(400, "invalid_request", "missing parameter: redirect_uri")
    if redirect_uri not in client.redirect_uris:
        raise OAuthError(400, "invalid_request", "redirect_uri is not registered for the client")
    return client, redirect_uri


def response_mode(params: Mapping[str, str]) -> str:
    """``query`` (the default), ``fragment``, ``form_post`` or ``pi.flow`` (see ``_piflow``)."""
    mode = params.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        raise OAuthError(400, "invalid_request", f"unsupported response_mode: {mode}")
    return mode


def check_authorize(
    params: Mapping[str, str],
    client: RegisteredClient,
    redirect_uri: str,
    known_scopes: Iterable[str],
    *,
    pushed: bool,
) -> AuthorizeRequest:
    """Validate the rest of an authorization request; errors may be redirected."""
    if "request" in params:
        raise OAuthError(400, "request_not_supported", "request objects are not supported")
    if client.require_par and not pushed:
        raise OAuthError(400, "invalid_request", "the client must use pushed authorization (PAR)")
    response_type = required(params, "response_type")
    if response_type != "code":
        raise OAuthError(400, "unsupported_response_type", "only response_type=code is supported")
    scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
    if not scopes:
        raise OAuthError(400, "invalid_scope", "missing parameter: scope")
    unknown = sorted(set(scopes) - set(known_scopes))
    if unknown:
        raise OAuthError(400, "invalid_scope", f"unknown scope: {' '.join(unknown)}")
    if client.scopes is not None and not set(scopes) <= set(client.scopes):
        raise OAuthError(400, "invalid_scope", "scope not granted to the client")
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is None:
        if method is not None:
            raise OAuthError(400, "invalid_request", "code_challenge_method without code_challenge")
        if client.pkce_required:
            raise OAuthError(400, "invalid_request", "the client requires PKCE (code_challenge)")
    else:
        method = method or "plain"
        if method not in ("S256", "plain"):
            raise OAuthError(400, "invalid_request", f"unsupported code_challenge_method: {method}")
        if method != "S256" and client.pkce == "S256_required":
            raise OAuthError(
                400, "invalid_request", "the client requires code_challenge_method=S256"
            )
        if not _PKCE_VALUE.fullmatch(challenge):
            raise OAuthError(400, "invalid_request", "malformed code_challenge")
    prompt = tuple(params.get("prompt", "").split())
    if not set(prompt) <= set(_PROMPTS) or ("none" in prompt and len(prompt) > 1):
        raise OAuthError(400, "invalid_request", "invalid prompt")
    max_age = params.get("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise OAuthError(400, "invalid_request", "max_age must be a non-negative integer")
    acr_values = params.get("acr_values", "").split()
    dpop_jkt = params.get("dpop_jkt") or None
    if dpop_jkt is not None and not _JKT_VALUE.fullmatch(dpop_jkt):
        raise OAuthError(400, "invalid_request", "malformed dpop_jkt")
    return AuthorizeRequest(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=params.get("state") or None,
        nonce=params.get("nonce") or None,
        code_challenge=challenge,
        code_challenge_method=method if challenge else None,
        prompt=prompt,
        max_age=None if max_age is None else int(max_age),
        acr=acr_values[0] if acr_values else "Single_Factor",
        dpop_jkt=dpop_jkt,
    )


def check_verifier(request: AuthorizeRequest, verifier: str | None) -> None:
    """Check a token request's ``code_verifier`` against the authorize ``code_challenge``."""
    if request.code_challenge is None:
        if verifier is not None:
            raise OAuthError(400, "invalid_grant", "code_verifier without a code_challenge")
        return
    if not verifier or not _PKCE_VALUE.fullmatch(verifier):
        raise OAuthError(400, "invalid_grant", "missing or malformed code_verifier")
    computed = verifier
    if request.code_challenge_method == "S256":
        computed = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    if not hmac.compare_digest(computed, request.code_challenge):
        raise OAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge")
