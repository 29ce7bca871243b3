"""DPoP on the client side: nonce memory, proof-carrying requests and an ``httpx.Auth``.

:class:`DPoPAuth` calls DPoP-protected APIs with a bound access token:

>>> import httpx
>>> from p1guard._client.dpop_key import DPoPKey
>>> auth = DPoPAuth(DPoPKey.generate(), "an-access-token")
>>> request = httpx.Request("GET", "https://api.example.com/orders?page=2")
>>> signed = next(auth.sync_auth_flow(request))
>>> signed.headers["Authorization"], signed.headers["DPoP"].count(".")
('DPoP an-access-token', 2)

:func:`dpop_flow` is the same behaviour for p1guard's own sans-I/O flows (token requests of
:class:`~p1guard.rp.RelyingParty` and :func:`~p1guard.client_credentials_flow`,
userinfo): it adds a fresh proof to a :class:`~p1guard._http.transport.Request` and handles the
nonce.

Rules:

1. Every request gets a fresh proof (new ``jti``, ``iat`` now) for its method and URL; with an
   access token also ``Authorization: DPoP <token>`` and the proof's ``ath``.
2. A ``DPoP-Nonce`` header on any answer is remembered for its origin (scheme, host, port) and
   sent in the next proofs to that origin (RFC 9449 §8). Values that are not RFC 9449 ``NQCHAR``
   strings of sane length are ignored.
3. A nonce challenge — 400 ``{"error": "use_dpop_nonce"}`` from an authorization server, 401
   with ``WWW-Authenticate: DPoP error="use_dpop_nonce"`` from a resource server, each with a
   ``DPoP-Nonce`` header — is retried exactly once with a new proof carrying that nonce. The
   second answer is returned whatever it is.
4. Nonce memory is thread-safe and bounded; it never holds tokens or proofs.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Mapping
from urllib.parse import urlsplit

import httpx

from p1guard._client.dpop_key import DPoPKey
from p1guard._http.flow import Flow, Request, Response
from p1guard.errors import ConfigError

__all__ = ["DPoPAuth", "NonceMemory", "dpop_flow", "is_nonce_challenge"]

_NONCE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,1024}")
_DPOP_SCHEME = re.compile(r"(?:^|[\s,])dpop(?:\s|$)", re.IGNORECASE)
_USE_NONCE = re.compile(r"""error\s*=\s*"?use_dpop_nonce"?""", re.IGNORECASE)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower(), 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


class NonceMemory:
    """The last ``DPoP-Nonce`` of each server origin (rule 2), safe to share between threads.

    >>> nonces = NonceMemory()
    >>> nonces.learn("https://auth.pingone.com/env/as/token", "n-1")
    >>> nonces.get("https://auth.pingone.com/env/as/userinfo")
    'n-1'
    >>> nonces.get("https://api.example.com/orders") is None
    True
    """

    def __init__(self, *, max_origins: int = 256) -> None:
        self._lock = threading.Lock()
        self._nonces: OrderedDict[str, str] = OrderedDict()
        self._max = max_origins

    def get(self, url: str) -> str | None:
        """The nonce to put in a proof for ``url``, if its origin sent one."""
        with self._lock:
            return self._nonces.get(_origin(url))

    def learn(self, url: str, nonce: str | None) -> None:
        """Remember ``nonce`` (a ``DPoP-Nonce`` header value) for ``url``'s origin."""
        if nonce is None or not _NONCE.fullmatch(nonce):
            return
        origin = _origin(url)
        with self._lock:
            self._nonces[origin] = nonce
            self._nonces.move_to_end(origin)
            while len(self._nonces) > self._max:
                self._nonces.popitem(last=False)

    def __repr__(self) -> str:
        with self._lock:
            return f"NonceMemory(origins={len(self._nonces)})"


def is_nonce_challenge(
    status_code: int, headers: Mapping[str, str], error: str | None = None
) -> bool:
    """Whether an answer asks for a (new) nonce (rule 3).

    ``headers`` maps lower-case names (or is case-insensitive, like httpx's); ``error`` is the
    OAuth ``error`` of a JSON body, when the caller read one.

    >>> is_nonce_challenge(401, {"www-authenticate": 'DPoP error="use_dpop_nonce"',
    ...                          "dpop-nonce": "n-2"})
    True
    >>> is_nonce_challenge(400, {"dpop-nonce": "n-2"}, "invalid_grant")
    False
    """
    if headers.get("dpop-nonce") is None:
        return False
    if status_code == 400:
        return error == "use_dpop_nonce"
    if status_code == 401:
        challenge = headers.get("www-authenticate") or ""
        return bool(_DPOP_SCHEME.search(challenge) and _USE_NONCE.search(challenge))
    return False


def _oauth_error(response: Response) -> str | None:
    if response.status_code != 400:
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, str) else None


def _signed(
    request: Request, key: DPoPKey, nonces: NonceMemory, access_token: str | None
) -> Request:
    proof = key.proof(
        request.method, request.url, access_token=access_token, nonce=nonces.get(request.url)
    )
    headers = {**request.headers, "DPoP": proof}
    if access_token is not None:
        headers["Authorization"] = f"DPoP {access_token}"
    return dataclasses.replace(request, headers=headers, decided_at=time.monotonic())


def dpop_flow(
    request: Request,
    key: DPoPKey,
    nonces: NonceMemory,
    *,
    access_token: str | None = None,
) -> Flow[Response]:
    """Send ``request`` with a fresh proof of ``key``; follow one nonce challenge (rules 1–3).

    ``access_token`` presents a DPoP-bound token (``Authorization: DPoP`` and ``ath``); without
    it the request is a token request. Returns the final :class:`~p1guard._http.transport.Response`.
    """
    response: Response = yield _signed(request, key, nonces, access_token)
    nonces.learn(request.url, response.headers.get("dpop-nonce"))
    if is_nonce_challenge(response.status_code, response.headers, _oauth_error(response)):
        response = yield _signed(request, key, nonces, access_token)
        nonces.learn(request.url, response.headers.get("dpop-nonce"))
    return response


class DPoPAuth(httpx.Auth):
    """``httpx`` authentication with a DPoP-bound access token (RFC 9449 §7).

    ``httpx.Client(auth=DPoPAuth(key, tokens.access_token))`` (or ``httpx.AsyncClient``) sends
    ``Authorization: DPoP <token>`` and a fresh proof of ``key`` with every request, follows
    one ``use_dpop_nonce`` challenge and remembers each server's latest ``DPoP-Nonce``.
    Assign :attr:`access_token` after a refresh. One instance may serve many threads and
    tasks; pass the same ``nonces`` to several instances to share what they learned.
    """

    requires_request_body = True  # a nonce retry resends the body

    def __init__(
        self, key: DPoPKey, access_token: str, *, nonces: NonceMemory | None = None
    ) -> None:
        if not isinstance(key, DPoPKey):
            raise ConfigError("key", "pass a p1guard._client.dpop_key.DPoPKey")
        if not isinstance(access_token, str) or not access_token:
            raise ConfigError("access_token", "pass the DPoP-bound access token")
        self.key = key
        #: The token sent; replace it after a refresh.
        self.access_token = access_token
        self.nonces = NonceMemory() if nonces is None else nonces

    def _sign(self, request: httpx.Request) -> None:
        url = str(request.url)
        token = self.access_token
        request.headers["Authorization"] = f"DPoP {token}"
        request.headers["DPoP"] = self.key.proof(
            request.method, url, access_token=token, nonce=self.nonces.get(url)
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign, send, and retry once on a nonce challenge (rules 1–3).

        httpx runs it for sync and async clients alike (signing does no I/O).
        """
        url = str(request.url)
        self._sign(request)
        response = yield request
        # With follow_redirects, ``response`` may come from another origin: its nonce belongs
        # to that origin, and its challenge must not spend our one retry.
        answered = str(response.request.url)
        self.nonces.learn(answered, response.headers.get("dpop-nonce"))
        if _origin(answered) == _origin(url) and is_nonce_challenge(
            response.status_code, response.headers
        ):
            self._sign(request)
            response = yield request
            self.nonces.learn(str(response.request.url), response.headers.get("dpop-nonce"))

    def __repr__(self) -> str:
        return f"DPoPAuth(key={self.key!r})"
