"""``p1guard demo``: run a demo app against MockPingOne, print curl lines, or check them.

Split from :mod:`p1guard._cli.main`, which parses the arguments; the apps themselves are in
:mod:`p1guard._cli.demo_app`, the requests they answer in :mod:`p1guard._cli.demo_probes`,
and the serving in :mod:`p1guard._cli.demo_server`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shlex
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from p1guard._cli.common import UsageError, opened, request_token
from p1guard._client.auth import ClientAuth
from p1guard._client.dpop_key import DPoPKey
from p1guard._pingone import PingOne

if TYPE_CHECKING:
    import httpx

    from p1guard._cli.demo_app import DemoFramework
    from p1guard._cli.demo_probes import Probe
    from p1guard.testing import MockPingOne

__all__ = ["DEFAULT_DEMO_PORT", "curl_line", "run_demo"]

DEFAULT_DEMO_PORT = 8000
_DEMO_TOKEN_LIFETIME = 3600


# -- demo --------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    """Run ``p1guard demo`` with parsed ``args``; returns the exit code."""
    from p1guard._cli.demo_app import demo_framework
    from p1guard._cli.demo_server import DemoServer
    from p1guard.testing import MockPingOne

    framework = demo_framework(args.framework)
    with MockPingOne(token_lifetime=_DEMO_TOKEN_LIFETIME) as op:
        sock, port_note = _demo_socket(args.host, args.port)
        try:
            app, sign_in_url = _demo_app(framework, op, sock)
        except BaseException:
            sock.close()
            raise
        with DemoServer(app, sock, access_log=not args.check) as server:
            key = DPoPKey.generate()  # the demo client's DPoP key (RFC 9449)
            tokens = _demo_tokens(op, key)
            probes = _probes(framework)
            if args.check:
                return _demo_check(server.url, tokens, framework.name, op, probes, key, sign_in_url)
            _print_demo(
                server.url, tokens, framework.name, op, probes, port_note, args, sign_in_url
            )
            try:
                with _sigterm_as_interrupt():
                    server.wait()
            except KeyboardInterrupt:
                print("\nstopping the demo...", flush=True)
    return 0


def _demo_app(
    framework: DemoFramework, op: MockPingOne, sock: socket.socket
) -> tuple[Any, str | None]:
    """The framework's demo app, with its sign-in page when it has one (and that page's URL)."""
    from p1guard._cli.demo_server import browser_url, demo_web_login

    url = browser_url(sock)
    # Tour apps point their 401 challenges at their RFC 9728 document, so they need their URL,
    # and serve the guard's metrics when prometheus-client is installed.
    where: dict[str, Any] = {}
    guard = op.guard()
    if framework.tour:
        where["base_url"] = url
        registry = _metrics_registry()
        if registry is not None:
            from p1guard._observe.metrics import PrometheusMetrics

            guard = op.guard(pingone=op.pingone(metrics=PrometheusMetrics(registry)))
            where["metrics_registry"] = registry
    if framework.sign_in is None:
        build: Callable[..., Any] = framework.build
        return build(guard, **where), None
    sign_in: Callable[..., Any] = framework.sign_in
    app = sign_in(guard, demo_web_login(op, url), test_user=_test_user(op), **where)
    return app, f"{url}/"


def _metrics_registry() -> Any:
    """A fresh ``prometheus_client`` registry, or ``None`` when it is not installed."""
    if importlib.util.find_spec("prometheus_client") is None:
        return None
    from prometheus_client import CollectorRegistry

    return CollectorRegistry()


def _test_user(op: MockPingOne) -> tuple[str, str]:
    """The mock's test user as the form sign-in takes it: (username, password)."""
    username = op.user.get("preferred_username") or op.user.get("email") or op.user["sub"]
    return str(username), str(op.user_password)


def _probes(framework: DemoFramework) -> tuple[Probe, ...]:
    """The requests ``framework``'s demo answers: the basic ones, and the tour when it has it."""
    from p1guard._cli.demo_probes import METRICS_PROBE, PROBES, TOUR_PROBES

    if not framework.tour:
        return PROBES
    metrics = (METRICS_PROBE,) if importlib.util.find_spec("prometheus_client") else ()
    return PROBES + TOUR_PROBES + metrics


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Let ``kill`` (SIGTERM) stop the demo as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _demo_socket(host: str, port: int | None) -> tuple[socket.socket, str | None]:
    from p1guard._cli.demo_server import bind

    try:
        if port is not None:
            return bind(host, port), None
        try:
            return bind(host, DEFAULT_DEMO_PORT), None
        except OSError:
            sock = bind(host, 0)
            return sock, f"port {DEFAULT_DEMO_PORT} is busy; using {sock.getsockname()[1]}"
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 1) from None


def _demo_tokens(op: MockPingOne, key: DPoPKey) -> dict[str, str]:
    from p1guard._cli.demo_probes import GARBAGE_TOKEN
    from p1guard.testing import client_certificate

    auth = ClientAuth(op.client_id, client_secret=op.client_secret)
    with opened(PingOne(issuer=op.issuer)) as pingone:
        minted = request_token(pingone, auth, ["read", "write"])
    mfa_user = {"acr": "Multi_Factor", "groups": ["auditors"]}
    bound = op.issue_token(["read"], expires_in=_DEMO_TOKEN_LIFETIME, dpop_jkt=key.thumbprint)
    cert, other_cert = client_certificate("demo client"), client_certificate("someone else")
    cert_bound = op.issue_token(["read"], expires_in=_DEMO_TOKEN_LIFETIME, x5t_s256=cert.thumbprint)
    return {
        "mtls": cert_bound,
        "mtls-other-cert": cert_bound,
        "client-cert": cert.escaped_pem,
        "other-cert": other_cert.escaped_pem,
        "read": op.issue_token(["read"], expires_in=_DEMO_TOKEN_LIFETIME),
        "write": minted["access_token"],
        "mfa": op.issue_token(["read"], expires_in=_DEMO_TOKEN_LIFETIME, claims=mfa_user),
        "dpop": bound,
        "dpop-as-bearer": bound,
        "garbage": GARBAGE_TOKEN,
    }


_TOKEN_VARIABLES = {
    "read": "$TOKEN",
    "write": "$WRITE_TOKEN",
    "mfa": "$MFA_TOKEN",
    "dpop-as-bearer": "$DPOP_TOKEN",
    "mtls": "$MTLS_TOKEN",
    "mtls-other-cert": "$MTLS_TOKEN",
}
#: The client certificate each mTLS probe sends (token-map key), and its shell variable.
_PROBE_CERTS = {
    "mtls": ("client-cert", "$CLIENT_CERT"),
    "mtls-other-cert": ("other-cert", "$OTHER_CERT"),
}


def curl_line(probe: Probe, base_url: str) -> str:
    """The ``curl -i`` command a reader can paste to send ``probe``."""
    from p1guard._cli.demo_app import CLIENT_CERT_HEADER
    from p1guard._cli.demo_probes import GARBAGE_TOKEN

    if probe.sends == "dpop":
        return (
            f"# {probe.method} {base_url}{probe.path} with Authorization: DPoP $DPOP_TOKEN and "
            "a fresh DPoP proof header (curl cannot sign one; --check sends it)"
        )
    parts = ["curl", "-i"]
    if probe.method != "GET":
        parts += ["-X", probe.method]
    if probe.sends != "none":
        value = _TOKEN_VARIABLES.get(probe.sends, GARBAGE_TOKEN)
        parts += ["-H", f'"Authorization: Bearer {value}"']
    if probe.sends in _PROBE_CERTS:
        parts += ["-H", f'"{CLIENT_CERT_HEADER}: {_PROBE_CERTS[probe.sends][1]}"']
    if probe.json is not None:
        parts += ["-H", shlex.quote("Content-Type: application/json")]
        parts += ["-d", shlex.quote(json.dumps(probe.json))]
    parts.append(base_url + probe.path)
    return " ".join(parts)


def _expectation(probe: Probe) -> str:
    if probe.expect_body is not None:
        return f"{probe.expect_status} with {probe.expect_body[:40]}..."
    if probe.expect_error:
        return f"{probe.expect_status} {probe.expect_error}"
    if probe.expect_error == "":
        return f"{probe.expect_status} + WWW-Authenticate: Bearer"
    return str(probe.expect_status)


def _self_command() -> str:
    return "p1guard" if shutil.which("p1guard") else f"{sys.executable} -m p1guard._cli.main"


def _print_demo(
    url: str,
    tokens: Mapping[str, str],
    framework: str,
    op: MockPingOne,
    probes: tuple[Probe, ...],
    port_note: str | None,
    args: argparse.Namespace,
    sign_in_url: str | None = None,
) -> None:
    me = _self_command()
    lines = [
        f"p1guard demo: a {framework.title()} API protected by p1guard, with a mock PingOne.",
        *([f"({port_note})"] if port_note else []),
        "",
        f"  API       {url}",
        "            GET /health (public), GET /items (read), POST /items (write), GET /me",
    ]
    if any(probe.path == "/transfers" for probe in probes):
        lines += [
            "            POST /transfers (step-up: Multi_Factor within 5 minutes),",
            "            GET /reports (claim rule: groups contains auditors),",
            "            GET /.well-known/oauth-protected-resource (RFC 9728 metadata)",
            "            GET /me with DPoP-bound (RFC 9449) and certificate-bound (RFC 8705)",
            "            tokens; client certificates arrive in X-Client-Cert, as from a proxy",
        ]
    if any(probe.path == "/metrics" for probe in probes):
        lines.append("            GET /metrics (Prometheus: the guard's counters, no token)")
    if sign_in_url:
        username, password = _test_user(op)
        lines += [
            f"  Sign-in   {sign_in_url}   (web page; routes under /auth)",
            f"            {sign_in_url}auth/form   the app's own form (PingOne pi.flow):",
            f"            username {username}, password {password!r}",
        ]
    lines += [
        f"  Issuer    {op.issuer}   (mock PingOne)",
        f"  Audience  {op.audience}",
        "",
        "Tokens, valid for 1 hour (paste into a POSIX shell):",
        "",
        f"  TOKEN='{tokens['read']}'",
        f"  WRITE_TOKEN='{tokens['write']}'",
        f"  MFA_TOKEN='{tokens['mfa']}'   # Multi_Factor sign-in just now, group auditors",
        f"  DPOP_TOKEN='{tokens['dpop']}'   # bound to the demo's DPoP key",
        f"  MTLS_TOKEN='{tokens['mtls']}'   # bound to CLIENT_CERT",
        f"  CLIENT_CERT='{tokens['client-cert']}'",
        f"  OTHER_CERT='{tokens['other-cert']}'",
        "",
        "Requests:",
    ]
    for probe in probes:
        lines += ["", f"  # {_expectation(probe)}  ({probe.label})", f"  {curl_line(probe, url)}"]
    issuer = shlex.quote(op.issuer)
    lines += [
        "",
        "Mint more tokens (client-credentials grant against the mock):",
        "",
        f"  {me} token --issuer {issuer} --client-id {op.client_id} "
        f"--client-secret={op.client_secret} --scope read write",
        "",
        "Verify a token:",
        "",
        f'  {me} verify "$TOKEN" --issuer {issuer} --audience {op.audience} --scope read',
    ]
    if not args.no_browser_hint:
        if sign_in_url:
            lines += [
                "",
                f"Open {sign_in_url} to sign in: by redirect (the mock signs in its test user, "
                f"{op.user.get('name', op.user['sub'])}, without a password) or on the app's "
                "own form (pi.flow).",
            ]
        else:
            lines += ["", f"Or open {url}/health in a browser."]
    lines += ["", "Serving until Ctrl-C.", ""]
    print("\n".join(lines), flush=True)


def _demo_check(
    url: str,
    tokens: Mapping[str, str],
    framework: str,
    op: MockPingOne,
    probes: tuple[Probe, ...],
    key: DPoPKey,
    sign_in_url: str | None = None,
) -> int:
    import httpx

    print(f"p1guard demo --check: {framework} API at {url}, mock PingOne at {op.issuer}")
    failures = 0
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for probe in probes:
            ok, report = _send_probe(client, probe, tokens, key)
            failures += not ok
            print(report, flush=True)
        page_ok = form_ok = True
        if sign_in_url:
            page_ok, report = _check_sign_in_page(client, sign_in_url)
            print(report, flush=True)
    if sign_in_url:
        form_ok, report = _check_form_sign_in(url, op)
        print(report, flush=True)
    if failures:
        print(f"{failures} of {len(probes)} requests did not answer as expected")
        return 1
    if not page_ok:
        print("the sign-in page did not answer as expected")
        return 1
    if not form_ok:
        print("the form sign-in (pi.flow) did not work as expected")
        return 1
    page = (
        "; the sign-in page showed its Sign in button; the form sign-in (pi.flow) signed in"
        if sign_in_url
        else ""
    )
    print(f"all {len(probes)} requests answered as expected{page}")
    return 0


def _check_sign_in_page(client: httpx.Client, page_url: str) -> tuple[bool, str]:
    """``GET /`` of the demo: 200 with a "Sign in" button."""
    import httpx

    try:
        response = client.get(page_url, headers={"Accept": "text/html"})
    except httpx.HTTPError as exc:
        return False, f"FAIL  GET  /: {type(exc).__name__}"
    ok = response.status_code == 200 and ">Sign in</a>" in response.text
    line = f"{'ok  ' if ok else 'FAIL'}  {response.status_code} GET  {'/':<8}  sign-in page"
    if not ok:
        line += '\n        expected 200 with a "Sign in" button'
    return ok, line


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _check_form_sign_in(url: str, op: MockPingOne) -> tuple[bool, str]:
    """Sign in on the demo's own form (pi.flow): GET the form, POST the mock's test user, then
    ``GET /`` shows "Signed in as …". A fresh client: its own session cookie."""
    import html

    import httpx

    label = "form sign-in (pi.flow) with the mock's test user"
    username, password = _test_user(op)
    browser = {"Accept": "text/html"}
    try:
        with httpx.Client(base_url=url, timeout=10.0, headers=browser) as client:
            form = client.get("/auth/form")
            fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(form.text)}
            if form.status_code != 200 or not {"csrf", "form_id"} <= set(fields):
                return False, f"FAIL  {form.status_code} GET  /auth/form  {label}: no form"
            data = {**fields, "username": username, "password": password}
            posted = client.post("/auth/form", data=data)
            home = client.get(posted.headers.get("location", "/"))
    except httpx.HTTPError as exc:
        return False, f"FAIL  POST /auth/form: {type(exc).__name__}"
    name = str(op.user.get("name") or username)
    ok = (
        posted.status_code == 303
        and posted.headers.get("location") == "/"
        and f"Signed in as <strong>{html.escape(name)}</strong>" in home.text
    )
    line = f"{'ok  ' if ok else 'FAIL'}  {posted.status_code} POST /auth/form  {label}"
    line += f"\n        then GET / shows: Signed in as {name}" if ok else ""
    if not ok:
        line += '\n        expected 303 to / and "Signed in as" on the page'
    return ok, line


def _send_probe(
    client: httpx.Client, probe: Probe, tokens: Mapping[str, str], key: DPoPKey
) -> tuple[bool, str]:
    import httpx

    from p1guard._cli.demo_app import CLIENT_CERT_HEADER
    from p1guard._cli.demo_probes import challenge_error

    headers = {} if probe.sends == "none" else {"Authorization": f"Bearer {tokens[probe.sends]}"}
    if probe.sends in _PROBE_CERTS:
        headers[CLIENT_CERT_HEADER] = tokens[_PROBE_CERTS[probe.sends][0]]
    if probe.sends == "dpop":
        token = tokens["dpop"]
        url = f"{client.base_url}".rstrip("/") + probe.path
        proof = key.proof(probe.method, url, access_token=token)
        headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    try:
        response = client.request(probe.method, probe.path, headers=headers, json=probe.json)
    except httpx.HTTPError as exc:
        return False, f"FAIL  {probe.method} {probe.path}: {type(exc).__name__}"
    challenge = response.headers.get("www-authenticate")
    ok = (
        response.status_code == probe.expect_status
        and (probe.expect_error is None or challenge_error(challenge) == probe.expect_error)
        and (probe.expect_body is None or probe.expect_body in response.text)
    )
    line = f"{'ok  ' if ok else 'FAIL'}  {response.status_code} {probe.method:<4} {probe.path:<8}"
    line += f"  {probe.label}"
    if challenge is not None:
        line += f"\n        WWW-Authenticate: {challenge}"
    if not ok:
        line += f"\n        expected {_expectation(probe)}"
    return ok, line
