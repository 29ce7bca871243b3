"""Redirectless sign-on of the mock PingOne: ``response_mode=pi.flow``, the flows API, resume.

Rules:
1. ``/authorize`` with ``response_mode=pi.flow`` (pushed or not) answers ``200`` JSON
   ``{"id", "status": "USERNAME_PASSWORD_REQUIRED", "_links", "resumeUrl"}`` and sets the
   flow's ``ST`` cookie; errors are JSON, never redirects.
2. ``/<envID>/flows/<flowID>`` (GET: the flow; POST: a step) and ``{issuer}/resume`` need the
   flow's ``ST`` cookie. A step's ``Content-Type`` names its action
   (``application/vnd.pingidentity.usernamePassword.check+json``); an action the flow's
   status does not offer in ``_links`` is ``400 INVALID_REQUEST``.
3. The right username (``preferred_username``, ``email`` or ``sub`` of ``op.user``) and
   ``op.user_password`` complete the flow; anything else is PingOne's ``400 INVALID_DATA``
   with an ``INVALID_VALUE`` detail on ``password``.
3a. With ``op.user_must_change_password`` set, the right password leads to
   ``MUST_CHANGE_PASSWORD`` offering ``password.reset`` (``{"currentPassword",
   "newPassword"}``): a wrong current password is ``INVALID_VALUE`` on ``currentPassword``, an
   empty or unchanged new one ``INVALID_VALUE`` on ``newPassword``; success stores the new
   password as ``op.user_password``, clears the flag and completes the flow.
4. Resuming a ``COMPLETED`` flow issues a code bound to the authorization request (PKCE,
   nonce, redirect URI) and answers ``{"authorizeResponse": {"code", "state"}}``; a flow is
   resumed once. Unknown, expired or used flows are ``404 NOT_FOUND``.
5. Passwords are compared in constant time and never stored or echoed.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from p1guard.testing._http import NO_STORE, json_response

if TYPE_CHECKING:
    from p1guard.testing._app import MockApp
    from p1guard.testing._authorize import AuthorizeRequest
    from p1guard.testing._mock import MockPingOne

__all__ = ["PASSWORD_CHECK", "PASSWORD_RESET", "PiFlows", "flows", "resume"]

PASSWORD_CHECK = "application/vnd.pingidentity.usernamePassword.check+json"  # noqa: S105
PASSWORD_RESET = "application/vnd.pingidentity.password.reset+json"  # noqa: S105
_COOKIE = "ST"
#: The action each waiting status offers, by ``_links`` name and media type.
_ACTIONS = {
    "USERNAME_PASSWORD_REQUIRED": ("usernamePassword.check", PASSWORD_CHECK),
    "MUST_CHANGE_PASSWORD": ("password.reset", PASSWORD_RESET),
}
_INVALID_DATA = (
    "The request could not be completed. One or more validation errors were in the request."
)


@dataclass
class _Flow:
    id: str
    request: AuthorizeRequest
    state: str | None
    cookie: str
    expires_at: float
    status: str = "USERNAME_PASSWORD_REQUIRED"
    used: bool = False


def _error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    body: dict[str, Any] = {"id": str(uuid.uuid4()), "code": code, "message": message}
    if details:
        body["details"] = details
    return json_response(body, status, NO_STORE)


class PiFlows:
    """The mock's flows (guarded by the mock's lock)."""

    def __init__(self, mock: MockPingOne) -> None:
        self.mock = mock
        self._flows: dict[str, _Flow] = {}

    def start(self, checked: AuthorizeRequest, state: str | None) -> Response:
        """Rule 1: a new flow waiting for the username and password."""
        flow = _Flow(
            id=str(uuid.uuid4()),
            request=checked,
            state=state,
            cookie=secrets.token_urlsafe(24),
            expires_at=time.time() + float(self.mock.flow_lifetime),
        )
        with self.mock._lock:
            self._flows = {k: v for k, v in self._flows.items() if v.expires_at > time.time()}
            self._flows[flow.id] = flow
        response = json_response(self.document(flow), 200, NO_STORE)
        response.set_cookie(
            _COOKIE, flow.cookie, path=f"/{self.mock.env_id}", httponly=True, samesite="None"
        )
        return response

    def document(self, flow: _Flow) -> dict[str, Any]:
        """The flow as PingOne shows it."""
        mock = self.mock
        href = mock.flow_href.format(base=mock.issuer.removesuffix("/as"), id=flow.id)
        links: dict[str, Any] = {"self": {"href": href}}
        body: dict[str, Any] = {
            "id": flow.id,
            "status": flow.status,
            "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(flow.expires_at)),
            "resumeUrl": f"{mock.issuer}/resume?flowId={flow.id}",
            "_links": links,
        }
        action = _ACTIONS.get(flow.status)
        if action is not None:
            links[action[0]] = {"href": href}
        if flow.status != "USERNAME_PASSWORD_REQUIRED":
            user = mock.user
            name = user.get("preferred_username") or user["sub"]
            body["_embedded"] = {"user": {"id": user["sub"], "username": name}}
        return body

    def find(self, flow_id: str, request: Request) -> _Flow | None:
        """The live flow ``flow_id`` if the request carries its cookie."""
        with self.mock._lock:
            flow = self._flows.get(flow_id)
        if flow is None or flow.used or flow.expires_at <= time.time():
            return None
        cookie = request.cookies.get(_COOKIE, "")
        return flow if hmac.compare_digest(cookie.encode(), flow.cookie.encode()) else None

    def check_password(self, flow: _Flow, body: Any) -> Response:
        """Rule 3."""
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("username", "password")
        ):
            return _error(
                400,
                "INVALID_DATA",
                _INVALID_DATA,
                [{"code": "INVALID_VALUE", "target": "username", "message": "Missing value"}],
            )
        user = self.mock.user
        names = {str(user[k]) for k in ("preferred_username", "email", "sub") if user.get(k)}
        right_name = body["username"] in names
        right_password = hmac.compare_digest(
            body["password"].encode(), str(self.mock.user_password).encode()
        )
        if not (right_name and right_password):
            return _error(
                400,
                "INVALID_DATA",
                _INVALID_DATA,
                [
                    {
                        "code": "INVALID_VALUE",
                        "target": "password",
                        "message": "Invalid username and/or password",
                        "innerError": {"failuresRemaining": 4},
                    }
                ],
            )
        must_change = self.mock.user_must_change_password
        with self.mock._lock:
            flow.status = "MUST_CHANGE_PASSWORD" if must_change else "COMPLETED"
        return json_response(self.document(flow), 200, NO_STORE)

    def change_password(self, flow: _Flow, body: Any) -> Response:
        """Rule 3a."""
        fields = ("currentPassword", "newPassword")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in fields):
            return _error(
                400,
                "INVALID_DATA",
                _INVALID_DATA,
                [
                    {
                        "code": "INVALID_VALUE",
                        "target": "currentPassword",
                        "message": "Missing value",
                    }
                ],
            )
        current, new = body["currentPassword"], body["newPassword"]
        with self.mock._lock:
            stored = str(self.mock.user_password)
            if not hmac.compare_digest(current.encode(), stored.encode()):
                target, message = "currentPassword", "Invalid current password"
            elif not new or hmac.compare_digest(new.encode(), stored.encode()):
                target, message = "newPassword", "The new password must differ from the old one"
            else:
                self.mock.user_password = new
                self.mock.user_must_change_password = False
                flow.status = "COMPLETED"
                target = message = ""
        if target:
            detail = {"code": "INVALID_VALUE", "target": target, "message": message}
            return _error(400, "INVALID_DATA", _INVALID_DATA, [detail])
        return json_response(self.document(flow), 200, NO_STORE)

    def resume(self, flow: _Flow) -> Response:
        """Rule 4."""
        with self.mock._lock:
            if flow.used or flow.status != "COMPLETED":
                return _error(400, "REQUEST_FAILED", "The flow is not completed")
            flow.used = True
        code = self.mock._login.authorize(flow.request)
        answer: dict[str, Any] = {"code": code}
        if flow.state:
            answer["state"] = flow.state
        return json_response({"authorizeResponse": answer}, 200, NO_STORE)


def _not_found() -> Response:
    return _error(404, "NOT_FOUND", "The requested resource was not found.")


def flows(app: MockApp, request: Request) -> Response:
    """``GET|POST /<envID>/flows/<flowID>`` (rule 2)."""
    piflows = app.mock._piflows
    flow_id = request.path.rsplit("/", 1)[-1]
    flow = piflows.find(flow_id, request)
    if flow is None:
        return _not_found()
    if request.method == "GET":
        return json_response(piflows.document(flow), 200, NO_STORE)
    action = _ACTIONS.get(flow.status)
    if action is None or request.mimetype != action[1].lower():
        return _error(400, "INVALID_REQUEST", "The flow does not accept this action now")
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        body = None
    if action[1] == PASSWORD_RESET:
        return piflows.change_password(flow, body)
    return piflows.check_password(flow, body)


def resume(app: MockApp, request: Request) -> Response:
    """``GET {issuer}/resume?flowId=…`` (rule 4)."""
    piflows = app.mock._piflows
    flow = piflows.find(request.args.get("flowId", ""), request)
    return _not_found() if flow is None else piflows.resume(flow)
