"""The ``p1guard`` command, run in-process against a live MockPingOne."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator

import pytest

from p1guard._cli import demo_command as demo_cli
from p1guard._cli.demo_probes import PROBES, TOUR_PROBES
from p1guard._cli.main import main
from p1guard.testing import MockPingOne

_ENV = (
    "P1GUARD_ENV_ID",
    "P1GUARD_REGION",
    "P1GUARD_ISSUER",
    "P1GUARD_AUDIENCE",
    "P1GUARD_CLIENT_ID",
    "P1GUARD_CLIENT_SECRET",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def _verify_args(op: MockPingOne, token: str, *extra: str) -> list[str]:
    return ["verify", token, "--issuer", op.issuer, "--audience", op.audience, *extra]


def _token_args(op: MockPingOne, *extra: str) -> list[str]:
    return [
        "token",
        "--issuer",
        op.issuer,
        "--client-id",
        op.client_id,
        f"--client-secret={op.client_secret}",  # "=": a secret may start with "-"
        *extra,
    ]


# -- help and usage ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["demo"], ["discover"], ["verify"], ["token"]])
def test_help_works_for_every_command(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: p1guard")
    assert "examples:" in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "commands:" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bogus"]) == 2
    assert "invalid choice" in capsys.readouterr().err


# -- demo --------------------------------------------------------------------------------------


def test_demo_check_runs_every_request_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--check", "--port", "0"]) == 0
    out = capsys.readouterr().out
    # + GET /metrics: prometheus-client is in the dev dependencies
    assert f"all {len(PROBES) + len(TOUR_PROBES) + 1} requests answered as expected" in out
    assert "FAIL" not in out
    assert 'WWW-Authenticate: Bearer error="insufficient_scope"' in out
    assert 'WWW-Authenticate: Bearer error="invalid_token"' in out
    # the app's own sign-in form (pi.flow), once, with the mock's test user
    assert "ok    303 POST /auth/form  form sign-in (pi.flow) with the mock's test user" in out
    assert "then GET / shows: Signed in as Ada Lovelace" in out
    assert out.rstrip().endswith("the form sign-in (pi.flow) signed in")
    assert "correct horse" not in out  # --check never prints the password it sends


def test_demo_printout_mentions_the_form_sign_in(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from p1guard._client.dpop_key import DPoPKey

    with MockPingOne() as op:
        tokens = demo_cli._demo_tokens(op, DPoPKey.generate())
        args = argparse.Namespace(no_browser_hint=False)
        url = "http://127.0.0.1:8000"
        demo_cli._print_demo(url, tokens, "starlette", op, PROBES, None, args, f"{url}/")
    out = capsys.readouterr().out
    assert f"{url}/auth/form   the app's own form (PingOne pi.flow):" in out
    assert "username ada, password 'correct horse'" in out
    assert "or on the app's own form (pi.flow)" in out


def test_demo_tour_shows_step_up_claim_rules_and_metadata(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--check", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert 'error="insufficient_user_authentication"' in out
    assert 'acr_values="Multi_Factor", max_age="300"' in out
    assert "ok    201 POST /transfers" in out
    assert "ok    403 GET  /reports" in out
    assert 'error="access_denied"' in out
    assert "ok    200 GET  /reports" in out
    # 401 challenges point at the document the demo itself serves (RFC 9728 §5.1)
    assert 'resource_metadata="http://127.0.0.1:' in out
    assert "ok    200 GET  /.well-known/oauth-protected-resource" in out
    # DPoP (RFC 9449): the bound token works with its proof, and not without its key
    assert "ok    200 GET  /me       DPoP: a key-bound token with its proof" in out
    assert "ok    401 GET  /me       DPoP: the same token without the key" in out
    # certificate-bound (RFC 8705): the right certificate passes, another one does not
    assert "ok    200 GET  /me       mTLS: a certificate-bound token and its certificate" in out
    assert "The token is bound to another client certificate" in out
    # metrics (Prometheus): the thief's refusal above is counted with its reason
    assert "ok    200 GET  /metrics" in out


def test_demo_on_a_busy_explicit_port_exits_1(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--check", "--port", str(busy_port)]) == 1
    assert f"cannot listen on 127.0.0.1:{busy_port}" in capsys.readouterr().err


def test_demo_default_port_falls_back_when_busy(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_cli, "DEFAULT_DEMO_PORT", busy_port)
    sock, note = demo_cli._demo_socket("127.0.0.1", None)
    with sock:
        assert sock.getsockname()[1] != busy_port
        assert note == f"port {busy_port} is busy; using {sock.getsockname()[1]}"


def test_curl_lines_match_the_probes() -> None:
    lines = [demo_cli.curl_line(probe, "http://127.0.0.1:8000") for probe in PROBES]
    assert lines[0] == "curl -i http://127.0.0.1:8000/health"
    assert 'curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items' in lines
    assert any("-X POST" in line and "$WRITE_TOKEN" in line for line in lines)
    assert any("Bearer not-a-real-token" in line for line in lines)
    tour = [demo_cli.curl_line(probe, "http://127.0.0.1:8000") for probe in TOUR_PROBES]
    assert any("$MFA_TOKEN" in line and "/transfers" in line for line in tour)
    assert any('"X-Client-Cert: $CLIENT_CERT"' in line for line in tour)
    assert any(line.startswith("# GET") and "DPoP proof" in line for line in tour)


# -- discover ----------------------------------------------------------------------------------


def test_discover_prints_issuer_and_endpoints(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", "--issuer", pingone_mock.issuer]) == 0
    out = capsys.readouterr().out
    assert f"issuer                  {pingone_mock.issuer}\n" in out
    assert f"token_endpoint          {pingone_mock.token_endpoint}\n" in out
    assert f"jwks_uri                {pingone_mock.jwks_uri}\n" in out
    assert f"introspection_endpoint  {pingone_mock.introspection_endpoint}\n" in out


def test_discover_json_prints_the_raw_document(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["discover", "--issuer", pingone_mock.issuer, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["issuer"] == pingone_mock.issuer
    assert "client_credentials" in document["grant_types_supported"]


def test_discover_unreachable_provider_exits_1_without_traceback(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    pingone_mock.fail("discovery", "down")
    assert main(["discover", "--issuer", pingone_mock.issuer, "--timeout", "2"]) == 1
    err = capsys.readouterr().err
    assert "discovery endpoint" in err
    assert "Traceback" not in err


def test_discover_from_environment(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P1GUARD_ISSUER", pingone_mock.issuer)
    assert main(["discover"]) == 0
    assert pingone_mock.issuer in capsys.readouterr().out


# -- verify ------------------------------------------------------------------------------------


def test_verify_valid_token_prints_claims_never_the_token(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read", "write"], sub="alice")
    assert main(_verify_args(pingone_mock, token, "--scope", "read")) == 0
    out, err = capsys.readouterr()
    claims = json.loads(out)
    assert claims["sub"] == "alice"
    assert claims["scope"] == "read write"
    assert "subject=alice" in err
    assert token not in out + err
    assert token.split(".")[2] not in out + err


def test_verify_missing_scope_exits_1_with_reason(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"])
    assert main(_verify_args(pingone_mock, token, "--scope", "read write")) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "rejected: HTTP 403 insufficient_scope" in err
    assert "reason:           insufficient_scope" in err
    assert 'scope="read write"' in err
    assert token not in err


def test_verify_expired_token_exits_1_with_reason(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"], expires_in=-300)
    assert main(_verify_args(pingone_mock, token)) == 1
    err = capsys.readouterr().err
    assert "rejected: HTTP 401 invalid_token" in err
    assert "reason:           expired" in err
    assert "description:      The token expired" in err
    assert token not in err


def test_verify_wrong_audience_exits_1(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"], audience="https://other.example.com")
    assert main(_verify_args(pingone_mock, token)) == 1
    assert "reason:           wrong_audience" in capsys.readouterr().err


def test_verify_reads_the_token_from_stdin(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"], sub="bob")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {token}\n"))
    assert main(_verify_args(pingone_mock, "-", "--scope", "read")) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["sub"] == "bob"
    assert token not in out + err


def test_verify_empty_stdin_is_a_usage_error(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(_verify_args(pingone_mock, "-")) == 2
    assert "no token given on stdin" in capsys.readouterr().err


def test_verify_by_introspection_with_resource_credentials(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"], opaque=True)
    monkeypatch.setenv("P1GUARD_CLIENT_SECRET", pingone_mock.resource_secret)
    args = ["--mode", "introspect", "--client-id", pingone_mock.resource_id]
    assert main(_verify_args(pingone_mock, token, *args)) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["active"] is True
    assert token not in out + err
    assert pingone_mock.resource_secret not in out + err


def test_verify_introspection_without_credentials_exits_2(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    token = pingone_mock.issue_token(["read"])
    assert main(_verify_args(pingone_mock, token, "--mode", "introspect")) == 2
    assert "configuration error: client_id" in capsys.readouterr().err


def test_verify_without_audience_exits_2(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "abc", "--issuer", pingone_mock.issuer]) == 2
    assert "--audience is required" in capsys.readouterr().err


# -- token -------------------------------------------------------------------------------------


def test_token_prints_a_jwt_that_verifies(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_token_args(pingone_mock, "--scope", "read", "write")) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    access = pingone_mock.guard().verify(token, scopes=["read", "write"])
    assert access.client_id == pingone_mock.client_id
    assert main(_verify_args(pingone_mock, token, "--scope", "write")) == 0


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_token_json_with_each_auth_method(
    pingone_mock: MockPingOne, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_token_args(pingone_mock, "--auth-method", method, "--json", "--scope=read")) == 0
    response = json.loads(capsys.readouterr().out)
    assert response["token_type"].lower() == "bearer"
    assert response["scope"] == "read"


def test_token_secret_from_environment(
    pingone_mock: MockPingOne, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P1GUARD_CLIENT_ID", pingone_mock.client_id)
    monkeypatch.setenv("P1GUARD_CLIENT_SECRET", pingone_mock.client_secret)
    assert main(["token", "--issuer", pingone_mock.issuer]) == 0
    assert capsys.readouterr().out.count(".") == 2


def test_token_wrong_secret_exits_1_and_never_prints_it(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["token", "--issuer", pingone_mock.issuer, "--client-id", pingone_mock.client_id]
    assert main([*args, "--client-secret", "wrong-secret-123"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "token request refused (HTTP 401 invalid_client)" in err
    assert "wrong-secret-123" not in err


def test_token_unknown_scope_exits_1(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_token_args(pingone_mock, "--scope", "nope")) == 1
    assert "invalid_scope" in capsys.readouterr().err


def test_token_without_client_id_exits_2(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--issuer", pingone_mock.issuer]) == 2
    assert "--client-id is required" in capsys.readouterr().err


def test_token_without_secret_exits_2(
    pingone_mock: MockPingOne, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--issuer", pingone_mock.issuer, "--client-id", "app"]) == 2
    assert "--client-secret is required" in capsys.readouterr().err


# -- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["discover", "--env-id", "not-a-uuid"], "configuration error: env_id"),
        (
            ["discover", "--env-id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "--region", "XX"],
            "configuration error: region",
        ),
        (["discover", "--issuer", "http://example.com/as"], "configuration error: issuer"),
        (["discover"], "configuration error: P1GUARD_ENV_ID"),
        (["discover", "--issuer", "https://x.example/as", "--timeout", "0"], "timeout"),
    ],
)
def test_bad_configuration_exits_2_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("p1guard: error: ")
    assert message in err
    assert "Traceback" not in err


def test_env_id_and_issuer_are_mutually_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["discover", "--env-id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "--issuer", "https://x"]
    assert main(args) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_version_is_one_value_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.metadata

    import p1guard

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"p1guard {p1guard.__version__}"
    # The package metadata reads the same file (pyproject: dynamic version from _version.py).
    assert importlib.metadata.version("p1guard") == p1guard.__version__
