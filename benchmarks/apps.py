"""The apps the macro benchmark serves, and a command that serves one of them.

Two twins per kind, identical but for the middleware:

* ASGI: a Starlette app (``GET /hello`` → ``hello``, ``GET /health``), bare or wrapped in
  :class:`p1guard.asgi.BearerTokenMiddleware`; served by uvicorn.
* WSGI: a plain Werkzeug app (Flask is not a dependency of the core; Flask's request handling
  is Werkzeug's, plus its routing), bare or wrapped in :class:`p1guard.wsgi.BearerTokenMiddleware`;
  served by waitress, gunicorn or — when neither is installed — Werkzeug's threaded server.

Run one server (the benchmark does this in a subprocess)::

    python -m benchmarks.apps asgi --port 8001 --issuer http://127.0.0.1:9/x/as \
        --audience https://api.example.com --protect
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from p1guard import Guard

__all__ = ["WSGI_SERVERS", "asgi_app", "make_guard", "pick_wsgi_server", "serve", "wsgi_app"]

#: WSGI servers in order of preference (the first one installed is used by default).
WSGI_SERVERS = ("waitress", "gunicorn", "werkzeug")
BODY = b"hello"
PUBLIC = ("/health",)


def make_guard(issuer: str, audience: str) -> Guard:
    """A JWT-mode Guard for the mock issuer (loopback ``http`` is allowed by PingOne)."""
    from p1guard import Guard, PingOne

    return Guard(PingOne(issuer=issuer), audience=audience)


def asgi_app(guard: Guard | None) -> Callable[..., Any]:
    """The Starlette app; wrapped in the bearer middleware when ``guard`` is given."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(BODY)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse(b"ok")

    app = Starlette(routes=[Route("/hello", hello), Route("/health", health)])
    if guard is None:
        return app
    from p1guard.asgi import BearerTokenMiddleware

    return BearerTokenMiddleware(app, guard=guard, public_paths=PUBLIC)


def wsgi_app(guard: Guard | None) -> WSGIApplication:
    """The Werkzeug app; wrapped in the bearer middleware when ``guard`` is given."""
    from werkzeug.wrappers import Request, Response

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = b"ok" if request.path == "/health" else BODY
        return Response(body, mimetype="text/plain")(environ, start_response)

    if guard is None:
        return app
    from p1guard.wsgi import BearerTokenMiddleware

    return BearerTokenMiddleware(app, guard=guard, public_paths=PUBLIC)


def pick_wsgi_server(preferred: str | None = None) -> str:
    """``preferred`` if given, else the first of :data:`WSGI_SERVERS` that is installed."""
    if preferred:
        return preferred
    for name in WSGI_SERVERS:
        if importlib.util.find_spec(name) is not None:
            return name
    return "werkzeug"


def _serve_wsgi(app: WSGIApplication, server: str, port: int, threads: int) -> None:
    if server == "waitress":
        waitress = importlib.import_module("waitress")  # optional: no stubs, maybe absent
        waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)
    elif server == "gunicorn":
        base: Any = importlib.import_module("gunicorn.app.base").BaseApplication

        class _App(base):  # type: ignore[misc]
            def load_config(self) -> None:
                self.cfg.set("bind", f"127.0.0.1:{port}")
                self.cfg.set("workers", 1)
                self.cfg.set("threads", threads)
                self.cfg.set("worker_class", "gthread")
                self.cfg.set("keepalive", 30)
                self.cfg.set("loglevel", "warning")

            def load(self) -> WSGIApplication:
                return app

        _App().run()
    else:
        from werkzeug.serving import run_simple

        run_simple("127.0.0.1", port, app, threaded=True)


def serve(kind: str, *, port: int, issuer: str, audience: str, protect: bool, **opts: Any) -> None:
    """Serve the ``kind`` app (``asgi``/``wsgi``) on 127.0.0.1:``port`` until killed."""
    guard = make_guard(issuer, audience) if protect else None
    if kind == "asgi":
        import uvicorn

        uvicorn.run(
            asgi_app(guard),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    else:
        _serve_wsgi(wsgi_app(guard), pick_wsgi_server(opts.get("server")), port, opts["threads"])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.apps")
    parser.add_argument("kind", choices=["asgi", "wsgi"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--protect", action="store_true")
    parser.add_argument("--server", choices=WSGI_SERVERS, default=None)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    serve(
        args.kind,
        port=args.port,
        issuer=args.issuer,
        audience=args.audience,
        protect=args.protect,
        server=args.server,
        threads=args.threads,
    )


if __name__ == "__main__":
    main()
