"""Framework-free logic of the login routes: login, callback, logout, the signed-in user.

Framework adapters (Starlette, FastAPI, Flask, Django) pass in their own signed session (a
mutable mapping) and turn the results into responses; everything else is here, once.

Rules:

1. The framework session holds only random ids (``p1guard.login``, ``p1guard.sid``,
   ``p1guard.csrf``); transactions and tokens live server-side in a :class:`SessionStore`.
2. ``/login`` stores the transaction for 10 minutes under a hash of its ``state`` and adds
   that hash to the browser's session (up to five logins in flight, for several tabs); the
   callback takes the matching one out (single use). A callback whose ``state`` is not one of
   this browser's is refused without touching the others, so no session is created (login
   CSRF).
3. A successful callback clears the framework session and starts a new session id (fixation).
4. The signed-in user's access token is refreshed ``refresh_margin`` seconds before expiry; a
   refused refresh ends the session. Each refresh counts in ``REFRESHES`` (ok, refused or
   unavailable) when the PingOne has ``metrics``.
5. Logout needs the session's CSRF token; it revokes the refresh and access tokens, forgets
   the session and returns PingOne's signoff URL.
6. Form sign-in (the app's own username/password form, PingOne ``response_mode=pi.flow``):
   loading the form page starts nothing at PingOne and stores nothing (anyone can make a
   browser load it); it only remembers in the session what the page asked for. The first
   POST (``form_id`` :data:`NEW_FORM`, with the session's CSRF token) starts PingOne's flow
   and submits the password in one go; it claims the page once (for 10 minutes), so a replayed
   or double-submitted first POST, or a page older than 10 minutes, means starting over and
   changes nothing. A flow still waiting is kept in the store for at most
   its transaction's 10 minutes under a random ``form_id`` listed in the browser's session
   (up to five, like rule 2; the ones dropped from the list are deleted); the cookie never
   holds it. A later step needs the CSRF token and one of the browser's own ``form_id``
   values and takes the stored flow out (single use; an already used one changes nothing).
   A wrong password shows the form again (:class:`FormStep` with a fixed message); the
   ``MAX_FORM_ATTEMPTS``-th wrong password of one sign-in ends it; an expired, used or
   unknown flow means starting over. A ``COMPLETED`` flow is redeemed with the checks
   of a redirect sign-in and signs the user in exactly like the callback (rule 3). Passwords
   are only passed on to PingOne: never stored, logged or put into a result or error.
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

from p1guard._http.flow import Flow, Sleep
from p1guard._observe.metrics import REFRESHES
from p1guard._tokens.tokens import AccessToken, TokenSet
from p1guard.errors import ConfigError, ProviderUnavailable
from p1guard.rp._errors import LoginError
from p1guard.rp._messages import query_value
from p1guard.rp._piflow import FlowError, PiFlow, PiFlowClient
from p1guard.rp._pkce import new_secret
from p1guard.rp._relying_party import LoginStart, RelyingParty
from p1guard.rp._store import MemoryStore, SessionStore
from p1guard.rp._transaction import TRANSACTION_TTL, LoginTransaction, safe_return_to

__all__ = [
    "MAX_FORM_ATTEMPTS",
    "FormStep",
    "SignedInUser",
    "WebLogin",
    "check_cookie_options",
    "secure_cookie",
]

log = logging.getLogger("p1guard.rp")

LOGIN_KEY, SESSION_KEY, CSRF_KEY = "p1guard.login", "p1guard.sid", "p1guard.csrf"
FORM_KEY = "p1guard.form"
#: Session key of what a form page asked for (``return_to``, ``login_hint``…), read by its
#: first POST, which starts PingOne's flow.
FORM_START_KEY = "p1guard.form_start"
#: The ``form_id`` of a form page whose PingOne flow has not started yet.
NEW_FORM = "new"
#: Logins a browser may have in flight at once (several tabs); older ones are forgotten.
MAX_PENDING_LOGINS = 5
#: Wrong passwords one form sign-in takes before it must start over (PingOne locks accounts too).
MAX_FORM_ATTEMPTS = 5
#: The form a waiting pi.flow status asks for (rule 6); any other status is not for a form.
_FORM_STATUSES: Mapping[str, FormStatus] = {
    "USERNAME_PASSWORD_REQUIRED": "password_required",
    "MUST_CHANGE_PASSWORD": "new_password_required",
}
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
#: What a form sign-in shows next (see :class:`FormStep`).
FormStatus = Literal["password_required", "new_password_required", "signed_in"]


@dataclass(frozen=True, slots=True)
class FormStep:
    """Where a form sign-in (``pi.flow``, rule 6) stands: the form to show next, or signed in.

    ``status``: ``"password_required"`` (show username and password), ``"new_password_required"``
    (PingOne's ``MUST_CHANGE_PASSWORD``: show the current and a new password) or ``"signed_in"``
    (redirect to ``return_to``). ``form_id`` goes into the form's hidden ``form_id`` field and
    comes back with the next step (it changes at every step). ``error`` says why the same form
    is shown again (``"wrong_credentials"``, ``"invalid_new_password"``, ``"missing_fields"``)
    and ``message`` is a fixed text to show with it; neither ever holds what the user typed.

    >>> step = FormStep("password_required", "f1", error="wrong_credentials",
    ...                 message="Wrong username or password. Try again.")
    >>> step.signed_in, step.error
    (False, 'wrong_credentials')
    >>> "f1" in repr(step)
    False
    """

    status: FormStatus
    form_id: str = field(default="", repr=False)
    return_to: str = "/"
    error: str | None = None
    message: str = ""

    @property
    def signed_in(self) -> bool:
        """Whether the user is now signed in (redirect to :attr:`return_to`)."""
        return self.status == "signed_in"


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


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as session-safe JSON values (strings, lists of strings, integers)."""
    plain: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            plain[name] = value
        elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            plain[name] = list(value)
        else:
            raise TypeError(f"form sign-in parameter {name!r} must be text, got {value!r}")
    return plain


class WebLogin:
    """The login routes' behaviour for one :class:`RelyingParty` (see the module rules).

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

    def form_login_flow(self, session: Session, return_to: object = "/", **params: Any) -> Effects:
        """Rule 6: start a form sign-in (``pi.flow``) bound to this browser session.

        Takes :meth:`login_flow`'s arguments; returns a :class:`FormStep` (normally
        ``"password_required"``) whose ``form_id`` the page's form posts back.
        """
        # No PingOne call and no store write here: anyone can load a form page (even
        # cross-site, e.g. an <img>), so the flow starts with the first CSRF-checked POST.
        safe = self.return_to(return_to)
        session[FORM_START_KEY] = {
            "id": new_secret(),  # its first POST claims it: a replay or double submit is refused
            "created_at": time.time(),
            "return_to": safe,
            "params": _plain_params(params),
        }
        yield from ()
        return FormStep("password_required", NEW_FORM, safe)

    def form_submit_flow(
        self,
        session: Session,
        form_id: object,
        *,
        csrf: object,
        username: object = None,
        password: object = None,
        new_password: object = None,
    ) -> Effects:
        """Rule 6: run the form's step; returns the next :class:`FormStep`.

        ``"password_required"`` takes ``username`` and ``password``;
        ``"new_password_required"`` takes ``password`` (the current one) and ``new_password``.
        Once PingOne's flow is ``COMPLETED`` its code is redeemed with every check of a
        redirect sign-in and the user is signed in exactly as by the callback (rule 3).
        A missing or wrong CSRF token, or a ``form_id`` that is not this browser's, is a
        :class:`LoginError`; so is an expired or already used form sign-in
        (``reason="form_login_expired"``: start again with :meth:`form_login_flow`).
        """
        _check_csrf(session, csrf, "sign-in")
        if form_id == NEW_FORM:
            flow, attempts = (yield from self._form_start(session)), 0
        else:
            flow, attempts = yield from self._form_resume(session, form_id)
        fields = {"username": username, "password": password, "new_password": new_password}
        password_step = flow.status == "USERNAME_PASSWORD_REQUIRED"
        needed = ("username", "password") if password_step else ("password", "new_password")
        values = [fields[name] for name in needed]
        if not all(isinstance(value, str) and value for value in values):
            return (
                yield from self._form_next(
                    session, flow, attempts, "missing_fields", _MESSAGES["missing_fields"]
                )
            )
        flows = PiFlowClient(self.rp)
        step = flows.check_password_flow if password_step else flows.change_password_flow
        try:
            flow = yield from step(flow, str(values[0]), str(values[1]))
        except FlowError as err:
            return (yield from self._form_refused(session, flow, attempts, err))
        return (yield from self._form_next(session, flow, attempts))

    def _form_start(self, session: Session) -> Effects:
        """The first POST of a form sign-in: start PingOne's flow (what the form page asked)."""
        start: Any = session.get(FORM_START_KEY)
        try:
            start_id, return_to, params = start["id"], start["return_to"], dict(start["params"])
            fresh = time.time() < float(start["created_at"]) + TRANSACTION_TTL
        except (KeyError, TypeError, ValueError):
            raise _form_expired() from None
        if not (isinstance(start_id, str) and isinstance(return_to, str) and fresh):
            raise _form_expired()
        # Single use, like a form_id, and claimed before PingOne is asked: the loser of a
        # double submit or a replayed first POST (same cookie) is refused without a PingOne
        # call and without changing the session.
        mark = f"form_start:{start_id}"
        if not (yield self._call("claim", mark, ttl=TRANSACTION_TTL)):
            raise _form_expired()
        try:
            flow: PiFlow = yield from PiFlowClient(self.rp).begin_flow(return_to, **params)
        except ProviderUnavailable:
            yield self._call("delete", mark)  # PingOne down: the same page may try again
            raise
        del session[FORM_START_KEY]
        return flow

    def _form_resume(self, session: Session, form_id: object) -> Effects:
        """A later POST: the flow kept under ``form_id`` (single use), and its wrong tries."""
        pending = _pending(session, FORM_KEY)
        if not isinstance(form_id, str) or form_id not in pending:
            # Another browser's or a forged form: leave this browser's sign-ins untouched.
            raise LoginError(
                "invalid_state",
                "This sign-in form does not belong to this browser",
                reason="form_not_in_session",
            )
        data = yield self._call("pop", f"form:{form_id}")  # single use
        if data is None:
            # Already used (e.g. the loser of a double submit): change nothing, so no new
            # cookie overwrites the winner's signed-in session.
            raise _form_expired()
        session[FORM_KEY] = [h for h in pending if h != form_id]
        try:
            flow = PiFlow.from_dict(data["flow"])
            attempts = int(data["attempts"])
        except (KeyError, TypeError, ValueError):
            raise _form_expired() from None
        if flow.transaction.expired():
            raise _form_expired()
        return flow, attempts

    def _form_refused(
        self, session: Session, flow: PiFlow, attempts: int, err: FlowError
    ) -> Effects:
        """PingOne refused a form step: the same form again, or start over."""
        if err.http_status == 404 or err.code == "NOT_FOUND":
            raise _form_expired() from None
        if err.wrong_credentials:
            attempts += 1
            log.info("form sign-in: wrong credentials (%d of %d)", attempts, MAX_FORM_ATTEMPTS)
            if attempts >= MAX_FORM_ATTEMPTS:
                raise LoginError(
                    "access_denied",
                    "Too many wrong passwords: start the sign-in again",
                    reason="too_many_attempts",
                ) from None
            which = "wrong_password" if "currentPassword" in _targets(err) else "wrong_credentials"
            return (
                yield from self._form_next(
                    session, flow, attempts, "wrong_credentials", _MESSAGES[which]
                )
            )
        if "newPassword" in _targets(err):
            return (
                yield from self._form_next(
                    session,
                    flow,
                    attempts,
                    "invalid_new_password",
                    _MESSAGES["invalid_new_password"],
                )
            )
        raise err

    def _form_next(
        self,
        session: Session,
        flow: PiFlow,
        attempts: int,
        error: str | None = None,
        message: str = "",
    ) -> Effects:
        """Sign in when ``flow`` is ``COMPLETED``; else keep it for the form it asks for."""
        return_to = flow.transaction.return_to
        if flow.completed:
            tokens: TokenSet = yield from PiFlowClient(self.rp).complete_flow(flow)
            yield from self._sign_in_flow(session, tokens)
            return FormStep("signed_in", return_to=return_to)
        status = _FORM_STATUSES.get(flow.status)
        ttl = flow.transaction.created_at + TRANSACTION_TTL - time.time()
        if status is None or ttl <= 0:
            if status is None:
                log.info("form sign-in: PingOne asks for %.40r", flow.status)
                raise LoginError(
                    "interaction_required",
                    "This sign-in needs a step the app's form cannot show: "
                    "sign in on PingOne's page instead",
                    reason="unsupported_flow_step",
                )
            raise _form_expired()
        form_id = new_secret()
        record = {"flow": flow.to_dict(), "attempts": attempts}
        yield self._call("set", f"form:{form_id}", record, ttl)
        pending = _pending(session, FORM_KEY)
        dropped = pending[: max(0, len(pending) - (MAX_PENDING_LOGINS - 1))]
        for old_id in dropped:  # forgotten by the cookie: not left behind in the store either
            yield self._call("delete", f"form:{old_id}")
        session[FORM_KEY] = [*pending[len(dropped) :], form_id]
        return FormStep(status, form_id, return_to, error, message)

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

    def _count_refresh(self, outcome: str) -> None:
        metrics = self.rp.pingone.metrics
        if metrics is not None:
            metrics.count(REFRESHES, outcome=outcome)

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

    def form_login(self, session: Session, return_to: object = "/", **params: Any) -> FormStep:
        """Start a form sign-in (rule 6): see :meth:`form_login_flow`."""
        result: FormStep = self.run(self.form_login_flow(session, return_to, **params))
        return result

    async def aform_login(
        self, session: Session, return_to: object = "/", **params: Any
    ) -> FormStep:
        """Async twin of :meth:`form_login`."""
        result: FormStep = await self.arun(self.form_login_flow(session, return_to, **params))
        return result

    def form_submit(self, session: Session, form_id: object, **fields: Any) -> FormStep:
        """Run a form sign-in step (rule 6): see :meth:`form_submit_flow`.

        ``fields``: ``csrf`` (required), ``username``, ``password``, ``new_password``.
        """
        result: FormStep = self.run(self.form_submit_flow(session, form_id, **fields))
        return result

    async def aform_submit(self, session: Session, form_id: object, **fields: Any) -> FormStep:
        """Async twin of :meth:`form_submit`."""
        result: FormStep = await self.arun(self.form_submit_flow(session, form_id, **fields))
        return result

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


#: The fixed texts a :class:`FormStep` shows with its ``error``.
_MESSAGES = {
    "missing_fields": "Fill in every field.",
    "wrong_credentials": "Wrong username or password. Try again.",
    "wrong_password": "Wrong current password. Try again.",
    "invalid_new_password": "PingOne did not accept that new password. Choose another one.",
}


def _targets(err: FlowError) -> set[str]:
    return {target for _code, target in err.details}


def _form_expired() -> LoginError:
    log.info("form sign-in expired or already used")
    return LoginError(
        "invalid_state",
        "This sign-in expired or was already used: please start again",
        reason="form_login_expired",
    )


def _login_handle(state: str) -> str:
    """Where a login's transaction is stored: a hash of its ``state`` (never the state itself)."""
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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
