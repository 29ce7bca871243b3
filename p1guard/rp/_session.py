"""The browser session behind the login routes: its keys, server-side records and sign-in.

What :class:`~p1guard.rp.WebLogin` (:mod:`p1guard.rp._web`) and its form sign-in
(:mod:`p1guard.rp._form_login`) share: the keys of the framework session, the store calls,
the signed-in user, turning tokens into a session and ending one, and the cookie checks.

Rules (numbered as in :mod:`p1guard.rp._web`):

1. The framework session holds only random ids (``p1guard.login``, ``p1guard.sid``,
   ``p1guard.csrf``); transactions and tokens live server-side in a :class:`SessionStore`.
3. A successful callback clears the framework session and starts a new session id (fixation).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from p1guard._http.flow import Flow
from p1guard._tokens.tokens import AccessToken, TokenSet
from p1guard.errors import ConfigError, ProviderUnavailable
from p1guard.rp._errors import LoginError
from p1guard.rp._pkce import new_secret
from p1guard.rp._relying_party import RelyingParty
from p1guard.rp._store import MemoryStore, SessionStore
from p1guard.rp._transaction import safe_return_to

__all__ = [
    "CSRF_KEY",
    "FORM_KEY",
    "FORM_START_KEY",
    "LOGIN_KEY",
    "MAX_PENDING_LOGINS",
    "SESSION_KEY",
    "Effects",
    "LoginSession",
    "Session",
    "SignedInUser",
    "StoreCall",
    "check_cookie_options",
    "secure_cookie",
]

log = logging.getLogger("p1guard.rp")

LOGIN_KEY, SESSION_KEY, CSRF_KEY = "p1guard.login", "p1guard.sid", "p1guard.csrf"
FORM_KEY = "p1guard.form"
#: Session key of what a form page asked for (``return_to``, ``login_hint``…), read by its
#: first POST, which starts PingOne's flow.
FORM_START_KEY = "p1guard.form_start"
#: Logins a browser may have in flight at once (several tabs); older ones are forgotten.
MAX_PENDING_LOGINS = 5
Session = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoreCall:
    """An :class:`~p1guard._http.transport.Effect`: one session-store operation, run by the pump."""

    store: SessionStore = field(repr=False)
    op: Literal["get", "set", "pop", "delete", "claim"]
    key: str = field(repr=False)
    value: dict[str, Any] | None = field(default=None, repr=False)
    ttl: float = 0.0

    def run(self) -> Any:
        """Call the store synchronously."""
        if self.op == "set":
            return self.store.set(self.key, self.value or {}, self.ttl)
        if self.op == "claim":
            return self.store.claim(self.key, self.ttl)
        return getattr(self.store, self.op)(self.key)

    async def arun(self) -> Any:
        """Call the store's async twin."""
        if self.op == "set":
            return await self.store.aset(self.key, self.value or {}, self.ttl)
        if self.op == "claim":
            return await self.store.aclaim(self.key, self.ttl)
        return await getattr(self.store, "a" + self.op)(self.key)


Effects = Flow[Any]


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """The signed-in user: ID-token claims and a fresh access token.

    >>> user = SignedInUser(claims={"sub": "u1", "name": "Ada"}, tokens=TokenSet(access_token="t"))
    >>> user.subject, user.name
    ('u1', 'Ada')
    """

    claims: Mapping[str, Any]
    tokens: TokenSet

    @property
    def subject(self) -> str:
        """``sub``."""
        return str(self.claims.get("sub", ""))

    @property
    def name(self) -> str:
        """A display name: ``name``, ``preferred_username``, ``email`` or ``sub``."""
        for claim in ("name", "preferred_username", "email", "sub"):
            value = self.claims.get(claim)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def access_token(self) -> str:
        """The current access token (refreshed before expiry by :class:`WebLogin`)."""
        return self.tokens.access_token

    def require_authentication(
        self,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        *,
        now: float | None = None,
        leeway: float = 0.0,
    ) -> SignedInUser:
        """Step-up (RFC 9470) for pages: ``self`` if the ID token's ``acr`` is one of
        ``acr_values`` and its ``auth_time`` at most ``max_age`` seconds old, else
        :class:`~p1guard.InsufficientUserAuthentication` (send the user to
        :func:`~p1guard.web.step_up_login_url`). Same rules as
        :func:`p1guard.web.require_authentication`.

        >>> claims = {"acr": "Single_Factor", "auth_time": 1000}
        >>> user = SignedInUser(claims=claims, tokens=TokenSet(access_token="t"))
        >>> user.require_authentication(["Multi_Factor"], max_age=300, now=1100)
        Traceback (most recent call last):
        p1guard.errors.InsufficientUserAuthentication: A different authentication level is required
        """
        from p1guard._requirements import require_authentication

        # The ID token's claims, labelled (for logs) by a short hash of the subject.
        token = AccessToken(self.claims, token_id=_short(self.subject))
        require_authentication(token, acr_values, max_age, now=now, leeway=leeway)
        return self


class LoginSession:
    """The store, the pump and the session of :class:`~p1guard.rp.WebLogin` (rules 1 and 3).

    The base of :class:`~p1guard.rp.WebLogin` (redirect sign-in, :mod:`p1guard.rp._web`) and of
    its form sign-in (:class:`~p1guard.rp._form_login.FormLogin`).
    """

    def __init__(
        self,
        rp: RelyingParty,
        *,
        store: SessionStore | None = None,
        session_ttl: float = 8 * 3600,
        refresh_margin: float = 60,
    ) -> None:
        self.rp = rp
        self.store: SessionStore = store if store is not None else MemoryStore()
        self.session_ttl = session_ttl
        self.refresh_margin = refresh_margin

    def _sign_in_flow(self, session: Session, tokens: TokenSet) -> Effects:
        """Rule 3, shared by the callback and the form sign-in: ``tokens`` become a new session.

        The framework session is cleared (other tabs' logins in flight survive), a new session
        id and CSRF token are made, and the tokens are stored server-side.
        """
        previous = session.get(SESSION_KEY)
        if isinstance(previous, str):  # signing in again (step-up): end the old session too
            yield from self._end_session(previous)
        still_pending: dict[str, Any] = {
            key: _pending(session, key) for key in (LOGIN_KEY, FORM_KEY)
        }
        still_pending[FORM_START_KEY] = session.get(FORM_START_KEY)  # a form page in another tab
        session.clear()
        for key, handles in still_pending.items():
            if handles:
                session[key] = handles
        session_id = new_secret()
        yield self._call("set", f"session:{session_id}", _record(tokens), self.session_ttl)
        session[SESSION_KEY] = session_id
        session[CSRF_KEY] = new_secret()
        log.info("user %s signed in", _short(tokens.subject))

    def _end_session(self, session_id: str) -> Effects:
        """Forget a server-side session and revoke its tokens; returns its ID token, if any."""
        data = yield self._call("pop", f"session:{session_id}")
        if data is None:
            return None
        tokens = TokenSet.from_dict(data["tokens"])
        for token, hint in (
            (tokens.refresh_token, "refresh_token"),
            (tokens.access_token, "access_token"),
        ):
            if token:
                try:
                    yield from self.rp.revoke_flow(token, hint)
                except ProviderUnavailable:
                    log.warning("could not revoke the %s at sign-out", hint)
        return tokens.id_token

    # -- shells ----------------------------------------------------------------------------

    def _call(
        self,
        op: Literal["get", "set", "pop", "delete", "claim"],
        key: str,
        value: dict[str, Any] | None = None,
        ttl: float = 0.0,
    ) -> StoreCall:
        return StoreCall(self.store, op, key, value, ttl)

    def run(self, effects: Effects) -> Any:
        """Pump ``effects`` synchronously (HTTP to PingOne and store calls)."""
        return self.rp.pingone.transport.run(effects)

    async def arun(self, effects: Effects) -> Any:
        """Async twin of :meth:`run`."""
        return await self.rp.pingone.transport.arun(effects)

    def close(self) -> None:
        """Close the store's and PingOne's connections."""
        self.store.close()
        self.rp.pingone.close()

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        await self.store.aclose()
        await self.rp.pingone.aclose()

    @staticmethod
    def csrf_token(session: Session) -> str:
        """The session's CSRF token for the sign-out form (created on first use)."""
        token = session.get(CSRF_KEY)
        if not isinstance(token, str):
            token = session[CSRF_KEY] = new_secret()
        return token

    @staticmethod
    def return_to(value: object) -> str:
        """A safe ``return_to`` (same-origin relative path, else ``/``)."""
        return safe_return_to(value)


def secure_cookie(redirect_uri: str) -> bool:
    """Whether the session cookie must be ``Secure``: yes whenever the callback is https.

    An http callback exists only on loopback or with an explicit insecure opt-out; there a
    ``Secure`` cookie would never come back and every sign-in would fail.
    """
    return urlsplit(redirect_uri).scheme == "https"


def check_cookie_options(redirect_uri: str, *, same_site: object, secure: object) -> None:
    """Refuse session-cookie settings that break or weaken sign-in (``ConfigError``)."""
    if str(same_site).lower() != "lax":
        raise ConfigError(
            "same_site",
            "the session cookie must be SameSite=Lax: Strict drops it when PingOne redirects "
            "back, None sends it with cross-site requests",
        )
    if secure_cookie(redirect_uri) and secure is not True:
        raise ConfigError("https_only", "an https app must mark its session cookie Secure")


def _check_csrf(session: Session, csrf: object, form: str) -> None:
    """The ``form``'s CSRF token must be the session's (compared in constant time)."""
    expected = session.get(CSRF_KEY)
    if not isinstance(expected, str) or not isinstance(csrf, str):
        raise LoginError(
            "invalid_request", f"The {form} form is missing its CSRF token", reason="csrf"
        )
    if not hmac.compare_digest(expected.encode(), csrf.encode()):
        raise LoginError(
            "invalid_request", f"The {form} form has a wrong CSRF token", reason="csrf"
        )


def _pending(session: Session, key: str = LOGIN_KEY) -> list[str]:
    value = session.get(key)
    if not isinstance(value, list):
        return []
    return [h for h in value if isinstance(h, str)]


def _record(tokens: TokenSet, signed_in_at: float | None = None) -> dict[str, Any]:
    now = time.time()
    return {
        "tokens": tokens.to_dict(),
        "signed_in_at": now if signed_in_at is None else signed_in_at,
        "updated_at": now,
    }


def _signed_in_at(data: dict[str, Any] | None) -> float:
    value = (data or {}).get("signed_in_at")
    return float(value) if isinstance(value, int | float) else time.time()


def _short(subject: str | None) -> str:
    return hashlib.sha256((subject or "").encode()).hexdigest()[:8]
