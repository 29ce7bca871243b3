"""MockPingOne: a real PingOne-like authorization server on 127.0.0.1, for tests and demos.

It listens on a real socket, signs real JWTs with real keys and answers discovery, JWKS,
token (client credentials, authorization code with PKCE, refresh, each optionally DPoP-bound),
introspection, revocation, PAR, authorize, userinfo and signoff requests the way PingOne does.
Sign-in needs no form: the test user is signed in by ``/authorize`` itself. Fault switches make
it slow, down, rate limited or wrong on demand; tamper hooks make its login answers lie for
attack tests.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from werkzeug.serving import BaseWSGIServer, make_server

from p1guard.testing._app import MockApp, RequestHandler
from p1guard.testing._clients import ClientRegistry, RegisteredClient, default_client
from p1guard.testing._dpop import DPoPControls, DPoPState
from p1guard.testing._faults import (
    ENDPOINTS,
    FAULT_MODES,
    Endpoint,
    FaultControls,
    FaultMode,
    Faults,
)
from p1guard.testing._keys import PrivateKey, apply_overrides
from p1guard.testing._login import DEFAULT_USER, LoginState
from p1guard.testing._login_api import LoginControls
from p1guard.testing._piflow import PiFlows

if TYPE_CHECKING:
    from p1guard._guard import Guard
    from p1guard._pingone import PingOne

__all__ = [
    "DEFAULT_USER",
    "ENDPOINTS",
    "FAULT_MODES",
    "Endpoint",
    "FaultMode",
    "MockPingOne",
    "RegisteredClient",
]

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Issued:
    """What the mock remembers of a token it issued (keyed by the token's SHA-256)."""

    claims: Mapping[str, Any]
    opaque: bool


def _epoch(value: float | datetime) -> int:
    return int(value.timestamp() if isinstance(value, datetime) else value)


def token_hash(token: str) -> str:
    """The key under which the mock remembers ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class MockPingOne(FaultControls, LoginControls, DPoPControls):
    """An embedded PingOne environment serving real HTTP on ``127.0.0.1``.

    >>> with MockPingOne() as op:                            # doctest: +SKIP
    ...     token = op.issue_token(scopes=["read"])
    ...     guard = op.guard()
    ...     guard.verify(token, scopes=["read"]).subject
    'user-1'

    ``op.client_id``/``op.client_secret`` are a registered app (client credentials, revocation,
    introspection); ``op.resource_id``/``op.resource_secret`` the custom resource whose audience
    is ``op.audience`` (introspection). ``op.fail(...)`` arms faults, ``op.calls`` counts requests.

    DPoP (RFC 9449): token requests with a ``DPoP`` proof get bound tokens (``cnf.jkt``,
    ``token_type: DPoP``); ``op.require_dpop_nonce = True`` makes proofs carry
    ``op.dpop_nonce``; userinfo takes ``Authorization: DPoP`` for bound tokens.

    Login: ``op.register_client(...)`` adds applications (the default app has no redirect URI
    until :meth:`add_redirect_uri`); ``/authorize`` signs ``op.user`` in without a form.

    >>> app = op.register_client(redirect_uris=["http://127.0.0.1:8000/cb"])  # doctest: +SKIP
    >>> # GET op.authorization_endpoint?client_id=…&response_type=code&scope=openid&…
    >>> # -> 302 http://127.0.0.1:8000/cb?code=…&state=…&iss=<op.issuer>
    """

    def __init__(
        self,
        *,
        audience: str = "https://api.example.com",
        scopes: Iterable[str] = ("read", "write", "admin"),
        token_lifetime: float | timedelta = 3600,
        env_id: str | None = None,
        port: int = 0,
        user: Mapping[str, Any] | None = None,
    ) -> None:
        self.env_id: str = env_id or str(uuid.uuid4())
        #: Default ``aud`` of issued tokens: the custom resource's audience.
        self.audience = audience
        #: Scopes of the custom resource; the token endpoint grants only these.
        self.scopes: tuple[str, ...] = tuple(scopes)
        self.token_lifetime = (
            token_lifetime.total_seconds()
            if isinstance(token_lifetime, timedelta)
            else float(token_lifetime)
        )
        self.client_id = "mock-client"
        self.client_secret = secrets.token_urlsafe(24)
        self.resource_id = str(uuid.uuid4())
        self.resource_secret = secrets.token_urlsafe(24)
        #: Requests per endpoint name (faulted ones included).
        self.calls: Counter[str] = Counter()
        self._port = port
        self._lock = threading.RLock()
        self._app = MockApp(self)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._tokens: dict[str, Issued] = {}
        self._revoked: set[str] = set()
        self._faults = Faults()
        self._client_keys: dict[str, list[PublicKey]] = {}
        self._seen_assertions: set[tuple[str, str]] = set()
        self._pingones: list[PingOne] = []
        #: Claims of the test user (``sub`` required); scopes release them as in OIDC Core §5.4.
        self.user: dict[str, Any] = dict(DEFAULT_USER if user is None else user)
        if not isinstance(self.user.get("sub"), str) or not self.user["sub"]:
            raise ValueError("user needs a non-empty string 'sub'")
        #: Lifetimes in seconds: PAR request_uri, authorization code, ID token, refresh token.
        self.par_lifetime = 60.0
        self.code_lifetime = 60.0
        self.id_token_lifetime = 3600.0
        self.refresh_token_lifetime = 30 * 86400.0
        #: Redirectless sign-on (``response_mode=pi.flow``): the test user's password, the
        #: seconds a flow lives, and whether the next right password leads to
        #: ``MUST_CHANGE_PASSWORD`` (cleared once the user sets a new one).
        self.user_password = "correct horse"  # noqa: S105 - the mock user's
        self.flow_lifetime = 600.0
        self.user_must_change_password = False
        #: Where userinfo puts a refusal's ``error``/``error_description``: ``"both"`` (the
        #: ``WWW-Authenticate`` challenge and a JSON body), ``"header"`` (challenge only, empty
        #: body) or ``"body"`` (JSON only; the challenge names just the scheme and realm).
        self.userinfo_errors_in: Literal["both", "header", "body"] = "both"
        #: Template of the flows' ``_links`` hrefs, ``{base}`` the environment's URL and
        #: ``{id}`` the flow id (default ``"{base}/flows/{id}"``): plays a PingOne answer that
        #: names other URLs.
        self.flow_href = "{base}/flows/{id}"
        #: Seconds the mock's clock runs ahead of this machine's (negative: behind), as a
        #: PingOne with a skewed clock: :meth:`issue_token`'s ``iat``/``exp`` and
        #: introspection's expiry and ``nbf`` checks use it.
        self.clock_skew = 0.0
        self._clients = ClientRegistry()
        self._clients.add(default_client(self.client_id, self.client_secret))
        self._login = LoginState(self)
        self._piflows = PiFlows(self)
        self._dpop = DPoPState()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MockPingOne:
        """Listen (again, on the same port after :meth:`stop`) and serve in a daemon thread."""
        with self._lock:
            if self._server is not None:
                return self
            self._app.keys.active("RS256")
            server = make_server(
                HOST, self._port, self._app, threaded=True, request_handler=RequestHandler
            )
            self._port = int(server.server_address[1])
            self._app.reopen()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"p1guard-mock-pingone-{self._port}",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
            return self

    def stop(self) -> None:
        """Close the listening socket and open connections; clients get connection refused."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        self._app.drop_connections()

    def close(self) -> None:
        """Stop serving and close the :class:`~p1guard.PingOne` objects made by :meth:`pingone`."""
        self.stop()
        with self._lock:
            pingones, self._pingones = self._pingones, []
        for pingone in pingones:
            pingone.close()

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    def __enter__(self) -> MockPingOne:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = self.issuer if self._port else f"env {self.env_id}"
        return f"<MockPingOne {where} {state}>"

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (fixed by the first :meth:`start`)."""
        if not self._port:
            raise RuntimeError("MockPingOne has not been started yet")
        return self._port

    @property
    def issuer(self) -> str:
        """``http://127.0.0.1:<port>/<env_id>/as``, like PingOne's ``https://auth.pingone.com/…``."""
        return f"http://{HOST}:{self.port}/{self.env_id}/as"

    @property
    def discovery_url(self) -> str:
        """URL of the OpenID Provider configuration document."""
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        """URL of the JWK Set."""
        return f"{self.issuer}/jwks"

    @property
    def token_endpoint(self) -> str:
        """URL of the token endpoint."""
        return f"{self.issuer}/token"

    @property
    def introspection_endpoint(self) -> str:
        """URL of the RFC 7662 introspection endpoint."""
        return f"{self.issuer}/introspect"

    @property
    def revocation_endpoint(self) -> str:
        """URL of the RFC 7009 revocation endpoint."""
        return f"{self.issuer}/revoke"

    @property
    def authorization_endpoint(self) -> str:
        """URL of the authorization endpoint (GET or POST)."""
        return f"{self.issuer}/authorize"

    @property
    def par_endpoint(self) -> str:
        """URL of the RFC 9126 pushed authorization request endpoint."""
        return f"{self.issuer}/par"

    @property
    def userinfo_endpoint(self) -> str:
        """URL of the UserInfo endpoint."""
        return f"{self.issuer}/userinfo"

    @property
    def end_session_endpoint(self) -> str:
        """URL of PingOne's ``/signoff`` (RP-initiated logout)."""
        return f"{self.issuer}/signoff"

    # -- tokens ----------------------------------------------------------------------------

    def issue_token(
        self,
        scopes: Iterable[str] | str = ("read",),
        *,
        sub: str | None = "user-1",
        audience: str | Sequence[str] | None = None,
        expires_in: float | timedelta = 3600,
        opaque: bool = False,
        alg: str = "RS256",
        client_id: str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
        typ: str | None = "at+jwt",
        kid: str | None = None,
        not_before: float | datetime | None = None,
        issued_at: float | datetime | None = None,
        dpop_jkt: str | None = None,
        x5t_s256: str | None = None,
    ) -> str:
        """Issue an access token shaped like PingOne's, and remember it for introspection.

        ``sub=None`` makes a client-credentials token (no ``sub``/``sid``/``auth_time``/``acr``).
        ``claims`` and ``header`` override or add members; a ``None`` value removes one.
        ``kid`` only changes the header: the active key of ``alg`` still signs. ``alg="none"``
        gives an unsigned token; ``opaque=True`` a random reference token. ``dpop_jkt`` (a
        DPoP key thumbprint) and ``x5t_s256`` (a certificate thumbprint) bind the token to a
        key or certificate through its ``cnf`` claim (``claims={"cnf": …}`` still wins).

        >>> op.issue_token(["read", "write"], sub=None, expires_in=-60)   # doctest: +SKIP
        """
        scope_list = scopes.split() if isinstance(scopes, str) else list(scopes)
        now = int(time.time() + self.clock_skew) if issued_at is None else _epoch(issued_at)
        lifetime = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
        if audience is None:
            audience = self.audience
        aud = audience if isinstance(audience, str) else list(audience)
        payload: dict[str, Any] = {
            "client_id": client_id or self.client_id,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + int(lifetime),
            "aud": aud,
            "scope": " ".join(scope_list),
        }
        if sub is not None:
            payload.update(sub=sub, sid=str(uuid.uuid4()), auth_time=now, acr="Single_Factor")
        payload["env"] = self.env_id
        if not_before is not None:
            payload["nbf"] = _epoch(not_before)
        cnf = {"jkt": dpop_jkt, "x5t#S256": x5t_s256}
        if dpop_jkt is not None or x5t_s256 is not None:
            payload["cnf"] = {name: value for name, value in cnf.items() if value is not None}
        apply_overrides(payload, claims)
        if opaque:
            token = secrets.token_urlsafe(32)
        else:
            token = self._app.keys.sign(alg, payload, typ=typ, kid=kid, header=header)
        with self._lock:
            self._tokens[token_hash(token)] = Issued(claims=payload, opaque=opaque)
        return token

    def revoke(self, token: str) -> None:
        """Revoke ``token``: introspection answers ``{"active": false}`` from now on.

        A refresh token revokes its whole grant: every access and refresh token issued from
        the same authorization code.
        """
        with self._lock:
            if not self._login.revoke_refresh(token):
                self._revoked.add(token_hash(token))

    def introspect(self, token: str) -> dict[str, Any]:
        """What ``POST /introspect`` answers for ``token`` (without HTTP or client auth)."""
        digest = token_hash(token)
        with self._lock:
            issued = self._tokens.get(digest)
            revoked = digest in self._revoked
        if issued is None or revoked:
            return {"active": False}
        now = time.time() + self.clock_skew
        exp, nbf = issued.claims.get("exp"), issued.claims.get("nbf")
        if isinstance(exp, int | float) and exp <= now:
            return {"active": False}
        if isinstance(nbf, int | float) and nbf > now:
            return {"active": False}
        cnf = issued.claims.get("cnf")
        bound = isinstance(cnf, Mapping) and "jkt" in cnf
        return {"active": True, "token_type": "DPoP" if bound else "Bearer", **issued.claims}

    # -- keys ------------------------------------------------------------------------------

    def stage_next_key(self, alg: str = "RS256") -> str:
        """Publish the next signing key of ``alg`` ahead of time, as PingOne's rotation does.

        PingOne's key rotation policies announce the next key in the JWKS before it signs
        anything, so verifiers that refresh their key set regularly know it before the first
        token signed with it arrives. The staged key is published (after the active keys) but
        tokens are still signed with the active key until :meth:`rotate_keys` activates it.
        Staging again replaces the staged key. Returns the staged ``kid``.

        >>> next_kid = op.stage_next_key()        # JWKS: [current, next]  # doctest: +SKIP
        >>> # ... wait until verifiers refreshed their keys (their JWKS max age) ...
        >>> op.rotate_keys() == next_kid          # next_kid signs from now  # doctest: +SKIP
        True
        """
        return self._app.keys.stage(alg).kid

    def staged_kid(self, alg: str = "RS256") -> str | None:
        """The ``kid`` staged by :meth:`stage_next_key` for ``alg`` and not yet active, if any."""
        key = self._app.keys.staged(alg)
        return None if key is None else key.kid

    def rotate_keys(self, *, keep_old: bool = True, alg: str | None = None) -> str:
        """Activate a new signing key for ``alg`` (every algorithm used so far when ``None``).

        A key staged by :meth:`stage_next_key` is activated (PingOne-style rotation: verifiers
        already know it); with nothing staged a new key is generated and signs at once, like an
        emergency rotation: verifiers learn it from their next JWKS fetch, on the unknown
        ``kid``. The old key stays in the JWKS unless ``keep_old=False``, which unpublishes
        every earlier key of the rotated algorithms. Returns the new ``kid`` of ``alg`` (or of
        RS256).
        """
        fresh = self._app.keys.rotate(alg, keep_old=keep_old)
        wanted = alg or "RS256"
        return next((key.kid for key in fresh if key.alg == wanted), fresh[0].kid)

    def active_kid(self, alg: str = "RS256") -> str:
        """The ``kid`` of the key that signs ``alg`` now."""
        return self._app.keys.active(alg).kid

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set currently published at :attr:`jwks_uri` (a copy)."""
        return self._app.keys.jwks()

    def publish_raw_jwks(self, jwks: Iterable[Mapping[str, Any]] | None) -> None:
        """Publish ``jwks`` exactly as given, after the mock's own keys; ``None`` removes them.

        They sign nothing: tests craft tokens with their own private keys, or check what a
        verifier makes of odd or hostile keys (huge RSA exponents, hundreds of keys, a body
        padded past a size limit). Publishing again replaces the earlier raw JWKs.

        >>> op.publish_raw_jwks([{"kty": "RSA", "kid": "odd", "e": "…"}])  # doctest: +SKIP
        """
        self._app.keys.publish_raw(None if jwks is None else list(jwks))

    def signing_key(self, alg: str = "RS256") -> PrivateKey:
        """The private key that signs ``alg`` now, for tests that craft their own tokens."""
        return self._app.keys.active(alg).private_key

    def register_client_key(
        self, client_id: str, key: PublicKey | PrivateKey | Mapping[str, Any]
    ) -> None:
        """Accept ``private_key_jwt`` client assertions of ``client_id`` signed by ``key``.

        ``key`` is a public key, a private key (its public half is kept) or a JWK dict.
        Registering :attr:`resource_id` lets the resource introspect with ``private_key_jwt``.
        """
        if isinstance(key, Mapping):
            key = jwt.PyJWK(dict(key)).key
        if isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            key = key.public_key()
        if not isinstance(
            key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            raise TypeError("key must be an RSA, EC or Ed25519 key or a JWK dict")
        with self._lock:
            self._client_keys.setdefault(client_id, []).append(key)

    # -- p1guard objects -------------------------------------------------------------------

    def pingone(self, **kwargs: Any) -> PingOne:
        """A :class:`~p1guard.PingOne` for this mock's issuer (closed by :meth:`close`)."""
        from p1guard._pingone import PingOne

        pingone = PingOne(issuer=self.issuer, **kwargs)
        with self._lock:
            self._pingones.append(pingone)
        return pingone

    def guard(self, **kwargs: Any) -> Guard:
        """A :class:`~p1guard.Guard` for :attr:`audience` with the resource's credentials.

        Keyword arguments override the defaults; ``pingone=`` supplies your own PingOne.
        """
        from p1guard._guard import Guard

        options: dict[str, Any] = {
            "audience": self.audience,
            "client_id": self.resource_id,
            "client_secret": self.resource_secret,
        }
        options.update(kwargs)
        pingone = options.pop("pingone", None) or self.pingone()
        return Guard(pingone, **options)
