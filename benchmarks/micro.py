"""Micro benchmarks of the hot path: ratios against the ``cryptography`` floor and the peers.

Every figure here is a **median over interleaved rounds of a per-round ratio** (see
:mod:`benchmarks._timing`). "New token" means the verified-token cache misses: each round
verifies a slice of distinct pre-minted tokens and the Guard's cache is cleared (untimed)
before every batch. Keys are cached (the Guard fetched the JWKS during warm-up), so no I/O
happens inside any timed batch.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from ._env import der_signature, ec_public_key, floor_inputs, rsa_public_key
from ._report import Figure
from ._suite import Context, case
from ._timing import Batch, Samples, interleave, loop_ns

if TYPE_CHECKING:
    from p1guard import Guard

__all__ = ["pyjwt_decoder", "rs256_tokens"]

_NAN = float("nan")


# -- inputs ------------------------------------------------------------------------------------


def rs256_tokens(ctx: Context) -> list[str]:
    """Distinct RS256 access tokens from the run's mock (minted once per run)."""
    count = ctx.pick(200, 2000)
    return ctx.memo(  # type: ignore[no-any-return]
        "rs256", lambda: [ctx.mock().issue_token(scopes=["read"]) for _ in range(count)]
    )


def _es256_tokens(ctx: Context) -> list[str]:
    count = ctx.pick(100, 1000)
    return ctx.memo(  # type: ignore[no-any-return]
        "es256",
        lambda: [ctx.mock().issue_token(scopes=["read"], alg="ES256") for _ in range(count)],
    )


def _warm_guard(ctx: Context, token: str, **options: Any) -> Guard:
    """A Guard for the mock that has fetched discovery and JWKS (its cache then emptied)."""
    guard = ctx.mock().guard(**options)
    guard.verify(token)
    guard.forget(token)
    return guard


class _Slices:
    """Hands out consecutive slices of ``items``, one per call, wrapping around."""

    def __init__(self, items: Sequence[Any], size: int) -> None:
        self.items = items
        self.size = min(size, len(items))
        self.start = 0

    def next(self) -> Sequence[Any]:
        if self.start + self.size > len(self.items):
            self.start = 0
        part = self.items[self.start : self.start + self.size]
        self.start += self.size
        return part


def _over_slices(items: Sequence[Any], size: int, call: Callable[[Any], object]) -> Batch:
    """A batch calling ``call`` on the next slice of ``items`` (each case keeps its own cursor,
    so every case of one round sees the same slice)."""
    slices = _Slices(items, size)

    def batch() -> int:
        part = slices.next()
        start = time.perf_counter_ns()
        for item in part:
            call(item)
        return time.perf_counter_ns() - start

    return batch


def _guard_new_tokens(guard: Guard, tokens: Sequence[str], size: int, **kwargs: Any) -> Batch:
    """A batch of cache-missing ``guard.verify`` calls (the cache is cleared, untimed)."""
    slices = _Slices(tokens, size)
    verify = guard.verify
    clear = guard._verified.clear

    def batch() -> int:
        part = slices.next()
        clear()
        start = time.perf_counter_ns()
        if kwargs:
            for token in part:
                verify(token, **kwargs)
        else:
            for token in part:
                verify(token)
        return time.perf_counter_ns() - start

    return batch


def pyjwt_decoder(key: Any, issuer: str, audience: str, alg: str) -> Callable[[str], object]:
    """PyJWT's ``jwt.decode`` with the same checks as the Guard (iss, aud, exp required)."""
    import jwt

    options: Any = {"require": ["exp", "iss", "aud"]}
    algorithms = [alg]

    def decode(token: str) -> object:
        return jwt.decode(
            token, key, algorithms=algorithms, audience=audience, issuer=issuer, options=options
        )

    return decode


def _authlib_jose() -> Any:
    """``authlib.jose`` imported without its deprecation warning, or ``None`` if absent.

    ``authlib.deprecate`` installs an "always" filter for its warning when imported; doing that
    inside ``catch_warnings`` keeps the filter from outliving the import (pytest runs with
    warnings as errors).
    """
    try:
        with warnings.catch_warnings():
            import_module("authlib.deprecate")  # its global "always" filter stays in this block
            warnings.simplefilter("ignore")  # authlib.jose announces its successor, joserfc
            return import_module("authlib.jose")
    except ImportError:
        return None


def _authlib_decoder(key: Any, issuer: str, audience: str) -> Callable[[str], object] | None:
    """Authlib's ``JsonWebToken(["RS256"]).decode`` + ``claims.validate()``, or ``None``."""
    jose = _authlib_jose()
    if jose is None:
        return None
    jwt = jose.JsonWebToken(["RS256"])
    claims_options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": audience},
        "exp": {"essential": True},
    }

    def decode(token: str) -> object:
        claims = jwt.decode(token, key, claims_options=claims_options)
        claims.validate()
        return claims

    return decode


def _detail(samples: Samples, a: str, b: str) -> dict[str, Any]:
    low, high = samples.spread(a, b)
    return {
        f"{a}_us": samples.median_us(a),
        f"{b}_us": samples.median_us(b),
        "iqr_low": low,
        "iqr_high": high,
        "rounds": samples.rounds,
    }


def _speedup(samples: Samples, peer: str, ours: str) -> tuple[float, dict[str, Any]]:
    return samples.ratio(peer, ours), _detail(samples, peer, ours)


# -- cases -------------------------------------------------------------------------------------


@case("rs256", "micro")
def rs256(ctx: Context) -> list[Figure]:
    """New RS256 token, keys cached: vs the crypto floor, PyJWT and Authlib."""
    op = ctx.mock()
    tokens = rs256_tokens(ctx)
    size, rounds = ctx.pick(50, 200), ctx.pick(5, 31)
    guard = _warm_guard(ctx, tokens[0])
    public = rsa_public_key(op)
    pad, sha256 = padding.PKCS1v15(), hashes.SHA256()
    verify = public.verify
    floors = [floor_inputs(t) for t in tokens]
    cases: dict[str, tuple[Batch, int]] = {
        "floor": (_over_slices(floors, size, lambda f: verify(f[0], f[1], pad, sha256)), size),
        "guard": (_guard_new_tokens(guard, tokens, size), size),
        "guard_scopes": (_guard_new_tokens(guard, tokens, size, scopes=["read"]), size),
        "pyjwt": (
            _over_slices(tokens, size, pyjwt_decoder(public, op.issuer, op.audience, "RS256")),
            size,
        ),
    }
    jwks = op.public_jwks()
    jwk = next(k for k in jwks["keys"] if k["kid"] == op.active_kid("RS256"))
    jose = _authlib_jose()
    authlib_key = None if jose is None else jose.JsonWebKey.import_key(jwk)
    authlib = _authlib_decoder(authlib_key, op.issuer, op.audience)
    authlib_jwks = _authlib_decoder(jwks, op.issuer, op.audience)
    if authlib is not None and authlib_jwks is not None:
        cases["authlib"] = (_over_slices(tokens, size, authlib), size)
        cases["authlib_jwks"] = (_over_slices(tokens, size, authlib_jwks), size)
    ctx.log(f"rs256: {rounds} rounds x {len(cases)} cases x {size} tokens")
    s = interleave(cases, rounds=rounds)
    figures = [
        Figure(
            "rs256_new_token_vs_floor",
            s.ratio("guard", "floor"),
            "x",
            op="<=",
            threshold=1.4,
            timing=True,
            detail=_detail(s, "guard", "floor"),
        ),
    ]
    value, detail = _speedup(s, "pyjwt", "guard")
    figures.append(
        Figure(
            "rs256_new_token_vs_pyjwt",
            value,
            "x",
            op=">=",
            threshold=1.8,
            timing=True,
            detail=detail,
            note="value = PyJWT time / Guard time (higher is better)",
        )
    )
    if "authlib" in cases:
        value, detail = _speedup(s, "authlib", "guard")
        figures.append(
            Figure(
                "rs256_new_token_vs_authlib",
                value,
                "x",
                op=">=",
                threshold=3.0,
                timing=True,
                detail=detail,
                note="Authlib with a pre-imported RSAKey; value = Authlib time / Guard time",
            )
        )
        value, detail = _speedup(s, "authlib_jwks", "guard")
        figures.append(
            Figure(
                "rs256_new_token_vs_authlib_jwks_dict",
                value,
                "x",
                timing=True,
                detail=detail,
                note="Authlib given the JWKS dict, so it imports the key on every call",
            )
        )
    else:
        figures.append(
            Figure(
                "rs256_new_token_vs_authlib",
                _NAN,
                "x",
                op=">=",
                threshold=3.0,
                timing=True,
                note="not measured: authlib is not installed (dependency group 'bench')",
            )
        )
    figures.append(
        Figure(
            "verify_scopes_new_token_vs_floor",
            s.ratio("guard_scopes", "floor"),
            "x",
            timing=True,
            detail=_detail(s, "guard_scopes", "floor"),
            note="guard.verify(token, scopes=['read']), end to end",
        )
    )
    return figures


@case("es256", "micro")
def es256(ctx: Context) -> list[Figure]:
    """New ES256 token, keys cached: vs the crypto (ECDSA P-256) floor."""
    op = ctx.mock()
    tokens = _es256_tokens(ctx)
    size, rounds = ctx.pick(25, 100), ctx.pick(5, 25)
    guard = _warm_guard(ctx, tokens[0])
    public = ec_public_key(op)
    scheme = ec.ECDSA(hashes.SHA256())
    verify = public.verify
    floors = [(der_signature(sig), msg) for sig, msg in map(floor_inputs, tokens)]
    s = interleave(
        {
            "floor": (_over_slices(floors, size, lambda f: verify(f[0], f[1], scheme)), size),
            "guard": (_guard_new_tokens(guard, tokens, size), size),
            "pyjwt": (
                _over_slices(tokens, size, pyjwt_decoder(public, op.issuer, op.audience, "ES256")),
                size,
            ),
        },
        rounds=rounds,
    )
    value, detail = _speedup(s, "pyjwt", "guard")
    return [
        Figure(
            "es256_new_token_vs_floor",
            s.ratio("guard", "floor"),
            "x",
            op="<=",
            threshold=1.4,
            timing=True,
            detail=_detail(s, "guard", "floor"),
            note="floor = verify of a DER signature; R||S→DER is counted as Guard overhead",
        ),
        Figure(
            "es256_new_token_vs_pyjwt",
            value,
            "x",
            timing=True,
            detail=detail,
            note="value = PyJWT time / Guard time",
        ),
    ]


def _rs256_floor(ctx: Context, size: int) -> tuple[Batch, int]:
    public = rsa_public_key(ctx.mock())
    pad, sha256 = padding.PKCS1v15(), hashes.SHA256()
    verify = public.verify
    floors = [floor_inputs(t) for t in rs256_tokens(ctx)]
    return _over_slices(floors, size, lambda f: verify(f[0], f[1], pad, sha256)), size


@case("cache_hit", "micro")
def cache_hit(ctx: Context) -> list[Figure]:
    """Repeat of an already verified token (exp re-checked) vs the RS256 floor."""
    token = rs256_tokens(ctx)[0]
    guard = _warm_guard(ctx, token)
    guard.verify(token)
    hits = ctx.pick(500, 2000)
    s = interleave(
        {
            "floor": _rs256_floor(ctx, ctx.pick(50, 200)),
            "hit": (loop_ns(lambda: guard.verify(token), hits), hits),
        },
        rounds=ctx.pick(5, 31),
    )
    return [
        Figure(
            "cache_hit_vs_rs256_floor",
            s.ratio("hit", "floor"),
            "x",
            op="<=",
            threshold=0.15,
            timing=True,
            detail=_detail(s, "hit", "floor"),
        )
    ]


@case("introspection_hit", "micro")
def introspection_hit(ctx: Context) -> list[Figure]:
    """Guard(mode="introspect") with the opaque token's answer already cached."""
    op = ctx.mock()
    token = op.issue_token(scopes=["read"], opaque=True)
    guard = op.guard(mode="introspect")
    guard.verify(token)
    calls = op.calls["introspect"]
    hits = ctx.pick(500, 2000)
    s = interleave(
        {
            "floor": _rs256_floor(ctx, ctx.pick(50, 200)),
            "introspection_hit": (loop_ns(lambda: guard.verify(token), hits), hits),
        },
        rounds=ctx.pick(5, 21),
    )
    assert op.calls["introspect"] == calls, "a cached introspection answer called PingOne"
    return [
        Figure(
            "introspection_cache_hit_vs_rs256_floor",
            s.ratio("introspection_hit", "floor"),
            "x",
            timing=True,
            detail=_detail(s, "introspection_hit", "floor"),
        )
    ]


@case("extract_bearer", "micro")
def extract_bearer_case(ctx: Context) -> list[Figure]:
    """Authorization header parsing (p1guard._web.credentials.extract_bearer) vs the RS256 floor."""
    from p1guard.web import extract_bearer

    header = ["Bearer " + rs256_tokens(ctx)[0]]
    calls = ctx.pick(1000, 5000)
    s = interleave(
        {
            "floor": _rs256_floor(ctx, ctx.pick(50, 200)),
            "extract_bearer": (loop_ns(lambda: extract_bearer(header), calls), calls),
        },
        rounds=ctx.pick(5, 21),
    )
    return [
        Figure(
            "extract_bearer_vs_rs256_floor",
            s.ratio("extract_bearer", "floor"),
            "x",
            timing=True,
            detail=_detail(s, "extract_bearer", "floor"),
        )
    ]


def _asgi_batch(app: Any, scope: dict[str, Any], calls: int) -> Batch:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> int:
        start = time.perf_counter_ns()
        for _ in range(calls):
            await app(dict(scope), receive, send)
        elapsed = time.perf_counter_ns() - start
        if sent[0].get("status") != 200:
            raise AssertionError(f"in-process ASGI call answered {sent[0].get('status')}")
        sent.clear()
        return elapsed

    loop = asyncio.new_event_loop()

    def batch() -> int:
        return loop.run_until_complete(run())

    batch.loop = loop  # type: ignore[attr-defined]
    return batch


def _wsgi_batch(app: Any, environ: dict[str, Any], calls: int) -> Batch:
    status: list[str] = []

    def start_response(line: str, headers: Any, exc_info: Any = None) -> Callable[..., Any]:
        status.append(line)
        return lambda data: None

    def batch() -> int:
        start = time.perf_counter_ns()
        for _ in range(calls):
            body = app(dict(environ), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter_ns() - start
        if not status[0].startswith("200"):
            raise AssertionError(f"in-process WSGI call answered {status[0]}")
        status.clear()
        return elapsed

    return batch


@case("middleware", "micro")
def middleware(ctx: Context) -> list[Figure]:
    """In-process cost of one request through the ASGI/WSGI middleware (warm cache)."""
    from . import apps

    token = rs256_tokens(ctx)[0]
    guard = _warm_guard(ctx, token)
    guard.verify(token)
    calls, rounds = ctx.pick(200, 1000), ctx.pick(5, 21)
    auth = "Bearer " + token
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/hello",
        "raw_path": b"/hello",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", auth.encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/hello",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": auth,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    asgi_bare = _asgi_batch(apps.asgi_app(None), scope, calls)
    asgi_prot = _asgi_batch(apps.asgi_app(guard), scope, calls)
    try:
        s = interleave(
            {
                "asgi_bare": (asgi_bare, calls),
                "asgi_protected": (asgi_prot, calls),
                "wsgi_bare": (_wsgi_batch(apps.wsgi_app(None), environ, calls), calls),
                "wsgi_protected": (_wsgi_batch(apps.wsgi_app(guard), environ, calls), calls),
            },
            rounds=rounds,
            pause_gc=False,
        )
    finally:
        asgi_bare.loop.close()  # type: ignore[attr-defined]
        asgi_prot.loop.close()  # type: ignore[attr-defined]
    figures = []
    for kind in ("asgi", "wsgi"):
        prot, bare = f"{kind}_protected", f"{kind}_bare"
        extra = [a - b for a, b in zip(s.per_op_ns[prot], s.per_op_ns[bare], strict=True)]
        extra.sort()
        figures.append(
            Figure(
                f"{kind}_inprocess_overhead_us",
                extra[len(extra) // 2] / 1000.0,
                "µs",
                timing=True,
                detail=_detail(s, prot, bare),
                note=f"added per request by the middleware, app called in-process (no server); "
                f"protected/bare = {s.ratio(prot, bare):.2f}x",
            )
        )
    return figures


@case("cache_churn", "micro")
def cache_churn(ctx: Context) -> list[Figure]:
    """Cost of VerifiedTokenCache.put when full (every put evicts): 100k vs 1k entries."""
    import hashlib

    from p1guard._tokens.cache import VerifiedTokenCache

    sizes = (1_000, ctx.pick(20_000, 100_000))
    results: dict[int, float] = {}
    for size in sizes:
        cache: VerifiedTokenCache[int] = VerifiedTokenCache(size)
        keys = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(3 * size)]
        for key in keys[:size]:
            cache.put(key, 1, 4e9)
        start = time.perf_counter_ns()
        for key in keys[size:]:
            cache.put(key, 1, 4e9)
        results[size] = (time.perf_counter_ns() - start) / (2 * size)
    small, large = sizes
    return [
        Figure(
            f"verified_cache_put_full_{large // 1000}k_vs_1k",
            results[large] / results[small],
            "x",
            timing=True,
            detail={"put_1k_ns": results[small], f"put_{large // 1000}k_ns": results[large]},
            note="≈1x if eviction is O(1); grows with the size if it is not",
        )
    ]
