"""The login side of the mock PingOne: sessions, codes, PAR, grants, refresh chains, ID tokens.

No HTTP here (see ``_login_app.py``): inputs are parameter dicts, outputs are token answers
or :class:`~p1guard.testing._http.OAuthError`.

Rules:
1. One global browser session: ``/authorize`` signs the test user in without a form (new
   ``sid`` and ``auth_time``); ``prompt=login`` and an exceeded ``max_age`` sign in again;
   ``prompt=none`` without a fitting session is ``login_required``. ``/signoff`` ends it.
2. Codes and PAR ``request_uri`` values are single use and short lived. A code is consumed by
   the first token request that presents it, successful or not.
3. A redeemed code starts a *grant*: every access and refresh token issued from it belongs to
   it. Replaying the code, replaying a used refresh token or revoking a refresh token revokes
   the whole grant (RFC 6749 §4.1.2, §10.4; RFC 7009 §2.1; PingOne's refresh chains).
4. Refresh tokens rotate: each refresh answers a new one and retires the old one.
5. Access tokens are :meth:`MockPingOne.issue_token` tokens (``aud`` is the resource audience,
   ``scope`` holds the granted *resource* scopes); the token answer's ``scope`` lists every
   granted scope, OpenID ones included. ID tokens exist only when ``openid`` was granted.
6. Tamper hooks apply to the next callback or ID token only, then disarm.
7. DPoP (RFC 9449): a token request with a valid proof gets access tokens bound to the proof's
   key (``cnf.jkt``, ``token_type: DPoP``) and a grant whose refresh tokens need a proof of the
   same key (§5); a code requested with ``dpop_jkt`` needs a proof of that key (§10). A refused
   proof does not use up the code or refresh token; a code with the wrong key does.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from p1guard.testing._authorize import AuthorizeRequest, check_verifier
from p1guard.testing._http import OAuthError, required
from p1guard.testing._keys import apply_overrides, b64url

if TYPE_CHECKING:
    from p1guard.testing._clients import RegisteredClient
    from p1guard.testing._mock import MockPingOne

__all__ = ["DEFAULT_USER", "OIDC_SCOPES", "SECRET_PARAMS", "Grant", "LoginState", "user_claims"]

#: The claims of the test user ``/authorize`` signs in unless ``MockPingOne(user=...)`` says else.
DEFAULT_USER: Mapping[str, Any] = {
    "sub": "user-1",
    "name": "Ada Lovelace",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "email": "ada@example.com",
    "email_verified": True,
    "preferred_username": "ada",
}

OIDC_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access")
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = {
    "profile": (
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
        "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
}  # fmt: skip
_PAR_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: Parameters never remembered in ``last_authorize_params`` nor in a pushed request.
SECRET_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def left_hash(token: str) -> str:
    """OIDC ``at_hash``: base64url of the left half of SHA-256 of the token's ASCII."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest()[:16])


def user_claims(user: Mapping[str, Any], scopes: Iterable[str]) -> dict[str, Any]:
    """The claims of ``user`` that ``scopes`` release (OIDC Core §5.4), ``sub`` first."""
    claims: dict[str, Any] = {"sub": user["sub"]}
    for scope in scopes:
        claims.update((n, user[n]) for n in SCOPE_CLAIMS.get(scope, ()) if n in user)
    return claims


@dataclass
class Grant:
    """What a redeemed code authorized, and every token issued under it."""

    client_id: str
    sub: str
    scopes: tuple[str, ...]
    sid: str
    auth_time: int
    acr: str
    access_tokens: set[str] = field(default_factory=set)  # digests
    #: Thumbprint of the DPoP key the grant's refresh tokens are bound to (RFC 9449 §5).
    jkt: str | None = None
    revoked: bool = False


@dataclass
class _Code:
    request: AuthorizeRequest
    sub: str
    sid: str
    auth_time: int
    expires_at: float
    used: bool = False
    grant: Grant | None = None


@dataclass
class _Pushed:
    client_id: str
    params: dict[str, str]
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    grant: Grant
    expires_at: float
    used: bool = False


class LoginState:
    """Sessions, codes, pushed requests and grants of one mock (guarded by the mock's lock)."""

    def __init__(self, mock: MockPingOne) -> None:
        self.mock = mock
        self.lock = mock._lock
        self.signed_in = False
        self.sid: str | None = None
        self.auth_time = 0
        self.codes_issued = 0
        self.last_params: dict[str, str] = {}
        self.tamper_callback: dict[str, str | None] | None = None
        self.tamper_id_token: dict[str, Any] | None = None
        self._codes: dict[str, _Code] = {}
        self._pushed: dict[str, _Pushed] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, tuple[str, ...]] = {}  # access-token digest -> granted scopes
        self._id_tokens: dict[str, str] = {}  # digest -> client_id

    # -- authorization ---------------------------------------------------------------------

    def remember(self, params: Mapping[str, str]) -> None:
        """Keep the parameters of an authorize or PAR request, secrets excluded."""
        with self.lock:
            self.last_params = {k: v for k, v in params.items() if k not in SECRET_PARAMS}

    def push(self, client_id: str, params: Mapping[str, str]) -> tuple[str, int]:
        """Store a pushed authorization request; answer its ``request_uri`` and lifetime."""
        lifetime = float(self.mock.par_lifetime)
        request_uri = _PAR_PREFIX + secrets.token_urlsafe(24)
        kept = {k: v for k, v in params.items() if k not in SECRET_PARAMS}
        kept["client_id"] = client_id
        with self.lock:
            self._pushed[request_uri] = _Pushed(client_id, kept, time.time() + lifetime)
        return request_uri, max(int(lifetime), 0)

    def take_pushed(self, request_uri: str, client_id: str) -> dict[str, str]:
        """The parameters pushed as ``request_uri`` by ``client_id``; usable once."""
        with self.lock:
            pushed = self._pushed.get(request_uri)
            if pushed is None or pushed.client_id != client_id:
                raise OAuthError(400, "invalid_request_uri", "unknown request_uri")
            if pushed.used or pushed.expires_at <= time.time():
                raise OAuthError(400, "invalid_request_uri", "request_uri used or expired")
            pushed.used = True
            return dict(pushed.params)

    def authorize(self, request: AuthorizeRequest) -> str:
        """Sign the user in if needed and issue a code."""
        with self.lock:
            now = int(time.time())
            max_age = request.max_age
            stale = max_age is not None and (max_age == 0 or now - self.auth_time > max_age)
            if not self.signed_in or "login" in request.prompt or stale:
                if "none" in request.prompt:
                    raise OAuthError(400, "login_required", "the user must sign in")
                if not self.signed_in:
                    self.signed_in, self.sid = True, str(uuid.uuid4())
                self.auth_time = now
            code = secrets.token_urlsafe(32)
            expires_at = time.time() + float(self.mock.code_lifetime)
            sub, sid = str(self.mock.user["sub"]), str(self.sid)
            self._codes[_digest(code)] = _Code(request, sub, sid, self.auth_time, expires_at)
            self.codes_issued += 1
            return code

    def sign_out(self) -> None:
        """End the browser session."""
        with self.lock:
            self.signed_in, self.sid = False, None

    def take_callback_tamper(self) -> dict[str, str | None] | None:
        """The armed callback tamper, disarmed."""
        with self.lock:
            tamper, self.tamper_callback = self.tamper_callback, None
            return tamper

    # -- token endpoint --------------------------------------------------------------------

    def redeem_code(
        self, client: RegisteredClient, form: Mapping[str, str], jkt: str | None = None
    ) -> dict[str, Any]:
        """``grant_type=authorization_code``; ``jkt`` is the DPoP proof's key (rule 7)."""
        code = required(form, "code")
        with self.lock:
            record = self._codes.get(_digest(code))
            if record is None:
                raise OAuthError(400, "invalid_grant", "unknown authorization code")
            if record.used:
                if record.grant is not None:
                    self._revoke(record.grant)
                raise OAuthError(400, "invalid_grant", "authorization code already used")
            record.used = True
            request = record.request
            if record.expires_at <= time.time():
                raise OAuthError(400, "invalid_grant", "authorization code expired")
            if request.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "code was issued to another client")
            if form.get("redirect_uri") != request.redirect_uri:
                raise OAuthError(400, "invalid_grant", "redirect_uri does not match")
            check_verifier(request, form.get("code_verifier"))
            if request.dpop_jkt is not None and jkt != request.dpop_jkt:
                raise OAuthError(400, "invalid_grant", "the DPoP key does not match dpop_jkt")
            grant = Grant(
                client_id=client.client_id,
                sub=record.sub,
                scopes=request.scopes,
                sid=record.sid,
                auth_time=record.auth_time,
                acr=request.acr,
                jkt=jkt,
            )
            record.grant = grant
        return self._answer(client, grant, grant.scopes, nonce=request.nonce, jkt=jkt)

    def refresh(
        self, client: RegisteredClient, form: Mapping[str, str], jkt: str | None = None
    ) -> dict[str, Any]:
        """``grant_type=refresh_token`` with rotation and replay detection (and rule 7)."""
        token = required(form, "refresh_token")
        narrowed = tuple(dict.fromkeys(form.get("scope", "").split()))
        with self.lock:
            record = self._refresh.get(_digest(token))
            if record is None or record.grant.client_id != client.client_id:
                raise OAuthError(400, "invalid_grant", "unknown refresh token")
            grant = record.grant
            if grant.revoked:
                raise OAuthError(400, "invalid_grant", "refresh token revoked")
            if record.used:
                self._revoke(grant)
                raise OAuthError(400, "invalid_grant", "refresh token reused: grant revoked")
            if record.expires_at <= time.time():
                raise OAuthError(400, "invalid_grant", "refresh token expired")
            if not set(narrowed) <= set(grant.scopes):
                raise OAuthError(400, "invalid_scope", "scope exceeds the original grant")
            if grant.jkt is not None and jkt is None:
                raise OAuthError(400, "invalid_dpop_proof", "the refresh token is DPoP-bound")
            if grant.jkt is not None and jkt != grant.jkt:
                raise OAuthError(400, "invalid_grant", "the refresh token is bound to another key")
            record.used = True
        return self._answer(client, grant, narrowed or grant.scopes, nonce=None, jkt=jkt)

    def _answer(
        self,
        client: RegisteredClient,
        grant: Grant,
        scopes: tuple[str, ...],
        *,
        nonce: str | None,
        jkt: str | None,
    ) -> dict[str, Any]:
        mock = self.mock
        session = {"sid": grant.sid, "auth_time": grant.auth_time, "acr": grant.acr, "amr": ["pwd"]}
        access = mock.issue_token(
            [s for s in scopes if s in mock.scopes],
            sub=grant.sub,
            client_id=client.client_id,
            expires_in=mock.token_lifetime,
            claims=session,
            dpop_jkt=jkt,
        )
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": int(mock.token_lifetime),
            "scope": " ".join(scopes),
        }
        if "openid" in scopes:
            body["id_token"] = self.id_token(grant, scopes, access, nonce)
        with self.lock:
            self._access[_digest(access)] = scopes
            grant.access_tokens.add(_digest(access))
            if "refresh_token" in client.grant_types:
                refresh = secrets.token_urlsafe(32)
                expires_at = time.time() + float(mock.refresh_token_lifetime)
                self._refresh[_digest(refresh)] = _Refresh(grant, expires_at)
                body["refresh_token"] = refresh
            if grant.revoked:  # revoked while we were signing: give nothing usable
                mock._revoked.update(grant.access_tokens)
        return body

    def id_token(
        self, grant: Grant, scopes: Iterable[str], access_token: str, nonce: str | None
    ) -> str:
        """Sign an ID token for ``grant`` (applying and disarming the ID-token tamper)."""
        mock = self.mock
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": mock.issuer,
            "sub": grant.sub,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + int(mock.id_token_lifetime),
            "auth_time": grant.auth_time,
            "acr": grant.acr,
            "amr": ["pwd"],
            "sid": grant.sid,
            "at_hash": left_hash(access_token),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if grant.sub == mock.user.get("sub"):
            claims.update(user_claims(mock.user, scopes))
        with self.lock:
            tamper, self.tamper_id_token = self.tamper_id_token, None
        apply_overrides(claims, tamper)
        token = mock._app.keys.sign("RS256", claims, typ="JWT", kid=None, header=None)
        with self.lock:
            self._id_tokens[_digest(token)] = grant.client_id
        return token

    # -- revocation, userinfo, signoff -----------------------------------------------------

    def _revoke(self, grant: Grant) -> None:
        with self.lock:
            grant.revoked = True
            self.mock._revoked.update(grant.access_tokens)

    def revoke_refresh(self, token: str, client_id: str | None = None) -> bool:
        """Revoke the grant of a refresh token (of ``client_id`` if given); False if not one."""
        with self.lock:
            record = self._refresh.get(_digest(token))
            if record is None:
                return False
            if client_id is None or record.grant.client_id == client_id:
                self._revoke(record.grant)
            return True

    def granted_scopes(self, access_token: str) -> tuple[str, ...] | None:
        """Every scope granted with ``access_token`` (OpenID ones too), if it came from a grant."""
        with self.lock:
            return self._access.get(_digest(access_token))

    def id_token_client(self, id_token: str) -> str | None:
        """The client an ID token issued by the mock was issued to."""
        with self.lock:
            return self._id_tokens.get(_digest(id_token))
