"""Serving a ``p1guard demo`` app: a listening socket (:func:`bind`), the URL a browser uses
for it (:func:`browser_url`), the demo's sign-in app on the mock (:func:`demo_web_login`), and
uvicorn in a background thread (:class:`DemoServer`).

uvicorn is an optional dependency (``pip install 'p1guard[demo]'``): it is imported when a
:class:`DemoServer` is made, never when this module is imported.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from p1guard._cli.common import ASGIApp, require_extra
from p1guard._values import is_loopback
from p1guard.errors import P1GuardError

if TYPE_CHECKING:
    import uvicorn

    from p1guard.rp._web import WebLogin
    from p1guard.testing import MockPingOne

__all__ = ["DemoServer", "bind", "browser_url", "demo_web_login"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0`` picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def browser_url(sock: socket.socket) -> str:
    """The ``http://host:port`` a browser on this machine uses for ``sock``.

    A wildcard address (``0.0.0.0``, ``::``) becomes the loopback one.
    """
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):  # noqa: S104 - reading the bound address, not binding
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}"


def demo_web_login(op: MockPingOne, base_url: str) -> WebLogin:
    """Register the demo's sign-in app on ``op`` and return its :class:`~p1guard.rp.WebLogin`.

    The redirect URI is ``{base_url}/auth/callback``; after sign-out PingOne sends the
    browser back to ``{base_url}/``.

    >>> with MockPingOne() as op:                                   # doctest: +SKIP
    ...     login = demo_web_login(op, "http://127.0.0.1:8000")
    """
    from p1guard.rp._relying_party import RelyingParty
    from p1guard.rp._web import WebLogin

    base_url = base_url.rstrip("/")
    callback, home = f"{base_url}/auth/callback", f"{base_url}/"
    client = op.register_client(redirect_uris=[callback], post_logout_redirect_uris=[home])
    # The demo serves plain http; on a non-loopback host that needs an explicit opt-in.
    host = urlsplit(base_url).hostname or ""
    rp = RelyingParty(
        op.pingone(allow_insecure_http=not is_loopback(host)),
        client_id=client.client_id,
        client_secret=client.client_secret,
        redirect_uri=callback,
        post_logout_redirect_uri=home,
    )
    return WebLogin(rp)


class DemoServer:
    """Serve an ASGI app with uvicorn on an already bound socket, in a background thread.

    >>> with DemoServer(app, bind("127.0.0.1", 0)) as server:      # doctest: +SKIP
    ...     httpx.get(server.url + "/health")
    """

    def __init__(self, app: ASGIApp, sock: socket.socket, *, access_log: bool = False) -> None:
        require_extra(("uvicorn",), "the demo server")
        import uvicorn

        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        config = uvicorn.Config(app, log_level="warning", access_log=access_log, lifespan="on")
        if access_log:
            logging.getLogger("uvicorn.access").setLevel(logging.INFO)
        self.server: uvicorn.Server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name="p1guard-demo", daemon=True
        )

    def start(self, timeout: float = 10.0) -> DemoServer:
        """Start serving; return once the app's startup completed."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise P1GuardError("the demo server did not start")
            time.sleep(0.01)
        return self

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises ``KeyboardInterrupt`` here)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        """Ask uvicorn to shut down gracefully and wait for it."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(10)
        self.sock.close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
