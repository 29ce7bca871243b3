"""Form sign-in: the app's own username/password form, through PingOne ``pi.flow``.

:class:`FormLogin` is the part of :class:`~p1guard.rp.WebLogin` that runs it; the signed-in
session it ends in is :mod:`p1guard.rp._session`'s (rule 3).

Rule (numbered as in :mod:`p1guard.rp._web`):

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

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from p1guard._tokens.tokens import TokenSet
from p1guard.errors import ProviderUnavailable
from p1guard.rp._errors import LoginError
from p1guard.rp._piflow import FlowError, PiFlow, PiFlowClient
from p1guard.rp._pkce import new_secret
from p1guard.rp._session import (
    FORM_KEY,
    FORM_START_KEY,
    MAX_PENDING_LOGINS,
    Effects,
    LoginSession,
    Session,
    _check_csrf,
    _pending,
)
from p1guard.rp._transaction import TRANSACTION_TTL

__all__ = ["MAX_FORM_ATTEMPTS", "NEW_FORM", "FormLogin", "FormStep"]

log = logging.getLogger("p1guard.rp")

#: The ``form_id`` of a form page whose PingOne flow has not started yet.
NEW_FORM = "new"
#: Wrong passwords one form sign-in takes before it must start over (PingOne locks accounts too).
MAX_FORM_ATTEMPTS = 5
#: What a form sign-in shows next (see :class:`FormStep`).
FormStatus = Literal["password_required", "new_password_required", "signed_in"]
#: The form a waiting pi.flow status asks for (rule 6); any other status is not for a form.
_FORM_STATUSES: Mapping[str, FormStatus] = {
    "USERNAME_PASSWORD_REQUIRED": "password_required",
    "MUST_CHANGE_PASSWORD": "new_password_required",
}


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


class FormLogin(LoginSession):
    """Form sign-in (rule 6) for :class:`~p1guard.rp.WebLogin`: see its docstring."""

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
