"""The request pipeline shared by every bearer-token adapter (ASGI, WSGI, Flask…), no I/O:
:class:`BearerRules` reads a request's credentials (:mod:`p1guard._web.credentials`), skips
public paths (:mod:`p1guard._web.paths`), verifies the token with the Guard and stamps the
challenge; :func:`error_response` renders an :class:`~p1guard.errors.AuthError` as status,
headers and body (:class:`ErrorResponse`), :func:`stamp_challenge` adds the Guard's RFC 9728
URL to errors raised before it saw the request, and :func:`log_rejection` logs a refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar
from urllib.parse import urlsplit

from p1guard._requirements import Match, Requirements
from p1guard._sender.certificates import ClientCertificates
from p1guard._values import check_origin
from p1guard._web.credentials import (
    extract_bearer,
    extract_credentials,
    presentation_for,
    query_tokens,
)
from p1guard._web.paths import PathMatcher
from p1guard.errors import AuthError, ConfigError, MissingToken

if TYPE_CHECKING:
    from p1guard._guard import Guard
    from p1guard._sender.binding import Presentation, Scheme
    from p1guard._tokens.claims import ClaimRule
    from p1guard._tokens.tokens import AccessToken
    from p1guard._web.resource_metadata import ResourceMetadata

__all__ = [
    "BearerMiddleware",
    "BearerRules",
    "ErrorResponse",
    "error_response",
    "log_rejection",
    "stamp_challenge",
]


def _path_of(url: str) -> str:
    """The path of an absolute URL (what :attr:`BearerRules.public_url` is joined with)."""
    return urlsplit(url).path or "/"


class ErrorResponse(NamedTuple):
    """An :class:`AuthError` rendered for the wire: ``(status, headers, body)``."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        """WSGI's status string, e.g. ``"401 Unauthorized"``."""
        return f"{self.status} {HTTPStatus(self.status).phrase}"


def stamp_challenge(err: AuthError, guard: Guard) -> AuthError:
    """``err`` with ``guard.resource_metadata_url`` (RFC 9728 §5.1) unless it names one.

    For errors raised before the Guard saw the request (no token, a malformed header): the
    Guard stamps its own. Shown in 401 challenges only.

    >>> class G:
    ...     resource_metadata_url = "https://api.example.com/.well-known/oauth-protected-resource"
    >>> stamp_challenge(MissingToken(), G()).www_authenticate  # type: ignore[arg-type]
    'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"'
    """
    url = getattr(guard, "resource_metadata_url", None)
    if url is not None and err.resource_metadata is None:
        err.resource_metadata = url
    return err


def error_response(err: AuthError) -> ErrorResponse:
    """Render ``err`` as a JSON response with its challenge and ``Cache-Control: no-store``.

    >>> status, headers, body = error_response(MissingToken(realm="api"))
    >>> status, dict(headers)["WWW-Authenticate"], body[:24]
    (401, 'Bearer realm="api"', b'{"error":"unauthorized",')
    """
    body = err.json_bytes()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    headers.extend(err.headers.items())
    return ErrorResponse(err.status_code, headers, body)


class BearerRules:
    """The request pipeline every bearer-token adapter runs: read → verify → challenge.

    ``public_paths`` skip authentication (see :class:`PathMatcher`); ``required=False`` lets
    requests *without* bearer credentials through (a token that is sent must still be valid);
    ``requirements`` (:class:`~p1guard.Requirements`) is what every request must meet, or its
    keywords (``scopes``, ``match``…), not both. Bad values (and ``check_revocation=True`` on
    a Guard that cannot introspect) raise :class:`~p1guard.errors.ConfigError` here, at start.
    ``resource_metadata`` (RFC 9728) is served at its well-known path, without a token, and
    its URL added to 401 challenges (as is ``guard.resource_metadata_url`` otherwise).

    Adapters read the request in one place and hand what it showed to :meth:`authenticate`
    (or :meth:`aauthenticate`): every ``Authorization`` header value and the raw query string,
    and a per-route ``requirements`` override (e.g. FastAPI's ``SecurityScopes``). An adapter
    that verifies once per request and checks each view later uses :meth:`read`,
    :meth:`check` and :meth:`authorize`.

    >>> from p1guard._tokens.claims import Equals
    >>> rules = BearerRules(guard, acr_values="Multi_Factor", max_age=300,
    ...                     claims=[Equals("department", "finance")])  # doctest: +SKIP
    >>> token = rules.authenticate(["Bearer eyJ…"], b"")      # doctest: +SKIP
    """

    def __init__(
        self,
        guard: Guard,
        *,
        public_paths: Iterable[str] = (),
        required: bool = True,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        match: Match = "all",
        check_revocation: bool | None = None,
        allow_query_token: bool = False,
        resource_metadata: ResourceMetadata | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
        client_certificates: ClientCertificates | None = None,
        public_url: str | None = None,
    ) -> None:
        self.guard = guard
        if client_certificates is not None and not isinstance(
            client_certificates, ClientCertificates
        ):
            raise ConfigError(
                "client_certificates",
                "pass a p1guard._sender.certificates.ClientCertificates instance",
            )
        #: Where client certificates come from (RFC 8705); ``None``: certificate-bound tokens
        #: are refused, since no certificate can be shown.
        self.client_certificates = client_certificates
        #: The API's external origin (``https://api.example.com``) for DPoP ``htu`` checks
        #: behind a proxy; ``None``: the request's own scheme and ``Host``.
        self.public_url = None if public_url is None else check_origin("public_url", public_url)
        self._dpop = getattr(guard, "dpop", "disabled") != "disabled"
        loose = (scopes, match, check_revocation, acr_values, max_age, claims)
        #: What every request must meet (unless a call passes its own).
        self.requirements = requirements = Requirements.resolve(requirements, loose)
        if requirements.check_revocation and not getattr(guard, "can_introspect", True):
            raise ConfigError(
                "check_revocation", "needs a Guard with the custom resource's client_id/secret"
            )
        self.resource_metadata = resource_metadata
        self._metadata_body = b"" if resource_metadata is None else resource_metadata.json_bytes()
        self.resource_metadata_url: str | None = (
            getattr(guard, "resource_metadata_url", None)
            if resource_metadata is None
            else resource_metadata.metadata_url
        )
        self.public_paths = PathMatcher(public_paths)
        self.required = required
        self.allow_query_token = allow_query_token

    def is_public(self, path: str) -> bool:
        """Whether ``path`` skips authentication."""
        return bool(self.public_paths) and self.public_paths.matches(path)

    def raw_token(self, authorization: Sequence[str], query_string: str | bytes) -> str:
        """The request's one bearer token (see :func:`extract_bearer`)."""
        return extract_bearer(
            authorization,
            query_tokens=query_tokens(query_string),
            allow_query=self.allow_query_token,
            realm=self.guard.realm,
        )

    def credentials(
        self, authorization: Sequence[str], query_string: str | bytes
    ) -> tuple[Scheme, str]:
        """The request's scheme and token (see :func:`extract_credentials`); ``DPoP`` is
        accepted unless the Guard has ``dpop="disabled"``."""
        return extract_credentials(
            authorization,
            query_tokens=query_tokens(query_string),
            allow_query=self.allow_query_token,
            realm=self.guard.realm,
            dpop=self._dpop,
        )

    def presentation(
        self,
        scheme: Scheme,
        *,
        method: str,
        url: Callable[[], str],
        dpop_proofs: Sequence[str],
        client_cert: bytes | None,
    ) -> Presentation | None:
        """:func:`presentation_for`, with the URL's origin replaced by :attr:`public_url`
        when that is set (behind a proxy the app does not see the URL the client used)."""
        public = self.public_url
        if public is not None:
            own = url

            def url() -> str:
                target = own()
                # A URL without authority (the adapter refused the Host) stays unusable: its
                # path is lost, and "/" must not stand in for it.
                return public + _path_of(target) if urlsplit(target).netloc else target

        return presentation_for(
            scheme, method=method, url=url, dpop_proofs=dpop_proofs, client_cert=client_cert
        )

    def read(
        self,
        authorization: Sequence[str],
        query_string: str | bytes,
        *,
        method: str = "GET",
        url: Callable[[], str] = lambda: "",
        dpop_proofs: Sequence[str] = (),
        client_cert: bytes | None = None,
    ) -> tuple[Scheme, str, Presentation | None]:
        """Scheme, token and :meth:`presentation` of a request, from what it showed: every
        ``Authorization`` header value, the raw query string and, for sender-constrained
        tokens, its method, URL, ``DPoP`` header values and client certificate. Raises the
        :class:`AuthError` to send, its challenge stamped by the Guard."""
        scheme: Scheme | None = None
        try:
            scheme, raw = self.credentials(authorization, query_string)
        except AuthError as err:
            raise self.challenge(err, scheme) from None
        if scheme == "Bearer" and not dpop_proofs and client_cert is None:
            return scheme, raw, None  # = presentation_for's plain case, the hot path
        shown = self.presentation(
            scheme, method=method, url=url, dpop_proofs=dpop_proofs, client_cert=client_cert
        )
        return scheme, raw, shown

    def authenticate(
        self,
        authorization: Sequence[str],
        query_string: str | bytes,
        *,
        method: str = "GET",
        url: Callable[[], str] = lambda: "",
        dpop_proofs: Sequence[str] = (),
        client_cert: bytes | None = None,
        requirements: Requirements | None = None,
    ) -> AccessToken:
        """The request's verified token (arguments as :meth:`read`; ``requirements``: this
        route's, instead of :attr:`requirements`); raises the :class:`AuthError` to send, its
        challenge stamped by the Guard."""
        scheme, raw, shown = self.read(
            authorization,
            query_string,
            method=method,
            url=url,
            dpop_proofs=dpop_proofs,
            client_cert=client_cert,
        )
        return self.check(raw, shown, scheme, requirements)

    async def aauthenticate(
        self,
        authorization: Sequence[str],
        query_string: str | bytes,
        *,
        method: str = "GET",
        url: Callable[[], str] = lambda: "",
        dpop_proofs: Sequence[str] = (),
        client_cert: bytes | None = None,
        requirements: Requirements | None = None,
    ) -> AccessToken:
        """Async twin of :meth:`authenticate`."""
        scheme, raw, shown = self.read(
            authorization,
            query_string,
            method=method,
            url=url,
            dpop_proofs=dpop_proofs,
            client_cert=client_cert,
        )
        return await self.acheck(raw, shown, scheme, requirements)

    def check(
        self,
        raw: str,
        presentation: Presentation | None,
        scheme: Scheme | None,
        requirements: Requirements | None = None,
    ) -> AccessToken:
        """``guard.verify`` with ``requirements`` (default: this middleware's), its refusal
        stamped with :meth:`challenge`."""
        try:
            needs = requirements or self.requirements
            return self.guard.verify(raw, needs, presentation=presentation)
        except AuthError as err:
            raise self.challenge(err, scheme) from None

    async def acheck(
        self,
        raw: str,
        presentation: Presentation | None,
        scheme: Scheme | None,
        requirements: Requirements | None = None,
    ) -> AccessToken:
        """Async twin of :meth:`check`."""
        try:
            needs = requirements or self.requirements
            return await self.guard.averify(raw, needs, presentation=presentation)
        except AuthError as err:
            raise self.challenge(err, scheme) from None

    def authorize(
        self, token: AccessToken, requirements: Requirements, scheme: Scheme | None = None
    ) -> AccessToken:
        """``requirements`` checked on an already verified ``token`` (for adapters that verify
        once per request, then check each view); raises the :class:`AuthError` to send."""
        try:
            return requirements.authorize(token, leeway=self.guard.policy.leeway)
        except AuthError as err:
            raise self.challenge(err, scheme) from None

    def metadata_response(self, path: str, method: str) -> ErrorResponse | None:
        """The RFC 9728 document's response if ``path`` is its well-known path, else ``None``.

        ``GET``/``HEAD`` get 200 JSON with ``Cache-Control: max-age=3600``; other methods 405.
        """
        metadata = self.resource_metadata
        if metadata is None or path != metadata.well_known_path:
            return None
        if method not in ("GET", "HEAD"):
            return ErrorResponse(405, [("Allow", "GET, HEAD"), ("Content-Length", "0")], b"")
        body = self._metadata_body
        headers = metadata.response_headers(body)
        return ErrorResponse(200, headers, b"" if method == "HEAD" else body)

    def challenge(self, err: AuthError, scheme: Scheme | None = None) -> AuthError:
        """Stamp this middleware's RFC 9728 metadata URL (shown in 401 challenges only), then
        the Guard's challenge rules (realm, DPoP scheme and ``algs``) on ``err``. ``scheme``:
        the ``Authorization`` scheme the request used, if it got that far. Idempotent."""
        if self.resource_metadata_url is not None and err.resource_metadata is None:
            err.resource_metadata = self.resource_metadata_url
        return self.guard.challenge(err, scheme)

    def tolerates(self, err: AuthError) -> bool:
        """Whether the request may go on without a token (``required=False``, none sent)."""
        return not self.required and isinstance(err, MissingToken)


App = TypeVar("App")


class BearerMiddleware(Generic[App]):
    """What the ASGI and WSGI middlewares share: the wrapped app and their
    :class:`BearerRules`, built from the same keyword arguments (documented on
    :class:`p1guard.asgi.BearerTokenMiddleware`), and whether the Guard sends DPoP nonces.
    ``requirements`` (a :class:`~p1guard.Requirements`) may replace ``scopes``/``match``/
    ``check_revocation``/``acr_values``/``max_age``/``claims``."""

    def __init__(
        self,
        app: App,
        *,
        guard: Guard,
        public_paths: Iterable[str] = (),
        required: bool = True,
        requirements: Requirements | None = None,
        scopes: Iterable[str] | None = None,
        match: Match = "all",
        check_revocation: bool | None = None,
        allow_query_token: bool = False,
        resource_metadata: ResourceMetadata | None = None,
        acr_values: str | Iterable[str] | None = None,
        max_age: int | None = None,
        claims: Iterable[ClaimRule] | None = None,
        client_certificates: ClientCertificates | None = None,
        public_url: str | None = None,
    ) -> None:
        self.app = app
        self.rules = BearerRules(
            guard,
            public_paths=public_paths,
            required=required,
            requirements=requirements,
            scopes=scopes,
            match=match,
            check_revocation=check_revocation,
            allow_query_token=allow_query_token,
            resource_metadata=resource_metadata,
            acr_values=acr_values,
            max_age=max_age,
            claims=claims,
            client_certificates=client_certificates,
            public_url=public_url,
        )
        self._nonces = getattr(guard, "dpop_nonces", None) is not None


def log_rejection(logger: logging.Logger, err: AuthError, method: str, path: str) -> None:
    """Log a refused request: reason and place, never the token (503s at WARNING)."""
    level = logging.WARNING if err.status_code >= 500 else logging.DEBUG
    if logger.isEnabledFor(level):
        # %r: a path with a newline must not forge a second log line
        logger.log(level, "rejected %s %r: %s (%d)", method, path, err.reason, err.status_code)
