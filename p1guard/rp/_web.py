"""Framework-free logic of the login routes: login, callback, logout, the signed-in user.

Framework adapters (Starlette, FastAPI, Flask, Django) pass in their own signed session (a
mutable mapping) and turn the results into responses; everything else is here, once.

Rules:

2. ``/login`` stores the transaction for 10 minutes under a hash of its ``state`` and adds
   that hash to the browser's session (up to five logins in flight, for several tabs); the
   callback takes the matching one out (single use). A callback whose ``state`` is not one of
   this browser's is refused without touching the others, so no session is created (login
   CSRF).
4. The signed-in user's access token is refreshed ``refresh_margin`` seconds before expiry; a
   refused refresh ends the session. Each refresh counts in ``REFRESHES`` (ok, refused or
   unavailable) when the PingOne has ``metrics``.
5. Logout needs the session's CSRF token; it revokes the refresh and access tokens, forgets
   the session and returns PingOne's signoff URL.

Rules 1 and 3 (what the session holds, signing in) are :mod:`p1guard.rp._session`'s, rule 6
(form sign-in) is :mod:`p1guard.rp._form_login`'s; :class:`WebLogin` has them all.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from p1guard._http.flow import Sleep
from p1guard._observe.metrics import REFRESHES
from p1guard._tokens.tokens import TokenSet
from p1guard.errors import ProviderUnavailable
from p1guard.rp._errors import LoginError
from p1guard.rp._form_login import FormLogin
from p1guard.rp._messages import query_value
from p1guard.rp._session import (
    LOGIN_KEY,
    MAX_PENDING_LOGINS,
    SESSION_KEY,
    Effects,
    Session,
    SignedInUser,
    _check_csrf,
    _pending,
    _record,
    _short,
    _signed_in_at,
)
from p1guard.rp._transaction import TRANSACTION_TTL, LoginStart, LoginTransaction

__all__ = ["WebLogin"]

log = logging.getLogger("p1guard.rp")


class WebLogin(FormLogin):
    """The login routes' behaviour for one :class:`~p1guard.rp.RelyingParty` (rules 1 to 6).

    Rules 2, 4 and 5 are this module's, 1 and 3 :mod:`p1guard.rp._session`'s (the base class,
    which takes the constructor's ``store``, ``session_ttl`` and ``refresh_margin``), 6
    :mod:`p1guard.rp._form_login`'s (:class:`~p1guard.rp._form_login.FormLogin`).

    Used by the framework adapters like this::

        web = WebLogin(rp)
        start = web.login(session, return_to="/orders")          # redirect to start.url
        return_to = web.callback(session, request.query_params)  # redirect there
        user = web.user(session)                                  # SignedInUser or None
        signoff_url = web.logout(session, csrf=form["csrf"])

    The app's own sign-in form (``pi.flow``, rule 6)::

        step = web.form_login(session, return_to="/orders")       # render a form with
                                                                  # step.form_id and the CSRF
        step = web.form_submit(session, form["form_id"], csrf=form["csrf"],
                               username=form["username"], password=form["password"])
        if step.signed_in: ...                                    # redirect to step.return_to
        else: ...                                                 # the form again, step.message
    """

    # -- flows over effects ----------------------------------------------------------------

    def login_flow(self, session: Session, return_to: object = "/", **params: Any) -> Effects:
        """Rule 2: start a login bound to this browser session."""
        start: LoginStart = yield from self.rp.begin_flow(return_to, **params)
        handle = _login_handle(start.transaction.state)
        yield self._call("set", f"login:{handle}", start.transaction.to_dict(), TRANSACTION_TTL)
        pending = [h for h in _pending(session) if h != handle]
        session[LOGIN_KEY] = [*pending[-(MAX_PENDING_LOGINS - 1) :], handle]
        return start

    def callback_flow(self, session: Session, query: Mapping[str, Any]) -> Effects:
        """Rules 2 and 3: finish the login; returns where to send the browser."""
        pending = _pending(session)
        if not pending:
            raise LoginError(
                "invalid_state",
                "No sign-in is in progress in this browser: the session cookie is missing "
                "(blocked cookies, a SameSite or http/https mix-up, or no session middleware)",
                reason="no_login_in_session",
            )
        state = query_value(query, "state")
        handle = _login_handle(state) if state is not None else None
        if handle not in pending:
            # Another browser's or a forged state: leave this browser's logins untouched.
            raise LoginError(
                "invalid_state",
                "The sign-in response does not belong to this login",
                reason="state_mismatch",
            )
        session[LOGIN_KEY] = [h for h in pending if h != handle]
        data = yield self._call("pop", f"login:{handle}")
        if data is None:
            raise LoginError(
                "invalid_state",
                "This sign-in was already used or expired",
                reason="login_not_found",
            )
        transaction = LoginTransaction.from_dict(data)
        tokens: TokenSet = yield from self.rp.complete_flow(query, transaction)
        yield from self._sign_in_flow(session, tokens)
        return transaction.return_to

    def user_flow(self, session: Session) -> Effects:
        """Rule 4: the signed-in user, or ``None``."""
        session_id = session.get(SESSION_KEY)
        if not isinstance(session_id, str):
            return None
        key = f"session:{session_id}"
        data = yield self._call("get", key)
        signed_in_at = _signed_in_at(data)
        left = self.session_ttl - (time.time() - signed_in_at)
        if data is None or left <= 0:  # session_ttl bounds a sign-in, refreshes do not extend it
            if data is not None:
                yield self._call("delete", key)
            session.clear()
            return None
        tokens = TokenSet.from_dict(data["tokens"])
        if tokens.expires_within(self.refresh_margin):
            if not tokens.refresh_token:
                if tokens.expires_within(0):  # expired and nothing to renew it with
                    yield self._call("delete", key)
                    session.clear()
                    return None
            else:
                tokens = yield from self._refreshed(session, key, tokens, signed_in_at, left)
                if tokens is None:
                    return None
        return SignedInUser(claims=tokens.claims, tokens=tokens)

    def _refreshed(
        self, session: Session, key: str, tokens: TokenSet, signed_in_at: float, left: float
    ) -> Effects:
        """Refresh once per session, even when several requests find the token due.

        PingOne treats a second use of a refresh token as replay and revokes the whole chain,
        so only the request that claims the refresh sends it; the others use the tokens it
        stores (or, while those are not there yet, the still valid current ones).
        """
        used = tokens.refresh_token or ""
        if not (yield self._call("claim", f"refresh:{key}", ttl=self.rp.pingone.timeout * 2 + 1)):
            for _ in range(40):
                if not tokens.expires_within(0):
                    return tokens  # still valid: no need to wait for the other request
                yield Sleep(0.05)
                data = yield self._call("get", key)
                if data is None:
                    return None
                stored = TokenSet.from_dict(data["tokens"])
                if stored.refresh_token != used:
                    return stored
            return tokens
        data = yield self._call("get", key)  # claimed: another request may just have finished
        if data is not None:
            stored = TokenSet.from_dict(data["tokens"])
            if stored.refresh_token != used:
                yield self._call("delete", f"refresh:{key}")
                return stored
        try:
            tokens = yield from self.rp.refresh_flow(used, previous=tokens)
        except ProviderUnavailable:
            self._count_refresh("unavailable")
            yield self._call("delete", f"refresh:{key}")
            raise
        except LoginError:
            self._count_refresh("refused")
            log.info("refresh refused for %s; ending the session", _short(tokens.subject))
            yield self._call("delete", key)
            yield self._call("delete", f"refresh:{key}")
            session.clear()
            return None
        self._count_refresh("ok")
        yield self._call("set", key, _record(tokens, signed_in_at), left)
        yield self._call("delete", f"refresh:{key}")
        return tokens

    def logout_flow(self, session: Session, csrf: str | None) -> Effects:
        """Rule 5: end the session; returns PingOne's signoff URL."""
        _check_csrf(session, csrf, "sign-out")
        session_id = session.get(SESSION_KEY)
        session.clear()
        id_token = None
        if isinstance(session_id, str):
            id_token = yield from self._end_session(session_id)
        return (yield from self.rp.logout_url_flow(id_token_hint=id_token))

    def _count_refresh(self, outcome: str) -> None:
        metrics = self.rp.pingone.metrics
        if metrics is not None:
            metrics.count(REFRESHES, outcome=outcome)

    # -- shells ----------------------------------------------------------------------------

    def login(self, session: Session, return_to: object = "/", **params: Any) -> LoginStart:
        """Start a login (rule 2)."""
        result: LoginStart = self.run(self.login_flow(session, return_to, **params))
        return result

    async def alogin(self, session: Session, return_to: object = "/", **params: Any) -> LoginStart:
        """Async twin of :meth:`login`."""
        result: LoginStart = await self.arun(self.login_flow(session, return_to, **params))
        return result

    def callback(self, session: Session, query: Mapping[str, Any]) -> str:
        """Finish a login; returns the same-origin path to redirect to."""
        return str(self.run(self.callback_flow(session, query)))

    async def acallback(self, session: Session, query: Mapping[str, Any]) -> str:
        """Async twin of :meth:`callback`."""
        return str(await self.arun(self.callback_flow(session, query)))

    def user(self, session: Session) -> SignedInUser | None:
        """The signed-in user (tokens refreshed when due), or ``None``."""
        result: SignedInUser | None = self.run(self.user_flow(session))
        return result

    async def auser(self, session: Session) -> SignedInUser | None:
        """Async twin of :meth:`user`."""
        result: SignedInUser | None = await self.arun(self.user_flow(session))
        return result

    def logout(self, session: Session, csrf: str | None) -> str:
        """End the session; returns the PingOne signoff URL to redirect to."""
        return str(self.run(self.logout_flow(session, csrf)))

    async def alogout(self, session: Session, csrf: str | None) -> str:
        """Async twin of :meth:`logout`."""
        return str(await self.arun(self.logout_flow(session, csrf)))


def _login_handle(state: str) -> str:
    """Where a login's transaction is stored: a hash of its ``state`` (never the state itself)."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()[:32]
