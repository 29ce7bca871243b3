"""Macro benchmark: protected vs unprotected app, each in its own server subprocess.

For each kind (ASGI: Starlette on uvicorn; WSGI: plain Werkzeug app on waitress/gunicorn), two
servers run side by side — the bare app and the same app behind the bearer middleware — and
are loaded in alternating rounds with the *same* request (same ``Authorization`` header, the
token already cached after warm-up). Each figure is the median over rounds of the ratio of
two adjacent runs, so both see the same machine load.

A smoke check (also in ``--quick``) first asserts the protected server answers 200 with the
token, 401 without it or with a forged one, and that no load request failed.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ._report import Figure
from ._suite import Context, case
from .apps import pick_wsgi_server
from .loadgen import LoadResult, available_loader, run_load

if TYPE_CHECKING:
    from p1guard.testing._mock import MockPingOne

__all__ = ["running_server"]

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(
    kind: str, *, op: MockPingOne, protect: bool, wsgi_server: str | None = None
) -> Iterator[int]:
    """Start ``python -m benchmarks.apps`` for ``kind``; yield its port once it answers."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "benchmarks.apps",
        kind,
        "--port",
        str(port),
        "--issuer",
        op.issuer,
        "--audience",
        op.audience,
    ]
    if protect:
        command.append("--protect")
    if kind == "wsgi":
        command += ["--server", pick_wsgi_server(wsgi_server)]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    errors.seek(0)
                    raise RuntimeError(
                        f"{kind} server exited with {process.returncode}:\n"
                        + errors.read().decode(errors="replace")[-2000:]
                    )
                try:
                    if _get(port, "/health") == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not answer within 30 s")
                time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _smoke(port: int, bare_port: int, auth: dict[str, str]) -> dict[str, int]:
    """Answers that are wrong: protected app with/without/forged token, bare app."""
    forged = {"Authorization": auth["Authorization"][:-8] + "AAAAAAAA"}
    expected = [
        (port, auth, 200),
        (port, {}, 401),
        (port, forged, 401),
        (port, {"Authorization": "Bearer not-a-jwt"}, 401),
        (bare_port, auth, 200),
    ]
    wrong: dict[str, int] = {}
    for index, (target, headers, status) in enumerate(expected):
        got = _get(target, "/hello", headers)
        if got != status:
            wrong[f"check{index}_expected_{status}"] = got
    return wrong


def _measure(
    kind: str, ctx: Context, bare: int, protected: int, auth: dict[str, str]
) -> tuple[list[LoadResult], list[LoadResult]]:
    seconds = 1.0 if ctx.quick else 2.0
    rounds = ctx.pick(1, 7)
    loader = ctx.loader
    # Warm both servers (imports, first JWKS fetch, CPU caches) outside the measurement.
    for port in (bare, protected):
        run_load(
            f"http://127.0.0.1:{port}/hello",
            headers=auth,
            connections=CONNECTIONS,
            seconds=1.0 if not ctx.quick else 0.5,
            loader=loader,
        )
    bare_runs: list[LoadResult] = []
    protected_runs: list[LoadResult] = []
    for index in range(rounds):
        order = [(bare, bare_runs), (protected, protected_runs)]
        if index % 2:
            order.reverse()
        for port, runs in order:
            ctx.log(f"{kind} round {index + 1}/{rounds} on port {port}")
            runs.append(
                run_load(
                    f"http://127.0.0.1:{port}/hello",
                    headers=auth,
                    connections=CONNECTIONS,
                    seconds=seconds,
                    loader=loader,
                )
            )
    return bare_runs, protected_runs


def _figures(
    kind: str, label: str, bare: list[LoadResult], protected: list[LoadResult]
) -> list[Figure]:
    rps = statistics.median(p.rps / b.rps for b, p in zip(bare, protected, strict=True))
    p50 = statistics.median(p.p50_ms / b.p50_ms for b, p in zip(bare, protected, strict=True))
    p99 = statistics.median(p.p99_ms / b.p99_ms for b, p in zip(bare, protected, strict=True))
    detail = {
        "protected_rps": statistics.median(r.rps for r in protected),
        "bare_rps": statistics.median(r.rps for r in bare),
        "protected_p50_ms": statistics.median(r.p50_ms for r in protected),
        "bare_p50_ms": statistics.median(r.p50_ms for r in bare),
        "protected_p99_ms": statistics.median(r.p99_ms for r in protected),
        "bare_p99_ms": statistics.median(r.p99_ms for r in bare),
        "rounds": len(bare),
        "loader": bare[0].loader,
        "connections": CONNECTIONS,
    }
    errors = sum(r.errors for r in bare + protected)
    return [
        Figure(
            f"{kind}_rps_ratio",
            rps,
            "x",
            op=">=",
            threshold=0.90,
            timing=True,
            detail=detail,
            note=label,
        ),
        Figure(f"{kind}_p50_latency_ratio", p50, "x", timing=True, note="protected / bare"),
        Figure(f"{kind}_p99_latency_ratio", p99, "x", timing=True, note="protected / bare"),
        Figure(
            f"{kind}_load_errors",
            float(errors),
            "",
            op="==",
            threshold=0,
            note="non-2xx answers and socket errors during the load runs",
        ),
    ]


def _run_kind(kind: str, ctx: Context, label: str) -> list[Figure]:
    op = ctx.mock()
    token = op.issue_token(scopes=["read"])
    auth = {"Authorization": f"Bearer {token}"}
    with (
        running_server(kind, op=op, protect=False, wsgi_server=ctx.wsgi_server) as bare,
        running_server(kind, op=op, protect=True, wsgi_server=ctx.wsgi_server) as protected,
    ):
        wrong = _smoke(protected, bare, auth)
        figures = [
            Figure(
                f"{kind}_smoke_wrong_answers",
                float(len(wrong)),
                "",
                op="==",
                threshold=0,
                detail=wrong,
                note="protected: 200 with the token, 401 without/forged/garbage; bare: 200",
            )
        ]
        bare_runs, protected_runs = _measure(kind, ctx, bare, protected, auth)
    label = f"{label}; loader {available_loader(ctx.loader)}, {CONNECTIONS} connections"
    return figures + _figures(kind, label, bare_runs, protected_runs)


@case("asgi", "macro")
def asgi(ctx: Context) -> list[Figure]:
    """Starlette on uvicorn: protected vs bare requests/s and latency."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    proto = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return _run_kind("asgi", ctx, f"Starlette app on uvicorn (1 worker, {loop} loop, {proto})")


@case("wsgi", "macro")
def wsgi(ctx: Context) -> list[Figure]:
    """Plain Werkzeug WSGI app on a real WSGI server: protected vs bare."""
    server = pick_wsgi_server(ctx.wsgi_server)
    return _run_kind("wsgi", ctx, f"plain Werkzeug WSGI app (not Flask) on {server}")
