"""examples/django_api: the same API as every ``p1guard demo`` app, plain Django and DRF."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from django.test import AsyncClient, Client, override_settings
from django_api import example_settings
from django_support import EXAMPLES, bearer
from rest_framework.test import APIClient

from p1guard.testing import MockPingOne

JSON = "application/json"
_KEYS = ("ROOT_URLCONF", "MIDDLEWARE", "REST_FRAMEWORK", "P1GUARD")


@pytest.fixture
def example(pingone_mock: MockPingOne) -> Iterator[MockPingOne]:
    values = example_settings(pingone_mock.guard())
    with override_settings(**{key: values[key] for key in _KEYS}):
        yield pingone_mock


@pytest.mark.parametrize("prefix", ["", "/drf"])
def test_example_routes(example: MockPingOne, prefix: str) -> None:
    client = APIClient() if prefix else Client()
    reader = bearer(example.issue_token(["read"]))
    writer = bearer(example.issue_token(["read", "write"], sub=None))
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get(f"{prefix}/items", headers=reader).status_code == 200
    assert client.get(f"{prefix}/me", headers=reader).json()["subject"] == "user-1"
    denied = client.post(f"{prefix}/items", {"name": "tea"}, content_type=JSON, headers=reader)
    assert denied.status_code == 403
    assert 'scope="write"' in denied["WWW-Authenticate"]
    created = client.post(f"{prefix}/items", {"name": "tea"}, content_type=JSON, headers=writer)
    assert created.status_code == 201
    assert created.json()["owner"] == example.client_id
    assert client.get(f"{prefix}/items").status_code == 401
    garbage = client.get(f"{prefix}/items", headers=bearer("not-a-real-token"))
    assert garbage.status_code == 401
    assert garbage.json()["error"] == "invalid_token"


async def test_example_async_me_view(example: MockPingOne) -> None:
    response = await AsyncClient().get("/me", headers=bearer(example.issue_token(["read"])))
    assert response.status_code == 200
    assert response.json()["scopes"] == ["read"]


_SERVE = textwrap.dedent(
    """
    import sys
    import httpx
    from django_api import build_app
    from p1guard._cli.demo_probes import PROBES, challenge_error
    from p1guard._cli.demo_server import DemoServer, bind
    from p1guard.testing import MockPingOne

    with MockPingOne() as op:
        tokens = {
            "read": op.issue_token(["read"]),
            "write": op.issue_token(["read", "write"], sub=None),
            "garbage": "not-a-real-token",
        }
        with DemoServer(build_app(op.guard()), bind("127.0.0.1", 0)) as server:
            for probe in PROBES:
                headers = {}
                if probe.sends != "none":
                    headers["Authorization"] = "Bearer " + tokens[probe.sends]
                response = httpx.request(
                    probe.method, server.url + probe.path, headers=headers, json=probe.json
                )
                error = challenge_error(response.headers.get("www-authenticate"))
                ok = response.status_code == probe.expect_status and (
                    probe.expect_error is None or error == probe.expect_error
                )
                print(probe.label, response.status_code, "ok" if ok else "FAILED")
                if not ok:
                    sys.exit(1)
    """
)


def test_build_app_serves_every_demo_probe_under_uvicorn() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SERVE],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" ok") == 7
