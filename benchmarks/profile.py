"""Where the hot path spends its time: ``python -m benchmarks.profile [steps|new|hit|asgi]``.

* ``steps`` (default) — each step of a new-token ``Guard.verify`` and of one request through the
  ASGI middleware, timed alone with :mod:`timeit` (best of 7): exact, without profiler bias.
* ``new`` / ``hit`` / ``asgi`` — :mod:`cProfile` of N new-token verifications, N cache hits, or
  N in-process requests through the ASGI middleware; top functions by own time.

The step list reaches into p1guard internals (``p1guard._tokens.jwt`` rules, the Guard's caches) on
purpose: it is a diagnostic, not an API user. A step that no longer exists is reported as
``n/a`` instead of failing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
import timeit
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ._env import floor_inputs, running_mock

__all__ = ["main", "steps"]


def _best_us(call: Callable[[], object], number: int = 5000) -> float:
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def steps(op: Any, out: Callable[[str], None] = print) -> dict[str, float]:
    """Time each step of the new-token path and of the ASGI middleware's cache-hit path."""
    import p1guard._tokens.jwt as pj
    from p1guard import AccessToken
    from p1guard._tokens.cache import token_digest, token_id

    token = op.issue_token(scopes=["read"])
    guard = op.guard()
    guard.verify(token)
    public = op.signing_key("RS256").public_key()
    signature, message = floor_inputs(token)
    pad, sha256 = padding.PKCS1v15(), hashes.SHA256()
    digest = token_digest(token)
    policy, rules = guard.policy, guard._rules
    jws = pj.parse_jws(token, policy, rules)
    key = guard.pingone.jwks.fresh_key(jws.kid, time.monotonic())
    claims = pj.decode_payload(jws)
    payload = jws.payload_segment
    cache = guard._verified
    access = AccessToken(claims, token_id=token_id(digest))

    # The segments are str or bytes depending on the p1guard version; follow the Jws.
    signature_segment: Any = token.rpartition(".")[2]
    if isinstance(payload, bytes):
        signature_segment = signature_segment.encode("ascii")
    split = getattr(pj, "_split", None)
    shape_re = getattr(pj, "_SHAPE", None)

    def shape() -> object:
        return split(token) if split is not None else shape_re.fullmatch(token)  # type: ignore[union-attr]

    def miss() -> None:
        cache.discard(digest)
        guard.verify(token)

    table: list[tuple[str, Callable[[], object]]] = [
        ("FLOOR: cryptography RSA verify", lambda: public.verify(signature, message, pad, sha256)),
        ("sha256 digest of the token", lambda: token_digest(token)),
        ("verified-cache get", lambda: cache.get(digest, time.time())),
        (
            "parse_jws (shape check, split, header memo, sig b64)",
            lambda: pj.parse_jws(token, policy, rules),
        ),
        ("  shape check", shape),
        ("  signature base64url decode", lambda: pj._b64decode(signature_segment)),
        ("jwks.fresh_key", lambda: guard.pingone.jwks.fresh_key(jws.kid, time.monotonic())),
        ("verify_signature (floor + dispatch)", lambda: pj.verify_signature(jws, key)),
        ("decode_payload (b64 + JSON, duplicate check)", lambda: pj.decode_payload(jws)),
        ("  payload base64url decode", lambda: pj._b64decode(payload)),
        ("  payload b64 + JSON (_json_object)", lambda: pj._json_object(payload, "payload")),
        ("check_claims", lambda: pj.check_claims(claims, policy, time.time())),
        ("AccessToken(...)", lambda: AccessToken(claims, token_id=token_id(digest))),
        ("verified-cache put (not full)", lambda: cache.put(digest, access, 4e9)),
        ("TOTAL: guard.verify, new token", miss),
        ("TOTAL: guard.verify, cache hit", lambda: guard.verify(token)),
    ]
    results: dict[str, float] = {}
    out(f"{'step':58s} {'µs':>7s}")
    for name, call in table:
        try:
            value = _best_us(call, 2000 if "FLOOR" in name or "TOTAL" in name else 5000)
        except Exception as exc:
            out(f"{name:58s} {'n/a':>7s}  ({type(exc).__name__})")
            continue
        results[name] = value
        out(f"{name:58s} {value:7.2f}")
    guard.verify(token)
    results.update(_asgi_steps(guard, token, out))
    guard.close()
    return results


def _asgi_steps(guard: Any, token: str, out: Callable[[str], None]) -> dict[str, float]:
    from p1guard import asgi as p1asgi
    from p1guard.web import extract_bearer, query_tokens

    from . import apps

    auth = ("Bearer " + token).encode()
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/hello",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk"), (b"authorization", auth)],
    }
    access = guard.verify(token)
    loop = asyncio.new_event_loop()
    bare, protected = apps.asgi_app(None), apps.asgi_app(guard)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    def request(app: Any) -> Callable[[], object]:
        async def many() -> None:
            for _ in range(200):
                await app(dict(scope, state={}), receive, send)

        return lambda: loop.run_until_complete(many())

    def awaited(make: Callable[[], Any]) -> Callable[[], object]:
        async def many() -> None:
            for _ in range(200):
                await make()

        return lambda: loop.run_until_complete(many())

    table: list[tuple[str, Callable[[], object]]] = [
        (
            "asgi: find Authorization header(s)",
            lambda: [
                v.decode("latin-1")
                for n, v in scope["headers"]
                if len(n) == 13 and n.lower() == b"authorization"
            ],
        ),
        ("asgi: query_tokens(b'')", lambda: query_tokens(b"")),
        ("asgi: extract_bearer", lambda: extract_bearer(["Bearer " + token])),
        ("asgi: guard.verify (cache hit, sync twin)", lambda: guard.verify(token)),
        ("asgi: await guard.averify (cache hit)", awaited(lambda: guard.averify(token))),
        (
            "asgi: _attach (state, auth, user)",
            lambda: p1asgi._attach(dict(scope), access, overwrite=True),
        ),
    ]
    results: dict[str, float] = {}
    for name, call in table:
        per = 200 if "averify" in name else 1
        try:
            value = _best_us(call, 5000 // per) / per
        except Exception as exc:
            out(f"{name:58s} {'n/a':>7s}  ({type(exc).__name__})")
            continue
        results[name] = value
        out(f"{name:58s} {value:7.2f}")
    for label, app in (("bare app", bare), ("protected app", protected)):
        value = _best_us(request(app), 20) / 200
        results[f"asgi: request, {label}"] = value
        out(f"{'asgi: one in-process request, ' + label:58s} {value:7.2f}")
    loop.close()
    return results


def _profile(op: Any, what: str, count: int, top: int) -> str:
    guard = op.guard()
    tokens = [op.issue_token(scopes=["read"]) for _ in range(count if what == "new" else 1)]
    guard.verify(tokens[0])
    profiler = cProfile.Profile()
    if what == "new":
        guard.forget(tokens[0])
        profiler.enable()
        for token in tokens:
            guard.verify(token)
        profiler.disable()
    elif what == "hit":
        profiler.enable()
        for _ in range(count):
            guard.verify(tokens[0])
        profiler.disable()
    else:
        from . import apps

        app = apps.asgi_app(guard)
        auth = ("Bearer " + tokens[0]).encode()
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/hello",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1"), (b"authorization", auth)],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            return None

        async def many() -> None:
            for _ in range(count):
                await app(dict(scope), receive, send)

        profiler.enable()
        asyncio.run(many())
        profiler.disable()
    guard.close()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile")
    parser.add_argument("what", nargs="?", default="steps", choices=["steps", "new", "hit", "asgi"])
    parser.add_argument("-n", "--count", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with running_mock() as op:
        if args.what == "steps":
            steps(op)
        else:
            print(_profile(op, args.what, args.count, args.top))


if __name__ == "__main__":
    main()
