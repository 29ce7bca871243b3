"""The ``p1guard`` command: ``demo``, ``discover``, ``verify`` and ``token``.

>>> main(["discover", "--env-id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "--region", "EU"])
... # doctest: +SKIP

Exit codes: 0 success; 1 the token was rejected, the request refused or PingOne unreachable;
2 bad usage or configuration. User errors print one line on stderr, never a traceback; tokens
given to ``verify`` and client secrets are never printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from p1guard._cli.common import (
    MissingExtra,
    UsageError,
    opened,
    provider_metadata,
    request_token,
)
from p1guard._client.auth import ClientAuth
from p1guard._client.credentials import TokenRequestError
from p1guard._guard import Guard
from p1guard._pingone import REGIONS, PingOne
from p1guard._version import __version__
from p1guard.errors import AuthError, ConfigError, P1GuardError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]

_ENDPOINT_FIELDS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "introspection_endpoint",
    "revocation_endpoint",
    "userinfo_endpoint",
    "end_session_endpoint",
    "par_endpoint",
)


# -- entry point -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``p1guard`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code.

    >>> main(["verify", "--help"])   # doctest: +SKIP
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args.verbose)
    try:
        return _run(handler, args)
    except BrokenPipeError:  # `p1guard ... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _configure_logging(verbose: bool) -> None:
    """``-v`` shows p1guard's own log (never tokens or secrets); otherwise the errors say it all."""
    logger = logging.getLogger("p1guard")
    if verbose:
        logging.basicConfig(format="%(name)s: %(levelname)s: %(message)s")
        logger.setLevel(logging.DEBUG)
    elif not logger.handlers:
        logger.addHandler(logging.NullHandler())


def _run(handler: Handler, args: argparse.Namespace) -> int:
    try:
        return handler(args)
    except (ConfigError, UsageError) as exc:
        code = exc.code if isinstance(exc, UsageError) else 2
        prefix = "configuration error: " if isinstance(exc, ConfigError) else ""
        return _fail(f"{prefix}{exc}", code)
    except MissingExtra as exc:
        return _fail(str(exc), 2)
    except TokenRequestError as exc:
        return _fail(str(exc), 1)
    except AuthError as exc:  # ProviderUnavailable and friends
        return _fail(f"{exc.description} ({exc.reason})", 1)
    except P1GuardError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130


def _fail(message: str, code: int) -> int:
    print(f"p1guard: error: {message}", file=sys.stderr)
    return code


# -- parser ------------------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    """The ``p1guard`` argument parser (one subparser per command)."""
    parser = argparse.ArgumentParser(
        prog="p1guard",
        description="Protect web APIs with PingOne: try it locally, inspect an environment, "
        "verify and mint tokens.",
        epilog=_examples(
            "p1guard demo                       # protected API + mock PingOne, no account needed",
            "p1guard discover --env-id ENV_ID --region EU",
            'p1guard verify "$TOKEN" --env-id ENV_ID --audience https://api.example.com',
            "p1guard token --env-id ENV_ID --client-id APP_ID --scope read",
            "p1guard COMMAND --help             # details and examples of one command",
        )
        + "\n\nexit codes: 0 ok, 1 rejected or PingOne unreachable, 2 bad usage or configuration",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"p1guard {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    _add_discover(commands)
    _add_verify(commands)
    _add_token(commands)
    return parser


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _command(
    commands: Any, name: str, handler: Handler, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=textwrap.dedent(description).strip(),
        epilog=examples,
        formatter_class=_Formatter,
    )
    sub.set_defaults(handler=handler)
    sub.add_argument(
        "-v", "--verbose", action="store_true", help="log what p1guard does (to stderr)"
    )
    return sub


def _add_provider_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "PingOne environment",
        "give --env-id (and --region) or --issuer; without either, the environment\n"
        "variables P1GUARD_ENV_ID, P1GUARD_REGION and P1GUARD_ISSUER are read",
    )
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument("--env-id", metavar="ID", help="the environment's UUID")
    exclusive.add_argument(
        "--issuer", metavar="URL", help="issuer URL (custom domain, or a local mock)"
    )
    group.add_argument(
        "--region",
        metavar="CODE",
        help=f"region of --env-id: {', '.join(REGIONS)} (default: $P1GUARD_REGION or NA)",
    )
    group.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="HTTP timeout (default 5)"
    )


def _add_scope_option(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--scope",
        dest="scopes",
        action="extend",
        nargs="+",
        default=[],
        metavar="SCOPE",
        help=help,
    )


def _add_client_options(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help=f"{whose} client ID (default: $P1GUARD_CLIENT_ID)",
    )
    parser.add_argument(
        "--client-secret",
        metavar="SECRET",
        help=f"{whose} client secret (default: $P1GUARD_CLIENT_SECRET, which keeps it out "
        "of your shell history and process list)",
    )
    parser.add_argument(
        "--auth-method",
        choices=["client_secret_basic", "client_secret_post"],
        default="client_secret_basic",
        help="how to send the client secret (default: client_secret_basic)",
    )


def _add_demo(commands: Any) -> None:
    from p1guard._cli.demo_app import FRAMEWORKS

    sub = _command(
        commands,
        "demo",
        _demo,
        "run a protected demo API against a local mock PingOne",
        """
        Start a mock PingOne on 127.0.0.1 and a small protected API, and print curl commands
        with ready-made tokens: one succeeds, one lacks a scope (403), one sends no token (401)
        and one a garbage token (401). Runs until Ctrl-C. No PingOne account needed.

        Routes: GET /health (public), GET /items (scope read), POST /items (scope write),
        GET /me (any valid token; also with a DPoP proof or a client certificate). Tour:
        POST /transfers (step-up: Multi_Factor within 5 minutes), GET /reports
        (claim rule: groups holds auditors), GET /.well-known/oauth-protected-resource
        (RFC 9728, public) and GET /metrics (public, with prometheus-client installed).
        GET / is a web page to sign in with the mock PingOne (routes /auth/login,
        /auth/callback, /auth/logout, and /auth/form: the app's own form, pi.flow).
        """,
        _examples(
            "p1guard demo",
            "p1guard demo --port 0            # any free port",
            "p1guard demo --check             # run the requests itself; exit 1 on a mismatch",
        ),
    )
    sub.add_argument("--host", default="127.0.0.1", help="interface to serve on (127.0.0.1)")
    sub.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to serve on; 0 picks a free one (default 8000, or a free one if it is busy)",
    )
    sub.add_argument(
        "--framework",
        choices=sorted(FRAMEWORKS),
        default="starlette",
        help="which demo app to serve (default: starlette)",
    )
    sub.add_argument(
        "--no-browser-hint", action="store_true", help="do not suggest opening a browser"
    )
    sub.add_argument(
        "--check",
        action="store_true",
        help="send the printed requests, report each answer, exit 0 if all matched, then stop",
    )


def _add_discover(commands: Any) -> None:
    sub = _command(
        commands,
        "discover",
        _discover,
        "show an environment's issuer and endpoints",
        """
        Fetch {issuer}/.well-known/openid-configuration, check that it names the expected
        issuer, and print the issuer and endpoints.
        """,
        _examples(
            "p1guard discover --env-id 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 --region EU",
            "p1guard discover --issuer https://login.example.com/as --json",
        ),
    )
    _add_provider_options(sub)
    sub.add_argument("--json", action="store_true", help="print the raw discovery document")


def _add_verify(commands: Any) -> None:
    sub = _command(
        commands,
        "verify",
        _verify,
        "verify an access token the way an API protected by p1guard would",
        """
        Verify TOKEN for --audience (signature, issuer, audience, expiry; scopes with
        --scope). Prints the claims as JSON and exits 0 when valid; otherwise prints the HTTP
        status, error, reason and description an API would answer, and exits 1. The token
        itself is never printed.
        """,
        _examples(
            'p1guard verify "$TOKEN" --env-id ENV_ID --audience https://api.example.com',
            "p1guard verify - --issuer https://login.example.com/as --audience API "
            "--scope read < token.txt",
            'p1guard verify "$TOKEN" --env-id ENV_ID --audience API --mode introspect '
            "--client-id RESOURCE_ID   # secret from $P1GUARD_CLIENT_SECRET",
        ),
    )
    sub.add_argument("token", metavar="TOKEN", help="the access token, or - to read it from stdin")
    sub.add_argument(
        "--audience",
        default=os.environ.get("P1GUARD_AUDIENCE"),
        help="your API's audience, as in the custom resource (default: $P1GUARD_AUDIENCE)",
    )
    _add_scope_option(sub, "scopes the token must carry (repeatable; space-separated works)")
    sub.add_argument(
        "--match", choices=["all", "any"], default="all", help="need all scopes or any one"
    )
    sub.add_argument(
        "--mode",
        choices=["jwt", "introspect", "auto"],
        default="jwt",
        help="check the JWT locally, ask PingOne (introspection), or decide per token",
    )
    _add_provider_options(sub)
    _add_client_options(sub, "for introspection: the custom resource's")


def _add_token(commands: Any) -> None:
    sub = _command(
        commands,
        "token",
        _token,
        "get an access token with the client-credentials grant",
        """
        Request an access token for an application (worker app) from the token endpoint found
        by discovery. Prints only the access token, so TOKEN=$(p1guard token ...) works;
        --json prints the whole token response.
        """,
        _examples(
            "export P1GUARD_CLIENT_SECRET=...   # keeps the secret out of your shell history",
            'TOKEN=$(p1guard token --env-id ENV_ID --client-id APP_ID --scope "read write")',
            "p1guard token --issuer https://login.example.com/as --client-id APP_ID --json",
        ),
    )
    _add_provider_options(sub)
    _add_client_options(sub, "the application's")
    _add_scope_option(sub, "scopes to request (repeatable; default: the app's default scopes)")
    sub.add_argument("--json", action="store_true", help="print the whole token response")


# -- shared helpers ----------------------------------------------------------------------------


def _pingone(args: argparse.Namespace) -> PingOne:
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.issuer:
        return PingOne(issuer=args.issuer, **options)
    region = args.region or os.environ.get("P1GUARD_REGION") or "NA"
    if args.env_id:
        return PingOne(env_id=args.env_id, region=region, **options)
    if args.region:
        options["region"] = args.region
    return PingOne.from_env(**options)


def _scopes(values: Sequence[str]) -> list[str]:
    return [scope for value in values for scope in value.split()]


def _print_json(document: Mapping[str, Any], out: TextIO | None = None) -> None:
    text = json.dumps(dict(document), indent=2, sort_keys=True, default=str)
    print(text, file=out or sys.stdout)


def _credentials(args: argparse.Namespace) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from the flags or the environment; ``None`` if absent."""
    client_id = args.client_id or os.environ.get("P1GUARD_CLIENT_ID")
    secret = args.client_secret or os.environ.get("P1GUARD_CLIENT_SECRET")
    if not client_id:
        if args.client_secret:
            raise UsageError("--client-secret needs --client-id")
        return None
    if not secret:
        raise UsageError("--client-secret is required (or set P1GUARD_CLIENT_SECRET)")
    return client_id, secret


# -- discover ----------------------------------------------------------------------------------


def _discover(args: argparse.Namespace) -> int:
    with opened(_pingone(args)) as pingone:
        metadata = provider_metadata(pingone)
    if args.json:
        _print_json(metadata.raw)
        return 0
    rows = [("issuer", metadata.issuer)]
    rows += [(name, getattr(metadata, name)) for name in _ENDPOINT_FIELDS]
    rows.append(("require_par", "yes" if metadata.require_par else "no"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        if value is not None:
            print(f"{name:<{width}}  {value}")
    return 0


# -- verify ------------------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    if not args.audience:
        raise UsageError("--audience is required (or set P1GUARD_AUDIENCE)")
    with opened(_pingone(args)) as pingone:
        guard = _guard(pingone, args)
        try:
            access = guard.verify(token, scopes=_scopes(args.scopes) or None, match=args.match)
        except AuthError as err:
            _print_rejection(err)
            return 1
    print(
        f"valid: subject={access.subject} client_id={access.client_id} "
        f"scopes={' '.join(sorted(access.scopes)) or '-'} expires_at={access.expires_at}",
        file=sys.stderr,
    )
    _print_json(access.claims)
    return 0


def _guard(pingone: PingOne, args: argparse.Namespace) -> Guard:
    credentials = _credentials(args)
    if credentials is None:
        return Guard(pingone, audience=args.audience, mode=args.mode)
    client_id, secret = credentials
    return Guard(
        pingone,
        audience=args.audience,
        mode=args.mode,
        client_id=client_id,
        client_secret=secret,
        auth_method=args.auth_method,
    )


def _read_token(value: str) -> str:
    token = sys.stdin.read() if value == "-" else value
    token = token.strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    if not token:
        raise UsageError("no token given" + (" on stdin" if value == "-" else ""))
    return token


def _print_rejection(err: AuthError) -> None:
    print(f"rejected: HTTP {err.status_code} {err.error or 'unauthorized'}", file=sys.stderr)
    print(f"  reason:           {err.reason}", file=sys.stderr)
    print(f"  description:      {err.description}", file=sys.stderr)
    print(f"  WWW-Authenticate: {err.www_authenticate}", file=sys.stderr)


# -- token -------------------------------------------------------------------------------------


def _token(args: argparse.Namespace) -> int:
    credentials = _credentials(args)
    if credentials is None:
        raise UsageError("--client-id is required (or set P1GUARD_CLIENT_ID)")
    client_id, secret = credentials
    auth = ClientAuth(client_id, client_secret=secret, method=args.auth_method)
    with opened(_pingone(args)) as pingone:
        document = request_token(pingone, auth, _scopes(args.scopes))
    if args.json:
        _print_json(document)
    else:
        print(document["access_token"])
    return 0


def _demo(args: argparse.Namespace) -> int:
    from p1guard._cli.demo_command import (
        run_demo,  # imported on use: the demo pulls in servers and frameworks
    )

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
