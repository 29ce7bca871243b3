"""Redirectless sign-on (PingOne ``response_mode=pi.flow``): the app renders the login form.

``rp.begin(response_mode="pi.flow")`` (or :meth:`PiFlowClient.begin`) sends the authorization
request and PingOne answers JSON describing a *flow* (:class:`PiFlow`: ``id``, ``status``, the
actions it accepts, ``resume_url``) instead of redirecting a browser. The app posts each step
to the flows API with :class:`PiFlowClient`; once the flow is ``COMPLETED``,
:meth:`PiFlowClient.resume` fetches PingOne's ``authorizeResponse`` as callback parameters, and
``rp.complete(params, flow.transaction)`` exchanges the code with every check of a redirect
sign-in (state, ``iss``, PKCE, nonce, ID token). :meth:`PiFlowClient.complete` does both.

>>> from p1guard import PingOne
>>> from p1guard.rp import RelyingParty
>>> rp = RelyingParty(PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
...                   client_id="app", client_secret="s", redirect_uri="https://app.example/cb")
>>> flow = rp.begin(response_mode="pi.flow")                     # doctest: +SKIP
>>> flows = PiFlowClient(rp)
>>> flow = flows.check_password(flow, "ada", password)           # doctest: +SKIP
>>> tokens = rp.complete(flows.resume(flow), flow.transaction)   # doctest: +SKIP

Rules:

1. The authorization request is :meth:`RelyingParty.begin_flow`'s (PKCE, state, nonce, PAR when
   it applies) plus ``response_mode=pi.flow``; nothing of it is weakened, and the code is
   redeemed only through :meth:`RelyingParty.complete_flow` with the flow's own transaction.
2. Every URL the flow is driven through — PingOne's ``_links`` hrefs, ``resumeUrl`` and URLs
   built from the flow id — must be on the issuer's scheme, host and port (https, or http on
   loopback or with ``allow_insecure_http``), without user info, and under the environment's
   own path (PingOne's host serves every customer's environment). It is checked as httpx
   will send it (``httpx.URL``), and the path sent must be the path written: a ``.`` or
   ``..`` segment, plain or percent-encoded (``%2e``, ``.%2E``, ``%252e``…), an encoded slash
   or backslash (``%2f``, ``%5c``), a backslash or whitespace is refused, so no server-side
   normalisation can lead elsewhere. Checked when read and again when used (a flow may come
   back from a session store); PingOne's hrefs are preferred over URLs built from the flow id.
3. A password is sent only to a flow that offers ``usernamePassword.check``, only in the JSON
   body, and never appears in a ``repr``, log line or error.
4. The flow's cookies (PingOne's session for this flow) travel with this flow only: every
   request carries an explicit ``Cookie`` header, so a shared HTTP client's jar never mixes
   one user's PingOne session into another user's flow.
5. Refusals of the flows API (``{"code", "message", "details"}``) become :class:`FlowError`
   with printable, truncated text; 429/5xx and anything unreadable are
   :class:`~p1guard.ProviderUnavailable`.
6. Steps are ordinary :class:`~p1guard._http.transport.Request` objects with a JSON ``content``
   body, so
   they share the transport's circuit breaker and metrics with every other call; a step is a
   ``POST`` and is never retried nor single-flighted.
7. The authorization answer is read from the ``COMPLETED`` flow when PingOne embeds it
   (``authorizeResponse``), else from ``resumeUrl``; it is used once. Its ``iss`` defaults to
   the issuer (the answer came from the issuer's own host over rule 2's URLs), and an ``iss``
   PingOne does send is checked like a redirect's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import httpx

from p1guard._http.flow import Flow, Request, Response, provider_error
from p1guard._tokens.tokens import TokenSet
from p1guard._values import is_loopback
from p1guard.errors import ConfigError, ProviderUnavailable
from p1guard.rp._errors import LoginError, _printable
from p1guard.rp._transaction import LoginStart, LoginTransaction

if TYPE_CHECKING:
    from p1guard._pingone import PingOne

__all__ = [
    "PASSWORD_CHECK",
    "PASSWORD_RESET",
    "FlowError",
    "PiFlow",
    "PiFlowClient",
    "PiFlowParty",
    "begin_pi_flow",
    "media_type",
]

#: The action (and media-type stem) of the username/password step.
PASSWORD_CHECK = "usernamePassword.check"  # noqa: S105 - an action name
#: The action of the ``MUST_CHANGE_PASSWORD`` step (body: ``currentPassword``, ``newPassword``).
PASSWORD_RESET = "password.reset"  # noqa: S105 - an action name
_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
_COOKIE_SPLIT = re.compile(r",\s*(?=[^;,=\s]+=)")
_COOKIE_PAIR = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=([^;]*)")
_CREDENTIALS = ("username", "password", "currentPassword")
_CALLBACK_PARAMS = ("code", "state", "iss", "error", "error_description")


class PiFlowParty(Protocol):
    """What a redirectless sign-on needs from its relying party (a :class:`RelyingParty` is one).

    Its PingOne, and the two ends of a redirect sign-in that rule 1 reuses: the authorization
    request and the redemption of the code with the flow's own transaction.
    """

    @property
    def pingone(self) -> PingOne:
        """The PingOne environment (issuer, transport)."""
        ...

    def begin_flow(self, return_to: object = "/", **extra: Any) -> Flow[LoginStart]:
        """The authorization request (:meth:`RelyingParty.begin_flow`)."""
        ...

    def complete_flow(
        self, query: Mapping[str, Any], transaction: LoginTransaction, *, userinfo: bool = False
    ) -> Flow[TokenSet]:
        """Check the callback, exchange the code (:meth:`RelyingParty.complete_flow`)."""
        ...


def media_type(action: str) -> str:
    """The vendor media type of a flow action.

    >>> media_type("usernamePassword.check")
    'application/vnd.pingidentity.usernamePassword.check+json'
    """
    if action.startswith("application/"):
        return action
    if not _ACTION.fullmatch(action):
        raise ValueError("not a flow action name")
    return f"application/vnd.pingidentity.{action}+json"


class FlowError(LoginError):
    """PingOne's flows API refused a step (wrong password, expired flow, bad input…).

    ``code`` is PingOne's code (``INVALID_DATA``, ``NOT_FOUND``…), ``details`` its
    ``(code, target)`` pairs, ``http_status`` the answer's status. Safe to show.

    >>> err = FlowError(400, "INVALID_DATA", "Invalid username and/or password",
    ...                 details=(("INVALID_VALUE", "password"),))
    >>> err.error, err.wrong_credentials
    ('invalid_data', True)
    """

    def __init__(
        self,
        http_status: int,
        code: str,
        message: str | None = None,
        *,
        details: tuple[tuple[str, str], ...] = (),
        reason: str = "flow_refused",
    ) -> None:
        self.http_status = http_status
        self.code = _printable(code, 64) or "REQUEST_FAILED"
        self.details = tuple((_printable(c, 64), _printable(t, 64)) for c, t in details)
        super().__init__(self.code.lower(), message or "PingOne refused the step", reason=reason)

    @property
    def wrong_credentials(self) -> bool:
        """Whether PingOne rejected the username or (current) password."""
        return any(target in _CREDENTIALS for _code, target in self.details)


@dataclass(frozen=True, slots=True)
class PiFlow:
    """One redirectless sign-on in progress; keep it server-side (it holds the transaction).

    ``links`` maps each action PingOne offers (``"usernamePassword.check"``…, and ``"self"``)
    to its href; :attr:`actions` lists the action names. :meth:`to_dict` / :meth:`from_dict`
    carry it through a session store between the app's requests.

    >>> flow = PiFlow("f1", "USERNAME_PASSWORD_REQUIRED",
    ...               {"self": "https://h/e/flows/f1", "usernamePassword.check": "https://h/e/flows/f1"},
    ...               None, LoginTransaction("st", "no", "v" * 43, "https://app/cb"), {})
    >>> flow.actions, flow.completed
    (('usernamePassword.check',), False)
    >>> PiFlow.from_dict(flow.to_dict()) == flow
    True
    """

    id: str
    status: str
    links: Mapping[str, str] = field(repr=False)
    resume_url: str | None = field(repr=False)
    transaction: LoginTransaction
    raw: Mapping[str, Any] = field(repr=False)
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def actions(self) -> tuple[str, ...]:
        """The steps PingOne accepts next (``_links`` without ``self``)."""
        return tuple(name for name in self.links if name != "self")

    @property
    def completed(self) -> bool:
        """Whether the flow can be resumed for the authorization code."""
        return self.status == "COMPLETED"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, for session stores (it holds secrets: store it server-side)."""
        return {
            "id": self.id,
            "status": self.status,
            "links": dict(self.links),
            "resume_url": self.resume_url,
            "transaction": self.transaction.to_dict(),
            "raw": dict(self.raw),
            "cookies": dict(self.cookies),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PiFlow:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on anything malformed."""
        try:
            links, cookies, raw = data["links"], data.get("cookies") or {}, data.get("raw") or {}
            resume_url = data.get("resume_url")
            if not (
                isinstance(data["id"], str)
                and isinstance(data["status"], str)
                and isinstance(links, dict)
                and isinstance(cookies, dict)
                and isinstance(raw, dict)
                and (resume_url is None or isinstance(resume_url, str))
                and all(isinstance(v, str) for v in (*links, *links.values()))
                and all(isinstance(v, str) for v in (*cookies, *cookies.values()))
            ):
                raise TypeError("bad field types")
            return cls(
                id=data["id"],
                status=data["status"],
                links=dict(links),
                resume_url=resume_url,
                transaction=LoginTransaction.from_dict(data["transaction"]),
                raw=dict(raw),
                cookies=dict(cookies),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("not a pi.flow sign-on") from exc


def begin_pi_flow(rp: PiFlowParty, return_to: object = "/", **extra: Any) -> Flow[PiFlow]:
    """What ``rp.begin(response_mode="pi.flow")`` runs: see :meth:`PiFlowClient.begin_flow`."""
    return PiFlowClient(rp).begin_flow(return_to, **extra)


def _cookies(response: Response, previous: Mapping[str, str]) -> dict[str, str]:
    jar = dict(previous)
    header = response.headers.get("set-cookie")
    for cookie in _COOKIE_SPLIT.split(header) if header else ():
        match = _COOKIE_PAIR.match(cookie)
        if match:
            jar[match.group(1)] = match.group(2).strip()
    return jar


def _cookie_header(cookies: Mapping[str, str]) -> dict[str, str]:
    # Always explicit (rule 4): httpx only adds its jar's cookies when no Cookie header is set.
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


def _document(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(response: Response) -> LoginError:
    """Rule 5 for a 4xx answer of authorize, the flows API or resume."""
    document = _document(response)
    if not isinstance(document, dict):
        raise provider_error(response, "flows")
    if "error" in document and "code" not in document:  # an OAuth error from /authorize
        return LoginError(
            str(document.get("error")),
            str(document.get("error_description") or "PingOne refused the sign-in"),
            reason="provider_error",
        )
    details = []
    for item in document.get("details") or ():
        if isinstance(item, dict):
            details.append((str(item.get("code") or ""), str(item.get("target") or "")))
    return FlowError(
        response.status_code,
        str(document.get("code") or "REQUEST_FAILED"),
        str(document.get("message") or "PingOne refused the step"),
        details=tuple(details),
    )


def _escapes(segment: str) -> bool:
    """Whether a path segment is, or decodes (once or more) to, a dot segment, or hides a
    slash or backslash a server may decode (``..``, ``%2e%2E``, ``.%2e``, ``%2f``, ``%5c``,
    ``%252e``…)."""
    seen = segment
    for _ in range(len(segment)):
        if seen in (".", "..") or "/" in seen or "\\" in seen:
            return True
        decoded = unquote(seen)
        if decoded == seen:
            return False
        seen = decoded
    return False


def _callback_params(answer: Mapping[str, Any], issuer: str) -> dict[str, str]:
    """Rule 7: PingOne's ``authorizeResponse`` as the parameters of a redirect callback."""
    params = {"iss": issuer}
    for name in _CALLBACK_PARAMS:
        value = answer.get(name)
        if isinstance(value, str):
            params[name] = value
    return params


class PiFlowClient:
    """Drive redirectless sign-ons for a :class:`RelyingParty`.

    >>> flows = PiFlowClient(rp)                                     # doctest: +SKIP
    >>> flow = flows.begin(return_to="/orders")                      # doctest: +SKIP
    >>> flow.status, flow.actions                                    # doctest: +SKIP
    ('USERNAME_PASSWORD_REQUIRED', ('usernamePassword.check',))
    >>> flow = flows.check_password(flow, "ada", password)           # doctest: +SKIP
    >>> tokens = flows.complete(flow)                                # doctest: +SKIP

    :meth:`begin` is ``rp.begin(response_mode="pi.flow")``; :meth:`complete` is
    ``rp.complete(flows.resume(flow), flow.transaction)``. Other steps go through
    :meth:`submit` with their action name and JSON body; :meth:`change_password` answers
    ``MUST_CHANGE_PASSWORD`` (:data:`PASSWORD_RESET`). Each step has an ``a…`` async twin and a
    ``…_flow`` sans-I/O generator.
    """

    def __init__(self, rp: PiFlowParty) -> None:
        self.rp = rp
        self.pingone: PingOne = rp.pingone
        issuer = httpx.URL(self.pingone.issuer)
        self._origin = (issuer.scheme, issuer.host, issuer.port)
        base = self.pingone.issuer.rstrip("/")
        self._base = base[: -len("/as")] if base.endswith("/as") else base
        # The environment's own paths: auth.pingone.com hosts every customer's environment.
        self._base_path = urlsplit(self._base).path.rstrip("/") + "/"

    # -- flows -----------------------------------------------------------------------------

    def begin_flow(self, return_to: object = "/", **extra: Any) -> Flow[PiFlow]:
        """Start a redirectless sign-on: authorize with ``response_mode=pi.flow`` (rule 1).

        Takes :meth:`RelyingParty.begin_flow`'s arguments (``method="POST"`` posts the
        request's form to the authorization endpoint).
        """
        if extra.setdefault("response_mode", "pi.flow") != "pi.flow":
            raise ConfigError("response_mode", "a redirectless sign-on uses 'pi.flow'")
        start = yield from self.rp.begin_flow(return_to, **extra)
        headers = {"Accept": "application/json", **_cookie_header({})}
        if start.method == "POST":
            request = Request("POST", start.url, "authorize", headers=headers, form=start.form)
        else:
            request = Request("GET", start.url, "authorize", headers=headers)
        response = yield request
        return self._read(response, start.transaction, {})

    def submit_flow(self, flow: PiFlow, action: str, body: Mapping[str, Any]) -> Flow[PiFlow]:
        """POST one step (``action`` such as ``"usernamePassword.check"``) with a JSON body."""
        try:
            content_type = media_type(action)
        except ValueError:
            raise LoginError(
                "invalid_request", "Unknown flow action", reason="bad_action"
            ) from None
        url = self._checked_url(
            flow.links.get(action)
            or flow.links.get("self")
            or f"{self._base}/flows/{quote(flow.id, safe='')}"
        )
        headers = {
            "Content-Type": content_type,
            "Accept": "application/json",
            **_cookie_header(flow.cookies),
        }
        content = json.dumps(dict(body)).encode()
        response = yield Request("POST", url, "flows", headers=headers, content=content)
        return self._read(response, flow.transaction, flow.cookies)

    def check_password_flow(self, flow: PiFlow, username: str, password: str) -> Flow[PiFlow]:
        """The username/password step (rule 3): only when the flow offers it."""
        self._offered(flow, PASSWORD_CHECK, "The sign-on does not ask for a password now")
        body = {"username": username, "password": password}
        return (yield from self.submit_flow(flow, PASSWORD_CHECK, body))

    def change_password_flow(
        self, flow: PiFlow, current_password: str, new_password: str
    ) -> Flow[PiFlow]:
        """The ``MUST_CHANGE_PASSWORD`` step (rule 3): only when the flow offers it."""
        self._offered(flow, PASSWORD_RESET, "The sign-on does not ask for a new password now")
        body = {"currentPassword": current_password, "newPassword": new_password}
        return (yield from self.submit_flow(flow, PASSWORD_RESET, body))

    def resume_flow(self, flow: PiFlow) -> Flow[dict[str, str]]:
        """A ``COMPLETED`` flow's authorization answer as callback parameters (rule 7).

        The result (``code``, ``state``, ``iss``, or ``error``…) is what
        :meth:`RelyingParty.complete` takes with ``flow.transaction``.
        """
        if not flow.completed:
            raise FlowError(
                400, "FLOW_NOT_COMPLETED", "The sign-on is not finished", reason="not_completed"
            )
        embedded = flow.raw.get("authorizeResponse")
        if isinstance(embedded, dict):
            return _callback_params(embedded, self.pingone.issuer)
        url = self._checked_url(
            flow.resume_url or f"{self.pingone.issuer}/resume?flowId={quote(flow.id, safe='')}"
        )
        headers = {"Accept": "application/json", **_cookie_header(flow.cookies)}
        response = yield Request("GET", url, "resume", headers=headers)
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise _refusal(response)
        document = _document(response)
        answer = document.get("authorizeResponse") if isinstance(document, dict) else None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise provider_error(response, "resume")
        return _callback_params(answer, self.pingone.issuer)

    def complete_flow(self, flow: PiFlow, *, userinfo: bool = False) -> Flow[TokenSet]:
        """Resume ``flow``; exchange its code with every check of :meth:`RelyingParty.complete`."""
        params = yield from self.resume_flow(flow)
        return (yield from self.rp.complete_flow(params, flow.transaction, userinfo=userinfo))

    # -- sync and async shells -------------------------------------------------------------

    def begin(self, return_to: object = "/", **extra: Any) -> PiFlow:
        """Start a redirectless sign-on: see :meth:`begin_flow`."""
        return self.pingone.transport.run(self.begin_flow(return_to, **extra))

    async def abegin(self, return_to: object = "/", **extra: Any) -> PiFlow:
        """Async twin of :meth:`begin`."""
        return await self.pingone.transport.arun(self.begin_flow(return_to, **extra))

    def submit(self, flow: PiFlow, action: str, body: Mapping[str, Any]) -> PiFlow:
        """Submit a step: see :meth:`submit_flow`."""
        return self.pingone.transport.run(self.submit_flow(flow, action, body))

    async def asubmit(self, flow: PiFlow, action: str, body: Mapping[str, Any]) -> PiFlow:
        """Async twin of :meth:`submit`."""
        return await self.pingone.transport.arun(self.submit_flow(flow, action, body))

    def check_password(self, flow: PiFlow, username: str, password: str) -> PiFlow:
        """Check the user's password: see :meth:`check_password_flow`."""
        return self.pingone.transport.run(self.check_password_flow(flow, username, password))

    async def acheck_password(self, flow: PiFlow, username: str, password: str) -> PiFlow:
        """Async twin of :meth:`check_password`."""
        return await self.pingone.transport.arun(self.check_password_flow(flow, username, password))

    def change_password(self, flow: PiFlow, current_password: str, new_password: str) -> PiFlow:
        """Set a new password: see :meth:`change_password_flow`."""
        return self.pingone.transport.run(
            self.change_password_flow(flow, current_password, new_password)
        )

    async def achange_password(
        self, flow: PiFlow, current_password: str, new_password: str
    ) -> PiFlow:
        """Async twin of :meth:`change_password`."""
        return await self.pingone.transport.arun(
            self.change_password_flow(flow, current_password, new_password)
        )

    def resume(self, flow: PiFlow) -> dict[str, str]:
        """The callback parameters of a completed flow: see :meth:`resume_flow`."""
        return self.pingone.transport.run(self.resume_flow(flow))

    async def aresume(self, flow: PiFlow) -> dict[str, str]:
        """Async twin of :meth:`resume`."""
        return await self.pingone.transport.arun(self.resume_flow(flow))

    def complete(self, flow: PiFlow, **kwargs: Any) -> TokenSet:
        """Finish the sign-on: see :meth:`complete_flow`."""
        return self.pingone.transport.run(self.complete_flow(flow, **kwargs))

    async def acomplete(self, flow: PiFlow, **kwargs: Any) -> TokenSet:
        """Async twin of :meth:`complete`."""
        return await self.pingone.transport.arun(self.complete_flow(flow, **kwargs))

    # -- steps -----------------------------------------------------------------------------

    @staticmethod
    def _offered(flow: PiFlow, action: str, message: str) -> None:
        if action not in flow.links:
            raise FlowError(400, "ACTION_NOT_AVAILABLE", message, reason="action_not_available")

    def _checked(self, url: str | None) -> str | None:
        """:meth:`_checked_url`, and ``None`` when absent."""
        return None if url is None else self._checked_url(url)

    def _checked_url(self, url: str) -> str:
        """``url`` as httpx will send it, if that is on the issuer's origin and under its
        environment's path (rule 2)."""
        try:
            sent = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            sent = None
        if sent is None or not self._sends_within(url, sent):
            # Another host, another environment on PingOne's shared host (directly, through
            # dot segments or encoded slashes the server may resolve), user info (httpx would
            # send it as Basic auth) or characters parsers disagree on.
            raise LoginError(
                "invalid_flow",
                "PingOne named a URL outside its own environment",
                reason="foreign_href",
            )
        return str(sent)

    def _sends_within(self, url: str, sent: httpx.URL) -> bool:
        """Rule 2 on the URL as sent: origin, no user info, and a path that is the href's own
        (httpx removed no dot segment, re-encoded nothing) under the environment's path."""
        secure = sent.scheme == "https" or (
            sent.scheme == "http" and (is_loopback(sent.host) or self.pingone.allow_insecure_http)
        )
        written = urlsplit(url).path
        path = sent.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
        return (
            secure
            and (sent.scheme, sent.host, sent.port) == self._origin
            and not sent.userinfo
            and not any(char in url for char in " \t\r\n\\")
            and not any(_escapes(segment) for segment in written.split("/"))
            and path == written
            and path.startswith(self._base_path)
        )

    def _read(
        self, response: Response, transaction: LoginTransaction, cookies: Mapping[str, str]
    ) -> PiFlow:
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise _refusal(response)
        document = _document(response)
        if response.status_code != 200 or not isinstance(document, dict):
            raise provider_error(response, "flows")
        flow_id, status = document.get("id"), document.get("status")
        if not isinstance(flow_id, str) or not flow_id or not isinstance(status, str):
            raise ProviderUnavailable(
                "The authorization server answered a flow without id or status",
                reason="flows_malformed",
            )
        links: dict[str, str] = {}
        raw_links = document.get("_links")
        for name, link in raw_links.items() if isinstance(raw_links, dict) else ():
            href = link.get("href") if isinstance(link, dict) else None
            if isinstance(name, str) and isinstance(href, str):
                self._checked(href)
                links[name] = href
        resume_url = document.get("resumeUrl")
        return PiFlow(
            id=flow_id,
            status=status,
            links=links,
            resume_url=self._checked(resume_url) if isinstance(resume_url, str) else None,
            transaction=transaction,
            raw=document,
            cookies=_cookies(response, cookies),
        )
