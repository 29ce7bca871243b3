"""Framework-free request plumbing shared by every bearer-token adapter (ASGI, WSGI, Flask…).

Pure functions, no I/O: :func:`extract_bearer` finds the one access token a request carries,
:class:`PathMatcher` decides which paths skip authentication (its entries parsed by
:func:`parse_path_entry`), and :func:`error_response`
renders an :class:`~p1guard.errors.AuthError` as status, headers and body.

Rules of :func:`extract_bearer` (RFC 6750 §2, RFC 9110 §11):

1. No ``Authorization`` header, an empty one, or one with another scheme (``Basic …``)
   → :class:`MissingToken`: the client sent no bearer credentials (RFC 6750 §3.1).
2. More than one ``Authorization`` header, or one value holding several credentials
   joined by commas (how WSGI servers merge duplicates) → :class:`InvalidRequest`.
3. ``Bearer`` is matched case-insensitively and followed by one run of spaces and exactly one
   ``b64token`` (``[A-Za-z0-9-._~+/]+=*``); anything else (tabs, two tokens, non-ASCII, an
   empty token) → :class:`InvalidRequest`.
4. An ``access_token`` query parameter → :class:`InvalidRequest` unless ``allow_query=True``
   (tokens in URLs end up in logs and ``Referer`` headers). Even then a request must use one
   method only: a header *and* a query token, or two query tokens → :class:`InvalidRequest`.
   Form-encoded body tokens (RFC 6750 §2.2) are not supported.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from p1guard._requirements import step_up_options
from p1guard._sender.binding import Presentation, Scheme
from p1guard._tokens.claims import ClaimRule, check_rules
from p1guard.errors import AuthError, ConfigError, InvalidRequest, MissingToken

if TYPE_CHECKING:
    from p1guard._guard import Guard
    from p1guard._sender.certificates import ClientCertificates
    from p1guard._tokens.tokens import AccessToken
    from p1guard._web.resource_metadata import ResourceMetadata

__all__ = [
    "BearerRules",
    "ErrorResponse",
    "PathMatcher",
    "error_response",
    "extract_bearer",
    "extract_credentials",
    "is_host",
    "log_rejection",
    "parse_path_entry",
    "presentation_for",
    "query_tokens",
    "split_proofs",
    "stamp_challenge",
]

# RFC 6750 §2.1 b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# RFC 9110 §5.6.2 token: what an auth-scheme name may contain.
_SCHEME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ONE_HEADER = "Send exactly one Authorization header with one Bearer token"
_MALFORMED = "The Authorization header must be 'Bearer' followed by one access token"


def _is_b64token(token: str) -> bool:
    # bytes.translate is ~2x faster than an equivalent regex on 1-2 KB JWTs (hot path).
    body = token.rstrip("=")
    if not body or not body.isascii():
        return False
    return not body.encode("ascii").translate(None, _B64TOKEN_CHARS)


def _looks_like_bearer(part: str) -> bool:
    head = part.lstrip(" \t")[:7].lower()
    return head == "bearer " or head[:5] == "dpop "


def extract_credentials(
    authorization: Sequence[str],
    *,
    query_tokens: Sequence[str] = (),
    allow_query: bool = False,
    realm: str | None = None,
    dpop: bool = True,
) -> tuple[Scheme, str]:
    """The request's one access token and the scheme it came with: ``Bearer`` or, when
    ``dpop`` is true, ``DPoP`` (RFC 9449 §7.1, same ``token68`` syntax). Rules as
    :func:`extract_bearer`; a DPoP token travels only in the ``Authorization`` header.

    >>> extract_credentials(["DPoP eyJhbGciOi.eyJzdWIi.c2ln"])
    ('DPoP', 'eyJhbGciOi.eyJzdWIi.c2ln')
    >>> extract_credentials(["DPoP eyJhbGciOi.eyJzdWIi.c2ln"], dpop=False)
    Traceback (most recent call last):
    p1guard.errors.MissingToken: An access token is required
    """
    if dpop and len(authorization) == 1 and not query_tokens:
        value = authorization[0].strip(" \t")
        if value[:5].lower() == "dpop ":
            return "DPoP", extract_bearer(["Bearer " + value[5:]], realm=realm)
    token = extract_bearer(
        authorization, query_tokens=query_tokens, allow_query=allow_query, realm=realm
    )
    return "Bearer", token


def extract_bearer(
    authorization: Sequence[str],
    *,
    query_tokens: Sequence[str] = (),
    allow_query: bool = False,
    realm: str | None = None,
) -> str:
    """Return the one bearer token of a request, or raise the :class:`AuthError` to send.

    ``authorization`` holds *every* ``Authorization`` header value of the request, in order;
    ``query_tokens`` every ``access_token`` query parameter (see :func:`query_tokens`).
    ``realm`` is copied into the raised errors' challenges. The token is only checked for
    syntax here; :meth:`Guard.verify <p1guard.Guard.verify>` does the rest.

    >>> extract_bearer(["bearer  eyJhbGciOi.eyJzdWIi.c2ln"])
    'eyJhbGciOi.eyJzdWIi.c2ln'
    >>> extract_bearer(["Basic dTpw"])
    Traceback (most recent call last):
    p1guard.errors.MissingToken: An access token is required
    """
    if query_tokens:
        return _from_query(authorization, query_tokens, allow_query, realm)
    if not authorization:
        raise MissingToken(realm=realm)
    if len(authorization) > 1:
        raise InvalidRequest(_ONE_HEADER, reason="duplicate_authorization", realm=realm)
    value = authorization[0].strip(" \t")
    space = value.find(" ")
    scheme = value if space < 0 else value[:space]
    if scheme.lower() != "bearer":
        if not value:
            raise MissingToken(realm=realm)
        if "," in value and any(_looks_like_bearer(p) for p in value.split(",")):
            raise InvalidRequest(_ONE_HEADER, reason="duplicate_authorization", realm=realm)
        if _SCHEME.fullmatch(scheme) is None:
            raise InvalidRequest(_MALFORMED, reason="malformed_authorization", realm=realm)
        raise MissingToken(realm=realm)
    token = value[space + 1 :] if space > 0 else ""
    if token[:1] == " ":
        token = token.lstrip(" ")
    if not _is_b64token(token):
        if "," in token:
            raise InvalidRequest(_ONE_HEADER, reason="duplicate_authorization", realm=realm)
        raise InvalidRequest(_MALFORMED, reason="malformed_authorization", realm=realm)
    return token


def _from_query(
    authorization: Sequence[str], tokens: Sequence[str], allow: bool, realm: str | None
) -> str:
    if not allow:
        raise InvalidRequest(
            "Send the access token in the Authorization header, not in the URL",
            reason="token_in_query",
            realm=realm,
        )
    # RFC 6750 §2: clients MUST NOT use more than one method to transmit the token.
    if authorization or len(tokens) > 1:
        raise InvalidRequest(
            "Send the access token once, by one method", reason="duplicate_token", realm=realm
        )
    if not _is_b64token(tokens[0]):
        raise InvalidRequest(
            "The access_token parameter is malformed", reason="malformed_query_token", realm=realm
        )
    return tokens[0]


def query_tokens(query_string: str | bytes) -> list[str]:
    """Every ``access_token`` parameter of a raw (still percent-encoded) query string.

    Cheap when the parameter is absent; decodes ``%XX`` so ``access%5Ftoken`` is found too.

    >>> query_tokens(b"page=2&access_token=abc")
    ['abc']
    """
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    if "access" not in query_string and "%" not in query_string:
        return []
    pairs = parse_qsl(query_string, keep_blank_values=True, encoding="latin-1")
    return [value for name, value in pairs if name == "access_token"]


# RFC 9110 §7.2 Host = uri-host [ ":" port ]: a reg-name, IPv4 or [IPv6], nothing else.
_HOST = re.compile(
    r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*"
    r"\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def is_host(value: str) -> bool:
    """Whether ``value`` is a plain ``Host`` header value (name, IPv4 or ``[IPv6]``, optional
    port). Adapters rebuilding a request URL refuse anything else: ``Host: api/admin?`` would
    otherwise move a DPoP ``htu`` check to another path.

    >>> is_host("api.example.com:8443"), is_host("[::1]"), is_host("api.example.com/admin?")
    (True, True, False)
    """
    return _HOST.fullmatch(value) is not None


def split_proofs(values: Iterable[str]) -> tuple[str, ...]:
    """Every ``DPoP`` header value of a request, split at commas and stripped: servers join
    repeated headers with commas, and a proof (a JWS) never contains one, so ``"a, b"`` is two
    proofs — which the Guard refuses.

    >>> split_proofs(["eyJ.a.b", "eyJ.c.d, eyJ.e.f"])
    ('eyJ.a.b', 'eyJ.c.d', 'eyJ.e.f')
    """
    return tuple(part.strip(" \t") for value in values for part in value.split(","))


def presentation_for(
    scheme: Scheme,
    *,
    method: str,
    url: Callable[[], str],
    dpop_proofs: Sequence[str],
    client_cert: bytes | None,
) -> Presentation | None:
    """What the Guard needs to check a sender-constrained token, or ``None`` when the request
    showed nothing of the kind (a plain bearer request: the common, cheap case).

    ``url`` is called only when needed: it returns the request URL as the client sent it.
    ``dpop_proofs`` are from :func:`split_proofs`; ``client_cert`` the DER from
    :class:`~p1guard.ClientCertificates`.

    >>> presentation_for("Bearer", method="GET", url=lambda: "", dpop_proofs=(), client_cert=None)
    >>> presentation_for("DPoP", method="GET", url=lambda: "https://api.example.com/a",
    ...                  dpop_proofs=("eyJ.a.b",), client_cert=None)
    Presentation(scheme='DPoP', method='GET', url='https://api.example.com/a')
    """
    if scheme == "Bearer" and not dpop_proofs and client_cert is None:
        return None
    return Presentation(scheme, method, url(), tuple(dpop_proofs), client_cert)


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) origin, else :class:`ConfigError`.

    A mount prefix comes from the server (ASGI ``root_path``, WSGI ``SCRIPT_NAME``), not from
    here: dropping one silently would check proofs against the wrong path.
    """
    parts = urlsplit(url) if isinstance(url, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ConfigError(
            "public_url", f"expected an origin like 'https://api.example.com', got {url!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _path_of(url: str) -> str:
    """The path of an absolute URL (what :attr:`BearerRules.public_url` is joined with)."""
    return urlsplit(url).path or "/"


def _is_plain(path: str) -> bool:
    """Whether ``path`` is free of tricks another layer might resolve differently."""
    if not path.startswith("/") or "//" in path or not path.isprintable():
        return False
    if "\\" in path or ";" in path or "%" in path:
        return False
    return "/." not in path or not any(seg in (".", "..") for seg in path.split("/"))


def parse_path_entry(
    entry: object, *, field: str = "public_paths", slash_is_prefix: bool = False
) -> tuple[str, bool]:
    """One path-list entry as ``(base, is_prefix)``, or :class:`~p1guard.errors.ConfigError`
    naming ``field``; shared by :class:`PathMatcher` and adapters' own path lists.

    ``"/health"`` is exact; ``"/docs/*"`` a prefix (``"/*"``: every path, base ``""``). With
    ``slash_is_prefix`` a trailing ``/`` marks a prefix too (``"/api/"``, ``"/"``), and a base
    ending in ``/`` (``"//"``, ``"/api//*"``) is refused. The base must be a plain absolute
    path: no other ``*``, ``?``, ``#``, ``//``, ``\\``, ``;``, ``%``, dot segments or
    control characters. Only parsing: each caller keeps its own matching rule.

    >>> parse_path_entry("/docs/*"), parse_path_entry("/api/", slash_is_prefix=True)
    (('/docs', True), ('/api', True))
    >>> parse_path_entry("/docs/../admin")
    Traceback (most recent call last):
    p1guard.errors.ConfigError: public_paths: '/docs/../admin' is not a plain absolute path like '/health' or '/static/*'
    """  # noqa: E501
    if not isinstance(entry, str):
        base, is_prefix = "", False
    elif entry.endswith("/*"):
        base, is_prefix = entry[:-2], True
    elif slash_is_prefix and entry.endswith("/"):
        base, is_prefix = entry[:-1], True
    else:
        base, is_prefix = entry, False
    if not (is_prefix and base == "") and (
        "*" in base
        or "?" in base
        or "#" in base
        or not _is_plain(base)
        or (slash_is_prefix and base.endswith("/"))
    ):
        examples = (
            "'/health', '/static/*' or '/static/'"
            if slash_is_prefix
            else ("'/health' or '/static/*'")
        )
        raise ConfigError(field, f"{entry!r} is not a plain absolute path like {examples}")
    return base, is_prefix


class PathMatcher:
    """Which request paths are public (served without a token).

    The rule, case-sensitive and without any normalisation:

    * ``"/health"`` matches exactly ``/health`` — not ``/health/``, ``//health``, ``/HEALTH``.
    * ``"/docs/*"`` matches ``/docs``, ``/docs/`` and everything under it — not ``/docsx``.
    * A path that would reach a public prefix only after some layer normalised it is *not*
      public: dot segments (``/docs/../admin``), empty segments (``/docs//x``), backslashes,
      ``;``, ``%`` (double encoding) or control characters. It then needs a token as usual.

    Entries must start with ``/``; ``*`` is allowed only as a final ``/*``. Anything else
    raises :class:`~p1guard.errors.ConfigError`.

    >>> public = PathMatcher(["/health", "/docs/*"])
    >>> [public.matches(p) for p in ("/health", "/docs/api.json", "/docs/../admin", "/docsx")]
    [True, True, False, False]
    """

    __slots__ = ("_entries", "_exact", "_prefixes")

    def __init__(self, public_paths: Iterable[str]) -> None:
        if isinstance(public_paths, str):
            raise ConfigError("public_paths", "expected a list of paths, got a single string")
        self._entries = tuple(public_paths)
        exact: set[str] = set()
        prefixes: set[str] = set()
        for entry in self._entries:
            base, is_prefix = parse_path_entry(entry)
            if is_prefix:
                exact.add(base or "/")
                prefixes.add(base + "/")
            else:
                exact.add(base)
        self._exact = frozenset(exact)
        self._prefixes = tuple(sorted(prefixes))

    def matches(self, path: str) -> bool:
        """Whether ``path`` (the decoded request path, no query string) is public."""
        if path in self._exact:
            return True
        return bool(self._prefixes) and path.startswith(self._prefixes) and _is_plain(path)

    __contains__ = matches

    def __bool__(self) -> bool:
        return bool(self._exact)

    def __repr__(self) -> str:
        return f"PathMatcher({list(self._entries)!r})"


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
    """What a bearer-token middleware enforces, shared by the ASGI and WSGI ones.

    ``public_paths`` skip authentication (see :class:`PathMatcher`); ``required=False`` lets
    requests *without* bearer credentials through (a token that is sent must still be valid);
    ``scopes``/``match``/``check_revocation`` are passed to :meth:`Guard.verify`, and so are
    ``acr_values``/``max_age`` (step-up, RFC 9470: a weaker or older sign-in gets a 401
    ``insufficient_user_authentication`` challenge naming them) and ``claims``
    (:mod:`p1guard._tokens.claims` rules, 403 naming the first that fails). Bad values raise
    :class:`~p1guard.errors.ConfigError` here, when the app starts, not on each request.
    ``resource_metadata`` (RFC 9728) is served at its well-known path, without a token, and
    its URL added to 401 challenges (as is ``guard.resource_metadata_url`` otherwise).

    Adapters read the request in one place and hand what it showed to :meth:`authenticate`
    (or :meth:`aauthenticate`): every ``Authorization`` header value and the raw query string.

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
        scopes: Iterable[str] | None = None,
        match: Literal["all", "any"] = "all",
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
        #: Where client certificates come from (RFC 8705); ``None``: certificate-bound tokens
        #: are refused, since no certificate can be shown.
        self.client_certificates = client_certificates
        #: The API's external origin (``https://api.example.com``) for DPoP ``htu`` checks
        #: behind a proxy; ``None``: the request's own scheme and ``Host``.
        self.public_url = None if public_url is None else _origin(public_url)
        self._dpop = getattr(guard, "dpop", "disabled") != "disabled"
        # Validated now, so a bad value fails at startup (ConfigError naming the option).
        self.acr_values, self.max_age = step_up_options(acr_values, max_age)
        self.claims: tuple[ClaimRule, ...] = check_rules(claims)
        self.resource_metadata = resource_metadata
        self._metadata_body = b"" if resource_metadata is None else resource_metadata.json_bytes()
        self.resource_metadata_url: str | None = (
            getattr(guard, "resource_metadata_url", None)
            if resource_metadata is None
            else resource_metadata.metadata_url
        )
        self.public_paths = PathMatcher(public_paths)
        self.required = required
        self.scopes = None if scopes is None else tuple(scopes)
        self.match: Literal["all", "any"] = match
        self.check_revocation = check_revocation
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
    ) -> AccessToken:
        """The request's verified token (arguments as :meth:`read`); raises the
        :class:`AuthError` to send, its challenge stamped by the Guard."""
        scheme, raw, shown = self.read(
            authorization,
            query_string,
            method=method,
            url=url,
            dpop_proofs=dpop_proofs,
            client_cert=client_cert,
        )
        try:
            return self.verify(raw, shown)
        except AuthError as err:
            raise self.challenge(err, scheme) from None

    async def aauthenticate(
        self,
        authorization: Sequence[str],
        query_string: str | bytes,
        *,
        method: str = "GET",
        url: Callable[[], str] = lambda: "",
        dpop_proofs: Sequence[str] = (),
        client_cert: bytes | None = None,
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
        try:
            return await self.averify(raw, shown)
        except AuthError as err:
            raise self.challenge(err, scheme) from None

    def verify(self, raw: str, presentation: Presentation | None = None) -> AccessToken:
        """``guard.verify`` with this middleware's scopes, step-up and claim rules."""
        return self.guard.verify(
            raw,
            scopes=self.scopes,
            match=self.match,
            check_revocation=self.check_revocation,
            acr_values=self.acr_values,
            max_age=self.max_age,
            claims=self.claims,
            presentation=presentation,
        )

    async def averify(self, raw: str, presentation: Presentation | None = None) -> AccessToken:
        """Async twin of :meth:`verify`."""
        return await self.guard.averify(
            raw,
            scopes=self.scopes,
            match=self.match,
            check_revocation=self.check_revocation,
            acr_values=self.acr_values,
            max_age=self.max_age,
            claims=self.claims,
            presentation=presentation,
        )

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


def log_rejection(logger: logging.Logger, err: AuthError, method: str, path: str) -> None:
    """Log a refused request: reason and place, never the token (503s at WARNING)."""
    level = logging.WARNING if err.status_code >= 500 else logging.DEBUG
    if logger.isEnabledFor(level):
        # %r: a path with a newline must not forge a second log line
        logger.log(level, "rejected %s %r: %s (%d)", method, path, err.reason, err.status_code)
